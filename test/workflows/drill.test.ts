/**
 * Runbook 6 — drills, on the dev server, a real worker and the simulated estate: a healthy estate passes with RPO
 * and an estimated RTO and a report in the topology's folder; an open incident makes the drill skip; each health
 * check fails on its own in the matching bad state, drift is seen, a failing drill notifies once; the scratch copy
 * is gone after a rehearsal that failed half way; on a rehearsal estate the real failover and failback run.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writePoolState, readPoolState } from '../../simulator/pool/pool-state';
import type { DrillFindings } from '../../contracts/drill-report';
import type { RunbookReport } from '../../contracts/run-record';
import { recordHistory } from '../helpers/histories';
import { estateState, eventually } from '../helpers/estate';
import { approve, gateOpen, result, runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { mgcOn, setUpLogShipping, takeLogBackups } from '../helpers/story';
import { webhookReceiver, type WebhookReceiver } from '../helpers/webhook';

let harness: RunbookHarness;
let hook: WebhookReceiver | undefined;
afterEach(async () => {
  await harness?.close();
  await hook?.close();
  hook = undefined;
});

const failed = (drill: DrillFindings | undefined) =>
  drill!.checks
    .filter((check) => !check.passed)
    .map((check) => check.name)
    .sort();
const scratchDatabases = () =>
  harness.env.estate
    .snapshot()
    .instances.find((instance) => instance.name === 'dc2-sql-a')!
    .databases.filter((database) => database.name.includes('_drill_'));

async function runDrill(options: object = {}) {
  const handle = await harness.start('drill', options);
  return { handle, report: await result(handle) };
}

describe('drill', () => {
  it(
    'passes on a healthy estate: RPO now, an estimated RTO from a timed restore rehearsal, a report in the folder',
    { timeout: 120_000 },
    async () => {
      harness = await runbookHarness({ label: 'drill-healthy' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        // Five messages, shipped in a log backup: the rehearsal copy must hold them.
        await takeLogBackups(env, 1, 5);
        env.estate.setJobEnabled('dc1-sql-a', 'LSBackup_mgc', true);
        const { handle, report } = await runDrill();
        await recordHistory(handle, 'drill');
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        const drill = report.drill!;
        expect(failed(drill)).toEqual([]);
        expect(drill.passed).toBe(true);
        for (const name of [
          'mirroring:mgc',
          'mirroring:mgccomp',
          'log-shipping:backup',
          'log-shipping:copy',
          'log-shipping:restore',
          'job:LSBackup_mgc',
          'log-chain',
          'share',
          'pool-state',
          'drift:pool-state',
          'drift:active-servers',
          'objective:rpo',
          'rehearsal:restore',
          'rehearsal:cleanup',
          'objective:rto',
        ]) {
          expect(drill.checks.map((check) => check.name)).toContain(name);
        }
        expect(drill.figures.rpoSeconds).toBeGreaterThanOrEqual(0);
        expect(drill.figures.estimatedRtoSeconds).toBeGreaterThan(0);
        expect(drill.figures.rowsInRehearsal).toBe(5);
        // The rehearsal restored a copy and dropped it; production is as it was.
        expect(scratchDatabases()).toEqual([]);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        const folder = env.topology.drills.reportFolder!;
        const written = readdirSync(folder).sort();
        expect(written).toEqual([`${handle.workflowId}.json`, `${handle.workflowId}.md`]);
        const markdown = readFileSync(path.join(folder, `${handle.workflowId}.md`), 'utf8');
        expect(markdown).toMatch(/\*\*Result: PASSED\*\*/);
        expect(markdown).toMatch(/\| Estimated RTO \(restore rehearsal\) \| \d/);
        expect(JSON.parse(readFileSync(path.join(folder, `${handle.workflowId}.json`), 'utf8')).drill.passed).toBe(
          true,
        );

        // A second drill compares with the first.
        const second = await runDrill();
        expect(second.report.drill!.trend.map((earlier) => earlier.workflowId)).toEqual([handle.workflowId]);
      });
    },
  );

  it('skips, recorded, while an incident runbook is open on the pool, and changes nothing', async () => {
    harness = await runbookHarness({ label: 'drill-skip' });
    await harness.withWorker(async () => {
      const incident = await harness.start('mirror-failover', { to: 'mirror' });
      await gateOpen(incident, 'approve-mirror-failover');
      const before = estateState(harness.env);
      const { report } = await runDrill();
      expect(report.outcome).toBe('skipped');
      expect(report.drill!.skipped).toMatch(new RegExp(`^incident open: mirror-failover ${incident.workflowId}`));
      expect(report.steps.map((step) => step.name)).toEqual(['load-estate', 'find-open-incident']);
      expect(estateState(harness.env)).toBe(before);
      expect(existsSync(harness.env.topology.drills.reportFolder!)).toBe(false);
    });
  });

  it(
    'fails each health check on its own in the matching bad state, names what it saw, and notifies once',
    { timeout: 240_000 },
    async () => {
      hook = await webhookReceiver();
      harness = await runbookHarness({
        label: 'drill-checks',
        edit: (yaml) => `${yaml}\nnotifications:\n  webhook: ${hook!.reference}\n`,
      });
      const { env } = harness;
      const observed = (drill: DrillFindings | undefined, name: string) =>
        drill!.checks.find((check) => check.name === name)!.observed;
      const drillPosts = () => hook!.received.filter((post) => post.body.runbook === 'drill');
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        expect(failed((await runDrill()).report.drill)).toEqual([]);
        expect(drillPosts()).toEqual([]);

        // Suspended mirroring.
        await env.query('dc1-sql-a', 'ALTER DATABASE [mgc] SET PARTNER SUSPEND');
        const suspended = (await runDrill()).report;
        expect(suspended.outcome).toBe('failed');
        expect(failed(suspended.drill)).toEqual(['mirroring:mgc']);
        expect(observed(suspended.drill, 'mirroring:mgc')).toMatch(/PRINCIPAL, SUSPENDED/);
        expect(drillPosts().map((post) => post.body.kind)).toEqual(['drill-failed']);
        expect(drillPosts()[0].body.failedChecks).toEqual(['mirroring:mgc']);
        await env.query('dc1-sql-a', 'ALTER DATABASE [mgc] SET PARTNER RESUME');
        await eventually(
          () => mgcOn(env, 'dc1-sql-a')?.mirroring?.state === 'SYNCHRONIZED',
          15_000,
          'mirroring to catch up',
        );

        // A paused copy job.
        const copyJob = env.estate
          .snapshot()
          .instances.find((instance) => instance.name === 'dc2-sql-a')!
          .jobs.find((job) => job.name.startsWith('LSCopy_'))!.name;
        env.estate.setJobEnabled('dc2-sql-a', copyJob, false);
        const paused = (await runDrill()).report;
        expect(failed(paused.drill)).toEqual([`job:${copyJob}`]);
        expect(observed(paused.drill, `job:${copyJob}`)).toMatch(/^DISABLED/);
        env.estate.setJobEnabled('dc2-sql-a', copyJob, true);

        // The pool failed over while SQL Server still serves from DC1: a failed check and drift.
        const pool = readPoolState(env.estate.poolStateFile);
        writePoolState(env.estate.poolStateFile, { ...pool, poolState: 'FailedOver' });
        const drifted = (await runDrill()).report;
        expect(failed(drifted.drill)).toEqual(['drift:pool-state', 'pool-state']);
        expect(observed(drifted.drill, 'drift:pool-state')).toBe('pool FailedOver; mgc served by dc1-sql-a (DC1)');
        expect(readFileSync(path.join(env.topology.drills.reportFolder!, `${drifted.workflowId}.md`), 'utf8')).toMatch(
          /Pool state agrees with SQL Server \| \*\*FAIL\*\* \| pool FailedOver; mgc served by dc1-sql-a \(DC1\)/,
        );
        writePoolState(env.estate.poolStateFile, pool);

        // A log backup deleted before it was shipped: the chain breaks.
        const files = await takeLogBackups(env, 3, 1);
        env.estate.setJobEnabled('dc1-sql-a', 'LSBackup_mgc', true);
        env.estate.deleteBackupFile(files[1]);
        const broken = (await runDrill()).report;
        expect(failed(broken.drill)).toContain('log-chain');
        expect(observed(broken.drill, 'log-chain')).toMatch(
          /^the log chain BREAKS before mgc_\d{14}\.trn: the database needs LSN \d+/,
        );
        // One notification per failing drill, nothing else.
        expect(drillPosts().map((post) => post.body.kind)).toEqual([
          'drill-failed',
          'drill-failed',
          'drill-failed',
          'drill-failed',
        ]);
      });
    },
  );

  it('drops the scratch copy when the rehearsal fails half way', { timeout: 120_000 }, async () => {
    harness = await runbookHarness({ label: 'drill-scratch' });
    const { env } = harness;
    await harness.withWorker(async () => {
      await setUpLogShipping(harness);
      await takeLogBackups(env, 2, 1);
      env.estate.failNext('dc2-sql-a', 'RESTORE LOG \\[mgc_drill_', {
        number: 3241,
        message: 'The media family on device is incorrectly formed (injected).',
      });
      const { report } = await runDrill();
      expect(report.outcome).toBe('failed');
      const rehearsal = report.drill!.checks.find((check) => check.name === 'rehearsal:restore')!;
      expect(rehearsal).toMatchObject({
        passed: false,
        observed: expect.stringMatching(/^applying the log backups: .*incorrectly formed/),
      });
      expect(report.steps.find((step) => step.name === 'restore-scratch')?.status).toBe('acted');
      expect(report.drill!.checks.find((check) => check.name === 'rehearsal:cleanup')).toMatchObject({ passed: true });
      expect(report.steps.find((step) => step.name === 'drop-scratch')?.status).toBe('acted');
      expect(scratchDatabases()).toEqual([]);
    });
  });

  it(
    'on a rehearsal estate runs the real failover and failback and reports their RTO and RPO',
    { timeout: 240_000 },
    async () => {
      harness = await runbookHarness({
        label: 'drill-rehearse',
        edit: (yaml) => yaml.replace('rehearse: false', 'rehearse: true'),
      });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        const setup = await harness.start('setup-mirror-log-shipping');
        await gateOpen(setup, 'approve-mirror-log-shipping');
        await approve(setup, 'approve-mirror-log-shipping', 'bob');
        expect((await result(setup)).outcome).toBe('succeeded');
        // The setup's failback leaves the pair SYNCHRONIZING for a moment, as SQL Server does: a drill started then
        // would rightly fail its mirroring check (and rehearse nothing). A scheduled drill does not follow a setup.
        await eventually(
          () => mgcOn(env, 'dc1-sql-a')?.mirroring?.state === 'SYNCHRONIZED',
          15_000,
          'mirroring to be SYNCHRONIZED after the setup',
        );
        env.estate.chat.start(10);
        const { report } = await runDrill();
        env.estate.chat.stop();
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        const rehearsal = report.drill!.figures.rehearsal!;
        const over = (await harness.client.workflow.getHandle(rehearsal.failover.workflowId).result()) as RunbookReport;
        const back = (await harness.client.workflow.getHandle(rehearsal.failback.workflowId).result()) as RunbookReport;
        expect(over.outcome).toBe('succeeded');
        expect(back.outcome).toBe('succeeded');
        // Gates answered by the drill's approver; figures are the runs' own.
        expect(over.gates.find((gate) => gate.gate === 'approve-switchover')).toMatchObject({
          status: 'approved',
          approvals: [{ by: 'drill-bot' }],
        });
        expect(rehearsal.failover.rtoSeconds).toBe(over.measures.rto!.seconds);
        expect(rehearsal.failover.rtoSeconds!).toBeLessThanOrEqual(over.durationSeconds!);
        expect(rehearsal.failover.rpoSeconds).toBe(0);
        expect(rehearsal.failback.interruptionSeconds).toBe(back.measures.serviceInterruption!.seconds);
        // Back where it started: DC1 serves, mirrored, the pool Normal.
        expect(mgcOn(env, 'dc1-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
        expect(env.estate.snapshot().pool.poolState).toBe('Normal');
        expect(env.estate.lostMessages('dc1-sql-a')).toEqual([]);
      });
    },
  );

  it(
    'on a simulated: true estate whose instances do not answer as the simulator, answers no gate and changes nothing',
    { timeout: 240_000 },
    async () => {
      harness = await runbookHarness({
        label: 'drill-not-simulator',
        edit: (yaml) => yaml.replace('rehearse: false', 'rehearse: true'),
      });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        // What a `simulated: true` file pointing at a real SQL Server looks like (docs/runbooks.md rule 8).
        env.estate.setIdentifiesAsSimulator('dc2-sql-a', false);
        const { report } = await runDrill();
        expect(report.outcome).toBe('failed');
        const failoverId = report.children.find((child) => child.runbook === 'failover')?.workflowId;
        expect(failoverId, 'the rehearsal started the failover').toBeDefined();
        const over = (await harness.client.workflow.getHandle(failoverId!).result()) as RunbookReport;
        expect(over.outcome).toBe('precondition-failed');
        expect(over.outcomeReason).toMatch(/dc2-sql-a did not answer as the pchat-dr simulator/);
        expect(over.gates.flatMap((gate) => gate.approvals)).toEqual([]);
        expect(over.steps.filter((step) => step.status === 'acted')).toEqual([]);
        // The log-shipping jobs go on; what a failover would change did not.
        expect(mgcOn(env, 'dc1-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
        expect(env.estate.snapshot().pool).toMatchObject({
          poolState: 'Normal',
          activeServers: env.topology.pool.servers.dc1,
        });
      });
    },
  );
});
