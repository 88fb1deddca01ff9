/**
 * A disaster failover on a bad night (docs/runbooks.md rule 9 and docs/reliability.md): the newest shipped log damaged
 * in both copies, deleted after the run listed it, damaged only in the copy folder, an Agent restarted while a restore
 * job ran, and a DC1 that answers but does not serve. Each ends where an operator needs it: at accept-data-loss with nothing recovered, or succeeded
 * with nothing lost that the shipped logs carried.
 */
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, type TestEstate } from '../helpers/estate';
import { approve, gateOpen, progress, result, runbookHarness, stepOf, type RunbookHarness } from '../helpers/runbooks';
import { loseDc1, lostMessages, mgcOn, pauseJobs, setUpLogShipping, takeLogBackups } from '../helpers/story';

let harness: RunbookHarness;
afterEach(async () => harness?.close());

const jobsOf = (env: TestEstate, instance: string) =>
  env.estate.snapshot().instances.find((candidate) => candidate.name === instance)!.jobs;

/** DC2 stops copying and restoring, three log backups are taken, and each is copied to the copy folder by hand. */
async function shipThreeLogsByHand(env: TestEstate): Promise<{ share: string[]; copied: string[] }> {
  await pauseJobs(env, ['dc2-sql-a']);
  const names = (await takeLogBackups(env, 3, 4)).map((file) => path.basename(file));
  const share = names.map((name) => path.join(env.topology.backupShare.workerPath, name));
  const copied = names.map((name) => path.join(env.topology.copyFolder.workerPath, name));
  share.forEach((file, index) => copyFileSync(file, copied[index]));
  return { share, copied };
}

async function declare(handle: Awaited<ReturnType<RunbookHarness['start']>>) {
  const declaration = await gateOpen(handle, 'declare-disaster');
  await approve(handle, 'declare-disaster', 'carol');
  await approve(handle, 'declare-disaster', 'dave');
  return declaration;
}

describe('a disaster failover on a bad night', () => {
  it(
    'stops at accept-data-loss when the newest log is damaged in both copies, still RESTORING; abort recovers nothing',
    { timeout: 180_000 },
    async () => {
      harness = await runbookHarness({ label: 'newest-log-damaged' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        const { share, copied } = await shipThreeLogsByHand(env);
        env.estate.corruptBackupFile(share[2]);
        env.estate.corruptBackupFile(copied[2]);
        await loseDc1(env);
        const newest = path.basename(share[2]);

        const handle = await harness.start('failover', { mode: 'disaster' });
        const declaration = await declare(handle);
        expect(declaration.evidence?.summary.join('\n')).toContain(`the log chain BREAKS at ${newest}`);
        const dataLoss = await gateOpen(handle, 'accept-data-loss', 60_000);
        const evidence = dataLoss.evidence!.summary.join('\n');
        expect(evidence).toContain(`the log chain BREAKS at ${newest}: no copy of it can be read or verified`);
        expect(evidence).toContain(`approving loses what ${newest} holds`);
        // The readable logs were applied; the database waits, RESTORING, for two people.
        expect(stepOf(await progress(handle), 'apply-logs')).toMatchObject({ status: 'acted' });
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');

        await handle.executeUpdate('abortRun', { args: [{ by: 'bob', reason: 'find a good copy of the log first' }] });
        const report = await result(handle);
        expect(report.outcome).toBe('aborted');
        expect(report.steps.some((step) => step.name === 'recover')).toBe(false);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        expect(env.estate.snapshot().pool.poolState).toBe('Normal');
      });
    },
  );

  it(
    'stops at accept-data-loss when the newest log, listed by its evidence, is deleted before it is applied',
    { timeout: 180_000 },
    async () => {
      harness = await runbookHarness({ label: 'newest-log-deleted' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        for (const job of jobsOf(env, 'dc2-sql-a')) env.estate.setJobEnabled('dc2-sql-a', job.name, false);
        await eventually(() => jobsOf(env, 'dc2-sql-a').every((job) => !job.running), 15_000, 'DC2 jobs to finish');
        const logs = await takeLogBackups(env, 3, 2);
        const newest = path.basename(logs[2]);
        await loseDc1(env);

        const handle = await harness.start('failover', { mode: 'disaster' });
        const declaration = await gateOpen(handle, 'declare-disaster');
        expect(declaration.evidence?.summary.join('\n')).toMatch(/the log chain is complete/);
        // Gone after the run listed it: with DC1 lost, nothing else says it ever existed.
        env.estate.deleteBackupFile(path.join(env.topology.backupShare.workerPath, newest));
        await approve(handle, 'declare-disaster', 'carol');
        await approve(handle, 'declare-disaster', 'dave');
        const again = await gateOpen(handle, 'declare-disaster#2');
        expect(again.evidence?.summary.join('\n')).toContain(`the log chain BREAKS at ${newest}`);
        await approve(handle, 'declare-disaster#2', 'carol');
        await approve(handle, 'declare-disaster#2', 'dave');
        const dataLoss = await gateOpen(handle, 'accept-data-loss', 60_000);
        expect(dataLoss.evidence!.summary.join('\n')).toContain(`the log chain BREAKS at ${newest}`);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');

        await handle.executeUpdate('abortRun', { args: [{ by: 'bob', reason: 'find the log first' }] });
        const report = await result(handle);
        expect(report.outcome).toBe('aborted');
        expect(report.steps.some((step) => step.name === 'recover')).toBe(false);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
      });
    },
  );

  it(
    'copies again a log damaged only in the copy folder and applies it: no gate, nothing the logs carried is lost',
    { timeout: 180_000 },
    async () => {
      harness = await runbookHarness({ label: 'copy-damaged' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        const { share, copied } = await shipThreeLogsByHand(env);
        env.estate.corruptBackupFile(copied[2]);
        await loseDc1(env);

        const handle = await harness.start('failover', { mode: 'disaster' });
        const declaration = await declare(handle);
        expect(declaration.evidence?.summary.join('\n')).toMatch(/the log chain is complete/);
        const report = await result(handle);
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect(report.gates.map((gate) => gate.id)).not.toContain('accept-data-loss');
        expect(stepOf(report, 'copy-logs').status).toBe('acted');
        expect(readFileSync(copied[2], 'utf8')).toBe(readFileSync(share[2], 'utf8'));
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('ONLINE');
        // Every message was posted before a log backup: all of them are on DC2.
        expect(lostMessages(env)).toEqual([]);
        expect(report.measures.rpo).toMatchObject({ seconds: 0, logsNotApplied: 0 });
      });
    },
  );

  it(
    'goes past step 5 when an Agent restart left a restore job looking as if it ran',
    { timeout: 180_000 },
    async () => {
      harness = await runbookHarness({ label: 'agent-restarted' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        const restoreJob = jobsOf(env, 'dc2-sql-a').find((job) => job.name.startsWith('LSRestore_'))!.name;
        env.estate.setJobStepDelay('dc2-sql-a', 60_000);
        await env.query('dc2-sql-a', `EXEC msdb.dbo.sp_start_job @job_name = N'${restoreJob}'`);
        await eventually(
          () => jobsOf(env, 'dc2-sql-a').find((job) => job.name === restoreJob)!.running,
          10_000,
          'the restore job to run',
        );
        // The Agent restarts mid-job: the job is killed; its old session's row keeps a start and no stop.
        env.estate.setAgentRunning('dc2-sql-a', false);
        env.estate.setAgentRunning('dc2-sql-a', true);
        env.estate.setJobStepDelay('dc2-sql-a', 0);
        const stale = await env.query<{ runs: number }>(
          'dc2-sql-a',
          `SELECT COUNT(*) AS runs FROM msdb.dbo.sysjobactivity a JOIN msdb.dbo.sysjobs j ON j.job_id = a.job_id
            WHERE j.name = @job AND a.start_execution_date IS NOT NULL AND a.stop_execution_date IS NULL`,
          { job: restoreJob },
        );
        expect(stale.recordset[0].runs).toBeGreaterThanOrEqual(1);
        await loseDc1(env);

        // Were the stale row read as a running job, step 5 would wait its 30 s and fail on every retry.
        const handle = await harness.start('failover', { mode: 'disaster', jobWaitSeconds: 30 });
        await declare(handle);
        const report = await result(handle);
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect(stepOf(report, 'remove-log-shipping')).toMatchObject({ status: 'acted', attempts: 1 });
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('ONLINE');
      });
    },
  );

  it(
    'fails over from a DC1 that answers but does not serve (logins refused, database SUSPECT), through its gates',
    { timeout: 180_000 },
    async () => {
      harness = await runbookHarness({ label: 'half-dead-dc1' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        await takeLogBackups(env, 2);
        env.estate.setDatabaseState('dc1-sql-a', 'mgc', 'SUSPECT');
        env.estate.refuseLogins('dc1-sql-b');

        const handle = await harness.start('failover', { mode: 'disaster' });
        const declaration = await declare(handle);
        const evidence = declaration.evidence!.summary.join('\n');
        expect(evidence).toMatch(/dc1-sql-b: .*does not serve \(LoginFailed\): .*Login failed/);
        expect(evidence).toMatch(/dc1-sql-a: .*SUSPECT/);
        const report = await result(handle);
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect(report.gates.map((gate) => gate.id)).not.toContain('override-split-brain-guard');
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('ONLINE');
        expect(env.estate.snapshot().pool.poolState).toBe('FailedOver');
      });
    },
  );
});
