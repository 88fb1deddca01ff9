/**
 * The Node.js pchat-dr runs on: package.json's engines floor, the line the project names (.nvmrc, .node-version,
 * the Dockerfile, the README), and the refusal on an older Node: the built CLI run by a real Node 20 (installed from
 * the npm registry by scripts/install-node.sh, as .ci/run installs Node 24) exits 2 with one line.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isSupportedNode, parseNodeFloor, RECOMMENDED_NODE, unsupportedNodeMessage } from '../../runtime/node-version';
import { NODE_ENGINES, PROJECT_ROOT } from '../../runtime/package';
import { CLI_PATH, runCli } from '../helpers/cli';

const run = promisify(execFile);
const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

describe('the supported Node.js', () => {
  it('is at least 22.12 (engines.node), and the project names Node 24 everywhere it names one', () => {
    expect(NODE_ENGINES).toBe('>=22.12');
    expect(parseNodeFloor(NODE_ENGINES)).toEqual({ major: 22, minor: 12, range: '>=22.12' });
    expect(read('.nvmrc').trim()).toBe(String(RECOMMENDED_NODE));
    expect(read('.node-version').trim()).toBe(String(RECOMMENDED_NODE));
    expect(read('Dockerfile')).toMatch(new RegExp(`^FROM node:${RECOMMENDED_NODE}-bookworm-slim AS runtime$`, 'm'));
    expect(read('README.md')).toContain(`Needs Node ${RECOMMENDED_NODE}`);
    expect(read('.ci/run')).toMatch(/^NODE_LINE=24\.\d+$/m);
  });

  it('tells supported versions from older ones', () => {
    const floor = parseNodeFloor('>=22.12');
    for (const version of ['v22.12.0', 'v22.23.5', 'v23.0.0', 'v24.22.3', 'v26.12.1'])
      expect(isSupportedNode(version, floor), version).toBe(true);
    for (const version of ['v20.20.2', 'v22.11.0', 'v18.20.8'])
      expect(isSupportedNode(version, floor), version).toBe(false);
    expect(() => parseNodeFloor('^22 || ^24')).toThrow(/expects ">=MAJOR.MINOR"/);
  });

  it('runs the CLI on the Node running the tests', async () => {
    const result = await runCli(['--version']);
    expect(result.code, result.stderr).toBe(0);
    // The version, the Temporal SDK's and the Node.js it runs on: what a bug report needs.
    expect(result.stdout.trim()).toMatch(
      /^pchat-dr \d+\.\d+\.\d+ \(Temporal TypeScript SDK \d+\.\d+\.\d+, Node\.js v[\d.]+\)$/,
    );
    expect(result.stdout).toContain(`Node.js ${process.version})`);
  });

  it(
    'refuses Node 20 in one line, exit 2: which version, which are supported, how to get one',
    { timeout: 120_000 },
    async () => {
      const { stdout } = await run('bash', [path.join(PROJECT_ROOT, 'scripts', 'install-node.sh'), '20'], {
        cwd: PROJECT_ROOT,
      });
      const node20 = path.join(stdout.trim(), 'node');
      const failure = await run(node20, [CLI_PATH, '--version']).then(
        () => null,
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      expect(failure, 'the CLI must refuse Node 20').not.toBeNull();
      expect(failure!.code).toBe(2);
      expect(failure!.stdout).toBe('');
      const lines = failure!.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^pchat-dr needs Node\.js 22\.12 or newer \(Node 24 LTS recommended\), but this is Node\.js v20\.\d+\.\d+: install Node 24 /,
      );
      expect(lines[0]).toBe(
        unsupportedNodeMessage(lines[0].match(/this is Node\.js (v[\d.]+):/)![1], parseNodeFloor(NODE_ENGINES)),
      );
      // `pchat-dr worker` goes through the same executable.
      const worker = await run(node20, [CLI_PATH, 'worker', '--help']).catch(
        (error: { code: number; stderr: string }) => error,
      );
      expect((worker as { code: number }).code).toBe(2);
    },
  );
});
