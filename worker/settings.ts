/**
 * The worker's own settings: each one from its flag, else its PCHAT_DR_* variable, else the default; checked
 * before anything starts so a typo is one line and exit 2, not a half-started worker.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { msToNumber } from '@temporalio/common/lib/time';
import { EstateConfigurationError, EstateRegistry } from '../activities/estates';
import { DEFAULT_TASK_QUEUE } from '../runtime/temporal-connection';
import { CliError, EXIT } from '../runtime/exit';
import { PROJECT_ROOT } from '../runtime/package';
import { runnableTopologyFile } from '../runtime/state-dirs';

/** Written by `npm run build` (worker/bundle.ts). */
export const DEFAULT_WORKFLOW_BUNDLE = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';
export const DEFAULT_LOG_LEVEL = 'info';
/** Long enough for the slowest step (a restore, a failover waiting for databases to come online) to finish. */
export const DEFAULT_SHUTDOWN_GRACE = '5m';
/**
 * After the grace time running activities are cancelled; the worker then waits as long again (at least 1s, at most
 * 30s) for them to notice and wind up before it gives up on them and exits.
 */
export function shutdownForceMs(graceMs: number): number {
  return graceMs + Math.min(30_000, Math.max(1_000, graceMs));
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

/** The values as given on the command line (or by a caller in-process); anything left out comes from the environment. */
export interface WorkerFlags {
  taskQueue?: string;
  /** IP:port for the Prometheus endpoint, or `off`. */
  metrics?: string;
  logLevel?: string;
  /** A Temporal duration: 30s, 5m, 1h. */
  shutdownGrace?: string;
  workflowBundle?: string;
  /** --estate, repeatable: topology files, or folders of them, the estates this worker serves. */
  estate?: string[];
}

export interface WorkerSettings {
  taskQueue: string;
  /** null: no metrics endpoint. */
  metricsAddress: string | null;
  logLevel: LogLevelName;
  shutdownGrace: string;
  shutdownGraceMs: number;
  shutdownForceMs: number;
  workflowBundle: string;
  /** The estates served, by pool (docs/runbooks.md rule 8). */
  estates: EstateRegistry;
}

interface Setting {
  value: string;
  /** How the operator gave it, for messages: `--metrics` or `PCHAT_DR_METRICS_ADDRESS`. */
  source: string;
}

function pick(
  flag: string | undefined,
  flagName: string,
  env: NodeJS.ProcessEnv,
  variable: string,
  fallback: string,
): Setting {
  if (flag !== undefined) return { value: flag, source: flagName };
  const fromEnv = env[variable];
  if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: variable };
  return { value: fallback, source: `default ${flagName}` };
}

export function resolveWorkerSettings(flags: WorkerFlags, env: NodeJS.ProcessEnv = process.env): WorkerSettings {
  const taskQueue = pick(flags.taskQueue, '--task-queue', env, 'PCHAT_DR_TASK_QUEUE', DEFAULT_TASK_QUEUE);
  if (taskQueue.value.trim() === '') throw new CliError(`${taskQueue.source}: the task queue name is empty`);

  const metrics = pick(flags.metrics, '--metrics', env, 'PCHAT_DR_METRICS_ADDRESS', DEFAULT_METRICS_ADDRESS);
  const logLevel = pick(flags.logLevel, '--log-level', env, 'PCHAT_DR_LOG_LEVEL', DEFAULT_LOG_LEVEL);
  const grace = pick(flags.shutdownGrace, '--shutdown-grace', env, 'PCHAT_DR_SHUTDOWN_GRACE', DEFAULT_SHUTDOWN_GRACE);
  const bundle = pick(
    flags.workflowBundle,
    '--workflow-bundle',
    env,
    'PCHAT_DR_WORKFLOW_BUNDLE',
    DEFAULT_WORKFLOW_BUNDLE,
  );
  const shutdownGraceMs = parseDuration(grace);

  return {
    estates: openEstates(flags.estate, env),
    taskQueue: taskQueue.value,
    metricsAddress: parseMetricsAddress(metrics),
    logLevel: parseLogLevel(logLevel),
    shutdownGrace: grace.value,
    shutdownGraceMs,
    shutdownForceMs: shutdownForceMs(shutdownGraceMs),
    workflowBundle: checkBundle(bundle),
  };
}

function parseMetricsAddress({ value, source }: Setting): string | null {
  if (value === 'off') return null;
  // The Prometheus exporter binds a socket address: an IP literal, not a host name ([::1]:9464 for IPv6).
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  const ipOk = match !== null && (match[1] !== undefined ? isIP(match[1]) === 6 : isIP(match[2]) === 4);
  const port = Number(match?.[3]);
  if (!ipOk || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new CliError(
      `${source} ${value}: give IP:port for the metrics endpoint (e.g. 127.0.0.1:9464 or 0.0.0.0:9464), or off`,
      EXIT.badInput,
    );
  }
  return value;
}

function parseLogLevel({ value, source }: Setting): LogLevelName {
  const level = value.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevelName;
  throw new CliError(`${source} ${value}: unknown log level (use ${LOG_LEVELS.join(', ')})`, EXIT.badInput);
}

function parseDuration({ value, source }: Setting): number {
  // A bare number would be milliseconds to Temporal: almost certainly not what an operator meant.
  let ms = Number.NaN;
  if (/[a-z]\s*$/i.test(value)) {
    try {
      ms = msToNumber(value);
    } catch {
      // reported below
    }
  }
  if (!Number.isFinite(ms) || ms < 0)
    throw new CliError(`${source} ${value}: give a duration with its unit, e.g. 30s, 5m or 1h`, EXIT.badInput);
  return ms;
}

function checkBundle({ value, source }: Setting): string {
  const file = path.resolve(value);
  if (existsSync(file)) return file;
  if (source.startsWith('default'))
    throw new CliError(`workflow bundle ${file} not found: run \`npm run build\` to build it`, EXIT.badInput);
  throw new CliError(
    `${source} ${value}: workflow bundle not found (check the path; \`npm run build\` writes ${DEFAULT_WORKFLOW_BUNDLE})`,
    EXIT.badInput,
  );
}

/**
 * The estates from --estate (repeatable), else PCHAT_DR_ESTATES (paths separated by the platform's path delimiter,
 * ':' on Linux); each a topology file or a folder of them. Every problem at once, exit 2: a worker never starts
 * serving half of what it was given.
 */
function openEstates(flags: string[] | undefined, env: NodeJS.ProcessEnv): EstateRegistry {
  const fromEnv = (env.PCHAT_DR_ESTATES ?? '').split(path.delimiter).filter((entry) => entry.trim() !== '');
  const entries = flags && flags.length > 0 ? flags : fromEnv;
  const source = flags && flags.length > 0 ? '--estate' : 'PCHAT_DR_ESTATES';
  if (entries.length === 0)
    throw new CliError(
      'no estate to serve: give the topology files of the pools this worker serves (--estate FILE, repeatable, or PCHAT_DR_ESTATES=FILE:DIR)',
      EXIT.badInput,
    );
  try {
    // The installed package's simulated example is served as the copy `sim start` runs (runtime/state-dirs.ts).
    return EstateRegistry.open(entries.map((entry) => runnableTopologyFile(entry, env)));
  } catch (error) {
    if (!(error instanceof EstateConfigurationError)) throw error;
    throw new CliError(`${source}: ${error.problems.join(`\n${source}: `)}`, EXIT.badInput);
  }
}
