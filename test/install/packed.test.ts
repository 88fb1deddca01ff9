/**
 * pchat-dr installed the way users install it: `npm pack` in (a copy of) the checkout, `npm install -g --prefix <tmp>` of the
 * tarball, then the installed `pchat-dr` run from a folder outside the checkout, with a HOME of its own, no
 * TEMPORAL_CLI and no Go: `--version`, `--help`, `sim start` of its bundled example (which runs as a copy in the home
 * folder) and stop, a worker for it with its health check, and a short demo that finds the Temporal CLI on the PATH.
 * Without any Temporal CLI, the demo lists the ways to get one and exits 2, after a real attempt at the SDK's download
 * (which a closed proxy makes fail here, online or not).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_VERSION, PROJECT_ROOT, temporalSdkVersion } from '../../runtime/package';
import { freePort } from '../../runtime/free-port';
import { ensureTemporalCli } from '../../scripts/temporal-cli';
import { copyOfCheckout } from '../helpers/checkout-copy';
import { eventually } from '../helpers/estate';
import { temporalAddress, testNamespace, uniqueTaskQueue } from '../helpers/temporal';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

let tmp: string;
let tarball: string;
/** Where the package landed: <prefix>/lib/node_modules/pchat-dr. */
let installed: string;
let bin: string;
/** A folder holding only a copy of the Temporal CLI the suite uses: what a user's PATH would have. */
let temporalDir: string;
/** The folder the package was built and packed in (a copy of the checkout). */
let builtIn: string;
const running: Running[] = [];

/** npm and the installed pchat-dr run on this Node (the one the suite runs on), first on the PATH. */
const nodeDir = path.dirname(process.execPath);
/**
 * A folder with only `node` and OpenSSH's `ssh-keygen` in it (the demo signs its approvals, as users' machines can):
 * the user's PATH gets these and nothing else of the machine (no go, no temporal).
 */
let nodeOnly: string;

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The environment of someone who installed pchat-dr: their HOME, their PATH, nothing of this checkout's. */
function userEnv(home: string, pathDirs: string[], extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    HOME: home,
    PATH: [path.join(tmp, 'prefix', 'bin'), nodeOnly, ...pathDirs].join(path.delimiter),
    LANG: process.env.LANG ?? 'C.UTF-8',
    ...extra,
  };
  mkdirSync(home, { recursive: true });
  return env;
}

function pchatDr(args: string[], env: NodeJS.ProcessEnv, cwd = path.join(tmp, 'work')): Promise<Finished> {
  return run(path.join(bin, 'pchat-dr'), args, { cwd, env });
}

function start(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 60_000): Promise<Running> {
  const child = spawn(path.join(bin, 'pchat-dr'), args, {
    cwd: path.join(tmp, 'work'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started: Running = { child, output: () => output, exited };
  running.push(started);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pchat-dr ${args.join(' ')} not ready:\n${output}`)), timeoutMs);
    const watch = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(started);
      }
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pchat-dr ${args.join(' ')} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

/** Every file of the installed package, its dependencies left out. */
function packageFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((entry) => !entry.split(path.sep).includes('node_modules'))
    .map((entry) => path.join(dir, entry))
    .filter((file) => statSync(file).isFile());
}

beforeAll(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'pchat-packed-'));
  mkdirSync(path.join(tmp, 'work'));
  nodeOnly = path.join(tmp, 'node-bin');
  mkdirSync(nodeOnly);
  symlinkSync(process.execPath, path.join(nodeOnly, 'node'));
  const sshKeygen = (process.env.PATH ?? '')
    .split(path.delimiter)
    .map((dir) => path.join(dir, 'ssh-keygen'))
    .find((candidate) => existsSync(candidate));
  if (sshKeygen) symlinkSync(sshKeygen, path.join(nodeOnly, 'ssh-keygen'));
  const npmEnv = { ...process.env, PATH: `${nodeDir}${path.delimiter}${process.env.PATH ?? ''}` };
  // npm pack runs the package's prepare script (the build) as a maintainer's `npm pack` does: in a copy of the
  // checkout, whose dist/ the other test files run from meanwhile.
  const checkout = copyOfCheckout({ nodeModules: 'copy' });
  builtIn = checkout.root;
  const packed = await run('npm', ['pack', '--pack-destination', tmp], { cwd: checkout.root, env: npmEnv }).finally(
    () => checkout.remove(),
  );
  expect(packed.code, `${packed.stdout}\n${packed.stderr}`).toBe(0);
  tarball = path.join(tmp, `pchat-dr-${PACKAGE_VERSION}.tgz`);
  expect(existsSync(tarball), packed.stdout).toBe(true);
  // Installed from the tarball into a prefix of its own, from a folder that is not the checkout.
  const install = await run(
    'npm',
    ['install', '-g', '--prefix', path.join(tmp, 'prefix'), '--prefer-offline', '--no-audit', '--no-fund', tarball],
    { cwd: tmp, env: npmEnv },
  );
  expect(install.code, `${install.stdout}\n${install.stderr}`).toBe(0);
  bin = path.join(tmp, 'prefix', 'bin');
  installed = path.join(tmp, 'prefix', 'lib', 'node_modules', 'pchat-dr');
  // The suite's Temporal CLI (built or found by its global setup), copied where a user's PATH would find it.
  temporalDir = path.join(tmp, 'temporal-bin');
  mkdirSync(temporalDir);
  copyFileSync(await ensureTemporalCli(() => undefined), path.join(temporalDir, 'temporal'));
  chmodSync(path.join(temporalDir, 'temporal'), 0o755);
}, 600_000);

// The prefix, the homes and the copy of the Temporal CLI take about 600 MB a run: not left behind.
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

afterEach(async () => {
  for (const process of running.splice(0)) {
    if (process.child.exitCode !== null || process.child.signalCode !== null) continue;
    process.child.kill('SIGKILL');
    await process.exited;
  }
});

describe('the packed pchat-dr, installed globally', () => {
  it('ships what it runs and nothing of the checkout; says its version, its SDK and its commands', async () => {
    const files = packageFiles(installed).map((file) => path.relative(installed, file));
    for (const needed of [
      'dist/client/cli.js',
      'dist/workflow-bundle.js',
      'dist/simulator/pool/management-shell.js',
      'dist/scripts/temporal-download.js',
      'examples/simulated.yaml',
      'examples/simulated.secret',
      'examples/production.yaml',
      'docs/deployment.md',
    ])
      expect(files, needed).toContain(needed);
    expect(files.filter((file) => /^(dist\/(test|bench)\/|\.tools|\.tmp)|\/\.sim\/|\.map$|\.ts$/.test(file))).toEqual(
      [],
    );
    // No path into the checkout it was built in (or the one it was copied from), in any file it ships.
    const pointingHome = packageFiles(installed).filter((file) => {
      const text = readFileSync(file, 'utf8');
      return text.includes(builtIn) || text.includes(PROJECT_ROOT);
    });
    expect(pointingHome).toEqual([]);

    const env = userEnv(path.join(tmp, 'home-version'), []);
    const version = await pchatDr(['--version'], env);
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout.trim()).toBe(
      `pchat-dr ${PACKAGE_VERSION} (Temporal TypeScript SDK ${temporalSdkVersion()}, Node.js ${process.version})`,
    );
    const help = await pchatDr(['--help'], env);
    expect(help.code, help.stderr).toBe(0);
    for (const command of ['run', 'list', 'approve', 'sim', 'worker', 'health', 'demo'])
      expect(help.stdout).toMatch(new RegExp(`^ {2}${command}\\b`, 'm'));
  });

  it('runs its bundled example estate (sim start), as a copy in the home folder, a worker for it, and the health check', async () => {
    const home = path.join(tmp, 'home-sim');
    const env = userEnv(home, []);
    const bundled = path.join(installed, 'examples', 'simulated.yaml');
    const copyDir = path.join(home, '.local', 'state', 'pchat-dr', 'sim-example');
    const copy = path.join(copyDir, 'simulated.yaml');
    // Nothing to ask a simulator or serve before one was started.
    const early = await pchatDr(['sim', 'status', '-f', bundled], env);
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/is the installed package's example, .* start it first \(pchat-dr sim start -f /);

    // sim start would write this copy with the example's own ports (14331-14334); on a shared test machine those may
    // be taken, so `sim example` writes it first, with free ports, where sim start looks for it and then uses it.
    const example = await pchatDr(['sim', 'example', copyDir, '--free-ports'], env);
    expect(example.code, example.stderr).toBe(0);
    expect(example.stdout).toContain(`start it:  pchat-dr sim start -f ${copy}`);
    // The stand-in Management Shell is the installed one.
    expect(readFileSync(copy, 'utf8')).toContain(path.join(installed, 'dist', 'simulator', 'pool'));

    const simulator = await start(['sim', 'start', '-f', bundled], env, /Running\. Ctrl\+C stops it\./);
    expect(simulator.output()).toContain(`${bundled} is the installed package's example: running its copy, ${copy}`);
    const status = await pchatDr(['sim', 'status', '-f', bundled], env);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^dc1-sql-a \(SQLDC1A\) .* up/m);

    const taskQueue = uniqueTaskQueue('packed');
    const temporal = {
      TEMPORAL_ADDRESS: temporalAddress(),
      TEMPORAL_NAMESPACE: testNamespace(),
      PCHAT_DR_TASK_QUEUE: taskQueue,
    };
    const worker = await start(
      ['worker', '--estate', bundled, '--metrics', 'off'],
      { ...env, ...temporal },
      /"msg":"worker ready"/,
    );
    const healthy = await eventually(
      async () => {
        const health = await pchatDr(['health', '--this-host'], { ...env, ...temporal });
        return health.code === 0 ? health : null;
      },
      30_000,
      'the installed worker to be healthy',
    );
    expect(healthy.stdout).toContain(`polling task queue ${taskQueue}`);
    expect(worker.output(), 'the worker serves the copy the simulator runs').toContain(`"file":"${copy}"`);

    worker.child.kill('SIGTERM');
    expect(await worker.exited, worker.output()).toBe(0);
    simulator.child.kill('SIGINT');
    expect(await simulator.exited, simulator.output()).toBe(0);
    expect(simulator.output()).toContain('Simulator stopped; state saved.');
    expect(existsSync(path.join(copyDir, '.sim', 'tls', 'ca.pem'))).toBe(true);
    expect(existsSync(path.join(installed, 'examples', '.sim')), 'nothing written next to the bundled example').toBe(
      false,
    );
  });

  it(
    'runs a short demo with the Temporal CLI it finds on the PATH, keeping its state in the home folder',
    { timeout: 180_000 },
    async () => {
      const home = path.join(tmp, 'home-demo');
      const env = userEnv(home, [temporalDir]);
      const demo = await pchatDr(['demo', '--short'], env);
      expect(demo.code, `${demo.stdout.slice(-3000)}\n${demo.stderr}`).toBe(0);
      const found = path.join(temporalDir, 'temporal');
      expect(demo.stderr).toContain('  TEMPORAL_CLI: not set\n');
      expect(demo.stderr).toMatch(new RegExp(`^ {2}PATH: ${found}, .*: using it$`, 'm'));
      expect(demo.stdout).toContain(`  Temporal CLI         ${found}\n`);
      const ended = [...demo.stdout.matchAll(/^ {2}(\S+) (\S+) ended (\S+)$/gm)].map((match) => [match[1], match[3]]);
      expect(ended).toEqual([
        ['mirror-failover', 'succeeded'],
        ['mirror-failover', 'succeeded'],
      ]);
      expect(demo.stdout).toContain('The story is done: every runbook succeeded.');
      expect(demo.stdout).toMatch(/^ {2}\w+ approves approve-mirror-failover \(".*", signed\): /m);

      // Its state is the user's (XDG state folder), not the package's.
      const state = path.join(home, '.local', 'state', 'pchat-dr', 'demo');
      expect(readdirSync(path.join(state, 'reports'))).toHaveLength(2);
      expect(demo.stdout).toContain(path.join(state, 'reports'));
      const written = readdirSync(installed).filter((entry) => ['.tmp', '.tools', '.sim'].includes(entry));
      expect(written).toEqual([]);
    },
  );

  it('without any Temporal CLI and without Go: says each step, the download failing in one line, lists the ways, exit 2', async () => {
    const home = path.join(tmp, 'home-none');
    const old = path.join(tmp, 'old-temporal');
    mkdirSync(old, { recursive: true });
    const oldCli = path.join(old, 'temporal');
    await run(
      'sh',
      ['-c', `printf '#!/bin/sh\\necho "temporal version 0.13.2 (server 1.23.1) (ui 2.26.2)"\\n' > ${oldCli}`],
      {
        cwd: tmp,
        env: process.env,
      },
    );
    chmodSync(oldCli, 0o755);
    // The SDK's download goes through a proxy that is not there: it fails at once, online or offline.
    const proxy = `http://127.0.0.1:${await freePort()}`;
    const env = userEnv(home, [old], { HTTPS_PROXY: proxy, HTTP_PROXY: proxy, ALL_PROXY: proxy });
    const demo = await pchatDr(['demo', '--short'], env);
    expect(demo.code, `${demo.stdout}\n${demo.stderr}`).toBe(2);
    const lines = demo.stderr.trimEnd().split('\n');
    const cache = path.join(home, '.cache', 'pchat-dr');
    expect(lines.slice(0, 7)).toEqual([
      'Finding the Temporal CLI (it runs the dev server):',
      '  TEMPORAL_CLI: not set',
      `  PATH: ${oldCli}, version 0.13.2 (Server 1.23.1): pchat-dr is written for the 1.x line (1.1.0 or newer): skipped`,
      `  pchat-dr's copy: none in ${cache}`,
      "  the Temporal SDK's download: trying (the dev server @temporalio/testing uses)...",
      expect.stringMatching(/^ {2}the Temporal SDK's download: failed: \S.*$/),
      '  Go: no go on the PATH',
    ]);
    expect(lines[7]).toMatch(/^pchat-dr needs the Temporal CLI .* and found none\. Any one of these gives it:$/);
    expect(lines.slice(8).join('\n')).toMatch(/brew install temporal[\s\S]*TEMPORAL_CLI[\s\S]*download[\s\S]*Go/);
    expect(lines).toHaveLength(12);
    expect(demo.stderr).not.toMatch(/\n\s+at /);
  });
});
