/**
 * The Dockerfile cannot be built on the build machines (no Docker engine), so its structure is checked here: the
 * image builds on the project's Node line, runs the build, starts the worker as a non-root user on the estates of a
 * read-only mount, checks its health, installs every package the worker, the CLI and the stand-in Management Shell
 * load, and keeps local state out of its context.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../runtime/package';
import { finalOf, stages } from '../helpers/dockerfile';

describe('Dockerfile', () => {
  it('builds on Node 24 (the .nvmrc line), runs npm run build, and starts the worker as a non-root user', () => {
    const stageNames = new Set(stages.map((stage) => stage.name).filter(Boolean));
    for (const stage of stages) {
      if (!stageNames.has(stage.base))
        expect(stage.base, 'base image').toMatch(
          new RegExp(`^node:${readFileSync(path.join(PROJECT_ROOT, '.nvmrc'), 'utf8').trim()}[.-]`),
        );
    }
    const runs = stages.flatMap((stage) =>
      stage.instructions.filter((instruction) => instruction.keyword === 'RUN').map((instruction) => instruction.args),
    );
    const builder = stages.find((stage) =>
      stage.instructions.some(
        (instruction) => instruction.keyword === 'RUN' && /\bnpm run build\b/.test(instruction.args),
      ),
    );
    expect(builder, 'a stage runs npm run build').toBeDefined();
    expect(runs.some((run) => /\bnpm run build\b/.test(run))).toBe(true);
    // The runtime stage takes the build output from that stage and installs production dependencies only.
    expect(finalOf('COPY').some((copy) => new RegExp(`--from=${builder?.name}\\s+\\S*dist\\b`).test(copy.args))).toBe(
      true,
    );
    expect(finalOf('RUN').some((run) => /\bnpm ci\b.*--omit=dev/.test(run.args))).toBe(true);

    const cmd = finalOf('CMD').at(-1)?.args;
    expect(JSON.parse(cmd ?? 'null')).toEqual(['pchat-dr', 'worker']);
    expect(finalOf('ENTRYPOINT')).toEqual([]);
    // pchat-dr on the PATH is the CLI, whose worker command runs worker/main.ts.
    expect(
      finalOf('RUN').some(
        (run) => /\/usr\/local\/bin\/pchat-dr\b/.test(run.args) && /dist\/client\/cli\.js/.test(run.args),
      ),
    ).toBe(true);
    expect(finalOf('USER').at(-1)?.args, 'runs as a non-root user').toMatch(/^(?!root\b|0\b)\S+/);
    expect(finalOf('STOPSIGNAL').at(-1)?.args).toBe('SIGTERM');
    expect(finalOf('EXPOSE').flatMap((instruction) => instruction.args.split(/\s+/))).toContain('9464');
  });

  it('checks its health as Temporal sees the worker, and serves the estates folder of the read-only mount', () => {
    // HEALTHCHECK [options] CMD ["pchat-dr", "health", "--this-host"]: the worker of this container polls its queue.
    const health = finalOf('HEALTHCHECK').at(-1)?.args ?? '';
    const command = /\bCMD\s+(\[.*\])\s*$/.exec(health)?.[1];
    expect(JSON.parse(command ?? 'null'), 'HEALTHCHECK CMD in exec form').toEqual([
      'pchat-dr',
      'health',
      '--this-host',
    ]);
    for (const option of ['--interval', '--timeout', '--start-period', '--retries'])
      expect(health, option).toContain(option);
    // The worker's default estates are the folder docker-compose.yml and docs/deployment.md mount read-only.
    const estates = finalOf('ENV')
      .map((instruction) => /^PCHAT_DR_ESTATES[= ](\S+)$/.exec(instruction.args)?.[1])
      .find(Boolean);
    expect(estates).toBe('/etc/pchat-dr/estates');
    expect(finalOf('RUN').some((run) => run.args.includes(`mkdir -p`) && run.args.includes(estates!))).toBe(true);
    expect(readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8')).toContain(`./estates:${estates}:ro`);
    expect(readFileSync(path.join(PROJECT_ROOT, 'docs', 'deployment.md'), 'utf8')).toContain(`:${estates}:ro`);
  });

  it("skips install scripts where the package's prepare script would run a build without its tools", () => {
    const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      scripts?: Record<string, string>;
    };
    const installs = stages.flatMap((stage) =>
      stage.instructions.filter(
        (instruction) => instruction.keyword === 'RUN' && /\bnpm (ci|install)\b/.test(instruction.args),
      ),
    );
    expect(installs.length).toBeGreaterThanOrEqual(2);
    if (manifest.scripts?.prepare) {
      for (const install of installs)
        expect(
          install.args,
          'npm ci would run "prepare" (tsc) before the sources are copied, or without devDependencies',
        ).toContain('--ignore-scripts');
    }
  });

  it('installs, as production dependencies, every package the worker, the CLI and the stand-in Management Shell load', () => {
    const manifest = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    const production = new Set(Object.keys(manifest.dependencies ?? {}));
    const entries = ['worker/main.ts', 'client/cli.ts', 'simulator/pool/management-shell.ts'];
    const packages = packagesLoadedFrom(entries.map((entry) => path.join(PROJECT_ROOT, entry)));
    expect(packages.size).toBeGreaterThan(3);
    const missing = [...packages]
      .filter(([name]) => !production.has(name))
      .map(([name, from]) => `${name} (loaded by ${path.relative(PROJECT_ROOT, from)})`);
    expect(missing, 'npm ci --omit=dev leaves these out of the image').toEqual([]);
  });

  it('keeps local builds, installs, tools and simulator state out of the build context', () => {
    const ignored = readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'));
    for (const entry of ['node_modules', 'dist', '.tools', '.tmp', '.git']) expect(ignored, entry).toContain(entry);
    expect(
      ignored.some((entry) => entry === '**/.sim'),
      'examples/.sim too, not only ./.sim',
    ).toBe(true);
    expect(ignored, 'the examples (topologies, the simulator secret) go into the image').not.toContain('examples');
  });
});
/**
 * npm packages (name → first file that loads it) reachable from the entry files through relative imports. Type-only
 * imports are skipped: tsc erases them.
 */
function packagesLoadedFrom(entries: string[]): Map<string, string> {
  const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
  const found = new Map<string, string>();
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    expect(existsSync(file), `${path.relative(PROJECT_ROOT, file)} exists`).toBe(true);
    const source = readFileSync(file, 'utf8');
    const specifiers = [
      ...[...source.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?\sfrom\s+'([^']+)'/gm)]
        .filter((match) => !match[2])
        .map((match) => match[3]),
      ...[...source.matchAll(/^\s*import\s+'([^']+)'/gm)].map((match) => match[1]),
      ...[...source.matchAll(/\b(?:require|import)\(\s*'([^']+)'\s*\)/g)].map((match) => match[1]),
    ];
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) {
        const base = path.resolve(path.dirname(file), specifier);
        const resolved = [`${base}.ts`, path.join(base, 'index.ts'), base].find(
          (candidate) => existsSync(candidate) && candidate.endsWith('.ts'),
        );
        if (resolved) queue.push(resolved);
        else if (!existsSync(`${base}.json`) && !existsSync(base))
          throw new Error(`${path.relative(PROJECT_ROOT, file)}: cannot resolve ${specifier}`);
      } else if (!builtins.has(specifier)) {
        const name = specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0];
        if (!found.has(name)) found.set(name, file);
      }
    }
  }
  return found;
}
