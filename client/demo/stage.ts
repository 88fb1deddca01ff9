/**
 * The demo's stage (`pchat-dr demo`): what it starts and stops — its own Temporal dev server with the Web UI, the
 * simulated estate of examples/simulated.yaml in a folder of its own on free ports, the simulator's control API, a
 * worker in this process and a Temporal client — and waiting interruptibly, so Ctrl+C or a dying worker ends any
 * wait at once. Everything started is stopped again, newest first, even when Ctrl+C came while it was starting.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { CliError, EXIT } from '../../runtime/exit';
import { stateHome } from '../../runtime/state-dirs';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { ensureTemporalCli } from '../../scripts/temporal-cli';
import { serveControl } from '../../simulator/control';
import { SimulatedEstate } from '../../simulator/estate';
import { writeSimulatedTopology } from '../../simulator/example-topology';
import { loadTopology, type LoadedTopology } from '../../topology/load';
import type { Topology } from '../../topology/schema';
import { runWorker } from '../../worker/main';
import { firstLine, temporalClient } from '../run-access';
import { DEMO_PEOPLE, makeDemoSigners, signaturesSection, type DemoSigners } from './signers';

/** The demo's worker and runs use their own task queue on the demo's own dev server. */
export const DEMO_TASK_QUEUE = 'pchat-dr-demo';
/** The on-call person: starts every runbook and, not being an approver, approves none of them. */
export const ON_CALL = 'erin';
/** `.tmp/demo` in a checkout; installed, in the user's state folder (runtime/state-dirs.ts). */
export const DEFAULT_DEMO_STATE = path.join(stateHome(), 'demo');
export const DEFAULT_CHAT_RATE = 5;
/** Marks a state folder as the demo's, so a later demo may empty it; holds the pid of the demo using it. */
const PID_FILE = 'demo.pid';

export interface DemoOptions {
  /** The demo's folder: topology copy, simulator state, logs, reports. Emptied first. */
  stateDir: string;
  /** Gates are answered by you, from another terminal, instead of by the demo. */
  interactive: boolean;
  /** After the story, keep everything running until the signal aborts. */
  keep: boolean;
  /** The short story (--short): the planned mirror failover and back only. */
  short?: boolean;
  /** Chat messages per second. */
  chatRate: number;
  /** Ctrl+C: aborting it stops the demo (everything it started is stopped). */
  signal: AbortSignal;
  write?: (text: string) => void;
}

/** What the demo has running, once start() resolved. */
export interface Cast {
  server: DevServer;
  /** The simulated estate, running. */
  estate: SimulatedEstate;
  /** Its topology file as the worker serves it and the runs name it. */
  loaded: LoadedTopology;
  topology: Topology;
  topologyFile: string;
  /** Each person's SSH key and the estate's allowed_signers: everything in the story is signed. */
  signers: DemoSigners;
  connection: Connection;
  client: Client;
  /** The approval console's address (pchat-dr console, in this process). */
  consoleUrl: string;
}

export class DemoStage {
  readonly dir: string;
  /** Where the demo is, for a failure's message: "the start (the worker)", "step 6 (Fail over to DC2 ...)". */
  where = 'the start';
  private readonly write: (text: string) => void;
  private readonly cleanups: { what: string; stop: () => Promise<void> }[] = [];
  private readonly pending: Promise<unknown>[] = [];
  private workerFailure: Promise<never> = new Promise<never>(() => {});
  private started?: Cast;
  private server?: DevServer;

  constructor(readonly options: DemoOptions) {
    this.write = options.write ?? ((text) => process.stdout.write(text));
    this.dir = path.resolve(options.stateDir);
  }

  say(line = ''): void {
    this.write(`${line}\n`);
  }

  /** Text as it comes (already ended with newlines), e.g. what client/follow.ts prints. */
  print(text: string): void {
    this.write(text);
  }

  get cast(): Cast {
    if (!this.started) throw new Error('the demo has not started yet');
    return this.started;
  }

  /** `work`, unless Ctrl+C comes first or the worker dies. */
  guard<T>(work: Promise<T>): Promise<T> {
    const { signal } = this.options;
    return new Promise<T>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      Promise.race([work, this.workerFailure])
        .then(resolve, reject)
        .finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  sleep(ms: number): Promise<void> {
    return this.guard(new Promise<void>((resolve) => setTimeout(resolve, ms)));
  }

  /** Something that runs until stopped: stopped at the end even when Ctrl+C came while it was starting. */
  private own<T>(what: string, starting: Promise<T>, stop: (value: T) => Promise<void>): Promise<T> {
    const registered = starting.then((value) => {
      this.cleanups.push({ what, stop: () => stop(value) });
      return value;
    });
    this.pending.push(registered.catch(() => undefined));
    return this.guard(registered);
  }

  /** Empties the demo's folder and starts everything, saying what runs where. */
  async start(): Promise<Cast> {
    prepareStateDir(this.dir);
    const { dir } = this;

    this.say('pchat-dr demo: the DR story of a Persistent Chat pool, on a simulated estate');
    this.where = 'the start (the Temporal CLI)';
    // Each step of the search is said on stderr (scripts/temporal-cli.ts); the one it found is part of the cast.
    const cli = await this.guard(ensureTemporalCli({ signal: this.options.signal }));
    this.say(`  Temporal CLI         ${cli}`);

    this.where = 'the start (the Temporal dev server)';
    const server = await this.own(
      'the Temporal dev server',
      startDevServer({ cli, ui: true, dbFile: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') }),
      (started) => started.stop(),
    );
    this.server = server;
    this.say(`  Temporal dev server  ${server.address} (log ${path.join(dir, 'temporal.log')})`);
    this.say(`  Temporal Web UI      ${server.uiUrl}`);
    writeFileSync(
      path.join(dir, 'temporal.toml'),
      `# The demo's Temporal dev server (pchat-dr demo)\n[profile.default]\naddress = "${server.address}"\nnamespace = "default"\n`,
    );

    this.where = 'the start (the signers)';
    const signers = await this.guard(makeDemoSigners(dir));
    this.say(
      `  signers              ${DEMO_PEOPLE.join(', ')}: SSH keys in ${path.join(dir, 'keys')}, ${signers.file}`,
    );

    // The approval console's address goes into the estate (what passkeys sign for): its port is taken first.
    const consolePort = await this.guard(freeLoopbackPort());
    const consoleUrl = `http://localhost:${consolePort}/`;
    const passkeys = path.join(dir, 'passkeys');
    writeFileSync(passkeys, '# Passkeys: the lines the approval console prints when you enrol (its Enrol page).\n');

    this.where = 'the start (the simulated estate)';
    const topologyFile = await writeSimulatedTopology(
      dir,
      (yaml) => `${yaml}${signaturesSection(signers, { url: consoleUrl, passkeys })}`,
    );
    const loaded = loadTopology(topologyFile);
    const { topology } = loaded;
    const stateDir = path.join(dir, '.sim');
    const estate = await this.own(
      'the simulated estate',
      SimulatedEstate.start({ topology, topologyFile, stateDir, fresh: true }),
      (started) => started.close(),
    );
    await this.own('the simulator control API', serveControl(estate, stateDir), (control) => control.close());
    const roles = topology.databases.mgc;
    const roleOf = (name: string) =>
      Object.entries(roles).find(([role, instance]) => role !== 'name' && instance === name)?.[0] ?? '-';
    this.say(`  simulated estate     pool ${topology.pool.fqdn}, topology ${topologyFile}`);
    for (const instance of topology.instances)
      this.say(`    ${instance.name.padEnd(10)} ${instance.host}:${instance.port}  ${roleOf(instance.name)}`);

    this.where = 'the start (the worker)';
    await this.startWorker(server, topologyFile);

    const temporal = temporalClient();
    const connection = await this.own(
      'the Temporal client',
      temporal.Connection.connect({ address: server.address }),
      (open: Connection) => open.close(),
    );
    const client = new temporal.Client({ connection, namespace: 'default' });

    this.where = 'the start (the approval console)';
    const { startConsole } = require('../console/server') as typeof import('../console/server');
    const approvalConsole = await this.own(
      'the approval console',
      startConsole({ client, taskQueue: DEMO_TASK_QUEUE, host: '127.0.0.1', port: consolePort, url: consoleUrl }),
      (running) => running.close(),
    );
    this.say(
      `  approval console     ${approvalConsole.url} (enrol a passkey there and add its line to ${passkeys} to sign with it)`,
    );
    this.started = {
      server,
      estate,
      loaded,
      topology,
      topologyFile,
      signers,
      connection,
      client,
      consoleUrl: approvalConsole.url,
    };
    return this.started;
  }

  private async startWorker(server: DevServer, estateFile: string): Promise<void> {
    const { dir } = this;
    const stop = new AbortController();
    let ready: () => void = () => {};
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TEMPORAL_')));
    const running = runWorker({
      ownProcess: false,
      stop: stop.signal,
      taskQueue: DEMO_TASK_QUEUE,
      estate: [estateFile],
      metrics: 'off',
      logLevel: 'info',
      shutdownGrace: '3s',
      env: {
        ...env,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_CONFIG_FILE: path.join(dir, 'temporal.toml'),
      },
      logDestination: pino.destination({ dest: path.join(dir, 'worker.log'), sync: true }),
      onReady: () => ready(),
    });
    this.workerFailure = running.then(
      () => Promise.reject(new Error('the worker stopped')),
      (error: unknown) =>
        Promise.reject(new Error(`the worker failed: ${firstLine(error)} (see ${path.join(dir, 'worker.log')})`)),
    );
    this.workerFailure.catch(() => {});
    this.cleanups.push({
      what: 'the worker',
      stop: async () => {
        stop.abort();
        await running.catch(() => undefined);
      },
    });
    await this.guard(isReady);
    this.say(
      `  worker               in this process, task queue ${DEMO_TASK_QUEUE} (log ${path.join(dir, 'worker.log')})`,
    );
  }

  /** Stops what was started, newest first: the worker before the estate (running steps finish), the server last. */
  async stop(): Promise<void> {
    await withTimeout(Promise.all(this.pending), 60_000);
    for (const { stop } of this.cleanups.reverse()) {
      await withTimeout(
        stop().catch(() => undefined),
        30_000,
      );
    }
    this.cleanups.length = 0;
    const pidFile = path.join(this.dir, PID_FILE);
    if (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() === String(process.pid)) writeFileSync(pidFile, '');
  }

  /** A second Ctrl+C: no waiting for a clean stop; at least leave no dev server behind. */
  kill(): void {
    this.server?.process.kill('SIGKILL');
  }
}

/** Empties the demo's folder, refusing (bad input, exit 2) one the demo did not make or that a running demo uses. */
function prepareStateDir(dir: string): void {
  const pidFile = path.join(dir, PID_FILE);
  if (existsSync(dir)) {
    if (readdirSync(dir).length > 0 && !existsSync(pidFile))
      throw new CliError(
        `--state ${dir}: the folder exists and is not a demo folder (no ${PID_FILE}); choose another, or empty it`,
        EXIT.badInput,
      );
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    if (pid > 0 && pid !== process.pid && isAlive(pid))
      throw new CliError(
        `--state ${dir}: a demo is already running there (pid ${pid}); stop it (Ctrl+C), or choose another folder`,
        EXIT.badInput,
      );
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(pidFile, `${process.pid}\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A free loopback port (the console takes it a moment later). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
