/**
 * The ways back and the honest accounts (docs/runbooks.md rules 9 and 10): a DC1 that comes back while DC2 is being
 * recovered stops the recovery; a planned switchover stopped after the fence is rolled back with nothing lost; a
 * disaster's RPO is reported as bounds that cover every lost message; the failback keeps DC1's diverged data in a
 * COPY_ONLY backup and says how many messages it holds that DC2 lacks.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { TestEstate } from '../helpers/estate';
import { approve, gateOpen, result, runbookHarness, stepOf, type RunbookHarness } from '../helpers/runbooks';
import { loseDc1, lostMessages, mgcOn, pauseJobs, setUpLogShipping, takeLogBackups } from '../helpers/story';

let harness: RunbookHarness;
afterEach(async () => harness?.close());

const pool = () => harness.env.estate.snapshot().pool;
const instanceOf = (env: TestEstate, name: string) =>
  env.estate.snapshot().instances.find((candidate) => candidate.name === name)!;

describe('the ways back', () => {
  it(
    'asks again before RECOVERY when DC1 serves again while logs were applied, and recovers nothing if refused',
    { timeout: 180_000 },
    async () => {
      harness = await runbookHarness({ label: 'recheck-split-brain' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        await pauseJobs(env, ['dc2-sql-a']); // DC2 stops restoring on its own: the run has logs to apply
        await takeLogBackups(env, 2);
        env.estate.failNext('dc2-sql-a', 'RESTORE LOG', { number: 50000, message: 'injected: the disk is busy' });
        await loseDc1(env);

        const handle = await harness.start('failover', { mode: 'disaster' });
        await gateOpen(handle, 'declare-disaster');
        await approve(handle, 'declare-disaster', 'carol');
        await approve(handle, 'declare-disaster', 'dave');
        await gateOpen(handle, 'decision:apply-logs', 60_000);
        // DC1 comes back while the run waits; the logs then apply, and the guard is asked again before RECOVERY.
        await Promise.all(['dc1-sql-a', 'dc1-sql-b'].map((name) => env.estate.startInstance(name)));
        await handle.executeUpdate('decideStep', { args: [{ choice: 'retry', by: 'alice', reason: 'disk freed' }] });
        const guard = await gateOpen(handle, 'override-split-brain-guard', 60_000);
        expect(guard.question).toMatch(/dc1-sql-a still answer and serve mgc as principal/);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        await handle.executeUpdate('rejectGate', {
          args: [{ gate: 'override-split-brain-guard', by: 'carol', reason: 'DC1 is back: fail over planned instead' }],
        });
        const report = await result(handle);
        expect(report.outcome).toBe('rejected');
        expect(stepOf(report, 'apply-logs').status).toBe('acted');
        expect(report.steps.some((step) => step.name === 'recover')).toBe(false);
        expect(report.notes.join('\n')).toMatch(/split-brain guard \(before recovery\): dc1-sql-a/);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        expect(mgcOn(env, 'dc1-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
        expect(pool().poolState).toBe('Normal');
      });
    },
  );

  it(
    'rolls a planned switchover stopped after the fence back to DC1 with no acknowledged message lost',
    { timeout: 240_000 },
    async () => {
      harness = await runbookHarness({ label: 'roll-back-switchover' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        await takeLogBackups(env, 2);
        for (let message = 0; message < 5; message++) await env.estate.chat.postOne();
        const acknowledged = env.estate.chat.snapshot().acknowledged;
        env.estate.failNext('dc2-sql-a', 'RESTORE LOG', { number: 50000, message: 'injected: the disk is full' });

        const handle = await harness.start('failover', { mode: 'planned' });
        await gateOpen(handle, 'approve-switchover');
        await approve(handle, 'approve-switchover', 'carol');
        await gateOpen(handle, 'decision:apply-logs', 60_000);
        // Fenced: chat stopped, DC1 RESTORING after its tail-log backup. The people abort the switchover.
        expect(mgcOn(env, 'dc1-sql-a')?.state).toBe('RESTORING');
        expect(pool().activeServers).toEqual([]);
        await handle.executeUpdate('decideStep', {
          args: [{ choice: 'abort', by: 'alice', reason: 'DC2 has no disk space' }],
        });
        const rollBack = await gateOpen(handle, 'roll-back-switchover', 60_000);
        expect(rollBack.question).toMatch(/Go back to dc1-sql-a: recover mgc from its fenced tail \(no data lost\)/);
        await approve(handle, 'roll-back-switchover', 'bob');
        const report = await result(handle);

        expect(report.outcome).toBe('aborted');
        expect(report.outcomeReason).toMatch(/rolled back: mgc serves on dc1-sql-a again with nothing lost/);
        for (const step of ['clear-active-servers', 'tail-log-backup', 'rollback-recover-dc1', 'rollback-activate-dc1'])
          expect(stepOf(report, step).status).toBe('acted');
        expect(report.children.map((child) => [child.runbook, child.outcome])).toEqual([
          ['setup-log-shipping', 'succeeded'],
        ]);
        // The estate: DC1 serves and is mirrored, DC2 is a log-shipping secondary again, the pool is as it was.
        expect(pool()).toMatchObject({ poolState: 'Normal', activeServers: env.topology.pool.servers.dc1 });
        expect(mgcOn(env, 'dc1-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
        expect(mgcOn(env, 'dc1-sql-b')).toMatchObject({ state: 'RESTORING', mirroring: { role: 'MIRROR' } });
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        expect(instanceOf(env, 'dc2-sql-a').logShipping.secondaries).toHaveLength(1);
        expect(env.estate.instance('dc1-sql-a').database('mgc')!.messages.length).toBe(acknowledged);
        expect(lostMessages(env, 'dc1-sql-a')).toEqual([]);
        expect(await env.estate.chat.postOne()).toBeTruthy();
      });
    },
  );

  it(
    'never recovers a switchover without its tail-log backup: the tail deleted is a gap, and the way back loses nothing',
    { timeout: 240_000 },
    async () => {
      harness = await runbookHarness({ label: 'tail-deleted' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        await pauseJobs(env, ['dc2-sql-a']);
        await takeLogBackups(env, 2);
        for (let message = 0; message < 5; message++) await env.estate.chat.postOne();
        env.estate.failNext('dc2-sql-a', 'sp_delete_log_shipping_secondary', { number: 50000, message: 'injected' });

        const handle = await harness.start('failover', { mode: 'planned' });
        await gateOpen(handle, 'approve-switchover');
        await approve(handle, 'approve-switchover', 'carol');
        await gateOpen(handle, 'decision:remove-log-shipping', 60_000);
        // Fenced: the tail holds DC1's last writes. It is deleted before anything listed it.
        const tail = readdirSync(env.topology.backupShare.workerPath).find((name) => name.endsWith('_tail.trn'))!;
        env.estate.deleteBackupFile(path.join(env.topology.backupShare.workerPath, tail));
        await handle.executeUpdate('decideStep', { args: [{ choice: 'retry', by: 'alice', reason: 'fixed' }] });
        const dataLoss = await gateOpen(handle, 'accept-data-loss', 60_000);
        expect(dataLoss.evidence!.summary.join('\n')).toContain(`the log chain BREAKS at ${tail}`);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        await handle.executeUpdate('rejectGate', {
          args: [{ gate: 'accept-data-loss', by: 'carol', reason: 'a switchover loses nothing: go back' }],
        });
        await gateOpen(handle, 'roll-back-switchover', 60_000);
        await approve(handle, 'roll-back-switchover', 'bob');
        const report = await result(handle);
        expect(report.outcomeReason).toMatch(/rolled back: mgc serves on dc1-sql-a again with nothing lost/);
        expect(report.steps.some((step) => step.name === 'recover')).toBe(false);
        expect(mgcOn(env, 'dc1-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
        expect(lostMessages(env, 'dc1-sql-a')).toEqual([]);
      });
    },
  );

  it(
    'reports a disaster’s RPO as bounds covering every lost message; the failback keeps them in a COPY_ONLY backup',
    { timeout: 300_000 },
    async () => {
      harness = await runbookHarness({ label: 'diverged-data' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        await takeLogBackups(env, 2);
        // Acknowledged after the newest log backup: no log carries them. msdb keeps the backup's finish time as a
        // datetime (to 1/300 s, rounded): they come a few milliseconds after it, as msdb records it.
        await new Promise((resolve) => setTimeout(resolve, 10));
        for (let message = 0; message < 6; message++) await env.estate.chat.postOne();
        await new Promise((resolve) => setTimeout(resolve, 1_100));
        await loseDc1(env);

        const handle = await harness.start('failover', { mode: 'disaster' });
        await gateOpen(handle, 'declare-disaster');
        await approve(handle, 'declare-disaster', 'carol');
        await approve(handle, 'declare-disaster', 'dave');
        const report = await result(handle);
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        const lost = lostMessages(env);
        expect(lost).toHaveLength(6);
        const rpo = report.measures.rpo!;
        expect(rpo.seconds).toBe(0);
        expect(rpo.upperBoundAt).not.toBeNull();
        expect(rpo.upperBoundSeconds).toBeGreaterThan(0);
        expect(rpo.upperBoundBasis).toMatch(/DC1 was first seen not serving at/);
        // The window from the recovery point to the upper bound holds every lost message.
        for (const message of lost) {
          expect(message.postedAt.getTime()).toBeGreaterThanOrEqual(Date.parse(rpo.recoveryPoint!) - 5);
          expect(message.postedAt.getTime()).toBeLessThanOrEqual(Date.parse(rpo.upperBoundAt!));
        }
        expect(rpo.messagesLost).toBeNull();
        expect(rpo.messagesLostNote).toMatch(/^unknown: DC1 cannot be read/);

        // DC1 comes back with what it had; the failback keeps it before overwriting it.
        await Promise.all(['dc1-sql-a', 'dc1-sql-b'].map((name) => env.estate.startInstance(name)));
        const back = await harness.start('failback');
        await gateOpen(back, 'approve-failback');
        await approve(back, 'approve-failback', 'bob');
        await gateOpen(back, 'approve-failback-mirroring', 60_000);
        await approve(back, 'approve-failback-mirroring', 'bob');
        await gateOpen(back, 'approve-failback-mirror-log-shipping', 60_000);
        await approve(back, 'approve-failback-mirror-log-shipping', 'bob');
        const failback = await result(back);
        expect(failback.outcome, failback.outcomeReason).toBe('succeeded');
        expect(stepOf(failback, 'keep-diverged-data').status).toBe('acted');
        const diverged = failback.diverged!;
        expect(diverged).toMatchObject({ instance: 'dc1-sql-a', database: 'mgc', messages: 6 });
        expect(path.basename(diverged.file)).toMatch(/^mgc_diverged_\d{14}\.bak$/);
        expect(existsSync(path.join(env.topology.backupShare.workerPath, path.basename(diverged.file)))).toBe(true);
        const copyOnly = await env.query<{ n: number }>(
          'dc1-sql-a',
          `SELECT COUNT(*) AS n FROM msdb.dbo.backupset b
             JOIN msdb.dbo.backupmediafamily f ON f.media_set_id = b.media_set_id
            WHERE b.database_name = N'mgc' AND b.type = 'D' AND b.is_copy_only = 1 AND f.physical_device_name LIKE @file`,
          { file: `${diverged.file}%` },
        );
        expect(copyOnly.recordset[0].n).toBeGreaterThanOrEqual(1);
        // DC1 serves what DC2 served; the diverged messages are in the backup only, for an administrator to reconcile.
        expect(pool()).toMatchObject({ poolState: 'Normal', activeServers: env.topology.pool.servers.dc1 });
        expect(
          lostMessages(env, 'dc1-sql-a')
            .map((message) => message.clientId)
            .sort(),
        ).toEqual(lost.map((message) => message.clientId).sort());
      });
    },
  );
});
