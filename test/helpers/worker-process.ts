/**
 * The built worker as a separate process (`pchat-dr worker`), as production runs it:
 * tests read its JSON log lines, wait for what it says, and stop or kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../runtime/package';
import { CLI_PATH } from './cli';
import { temporalAddress, testNamespace } from './temporal';

export type LogLine = Record<string, unknown> & { level: string; msg: string };

export interface WorkerProcess {
  child: ChildProcess;
  /** Every stdout line, parsed: the worker logs only JSON there. */
  logs: LogLine[];
  stdoutLines: string[];
  stderr: () => string;
  exited: Promise<number | null>;
  waitForLog(matches: (line: LogLine) => boolean, what: string): Promise<LogLine>;
}

/** Every worker started, so a test can kill what is left (stopStartedWorkers). */
const started: WorkerProcess[] = [];

/**
 * The worker's environment (Temporal at `address`, default the run's dev server in this file's namespace), no
 * temporal.toml from this machine, no inherited worker settings, and the simulated example as its estate unless `extra` names others.
 */
export function workerEnv(extra: Record<string, string> = {}, address?: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_') && !name.startsWith('PCHAT_DR_')),
  );
  return {
    ...env,
    TEMPORAL_ADDRESS: address ?? temporalAddress(),
    // A server of the test's own (an address given) has only the default namespace.
    TEMPORAL_NAMESPACE: address ? 'default' : testNamespace(),
    TEMPORAL_CONFIG_FILE: path.join(PROJECT_ROOT, '.tmp', 'test', 'no-temporal.toml'),
    PCHAT_DR_ESTATES: path.join(PROJECT_ROOT, 'examples', 'simulated.yaml'),
    ...extra,
  };
}

export function startWorker(args: string[], env: NodeJS.ProcessEnv): WorkerProcess {
  const child = spawn(process.execPath, [CLI_PATH, 'worker', ...args], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const stdoutLines: string[] = [];
  const waiters: Array<() => void> = [];
  let partial = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      stdoutLines.push(line);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        // not JSON: the test that cares looks at stdoutLines
      }
    }
    waiters.forEach((wake) => wake());
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => waiters.forEach((wake) => wake()));

  const waitForLog = (matches: (line: LogLine) => boolean, what: string) =>
    new Promise<LogLine>((resolve, reject) => {
      const check = () => {
        const found = logs.find(matches);
        if (found) return resolve(found);
        if (child.exitCode !== null || child.signalCode !== null) {
          reject(
            new Error(
              `worker exited (${child.exitCode ?? child.signalCode}) before logging ${what}\nstdout:\n${stdoutLines.join('\n')}\nstderr:\n${stderr}`,
            ),
          );
        } else {
          waiters.push(check);
        }
      };
      check();
    });

  const worker = { child, logs, stdoutLines, stderr: () => stderr, exited, waitForLog };
  started.push(worker);
  return worker;
}

export const isReady = (line: LogLine) => line.msg === 'worker ready';

/** Kills every worker process a test left running. */
export function stopStartedWorkers(): void {
  for (const worker of started.splice(0))
    if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
}
