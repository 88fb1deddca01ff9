/**
 * Starts a real Temporal dev server (`temporal server start-dev`) with pchat-dr's search attributes registered,
 * on free loopback ports, and waits until it answers. Used by the test harness and the demo.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { freePort } from '../runtime/free-port';
import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes';

export interface DevServerOptions {
  /** Path of the temporal CLI (see ensureTemporalCli). */
  cli: string;
  /** gRPC port; a free one when omitted. */
  port?: number;
  /** Serve the Web UI (on its own free port unless uiPort is given). */
  ui?: boolean;
  uiPort?: number;
  /** SQLite file that keeps workflow state across restarts; in memory when omitted. */
  dbFile?: string;
  /** Where the server's own log goes; discarded when omitted. */
  logFile?: string;
  /** How long to wait for the server to answer. */
  startTimeoutMs?: number;
  /** Namespaces to create besides `default`, each with the search attributes too (the test suite: one per worker). */
  namespaces?: string[];
  /** Run with the server's own defaults instead of DEV_SERVER_SETTINGS (bench/step-latency.ts compares both). */
  serverDefaults?: boolean;
}

export interface DevServer {
  /** host:port of the gRPC frontend, for TEMPORAL_ADDRESS. */
  address: string;
  port: number;
  /** The Web UI, when enabled. */
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Server settings (dynamic config) the dev server runs with, for the latency of one run's steps. The dev server has a
 * single history shard, whose queues are read at most 20 times a second by default: every step a run takes (a task
 * handed to a worker, a timer fired) waited for the next read, about 50 ms a hop, and a short timer fired up to a
 * second late (the timer queue's default time shift). Eager activity execution: the server hands a worker the
 * activity a workflow task has just scheduled in its reply to that task's completion, when the worker has a free slot
 * (the SDK asks for it by default), instead of through the activity task queue. docs/operations.md says which of
 * these a production cluster should set.
 */
const DEV_SERVER_SETTINGS: Record<string, string> = {
  'system.enableActivityEagerExecution': 'true',
  'history.transferProcessorMaxPollRPS': '1000',
  'history.timerProcessorMaxPollRPS': '1000',
  'history.visibilityProcessorMaxPollRPS': '1000',
  'history.timerProcessorMaxTimeShift': '"50ms"',
};

/** The dev server process ended before it answered (as opposed to not answering in time). */
class DevServerExited extends Error {}

/**
 * Starts the dev server and waits until it answers. It picks its own internal ports as it starts, and other
 * processes on the host pick free ports too: a start that dies on a port taken in between is tried again (with new
 * ports where the caller gave none), up to three times; the last failure is thrown with the server's own output.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (!(error instanceof DevServerExited) || attempt === 3) throw error;
    }
  }
}

async function startOnce(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--log-level', 'warn'];
  let uiUrl: string | undefined;
  if (options.ui) {
    const uiPort = options.uiPort ?? (await freePort());
    args.push('--ui-port', String(uiPort));
    uiUrl = `http://127.0.0.1:${uiPort}`;
  } else {
    args.push('--headless');
  }
  if (options.dbFile) {
    mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  for (const key of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=Keyword`);
  for (const namespace of options.namespaces ?? []) args.push('--namespace', namespace);
  const settings = options.serverDefaults ? {} : DEV_SERVER_SETTINGS;
  for (const [key, value] of Object.entries(settings)) args.push('--dynamic-config-value', `${key}=${value}`);

  const child = spawn(options.cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let recentOutput = '';
  const keepTail = (chunk: Buffer) => {
    recentOutput = (recentOutput + chunk.toString()).slice(-4000);
  };
  child.stdout!.on('data', keepTail);
  child.stderr!.on('data', keepTail);
  if (options.logFile) {
    mkdirSync(path.dirname(options.logFile), { recursive: true });
    const log = createWriteStream(options.logFile, { flags: 'a' });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // 'close' comes after the last output: a server that died says why in the error, not in a log deleted with it.
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await closed;
      throw new DevServerExited(
        `temporal server start-dev exited with ${child.exitCode ?? child.signalCode}:\n${recentOutput}`,
      );
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2_000 });
      try {
        await connection.workflowService.getSystemInfo({});
        for (const namespace of options.namespaces ?? []) await registerSearchAttributes(connection, namespace);
      } finally {
        await connection.close();
      }
      return { address, port, uiUrl, process: child, stop };
    } catch (err) {
      lastError = err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  await stop();
  throw new Error(
    `the Temporal dev server on ${address} did not answer in time (${String(lastError)}):\n${recentOutput}`,
  );
}

/**
 * Registers pchat-dr's search attributes on `namespace` where they are missing: the CLI registers --search-attribute
 * on every --namespace it creates, but no release notes promise that of every supported version.
 */
async function registerSearchAttributes(connection: Connection, namespace: string): Promise<void> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((key) => !customAttributes?.[key.name]);
  if (missing.length === 0) return;
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      missing.map((key) => [key.name, encodeSearchAttributeIndexedValueType(key.type)!]),
    ),
  });
}
