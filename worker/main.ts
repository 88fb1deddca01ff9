/**
 * The pchat-dr worker: one process that serves every runbook (the prebuilt workflow bundle and every activity) on
 * one task queue, for as many pools as the topology files it is given describe.
 *
 *   pchat-dr worker [flags]                  the only way to start it as a process (client/commands/worker.ts)
 *   await runWorker({ taskQueue, stop })    in-process (tests, the demo)
 *
 * Settings: worker/settings.ts; connection: client/connection.ts; logs: worker/logging.ts; docs/operations.md.
 */
import { IllegalStateError, type LogLevel } from '@temporalio/common';
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { DestinationStream } from 'pino';
import { realDependencies } from '../activities/dependencies';
import { createActivities } from '../activities/index';
import { temporalConnectionOptions } from '../runtime/temporal-connection';
import { CliError, EXIT } from '../runtime/exit';
import { createWorkerLogger, temporalLoggerFor, type WorkerLogger } from './logging';
import { resolveWorkerSettings, type WorkerFlags, type WorkerSettings } from './settings';

export interface RunWorkerOptions extends WorkerFlags {
  /** Where PCHAT_DR_* and TEMPORAL_* settings are read from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * The worker is this process (default): SIGINT/SIGTERM shut it down gracefully, and when a shutdown has to be
   * forced (a second signal, the force time passing) the process exits at once. false when embedded.
   */
  ownProcess?: boolean;
  /** Aborting it shuts the worker down gracefully, like a signal. */
  stop?: AbortSignal;
  /** Log destination; default stdout. */
  logDestination?: DestinationStream;
  /** Called once the worker polls its task queue. */
  onReady?: (ready: WorkerReady) => void;
}

export interface WorkerReady {
  taskQueue: string;
  namespace: string;
  address: string;
  /** The Prometheus endpoint, or null when metrics are off. */
  metricsUrl: string | null;
}

/**
 * Runs the worker until it is told to stop (signal or `stop`), then takes no new tasks and lets running activities
 * finish within the shutdown grace time. Resolves after a clean shutdown; rejects with a CliError whose exit code
 * says why: 2 bad settings or a missing bundle, 1 the worker could not connect, failed, or had to force its shutdown.
 */
export async function runWorker(options: RunWorkerOptions = {}): Promise<void> {
  const env = options.env ?? process.env;
  const ownProcess = options.ownProcess ?? true;
  const settings = resolveWorkerSettings(options, env);
  const { namespace, ...connectOptions } = temporalConnectionOptions({ env });
  const logger = createWorkerLogger(settings.logLevel, options.logDestination);
  const metricsUrl = settings.metricsAddress ? `http://${settings.metricsAddress}/metrics` : null;
  installRuntime(logger, settings);

  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect(connectOptions);
  } catch (err) {
    logger.error({ address: connectOptions.address, err }, 'cannot connect to Temporal');
    throw new CliError(
      `cannot connect to Temporal at ${connectOptions.address}: ${(err as Error).message}`,
      EXIT.failed,
    );
  }

  const deps = realDependencies({
    estates: settings.estates,
    onPoolError: (instance, error) => logger.error({ instance, err: error }, 'SQL Server connection pool error'),
  });
  let stop: StopControl | undefined;
  try {
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue: settings.taskQueue,
      workflowBundle: { codePath: settings.workflowBundle },
      activities: createActivities(deps),
      // The SDK's default is 0: a deploy's SIGTERM would at once cancel the running steps (a failover, a restore).
      shutdownGraceTime: settings.shutdownGraceMs,
      // A backstop only: our own timer (watchForStop) gives up first and says so; the SDK's error is masked by a
      // "Worker still in use" error in 1.24 when activities are still running.
      shutdownForceTime: settings.shutdownForceMs + 1_000,
    });
    stop = watchForStop(worker, logger, settings, options.stop, ownProcess);

    const running = worker.run();
    const ready: WorkerReady = {
      taskQueue: settings.taskQueue,
      namespace,
      address: connectOptions.address,
      metricsUrl,
    };
    logger.info(
      {
        ...ready,
        tls: Boolean(connectOptions.tls),
        apiKeyConfigured: Boolean(connectOptions.apiKey),
        workflowBundle: settings.workflowBundle,
        shutdownGrace: settings.shutdownGrace,
        estates: settings.estates.pools.map((pool) => ({ pool, file: settings.estates.fileOf(pool) })),
      },
      'worker ready',
    );
    options.onReady?.(ready);
    await running;
    logger.info({ taskQueue: settings.taskQueue }, 'worker stopped');
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (stop?.forced()) throw new CliError('shutdown forced: activities still running were abandoned', EXIT.failed);
    logger.error({ err }, 'worker failed');
    throw new CliError(`worker failed: ${(err as Error).message}`, EXIT.failed);
  } finally {
    stop?.dispose();
    deps.poolControl.closeAll?.();
    await deps.sql.closeAll();
    await connection.close();
  }
}

interface StopControl {
  /** The shutdown outlasted its bound and running activities were given up. */
  forced(): boolean;
  dispose(): void;
}

/**
 * Turns SIGINT/SIGTERM (when the worker owns the process) and the caller's `stop` into a graceful shutdown, and
 * bounds it: past the force time the shutdown is forced, and an owned process exits at once (an abandoned activity
 * would otherwise keep it alive). A second signal forces it straight away.
 */
function watchForStop(
  worker: Worker,
  logger: WorkerLogger,
  settings: WorkerSettings,
  stop: AbortSignal | undefined,
  ownProcess: boolean,
): StopControl {
  const cleanups: Array<() => void> = [];
  let stopping = false;
  let forced = false;
  const giveUpAfter = `${Math.ceil(settings.shutdownForceMs / 1000)}s`;

  const shutDown = (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(
      { reason, shutdownGrace: settings.shutdownGrace, giveUpAfter },
      `shutting down: no new tasks; running activities have ${settings.shutdownGrace} to finish, then are cancelled; the worker gives up on them after ${giveUpAfter}`,
    );
    const timer = setTimeout(() => {
      forced = true;
      logger.error(
        { giveUpAfter },
        `shutdown forced after ${giveUpAfter}: activities still running were abandoned; Temporal retries them once their timeouts pass`,
      );
      if (ownProcess) process.exit(EXIT.failed);
    }, settings.shutdownForceMs);
    timer.unref();
    cleanups.push(() => clearTimeout(timer));
    try {
      worker.shutdown();
    } catch (err) {
      // Already stopping on its own (a fatal error): run() reports why.
      if (!(err instanceof IllegalStateError)) throw err;
    }
  };

  if (ownProcess) {
    const onSignal = (signal: NodeJS.Signals) => {
      if (!stopping) return shutDown(signal);
      logger.warn({ signal }, 'second signal: exiting now, without waiting for running activities');
      process.exit(EXIT.interrupted);
    };
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, onSignal);
      cleanups.push(() => process.off(signal, onSignal));
    }
  }
  if (stop) {
    const onAbort = () => shutDown('stop requested');
    // Deferred so that a stop requested before run() still finds a running worker.
    if (stop.aborted) queueMicrotask(onAbort);
    else stop.addEventListener('abort', onAbort, { once: true });
    cleanups.push(() => stop.removeEventListener('abort', onAbort));
  }
  return { forced: () => forced, dispose: () => cleanups.forEach((cleanup) => cleanup()) };
}

/** Once per process, before any connection: logs into pino, metrics on Prometheus, signals left to runWorker. */
function installRuntime(logger: WorkerLogger, settings: WorkerSettings): void {
  try {
    Runtime.install({
      logger: temporalLoggerFor(logger, settings.logLevel),
      shutdownSignals: [],
      telemetryOptions: {
        // Core's own logs go through the same logger; third-party crates (gRPC, HTTP) only when they warn.
        logging: { forward: {}, filter: { core: settings.logLevel.toUpperCase() as LogLevel, other: 'WARN' } },
        ...(settings.metricsAddress ? { metrics: { prometheus: { bindAddress: settings.metricsAddress } } } : {}),
      },
    });
  } catch (err) {
    if (!(err instanceof IllegalStateError)) {
      throw new CliError(
        `cannot start the Temporal runtime (metrics on ${settings.metricsAddress ?? 'off'}): ${(err as Error).message}`,
        EXIT.failed,
      );
    }
    // Embedded in a process that already runs Temporal workers (tests, the demo): its runtime's settings apply.
    logger.warn('a Temporal Runtime is already installed in this process: its logger and metrics settings apply');
  }
}
