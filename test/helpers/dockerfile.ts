/**
 * The Dockerfile as the structure tests read it (no Docker engine runs on the build machines): its stages and
 * instructions, continuation lines joined and comments dropped as Docker's parser does, and where a file of the
 * repository lands in the image.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/package';

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  base: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions by stage, continuation lines joined and comment lines dropped (as the Docker parser does). */
function readDockerfile(): Stage[] {
  const lines = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8').split('\n');
  const instructions: Instruction[] = [];
  let pending = '';
  for (const raw of lines) {
    if (/^\s*#/.test(raw)) continue;
    if (raw.trim() === '' && pending === '') continue;
    const continued = /\\\s*$/.test(raw);
    pending += `${raw.replace(/\\\s*$/, '')} `;
    if (continued) continue;
    const text = pending.trim();
    pending = '';
    if (!text) continue;
    const [keyword] = text.split(/\s+/, 1);
    instructions.push({ keyword: keyword.toUpperCase(), args: text.slice(keyword.length).trim() });
  }
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args);
      if (!match) throw new Error(`Dockerfile: cannot read FROM ${instruction.args}`);
      stages.push({ base: match[1], name: match[2], instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push(instruction);
    } else if (instruction.keyword !== 'ARG') {
      throw new Error(`Dockerfile: ${instruction.keyword} before the first FROM`);
    }
  }
  return stages;
}

export const stages = readDockerfile();
export const finalStage = stages[stages.length - 1];
export const finalOf = (keyword: string) =>
  finalStage.instructions.filter((instruction) => instruction.keyword === keyword);
const WORKDIR = finalOf('WORKDIR').at(-1)?.args ?? '/';

/** Whether a COPY of the final stage (from the build context) puts this file of the repository into the image. */
export function copiedIntoImage(repositoryPath: string): boolean {
  const relative = path.relative(PROJECT_ROOT, repositoryPath).split(path.sep).join('/');
  return finalOf('COPY').some((copy) => {
    const parts = copy.args.split(/\s+/);
    if (parts.some((part) => part.startsWith('--from='))) return false;
    const [source, destination] = parts.filter((part) => !part.startsWith('--'));
    const sourceDir = path.posix.normalize(source).replace(/\/$/, '');
    const into = path.posix.resolve(WORKDIR, destination);
    // COPY <dir> <dest>: the directory's contents land in <dest>; only a copy to the same relative place keeps paths.
    return (
      (relative === sourceDir || relative.startsWith(`${sourceDir}/`)) && into === path.posix.join(WORKDIR, sourceDir)
    );
  });
}

/** The path inside the image of a file of this repository (what loadTopology resolved here, seen in a container). */
export function containerPathOf(repositoryPath: string): string {
  const relative = path.relative(PROJECT_ROOT, repositoryPath);
  expect(relative.startsWith('..'), `${repositoryPath} is outside the repository`).toBe(false);
  return path.posix.join(WORKDIR, ...relative.split(path.sep));
}
