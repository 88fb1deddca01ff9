/**
 * Durability, as an operator would test it: the worker process is killed (SIGKILL) while a failover applies logs
 * and while it switches the pool, and a new worker finishes the run with the right end state and no step's effect
 * doubled; killed during a quick change, the step is taken over within the heartbeat timeout; the Temporal server
 * itself is restarted (its database file kept) while a run waits at a gate, and the run continues after the approval.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { afterEach, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { ensureTemporalCli } from '../../scripts/temporal-cli';
import { eventually } from '../helpers/estate';
import { approve, gateOpen, progress, result, runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { loseDc1, lostMessages, mgcOn, setUpLogShipping, takeLogBackups } from '../helpers/story';
import { isReady, startWorker, stopStartedWorkers, workerEnv, type WorkerProcess } from '../helpers/worker-process';

let harness: RunbookHarness | undefined;
let server: DevServer | undefined;
afterEach(async () => {
  stopStartedWorkers();
  await harness?.close();
  harness = undefined;
  await server?.stop();
  server = undefined;
});

async function workerProcess(taskQueue: string, address?: string): Promise<WorkerProcess> {
  const worker = startWorker(
    ['--task-queue', taskQueue, '--metrics', 'off', '--shutdown-grace', '1s', '--estate', harness!.env.topologyFile],
    workerEnv({}, address),
  );
  await worker.waitForLog(isReady, 'worker ready');
  return worker;
}

async function kill(worker: WorkerProcess): Promise<void> {
  worker.child.kill('SIGKILL');
  await worker.exited;
}

/** How many times each file was restored into mgc on the backup instance (msdb.restorehistory). */
function restoreCounts(files: string[]): number[] {
  const msdb = harness!.env.estate.instance('dc2-sql-a').msdb;
  const devices = new Map(
    msdb.rows('backupmediafamily').map((row) => [row.media_set_id, String(row.physical_device_name)]),
  );
  const sets = new Map(msdb.rows('backupset').map((row) => [row.backup_set_id, devices.get(row.media_set_id)]));
  const restored = msdb.rows('restorehistory').map((row) => path.basename(sets.get(row.backup_set_id) ?? ''));
  return files.map((file) => restored.filter((name) => name === path.basename(file)).length);
}

/** Log shipping set up, DC1 lost with a dozen logs not yet restored on DC2, failover declared by two people. */
async function declaredDisaster(files: number): Promise<{ handle: WorkflowHandle; logs: string[] }> {
  const { env } = harness!;
  await setUpLogShipping(harness!);
  for (const job of env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-a')!.jobs)
    env.estate.setJobEnabled('dc2-sql-a', job.name, false);
  const logs = await takeLogBackups(env, files, 1);
  await loseDc1(env);
  const handle = await harness!.start('failover', { mode: 'disaster' });
  await gateOpen(handle, 'declare-disaster');
  await approve(handle, 'declare-disaster', 'carol');
  await approve(handle, 'declare-disaster', 'dave');
  return { handle, logs };
}

describe('a worker killed in the middle of a failover', () => {
  it(
    'while applying logs: a new worker resumes from the heartbeat and applies every log exactly once',
    { timeout: 240_000 },
    async () => {
      harness = await runbookHarness({ label: 'crash-apply' });
      const { env } = harness;
      const first = await workerProcess(harness.taskQueue);
      const { handle, logs } = await declaredDisaster(12);
      // Every request to the backup instance now takes a quarter of a second: applying the logs takes long enough to be interrupted.
      env.estate.setLatency('dc2-sql-a', 250);
      await eventually(
        () => restoreCounts(logs).filter((count) => count > 0).length >= 3,
        90_000,
        'three logs applied',
      );
      expect((await progress(handle)).steps.find((step) => step.name === 'apply-logs')?.status).toBe('running');
      await kill(first);
      env.estate.setLatency('dc2-sql-a', 0);
      const applied = restoreCounts(logs).filter((count) => count > 0).length;
      expect(applied).toBeLessThan(logs.length);

      await workerProcess(harness.taskQueue);
      const report = await result(handle);
      expect(report.outcome, report.outcomeReason).toBe('succeeded');
      const apply = report.steps.find((step) => step.name === 'apply-logs')!;
      // The second attempt started from the first one's last heartbeat, and found the rest of what it had done in place.
      const figures = apply.figures as { resumedAfter: string | null; alreadyApplied: number };
      expect(logs.map((file) => path.basename(file))).toContain(path.basename(figures.resumedAfter ?? 'none'));
      expect(figures.alreadyApplied).toBeGreaterThanOrEqual(applied - 1);
      expect(restoreCounts(logs)).toEqual(logs.map(() => 1));
      expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('ONLINE');
      expect(env.estate.snapshot().pool.poolState).toBe('FailedOver');
      const recoveryPoint = Date.parse(report.measures.rpo!.recoveryPoint!);
      expect(lostMessages(env).every((message) => message.postedAt.getTime() >= recoveryPoint - 5)).toBe(true);
    },
  );

  it(
    'while switching the pool: a new worker finishes the switch, and each cmdlet took effect once',
    { timeout: 240_000 },
    async () => {
      harness = await runbookHarness({ label: 'crash-pool' });
      const { env } = harness;
      const first = await workerProcess(harness.taskQueue);
      const { handle, logs } = await declaredDisaster(4);
      const poolSteps = ['pool-failed-over', 'install-mirror', 'activate-dc2'];
      const interrupted = await eventually(
        async () =>
          (await progress(handle)).steps.find((step) => poolSteps.includes(step.name) && step.status === 'running')
            ?.name,
        90_000,
        'a pool step to run',
      );
      await kill(first);
      await workerProcess(harness.taskQueue);
      const report = await result(handle);
      expect(report.outcome, report.outcomeReason).toBe('succeeded');
      expect(poolSteps).toContain(interrupted);

      const invocations = readFileSync(`${env.estate.poolStateFile}.invocations.jsonl`, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { script: string; exitCode: number });
      const changes = (pattern: RegExp) =>
        invocations.filter((invocation) => pattern.test(invocation.script) && invocation.exitCode === 0).length;
      expect(changes(/^Set-CsPersistentChatState .*-PoolState 'FailedOver'/)).toBe(1);
      expect(changes(/^Set-CsPersistentChatActiveServer .*pchat-fe3/)).toBe(1);
      expect(changes(/^Install-CsMirrorDatabase /)).toBe(1);
      expect(env.estate.snapshot().pool).toMatchObject({
        poolState: 'FailedOver',
        activeServers: env.topology.pool.servers.dc2,
      });
      expect(mgcOn(env, 'dc2-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
      expect(restoreCounts(logs)).toEqual(logs.map(() => 1));
    },
  );
});

describe('a worker killed during a quick step', () => {
  it(
    'is noticed within the heartbeat timeout: a new worker takes the step over, not after the step’s whole timeout',
    { timeout: 180_000 },
    async () => {
      harness = await runbookHarness({ label: 'crash-change' });
      const { env } = harness;
      const first = await workerProcess(harness.taskQueue);
      const handle = await harness.start('mirror-failover', { to: 'mirror' });
      await gateOpen(handle, 'approve-mirror-failover');
      // Every request to the principal takes 2 s: the failover (a change, 10 minutes to close) is caught running.
      env.estate.setLatency('dc1-sql-a', 2_000);
      await approve(handle, 'approve-mirror-failover', 'bob');
      await eventually(
        async () =>
          (await progress(handle)).steps.find((step) => step.name === 'planned-failover')?.status === 'running',
        60_000,
        'the failover step to run',
      );
      await kill(first);
      const killedAt = Date.now();
      env.estate.setLatency('dc1-sql-a', 0);
      await workerProcess(harness.taskQueue);
      const report = await result(handle);
      expect(report.outcome, report.outcomeReason).toBe('succeeded');
      expect(Date.now() - killedAt).toBeLessThan(90_000);
      expect(mgcOn(env, 'dc1-sql-b')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
    },
  );
});

describe('the Temporal server restarted', () => {
  it(
    'while a run waits at a gate: after the restart the run is still there and continues after approval',
    { timeout: 180_000 },
    async () => {
      const dbFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-temporal-')), 'temporal.db');
      const cli = await ensureTemporalCli(() => undefined);
      server = await startDevServer({ cli, dbFile });
      const { port, address } = server;
      harness = await runbookHarness({ label: 'server-restart', address });
      await workerProcess(harness.taskQueue, address);
      const handle = await harness.start('mirror-failover', { to: 'mirror' });
      await gateOpen(handle, 'approve-mirror-failover');

      await server.stop();
      expect(existsSync(dbFile)).toBe(true);
      server = await startDevServer({ cli, dbFile, port });
      // The run, its record and its open gate survived; the worker reconnects by itself.
      const gate = await gateOpen(handle, 'approve-mirror-failover', 60_000);
      expect(gate.status).toBe('open');
      await approve(handle, 'approve-mirror-failover', 'bob');
      const report = await result(handle);
      expect(report.outcome).toBe('succeeded');
      expect(mgcOn(harness.env, 'dc1-sql-b')?.mirroring?.role).toBe('PRINCIPAL');
    },
  );
});
