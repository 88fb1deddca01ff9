/**
 * Runbooks 4 and 5 end to end on the dev server, a real worker and the simulated estate with chat traffic: DC1 lost
 * and the pool failed over to DC2 (every shipped message there, RPO and RTO in the report), DC1 rebuilt and the pool
 * failed back; a planned switchover loses nothing; the split-brain guard; a gap in the chain.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { recordHistory } from '../helpers/histories';
import { eventually } from '../helpers/estate';
import { approve, gateOpen, progress, result, runbookHarness, stepOf, type RunbookHarness } from '../helpers/runbooks';
import { loseDc1, lostMessages, mgcOn, pauseJobs, setUpLogShipping, takeLogBackups } from '../helpers/story';

let harness: RunbookHarness;
afterEach(async () => harness?.close());

const pool = () => harness.env.estate.snapshot().pool;

describe('failover and failback', () => {
  it(
    'fails over to DC2 after DC1 is lost with chat running, then fails back once DC1 is rebuilt',
    { timeout: 180_000 },
    async () => {
      harness = await runbookHarness({ label: 'failover-disaster' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        await takeLogBackups(env, 3);
        env.estate.chat.start(20);
        await new Promise((resolve) => setTimeout(resolve, 1_500));
        await takeLogBackups(env, 1, 0);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        await loseDc1(env);
        await new Promise((resolve) => setTimeout(resolve, 300));
        env.estate.chat.stop();
        const acknowledged = env.estate.chat.snapshot().acknowledged;
        expect(acknowledged).toBeGreaterThan(20);

        const handle = await harness.start('failover', { mode: 'disaster' });
        const declaration = await gateOpen(handle, 'declare-disaster');
        expect(declaration).toMatchObject({ required: 2, twoPersonRule: true });
        expect(declaration.evidence?.summary.join('\n')).toMatch(/dc1-sql-a: unreachable/);
        expect(declaration.evidence?.summary.join('\n')).toMatch(/the log chain is complete/);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        await approve(handle, 'declare-disaster', 'carol', { comment: 'DC1 is gone' });
        await approve(handle, 'declare-disaster', 'alice');
        const report = await result(handle);
        await recordHistory(handle, 'failover-disaster');
        expect(report.outcome, report.outcomeReason).toBe('succeeded');

        // The estate: mgc served by DC2, mirrored there, the pool failed over to DC2's servers.
        expect(mgcOn(env, 'dc2-sql-a')).toMatchObject({
          state: 'ONLINE',
          mirroring: { role: 'PRINCIPAL', partner: 'SQLDC2B' },
        });
        expect(pool()).toMatchObject({ poolState: 'FailedOver', activeServers: env.topology.pool.servers.dc2 });
        for (const step of [
          'remove-log-shipping',
          'apply-logs',
          'recover',
          'pool-failed-over',
          'install-mirror',
          'activate-dc2',
        ])
          expect(['acted', 'skipped']).toContain(stepOf(report, step).status);
        expect(stepOf(report, 'recover').status).toBe('acted');

        // Every message the shipped logs carried is on DC2; what is missing was posted after the recovery point.
        const rpo = report.measures.rpo!;
        expect(rpo).toMatchObject({ seconds: 0, logsNotApplied: 0, met: true });
        const recoveryPoint = Date.parse(rpo.recoveryPoint!);
        const lost = lostMessages(env);
        expect(lost.every((message) => message.postedAt.getTime() >= recoveryPoint - 5)).toBe(true);
        const onDc2 = env.estate.instance('dc2-sql-a').database('mgc')!.messages.length;
        expect(onDc2 + lost.length).toBe(acknowledged);
        expect(onDc2).toBeGreaterThan(10);
        // RTO: from the declaration to the DC2 servers serving, within the run's own times.
        const rto = report.measures.rto!;
        expect(rto.seconds).toBeGreaterThan(0);
        expect(rto.seconds).toBeLessThanOrEqual(report.durationSeconds!);
        expect(rto.restoredAt).toBe(stepOf(report, 'activate-dc2').finishedAt ?? rto.restoredAt);
        expect(report.notes.join('\n')).toMatch(/mgccomp .*not failed over/);
        // Chat works again, on DC2.
        expect(await env.estate.chat.postOne()).toBeTruthy();

        // DC1 rebuilt: fail back in a maintenance window.
        await Promise.all(['dc1-sql-a', 'dc1-sql-b'].map((name) => env.estate.rebuildInstance(name)));
        const onDc2BeforeFailback = env.estate
          .instance('dc2-sql-a')
          .database('mgc')!
          .messages.map((message) => message.clientId);
        const back = await harness.start('failback');
        await gateOpen(back, 'approve-failback');
        await approve(back, 'approve-failback', 'bob');
        await gateOpen(back, 'approve-failback-mirroring', 60_000);
        await approve(back, 'approve-failback-mirroring', 'bob');
        await gateOpen(back, 'approve-failback-mirror-log-shipping', 60_000);
        await approve(back, 'approve-failback-mirror-log-shipping', 'bob');
        const failback = await result(back);
        await recordHistory(back, 'failback');
        expect(failback.outcome, failback.outcomeReason).toBe('succeeded');
        expect(pool()).toMatchObject({ poolState: 'Normal', activeServers: env.topology.pool.servers.dc1 });
        expect(mgcOn(env, 'dc1-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
        expect(mgcOn(env, 'dc1-sql-b')).toMatchObject({ state: 'RESTORING', mirroring: { role: 'MIRROR' } });
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        const onDc1 = new Set(
          env.estate
            .instance('dc1-sql-a')
            .database('mgc')!
            .messages.map((message) => message.clientId),
        );
        expect(onDc2BeforeFailback.filter((id) => !onDc1.has(id))).toEqual([]);
        const snapshot = env.estate.snapshot();
        expect(
          snapshot.instances.find((instance) => instance.name === 'dc1-sql-a')!.logShipping.primaries,
        ).toHaveLength(1);
        expect(
          snapshot.instances.find((instance) => instance.name === 'dc1-sql-b')!.logShipping.primaries,
        ).toHaveLength(1);
        expect(
          snapshot.instances.find((instance) => instance.name === 'dc2-sql-a')!.logShipping.secondaries,
        ).toHaveLength(1);
        expect(failback.children.map((child) => [child.runbook, child.outcome])).toEqual([
          ['setup-log-shipping', 'succeeded'],
          ['setup-mirror-log-shipping', 'succeeded'],
        ]);
        // Log shipping to DC2 goes on after the failback: the next log backups are copied and restored.
        const restoredFile = () =>
          env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-a')!.logShipping
            .monitorSecondary[0]?.last_restored_file;
        const restoredAtFailback = restoredFile();
        await eventually(
          () => restoredFile() !== restoredAtFailback,
          60_000,
          'the next log backup to be restored on DC2',
        );
        const restoreJob = () =>
          env.estate
            .snapshot()
            .instances.find((instance) => instance.name === 'dc2-sql-a')!
            .jobs.find((job) => job.name.startsWith('LSRestore_'))!;
        expect(restoreJob().lastOutcome).toBe('succeeded');
        const interruption = failback.measures.serviceInterruption!;
        expect(interruption.seconds).toBeGreaterThan(0);
        expect(interruption.from).toBe(stepOf(failback, 'clear-active-servers').finishedAt ?? interruption.from);
        expect(await env.estate.chat.postOne()).toBeTruthy();
      });
    },
  );

  it('switches over to DC2 in planned mode with chat running and loses no message', { timeout: 120_000 }, async () => {
    harness = await runbookHarness({ label: 'failover-planned' });
    const { env } = harness;
    await harness.withWorker(async () => {
      await setUpLogShipping(harness);
      env.estate.chat.start(20);
      await takeLogBackups(env, 2, 0);
      const handle = await harness.start('failover', { mode: 'planned' });
      await gateOpen(handle, 'approve-switchover');
      await approve(handle, 'approve-switchover', 'dave');
      const report = await result(handle);
      await recordHistory(handle, 'failover-planned');
      env.estate.chat.stop();
      expect(report.outcome, report.outcomeReason).toBe('succeeded');
      expect(stepOf(report, 'tail-log-backup').status).toBe('acted');
      // Fenced: the old principal waits in RESTORING, the new one serves, nothing acknowledged was lost.
      expect(mgcOn(env, 'dc1-sql-a')?.state).toBe('RESTORING');
      expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('ONLINE');
      expect(lostMessages(env)).toEqual([]);
      expect(report.measures.rpo).toMatchObject({ seconds: 0, logsNotApplied: 0 });
      expect(report.measures.serviceInterruption!.seconds).toBeGreaterThan(0);
      expect(pool()).toMatchObject({ poolState: 'FailedOver', activeServers: env.topology.pool.servers.dc2 });
    });
  });

  it(
    'names its tail after the newest log backup when the SQL Server host’s clock is ahead of the worker’s: the tail is applied, nothing lost',
    { timeout: 120_000 },
    async () => {
      harness = await runbookHarness({ label: 'failover-clock-ahead' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        // Log shipping names its files by the SQL Server host's clock, ten minutes ahead of the worker's here; the
        // backup's restore job restores them, so its last restored file is stamped after the worker's now.
        const files = await takeLogBackups(env, 2, 3, 'dc1-sql-a', Date.now() + 10 * 60_000);
        const restored = () =>
          String(
            env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-a')!.logShipping
              .monitorSecondary[0]?.last_restored_file ?? '',
          );
        await eventually(
          () => path.basename(restored()) === path.basename(files[1]),
          60_000,
          'the restore job to restore the newest log',
        );
        await pauseJobs(env, ['dc2-sql-a']);
        // Acknowledged after the newest log backup: only the tail carries them.
        for (let message = 0; message < 4; message++) await env.estate.chat.postOne();

        const handle = await harness.start('failover', { mode: 'planned' });
        await gateOpen(handle, 'approve-switchover');
        await approve(handle, 'approve-switchover', 'dave');
        const report = await result(handle);
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect(lostMessages(env)).toEqual([]);
        expect(stepOf(report, 'apply-logs').summary).toMatch(/^applied 1 log backup/);
        const tail = path.basename(stepOf(report, 'tail-log-backup').figures!.file as string);
        expect(tail > path.basename(files[1]), `${tail} sorts after ${path.basename(files[1])}`).toBe(true);
      });
    },
  );

  it('stops before any change when a disaster is declared while DC1 still serves (split-brain guard)', async () => {
    harness = await runbookHarness({ label: 'split-brain' });
    const { env } = harness;
    await harness.withWorker(async () => {
      await setUpLogShipping(harness);
      // Log shipping's own jobs would move the LSNs while the run waits: only the run's changes are looked for.
      await pauseJobs(env, ['dc1-sql-a', 'dc2-sql-a']);
      const before = JSON.stringify(
        env.estate.snapshot().instances.map((instance) => [instance.name, instance.databases, instance.logShipping]),
      );
      const handle = await harness.start('failover', { mode: 'disaster' });
      const gate = await gateOpen(handle, 'override-split-brain-guard');
      expect(gate.question).toMatch(/dc1-sql-a still answer and serve mgc as principal/);
      expect(gate).toMatchObject({ required: 2, approvers: ['carol', 'dave'] });
      expect((await progress(handle)).steps.every((step) => step.status === 'observed')).toBe(true);
      expect(
        JSON.stringify(
          env.estate.snapshot().instances.map((instance) => [instance.name, instance.databases, instance.logShipping]),
        ),
      ).toBe(before);
      await handle.executeUpdate('rejectGate', {
        args: [{ gate: 'override-split-brain-guard', by: 'carol', reason: 'DC1 is fine: a network blip' }],
      });
      const report = await result(handle);
      expect(report.outcome).toBe('rejected');
      expect(pool().poolState).toBe('Normal');
      expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
    });
  });

  it(
    'keeps the database RESTORING at a gap in the chain until two people accept the loss; on abort nothing is recovered',
    { timeout: 180_000 },
    async () => {
      harness = await runbookHarness({ label: 'failover-gap' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        // The backup stops copying and restoring; three more logs are taken and the middle one is lost.
        for (const job of env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-a')!.jobs)
          env.estate.setJobEnabled('dc2-sql-a', job.name, false);
        const files = await takeLogBackups(env, 3, 4);
        env.estate.deleteBackupFile(files[1]);
        await loseDc1(env);

        const first = await harness.start('failover', { mode: 'disaster' });
        const declaration = await gateOpen(first, 'declare-disaster');
        expect(declaration.evidence?.summary.join('\n')).toMatch(/the log chain BREAKS before mgc_\d{14}\.trn/);
        await approve(first, 'declare-disaster', 'carol');
        await approve(first, 'declare-disaster', 'dave');
        const dataLoss = await gateOpen(first, 'accept-data-loss', 60_000);
        expect(dataLoss).toMatchObject({ required: 2, twoPersonRule: true });
        expect(stepOf(await progress(first), 'apply-logs')).toMatchObject({
          status: 'failed',
          failure: { type: 'LogChainBroken' },
        });
        await approve(first, 'accept-data-loss', 'alice');
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        await first.executeUpdate('abortRun', { args: [{ by: 'bob', reason: 'find the missing file first' }] });
        const aborted = await result(first);
        expect(aborted.outcome).toBe('aborted');
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        expect(aborted.steps.some((step) => step.name === 'recover')).toBe(false);

        // Run again: the gap is still there; two people accept it; the database is recovered at the last log before it.
        const second = await harness.start('failover', { mode: 'disaster' });
        await gateOpen(second, 'declare-disaster');
        await approve(second, 'declare-disaster', 'carol');
        await approve(second, 'declare-disaster', 'dave');
        await gateOpen(second, 'accept-data-loss', 60_000);
        await approve(second, 'accept-data-loss', 'alice');
        await approve(second, 'accept-data-loss', 'bob');
        const report = await result(second);
        await recordHistory(second, 'failover-accepted-data-loss');
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('ONLINE');
        const rpo = report.measures.rpo!;
        expect(rpo.logsNotApplied).toBe(1);
        expect(rpo.seconds).toBeGreaterThan(0);
        expect(rpo.met).toBe(rpo.seconds! <= rpo.objectiveSeconds);
        // What was lost is what came after the recovery point: the messages of the missing log and the one after it.
        const lost = lostMessages(env);
        expect(lost.length).toBeGreaterThanOrEqual(8);
        expect(lost.every((message) => message.postedAt.getTime() >= Date.parse(rpo.recoveryPoint!) - 5)).toBe(true);
        await eventually(() => pool().poolState === 'FailedOver');
      });
    },
  );
});
