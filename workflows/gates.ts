/**
 * Gates as a run waits on them (docs/runbooks.md rules 3 and 4): an approval gate at a point of no return, bound to
 * its evidence and opened again when the evidence changes; a decision gate after a step failed for good; escalation,
 * timeout and abort while waiting; the webhook told at each turn. Who may answer and what counts is gate-rules.ts.
 */
import * as wf from '@temporalio/workflow';
import type { NotificationEvent } from '../activities/notify';
import type { RunbookInput } from '../contracts/runbooks';
import type { DecisionRecord, EvidenceRecord, FailureRecord, GateRecord, StepRecord } from '../contracts/run-record';
import { AWAITING_GATE } from '../contracts/search-attributes';
import { decisionMakers, gatePolicy } from '../topology/approvals';
import { durationMs } from '../topology/durations';
import type { GateName } from '../topology/gates';
import type { Topology } from '../topology/schema';
import { activityOf, notifications } from './activity-kinds';
import { openApprovalGate, openDecisionGate } from './gate-rules';
import { failureOf, RunEnded, type RunState } from './run-state';

/** Patch id (workflow versioning): a rehearsal asks the estate whether it is the simulator before answering gates. */
const REHEARSAL_CONFIRMS_SIMULATOR = 'rehearsal-confirms-simulator';

export class Gates {
  /** A rehearsal's answer from the estate: null until asked, then whether every instance is the simulator, and why. */
  private rehearsalEstate: { confirmed: boolean; summary: string } | null = null;

  constructor(
    private readonly state: RunState,
    private readonly input: RunbookInput<object>,
  ) {}

  private get record() {
    return this.state.record;
  }

  private get topology(): Topology {
    return this.state.topology;
  }

  /**
   * An approval gate at a point of no return. `gather` reads the evidence the gate depends on; after approval it
   * is read again, and if it changed the approval is void and the gate opens again (rule 3). An `optional` gate
   * guards a phase the run can do without: a rejection returns (status rejected) instead of ending the run.
   */
  async approval(
    gate: GateName,
    question: string,
    gather: () => Promise<EvidenceRecord>,
    options: { optional?: boolean } = {},
  ): Promise<GateRecord> {
    const { state } = this;
    const policy = gatePolicy(this.topology.approvals, gate);
    let evidence = await gather();
    const covering = this.input.parent?.coveringGate;
    if (covering || policy.waived || this.record.dryRun) {
      const record = openApprovalGate(state.uniqueGateId(gate), policy, question, evidence, state.now());
      this.record.gates.push(record);
      this.record.evidence.push({ label: record.id, ...evidence });
      if (this.record.dryRun) state.close(record, 'planned', 'dry run: the gate would open here');
      else
        state.close(
          record,
          'waived',
          covering ? `covered by ${covering} of ${this.input.parent!.workflowId}` : 'waived by the approval policy',
        );
      return record;
    }
    for (;;) {
      state.checkAbort();
      const record = openApprovalGate(state.uniqueGateId(gate), policy, question, evidence, state.now());
      this.record.evidence.push({ label: record.id, ...evidence });
      state.setPhase('awaiting-approval');
      if (this.input.rehearsalApprover) await this.answerForRehearsal(record);
      await this.waitFor(record);
      if (record.status === 'rejected') {
        // An optional phase's gate: rejecting it skips the phase, not the run.
        if (options.optional) return record;
        throw new RunEnded('rejected', `${record.id} rejected by ${record.rejection!.by}: ${record.rejection!.reason}`);
      }
      if (record.status === 'timed-out')
        throw new RunEnded('timed-out', `${record.id}: no decision within ${record.timeout}`);
      if (record.status !== 'approved')
        throw new RunEnded('aborted', `${record.id} ${record.closedBecause ?? record.status}`);
      const current = await gather();
      if (current.version === record.evidence!.version) return record;
      record.status = 'void';
      record.closedBecause = `the evidence changed after approval (${record.evidence!.version} → ${current.version}): approvals are void, the gate opens again`;
      state.log({ kind: 'note', message: `${record.id}: ${record.closedBecause}` });
      evidence = current;
    }
  }

  /** After a step failed for good (rule 4): retry, skip (when the step allows it) or abort, as people decide. */
  async decision(step: StepRecord, failure: FailureRecord): Promise<DecisionRecord> {
    const approvals = this.topology.approvals;
    const gate = openDecisionGate(
      this.state.uniqueGateId(`decision:${step.name}`),
      step.name,
      `"${step.title}" failed (${failure.type}): ${failure.message}. Retry${step.skippable ? ', skip' : ''} or abort?`,
      decisionMakers(approvals),
      Boolean(step.skippable),
      approvals.default.timeout ?? '1h',
      this.state.now(),
    );
    this.state.setPhase('awaiting-decision');
    await this.waitFor(gate);
    if (gate.status === 'decided') return gate.decision!;
    const why =
      gate.status === 'timed-out' ? `no decision within ${gate.timeout}` : (gate.closedBecause ?? gate.status);
    throw new RunEnded(gate.status === 'timed-out' ? 'timed-out' : 'aborted', `"${step.title}" failed and ${why}`);
  }

  /**
   * A drill's rehearsal: the drill's approver answers the gate, but only on an estate that says it is simulated and
   * whose every instance answers as the pchat-dr simulator (a file that says `simulated: true` about real servers
   * gets no auto-approval, and the rehearsal ends: nobody watches it).
   */
  private async answerForRehearsal(gate: GateRecord): Promise<void> {
    const by = this.input.rehearsalApprover!;
    if (wf.patched(REHEARSAL_CONFIRMS_SIMULATOR)) {
      if (this.rehearsalEstate === null) {
        const confirmation = await activityOf('confirmSimulatedEstate')({ pool: this.record.pool });
        this.rehearsalEstate = { confirmed: confirmation.found.confirmed, summary: confirmation.summary };
        this.state.note(`rehearsal estate: ${confirmation.summary}`);
      }
      if (!this.rehearsalEstate.confirmed)
        throw new RunEnded(
          'precondition-failed',
          `${gate.id} is not answered for a rehearsal: ${this.rehearsalEstate.summary}`,
        );
    } else if (!this.topology.simulated) return;
    gate.approvals.push({
      by,
      at: this.state.now(),
      comment: 'rehearsal on a simulated estate',
      evidenceVersion: gate.evidence?.version ?? '',
    });
    this.state.close(gate, 'approved', `rehearsal: answered by ${by} for the drill`);
  }

  /** Waits until the gate is answered, escalates when the policy says, times out, or the run is aborted. */
  private async waitFor(gate: GateRecord): Promise<void> {
    const { state } = this;
    this.record.gates.push(gate);
    if (gate.status !== 'open') return;
    wf.upsertSearchAttributes([{ key: AWAITING_GATE, value: gate.id }]);
    const recipients = gate.approvers;
    await this.notify({
      kind: 'gate-opened',
      gate: gate.id,
      recipients,
      summary: `${this.record.runbook} on ${this.record.pool} waits for ${gate.id}: ${gate.question}`,
    });
    const answered = () => gate.status !== 'open' || state.abortRequest !== null;
    const started = Date.now();
    const timeout = durationMs(gate.timeout);
    if (gate.escalation) {
      const after = Math.min(durationMs(gate.escalation.after), timeout);
      if (!(await wf.condition(answered, after))) {
        gate.escalatedAt = state.now();
        state.log({ kind: 'note', message: `${gate.id} escalated to ${gate.escalation.people.join(', ')}` });
        await this.notify({
          kind: 'gate-escalated',
          gate: gate.id,
          recipients: gate.escalation.people,
          summary: `${gate.id} still open after ${gate.escalation.after}: ${gate.question}`,
        });
      }
    }
    const remaining = Math.max(1, timeout - (Date.now() - started));
    if (!(await wf.condition(answered, remaining))) {
      state.close(gate, 'timed-out', `no answer within ${gate.timeout}`);
      await this.notify({
        kind: 'gate-timed-out',
        gate: gate.id,
        recipients,
        summary: `${gate.id} timed out: the run ends`,
      });
    }
    if (gate.status === 'open') state.close(gate, 'aborted', `aborted by ${state.abortRequest?.by}`);
    wf.upsertSearchAttributes([{ key: AWAITING_GATE, value: null }]);
  }

  /** Tells people (webhook); a notification that fails is noted, never a reason to stop. */
  async notify(event: Omit<NotificationEvent, 'pool' | 'runbook' | 'workflowId'>): Promise<void> {
    // A run refused before its estate loaded has nowhere trusted to send to.
    const webhook = this.state.estate?.topology.notifications.webhook;
    if (!webhook || this.record.dryRun) return;
    try {
      await notifications.notify({
        webhook,
        event: {
          ...event,
          pool: this.record.pool,
          runbook: this.record.runbook,
          workflowId: this.record.workflowId,
        } as NotificationEvent,
      });
    } catch (error) {
      this.state.log({ kind: 'note', message: `notification failed: ${failureOf(error, this.state.now()).message}` });
    }
  }
}
