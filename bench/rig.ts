/**
 * What the runbook benchmarks share: their own Temporal dev server, a worker in this process serving the real
 * workflow bundle and the real activities over dependencies that count what they send (SQL statements, Management
 * Shell processes, activities), and simulated estates prepared the way the tests prepare them (log shipping set up by
 * runbook 2, the Agent's log-shipping jobs paused, log backups waiting on the share).
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities, type Activities } from '../activities';
import { realDependencies, type ActivityDependencies } from '../activities/dependencies';
import { EstateRegistry } from '../activities/estates';
import { isLogBackupOf, logBackupName } from '../contracts/log-shipping';
import { WORKFLOW_TYPES, type RunbookInput, type RunbookName } from '../contracts/runbooks';
import type { RunbookReport } from '../contracts/run-record';
import { startDevServer, type DevServer } from '../scripts/dev-server';
import { ensureTemporalCli } from '../scripts/temporal-cli';
import { DEFAULT_WORKFLOW_BUNDLE } from '../worker/settings';
import { resolveSecret } from '../topology/secrets';
import { eventually, startTestEstate, type TestEstate } from '../test/helpers/estate';

/** What one measured stretch sent: counts and the time spent in each kind of work. */
export class Meter {
  sqlStatements = 0;
  /** Time in the statements that handle one log backup each: RESTORE LOG, and verifying and reading its header. */
  restoreLogMs = 0;
  headerMs = 0;
  spawns = 0;
  spawnMs = 0;
  activities: { name: string; ms: number }[] = [];

  reset(): void {
    Object.assign(this, { sqlStatements: 0, restoreLogMs: 0, headerMs: 0, spawns: 0, spawnMs: 0, activities: [] });
  }

  /** Counts and times one SQL statement. */
  async sql<T>(text: string, work: Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work;
    } finally {
      this.sqlStatements++;
      if (/^\s*RESTORE LOG/.test(text)) this.restoreLogMs += performance.now() - started;
      else if (HEADER.test(text)) this.headerMs += performance.now() - started;
    }
  }

  /** Times `work` as a Management Shell process. */
  async spawn<T>(work: Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await work;
    } finally {
      this.spawns++;
      this.spawnMs += performance.now() - started;
    }
  }
}

/** Verifying a backup and reading its header from msdb (activities/restore.ts readBackupHeader). */
const HEADER = /^\s*RESTORE VERIFYONLY|FROM msdb\.dbo\.backupset b JOIN msdb\.dbo\.backupmediafamily/;

/** The real dependencies, with every SQL statement and pool-control process counted on `meter`. */
export function meteredDependencies(meter: Meter, estates: EstateRegistry): ActivityDependencies {
  const deps = realDependencies({ estates, resolveSecret });
  const query = deps.sql.query.bind(deps.sql);
  deps.sql.query = ((...args: Parameters<typeof query>) => meter.sql(args[1], query(...args))) as typeof deps.sql.query;
  const runner = deps.poolControl;
  deps.poolControl = {
    run: (command, script, options) => meter.spawn(runner.run(command, script, options)),
    closeAll: () => runner.closeAll?.(),
  };
  return deps;
}

/** Every activity timed on `meter`. */
export function meteredActivities(meter: Meter, deps: ActivityDependencies): Activities {
  const activities = createActivities(deps) as Record<string, (input: unknown) => Promise<unknown>>;
  const timed: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const [name, activity] of Object.entries(activities)) {
    timed[name] = async (input) => {
      const started = performance.now();
      try {
        return await activity(input);
      } finally {
        meter.activities.push({ name, ms: performance.now() - started });
      }
    };
  }
  return timed as unknown as Activities;
}

export interface Rig {
  server: DevServer;
  client: Client;
  taskQueue: string;
  meter: Meter;
  deps: ActivityDependencies;
  /** The worker serves exactly these estates from now on (a run loads its pool's file at its first step). */
  serve(estates: TestEstate[]): void;
  start(runbook: RunbookName, env: TestEstate, options?: Record<string, unknown>): Promise<WorkflowHandle>;
  close(): Promise<void>;
}

let runs = 0;

/** A dev server and one worker in this process; `serve` swaps the estates it serves between rounds. */
export async function startRig(firstEstate: TestEstate): Promise<Rig> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const server = await startDevServer({ cli: await ensureTemporalCli() });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  const native = await NativeConnection.connect({ address: server.address });
  const meter = new Meter();
  const deps = meteredDependencies(meter, EstateRegistry.open([firstEstate.topologyFile]));
  const taskQueue = 'bench';
  // As worker/main.ts creates it: the SDK's defaults for everything but the shutdown.
  const worker = await Worker.create({
    connection: native,
    taskQueue,
    workflowBundle: { codePath: DEFAULT_WORKFLOW_BUNDLE },
    activities: meteredActivities(meter, deps),
    shutdownGraceTime: '5s',
  });
  const running = worker.run();
  return {
    server,
    client,
    taskQueue,
    meter,
    deps,
    serve(estates) {
      deps.estates = EstateRegistry.open(estates.map((env) => env.topologyFile));
    },
    start(runbook, env, options = {}) {
      const input: RunbookInput = {
        pool: env.topology.pool.fqdn,
        initiator: 'erin',
        reason: `benchmark ${runbook}`,
        options,
      };
      return client.workflow.start(WORKFLOW_TYPES[runbook], {
        taskQueue,
        workflowId: `bench-${runbook}-${++runs}-${Date.now()}`,
        args: [input],
      });
    },
    async close() {
      worker.shutdown();
      await running;
      await deps.sql.closeAll();
      await native.close();
      await connection.close();
      await server.stop();
    },
  };
}

/** A fresh simulated estate with a pool name of its own (the pool's incident lock lives on the server). */
export async function freshEstate(label: string): Promise<TestEstate> {
  const fqdn = `${label}-${++runs}.sim.local`;
  return startTestEstate({ edit: (yaml) => yaml.replaceAll('pchat.sim.local', fqdn) });
}

/**
 * Log shipping set up by runbook 2 with its jobs paused once every shipped log is restored on the backup, then
 * `pending` log backups taken on the primary and copied by the copy job, not restored: the backlog a restore delay
 * or a lagging restore job leaves. Nothing moves afterwards.
 */
export async function prepareLogShipping(rig: Rig, env: TestEstate, pending: number): Promise<void> {
  const report = (await (await rig.start('setup-log-shipping', env)).result()) as RunbookReport;
  if (report.outcome !== 'succeeded') throw new Error(`setup-log-shipping ${report.outcome}: ${report.outcomeReason}`);
  const jobsOf = (instance: string) =>
    env.estate.snapshot().instances.find((candidate) => candidate.name === instance)!.jobs;
  const pause = async (instance: string, prefix: string) => {
    const job = jobsOf(instance).find((candidate) => candidate.name.startsWith(prefix))!;
    env.estate.setJobEnabled(instance, job.name, false);
    await eventually(() => !jobsOf(instance).find((candidate) => candidate.name === job.name)!.running, 30_000);
  };
  const monitor = () =>
    env.estate.snapshot().instances.find((candidate) => candidate.name === 'dc2-sql-a')!.logShipping
      .monitorSecondary[0] as { last_restored_file?: string; last_copied_file?: string } | undefined;
  const reached = (file: string | undefined) =>
    !newestLogBackup(env) || (file && path.basename(file.replace(/\\/g, '/')) === newestLogBackup(env));
  await pause('dc1-sql-a', 'LSBackup_');
  await eventually(() => reached(monitor()?.last_restored_file), 60_000, 'the backup to restore every shipped log');
  await pause('dc2-sql-a', 'LSRestore_');
  await takeLogBackups(env, pending);
  const copied = () => readdirSync(env.topology.copyFolder.workerPath).includes(newestLogBackup(env) ?? '');
  if (pending > 0) await eventually(copied, 60_000, 'the copy job to copy the new log backups');
  await pause('dc2-sql-a', 'LSCopy_');
}

function newestLogBackup(env: TestEstate): string | undefined {
  return readdirSync(env.topology.backupShare.workerPath)
    .filter((name) => isLogBackupOf(name, 'mgc'))
    .sort()
    .pop();
}

/**
 * `count` log backups of mgc on the primary, one chat message in each, named as log shipping names them: from a
 * second after the newest on the share, so they sort after it and before anything taken now.
 */
async function takeLogBackups(env: TestEstate, count: number): Promise<void> {
  if (count === 0) return;
  const newest = newestLogBackup(env);
  const from = newest
    ? Date.parse(newest.replace(/^mgc_(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}).*$/, '$1-$2-$3T$4:$5:$6Z'))
    : Date.now() - 3_600_000;
  const connection = await env.connect('dc1-sql-a');
  try {
    for (let index = 1; index <= count; index++) {
      await env.estate.chat.postOne();
      const file = path.join(env.topology.backupShare.sqlPath, logBackupName('mgc', new Date(from + index * 1_000)));
      await connection.request().input('file', file).query('BACKUP LOG [mgc] TO DISK = @file WITH INIT');
    }
  } finally {
    await connection.close();
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}
