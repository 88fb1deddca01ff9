/**
 * A short smoke check of pchat-dr on the Node.js that runs this script (scripts/smoke-node-lines.sh runs it on every
 * supported line besides the one the suite runs on): `pchat-dr --version`, `pchat-dr sim start` on a copy of the
 * simulated example, `pchat-dr worker`, and a planned mirror failover started, approved and watched to its end with
 * the CLI. Every process is the built CLI under this same Node. Exit 0 when the failover succeeded, 1 otherwise.
 *
 *   node dist/scripts/smoke-node.js
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { writeSimulatedTopology } from '../simulator/example-topology';
import { startDevServer } from './dev-server';
import { ensureTemporalCli } from './temporal-cli';

const CLI = path.join(__dirname, '..', 'client', 'cli.js');
const BUNDLE = path.join(__dirname, '..', 'workflow-bundle.js');
const TASK_QUEUE = 'pchat-dr-smoke';

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function say(line: string): void {
  process.stdout.write(`[node ${process.version}] ${line}\n`);
}

/** Runs the CLI to its end under this Node. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts a long-running CLI command and resolves once its output matches `ready`. */
function background(args: string[], env: NodeJS.ProcessEnv, ready: RegExp, timeoutMs = 60_000): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(
      () => reject(new Error(`pchat-dr ${args[0]} did not become ready in ${timeoutMs / 1000} s:\n${output}`)),
      timeoutMs,
    );
    const watch = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', watch);
    child.stderr!.on('data', watch);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`pchat-dr ${args[0]} exited (${code}) before it was ready:\n${output}`));
    });
  });
}

function expectOk(step: string, result: Finished): void {
  if (result.code !== 0) throw new Error(`${step} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
}

async function smoke(): Promise<void> {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-smoke-'));
  const server = await startDevServer({ cli: await ensureTemporalCli(), logFile: path.join(dir, 'temporal.log') });
  // The stand-in Management Shell is started as `node ...`: the same Node as everything else here.
  const env = {
    ...process.env,
    PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`,
    TEMPORAL_ADDRESS: server.address,
    PCHAT_DR_TASK_QUEUE: TASK_QUEUE,
  };
  try {
    const version = await cli(['--version'], env);
    expectOk('pchat-dr --version', version);
    say(`pchat-dr --version: ${version.stdout.trim()}`);

    const topology = await writeSimulatedTopology(dir);
    children.push(await background(['sim', 'start', '-f', topology, '--fresh'], env, /Running\. Ctrl\+C stops it\./));
    say(`pchat-dr sim start: the simulated estate runs (${topology})`);
    children.push(
      await background(
        ['worker', '--estate', topology, '--metrics', 'off', '--workflow-bundle', BUNDLE],
        env,
        /"msg":"worker ready"/,
      ),
    );
    say('pchat-dr worker: ready');

    const id = `smoke-mirror-failover-${Date.now()}`;
    expectOk(
      'pchat-dr run mirror-failover',
      await cli(['run', 'mirror-failover', '-f', topology, '--id', id, '--as', 'erin', '--follow', '--plain'], env),
    );
    expectOk(
      'pchat-dr approve',
      await cli(['approve', id, '--gate', 'approve-mirror-failover', '--as', 'alice', '--comment', 'smoke check'], env),
    );
    expectOk('pchat-dr watch', await cli(['watch', id, '--plain'], env));
    const report = await cli(['report', id, '-o', 'json'], env);
    expectOk('pchat-dr report', report);
    const outcome = (JSON.parse(report.stdout) as { outcome: string }).outcome;
    if (outcome !== 'succeeded') throw new Error(`the mirror failover ended ${outcome}`);
    say(`mirror-failover ${id}: ${outcome}`);
  } finally {
    for (const child of children) child.kill('SIGINT');
    await Promise.all(
      children.map(
        (child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve))),
      ),
    );
    await server.stop();
  }
}

smoke().then(
  () => say('smoke check passed'),
  (error: Error) => {
    say(`smoke check FAILED: ${error.message}`);
    process.exitCode = 1;
  },
);
