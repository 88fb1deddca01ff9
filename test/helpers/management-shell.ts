/**
 * Running the stand-in management shell as the pool-control adapter runs it (the built executable, the whole cmdlet
 * line as one last argument) against a pool-state file made from examples/simulated.yaml, and reading back its
 * invocation log: what the management-shell tests share.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from '../../runtime/package';
import { loadTopology } from '../../topology/load';
import { initialPoolState, readPoolState, writePoolState, type PoolState } from '../../simulator/pool/pool-state';

export const SHELL = path.join(PROJECT_ROOT, 'dist', 'simulator', 'pool', 'management-shell.js');
export const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'simulated.yaml');
export const POOL = 'service:pchat.sim.local';

export interface ShellResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The adapter's way: program and leading arguments, then the whole cmdlet line as one argument. */
export function runShell(stateFile: string, script: string): Promise<ShellResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [SHELL, '--pool-state', stateFile, '-NoProfile', '-NonInteractive', '-Command', script],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A fresh pool (Normal, DC1 servers active) from the example topology, or from another topology file. */
export function newPool(topologyFile = EXAMPLE): string {
  const { file, topology } = loadTopology(topologyFile);
  const stateFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-pool-')), 'pool.json');
  writePoolState(stateFile, initialPoolState(file, topology));
  return stateFile;
}

export function setPoolState(stateFile: string, change: Partial<PoolState>): void {
  writePoolState(stateFile, { ...readPoolState(stateFile), ...change });
}

export interface Invocation {
  argv: string[];
  script: string;
  statements: {
    cmdlet: string;
    parameters: Record<string, unknown> | null;
    pipedInto?: { cmdlet: string; parameters: Record<string, unknown> | null }[];
  }[];
  exitCode: number;
  error?: string;
}

export function invocations(stateFile: string): Invocation[] {
  return readFileSync(`${stateFile}.invocations.jsonl`, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Invocation);
}

export function lastInvocation(stateFile: string): Invocation {
  return invocations(stateFile).at(-1) as Invocation;
}

/** How an adapter must quote a value for PowerShell: single quotes, every single-quote character doubled. */
export function quoteForPowerShell(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (quote) => quote + quote)}'`;
}

/** The tests run the built shell: fail at once, saying so, when it is not built. */
export function requireBuiltShell(): void {
  if (!existsSync(SHELL)) throw new Error(`${SHELL} is missing: build first (npm run build, or npx tsc -p .)`);
}
