/**
 * Gates as people meet them (docs/runbooks.md rules 3-5): who may approve, M of N distinct people, the two-person rule,
 * refused updates leaving no trace while refused signals are recorded, escalation then timeout, approvals voided
 * by changed evidence, decision gates after a failed step, and one incident runbook per pool.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startRunbook } from '../../client/runs';
import { loadTopology } from '../../topology/load';
import { approveSignal } from '../../contracts/messages';
import {
  approve,
  gateOpen,
  progress,
  refusal,
  result,
  runbookHarness,
  stepOf,
  type RunbookHarness,
} from '../helpers/runbooks';
import { loseDc1, mgcOn, setUpLogShipping, takeLogBackups } from '../helpers/story';
import { webhookReceiver, type WebhookReceiver } from '../helpers/webhook';

let harness: RunbookHarness;
let hook: WebhookReceiver | undefined;
afterEach(async () => {
  await harness?.close();
  await hook?.close();
  hook = undefined;
});

describe('approval gates', () => {
  it('counts only allowed, distinct people other than the initiator; refused updates leave no trace, refused signals are recorded', async () => {
    harness = await runbookHarness({ label: 'gate-rules' });
    await harness.env.estate.stopInstance('dc1-sql-a');
    await harness.withWorker(async () => {
      const handle = await harness.start('mirror-failover', { to: 'mirror' }, { initiator: 'alice' });
      const gate = await gateOpen(handle, 'accept-data-loss');
      expect(gate).toMatchObject({ required: 2, twoPersonRule: true, approvers: ['alice', 'bob', 'carol', 'dave'] });

      expect(await refusal(approve(handle, 'accept-data-loss', 'mallory'))).toBe(
        'mallory may not approve accept-data-loss (approvers: alice, bob, carol, dave)',
      );
      expect(await refusal(approve(handle, 'accept-data-loss', 'alice'))).toBe(
        'alice started this run and may not approve accept-data-loss (two-person rule)',
      );
      expect(await refusal(approve(handle, 'declare-disaster', 'bob'))).toBe(
        'gate declare-disaster is not open (open: accept-data-loss)',
      );
      expect(await approve(handle, 'accept-data-loss', 'bob')).toMatchObject({
        counted: true,
        gateStatus: 'open',
        approvals: 1,
        required: 2,
      });
      expect(await refusal(approve(handle, 'accept-data-loss', 'BOB'))).toBe(
        'BOB has already approved accept-data-loss; it needs 2 distinct people',
      );
      expect(await refusal(approve(handle, 'accept-data-loss', 'carol', { evidenceVersion: 'deadbeef' }))).toMatch(
        /the evidence of accept-data-loss changed since you looked \(you saw deadbeef, it is now [0-9a-f]{64}\)/,
      );

      // The same refusal through a signal is recorded in the run's log; an allowed signal counts like an update.
      const evidenceVersion = gate.evidence!.version;
      await handle.signal(approveSignal, { gate: 'accept-data-loss', by: 'mallory', evidenceVersion });
      await handle.signal(approveSignal, {
        gate: 'accept-data-loss',
        by: 'carol',
        comment: 'from the Temporal UI',
        evidenceVersion,
      });
      const report = await result(handle);
      expect(report.outcome).toBe('succeeded');
      expect(report.gates[0].approvals.map((vote) => vote.by)).toEqual(['bob', 'carol']);
      expect(report.refused).toEqual([
        expect.objectContaining({
          by: 'mallory',
          message: 'approval: mallory may not approve accept-data-loss (approvers: alice, bob, carol, dave)',
        }),
      ]);
      // Only the update that counted entered the history.
      const history = await handle.fetchHistory();
      const accepted = (history.events ?? []).filter((event) => event.workflowExecutionUpdateAcceptedEventAttributes);
      expect(accepted).toHaveLength(1);
      expect(mgcOn(harness.env, 'dc1-sql-b')?.state).toBe('ONLINE');
    });
  });

  it('escalates to the second list after its delay, then times out and ends the run without a change', async () => {
    hook = await webhookReceiver();
    harness = await runbookHarness({
      label: 'gate-timeout',
      edit: (yaml) =>
        yaml.replace(
          '    override-split-brain-guard:',
          '    approve-mirror-failover:\n      approvers: [group:dba]\n      timeout: 4s\n      escalation: { after: 1s, notify: [group:incident-commanders] }\n    override-split-brain-guard:',
        ) + `\nnotifications:\n  webhook: ${hook!.reference}\n`,
    });
    await harness.withWorker(async () => {
      const handle = await harness.start('mirror-failover', { to: 'mirror' });
      const gate = await gateOpen(handle, 'approve-mirror-failover');
      expect(gate.approvers).toEqual(['alice', 'bob']);
      const report = await result(handle);
      expect(report.outcome).toBe('timed-out');
      expect(report.gates[0]).toMatchObject({
        status: 'timed-out',
        escalatedAt: expect.any(String),
        closedBecause: 'no answer within 4s',
      });
      expect(Date.parse(report.gates[0].escalatedAt!) - Date.parse(report.gates[0].openedAt)).toBeGreaterThanOrEqual(
        1_000,
      );
      expect(report.steps.some((step) => step.name === 'planned-failover')).toBe(false);
      expect(mgcOn(harness.env, 'dc1-sql-a')?.mirroring?.role).toBe('PRINCIPAL');
      const kinds = hook!.received.map((post) => [post.body.kind, post.body.recipients]);
      expect(kinds).toEqual([
        ['gate-opened', ['alice', 'bob']],
        ['gate-escalated', ['carol', 'dave']],
        ['gate-timed-out', ['alice', 'bob']],
        ['run-failed', undefined],
      ]);
    });
  });

  it(
    'voids an approval when the evidence changes before the step runs, and opens the gate again',
    { timeout: 120_000 },
    async () => {
      harness = await runbookHarness({ label: 'gate-evidence' });
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        for (const job of env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-a')!.jobs)
          env.estate.setJobEnabled('dc2-sql-a', job.name, false);
        const files = await takeLogBackups(env, 3, 2);
        await loseDc1(env);
        const handle = await harness.start('failover', { mode: 'disaster' });
        const first = await gateOpen(handle, 'declare-disaster');
        expect(first.evidence?.summary.join('\n')).toMatch(/the log chain is complete/);
        await approve(handle, 'declare-disaster', 'carol', { evidenceVersion: first.evidence!.version });
        // A log goes missing between the first and the last approval: the data-loss window the approvers saw is wrong.
        env.estate.deleteBackupFile(files[1]);
        await approve(handle, 'declare-disaster', 'dave');
        const second = await gateOpen(handle, 'declare-disaster#2');
        expect(second.evidence!.version).not.toBe(first.evidence!.version);
        expect(second.evidence?.summary.join('\n')).toMatch(/the log chain BREAKS/);
        const voided = (await progress(handle)).steps;
        expect(voided.some((step) => step.name === 'remove-log-shipping')).toBe(false);
        await handle.executeUpdate('abortRun', { args: [{ by: 'carol', reason: 'look for the missing log first' }] });
        const report = await result(handle);
        expect(report.outcome).toBe('aborted');
        expect(report.gates.map((gate) => [gate.id, gate.status])).toEqual([
          ['declare-disaster', 'void'],
          ['declare-disaster#2', 'aborted'],
        ]);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('RESTORING');
      });
    },
  );
});

describe('decision gates', () => {
  it('after a failed step: skip is refused for a step that is not skippable; retry succeeds once the fault is gone', async () => {
    harness = await runbookHarness({ label: 'decision-retry' });
    harness.env.estate.failNext('dc1-sql-a', 'SET PARTNER FAILOVER', {
      number: 50000,
      message: 'injected: the partner is busy',
    });
    await harness.withWorker(async () => {
      const handle = await harness.start('mirror-failover', { to: 'mirror' });
      await gateOpen(handle, 'approve-mirror-failover');
      await approve(handle, 'approve-mirror-failover', 'bob');
      const decision = await gateOpen(handle, 'decision:planned-failover');
      expect(decision).toMatchObject({ kind: 'decision', choices: ['retry', 'abort'], approvers: ['alice', 'bob'] });
      expect(decision.question).toMatch(/injected: the partner is busy/);
      expect(
        await refusal(handle.executeUpdate('decideStep', { args: [{ choice: 'skip', by: 'bob', reason: 'move on' }] })),
      ).toBe('step planned-failover cannot be skipped: retry or abort');
      expect(
        await refusal(
          handle.executeUpdate('decideStep', { args: [{ choice: 'retry', by: 'carol', reason: 'try again' }] }),
        ),
      ).toBe('carol may not decide on failed steps (allowed: alice, bob)');
      await handle.executeUpdate('decideStep', { args: [{ choice: 'retry', by: 'bob', reason: 'the fault is gone' }] });
      const report = await result(handle);
      expect(report.outcome).toBe('succeeded');
      expect(stepOf(report, 'planned-failover')).toMatchObject({
        status: 'acted',
        attempts: 2,
        decisions: [{ choice: 'retry', by: 'bob', reason: 'the fault is gone' }],
      });
      expect(report.decisions).toEqual([
        expect.objectContaining({
          choice: 'retry',
          by: 'bob',
          gate: 'decision:planned-failover',
          step: 'planned-failover',
        }),
      ]);
      expect(mgcOn(harness.env, 'dc1-sql-b')?.mirroring?.role).toBe('PRINCIPAL');
    });
  });

  it('skips a skippable step on decision and records why', { timeout: 120_000 }, async () => {
    harness = await runbookHarness({ label: 'decision-skip' });
    const { env } = harness;
    await harness.withWorker(async () => {
      await setUpLogShipping(harness);
      await loseDc1(env);
      // Install-CsMirrorDatabase backs up mgc on dc2-sql-a to seed the mirror: make that fail.
      env.estate.failNext('dc2-sql-a', 'BACKUP DATABASE', {
        number: 3201,
        message: 'Cannot open backup device (injected).',
      });
      const handle = await harness.start('failover', { mode: 'disaster' });
      await gateOpen(handle, 'declare-disaster');
      await approve(handle, 'declare-disaster', 'carol');
      await approve(handle, 'declare-disaster', 'dave');
      const decision = await gateOpen(handle, 'decision:install-mirror', 60_000);
      expect(decision.choices).toEqual(['retry', 'skip', 'abort']);
      await handle.executeUpdate('decideStep', {
        args: [{ choice: 'skip', by: 'alice', reason: 'mirror it after the incident' }],
      });
      const report = await result(handle);
      expect(report.outcome).toBe('succeeded');
      expect(stepOf(report, 'install-mirror')).toMatchObject({
        status: 'decided',
        summary: 'skipped by alice: mirror it after the incident',
      });
      expect(stepOf(report, 'activate-dc2').status).toBe('acted');
      expect(mgcOn(env, 'dc2-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: null });
    });
  });
});

describe('one incident runbook per pool', () => {
  it('answers a second start with the open run, and a run that races past that check ends naming it', async () => {
    harness = await runbookHarness({ label: 'pool-lock' });
    await harness.withWorker(async () => {
      const request = {
        runbook: 'mirror-failover' as const,
        estate: loadTopology(harness.env.topologyFile),
        options: { to: 'mirror' },
        taskQueue: harness.taskQueue,
        initiator: 'erin',
      };
      const first = await startRunbook(harness.client, request);
      expect(first.started).toBe(true);
      const firstId = first.started ? first.workflowId : '';
      const handle = harness.client.workflow.getHandle(firstId);
      await gateOpen(handle, 'approve-mirror-failover');
      const second = await startRunbook(harness.client, {
        ...request,
        runbook: 'failover',
        options: { mode: 'disaster' },
      });
      expect(second).toMatchObject({ started: false, open: { workflowId: firstId, runbook: 'mirror-failover' } });

      const racing = await harness.start('setup-log-shipping');
      const blocked = await result(racing);
      expect(blocked).toMatchObject({
        outcome: 'precondition-failed',
        blockedBy: { workflowId: firstId, runbook: 'mirror-failover' },
      });
      expect(blocked.outcomeReason).toContain(
        `another incident runbook is open on ${harness.env.topology.pool.fqdn}: mirror-failover ${firstId}`,
      );
      expect(
        harness.env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-a')!.databases,
      ).toEqual([]);

      await approve(handle, 'approve-mirror-failover', 'bob');
      expect((await result(handle)).outcome).toBe('succeeded');
      // Released: the next runbook may start.
      const next = await startRunbook(harness.client, { ...request, options: { to: 'primary' } });
      expect(next.started).toBe(true);
    });
  });
});
