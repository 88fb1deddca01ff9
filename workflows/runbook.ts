/**
 * The step runner every runbook shares. A Runbook keeps the run's record (steps, gates, approvals, decisions,
 * refused messages, evidence, measures), answers the progress / pending-gates / report queries and the
 * approve / reject / decide / abort signals and updates, keeps the phase and the awaited gate in search attributes,
 * and runs steps: an activity with its options; when it fails for good, a decision gate (retry, skip if the step
 * allows it, abort) instead of a silent end (RUNBOOKS rule 4).
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FailureType } from '../activities/failures';
import type { NotificationEvent } from '../activities/notify';
import type { StepResult } from '../activities/step-result';
import { decisionMakers, expandPeople, gatePolicy } from '../topology/approvals';
import { durationMs } from '../topology/durations';
import { GATE_NAMES, type GateName } from '../topology/gates';
import type { Topology } from '../topology/schema';
import { findOpenGate, isApproved, openApprovalGate, openDecisionGate, refuseApproval, refuseDecision, refuseRejection } from './approval';
import {
  abortSignal,
  abortUpdate,
  approveSignal,
  approveUpdate,
  decideSignal,
  decideUpdate,
  pendingGatesQuery,
  progressQuery,
  rejectSignal,
  rejectUpdate,
  reportQuery,
  type AbortMessage,
  type ApproveMessage,
  type DecideMessage,
  type MessageOutcome,
  type RejectMessage,
} from './messages';
import { pendingGate, progressOf, reportOf, type EvidenceRecord, type FailureRecord, type GateRecord, type RunbookName, type RunbookReport, type RunOutcome, type RunRecord, type StepRecord } from './report';
import { AWAITING_GATE, PHASE, POOL, RUNBOOK } from './search-attributes';

export interface RunbookInput<Options extends object = Record<string, unknown>> {
  topology: Topology;
  /** Who started the run (the two-person rule keeps them from approving critical gates). */
  initiator: string;
  reason: string;
  options?: Options;
  /** Set by a parent runbook: its approved gate covers this run's approval gates. */
  coveredBy?: { workflowId: string; gate: string };
}

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 };

/**
 * Activity options by kind of step: reads and quick changes retry a few times (only NotReachable is retryable);
 * long steps (backup, restore, applying logs, waiting on jobs or mirroring) heartbeat, so a dead worker is noticed
 * within two minutes and the step resumes elsewhere.
 */
export const steps = {
  read: wf.proxyActivities<Activities>({ startToCloseTimeout: '5 minutes', retry }),
  change: wf.proxyActivities<Activities>({ startToCloseTimeout: '15 minutes', retry }),
  long: wf.proxyActivities<Activities>({ startToCloseTimeout: '24 hours', heartbeatTimeout: '2 minutes', retry: { ...retry, maximumAttempts: 10 } }),
  notify: wf.proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry: { ...retry, maximumAttempts: 3 } }),
};

/** Thrown to end a run early with a given outcome (a rejected gate, an abort, a failed precondition). */
export class RunEnded extends Error {
  constructor(
    readonly outcome: Exclude<RunOutcome, 'running'>,
    readonly why: string,
  ) {
    super(why);
    this.name = 'RunEnded';
  }
}

export interface StepSpec<R> {
  /** Stable identifier in the record (numbered when a runbook repeats a step). */
  name: string;
  /** What an operator reads: "Apply pending log backups on dc2-sql-a". */
  title: string;
  target?: string;
  run: () => Promise<R>;
  /** Why this step may be skipped by a decision; absent: it may not be skipped. */
  skippable?: string;
  /** Failure types the runbook handles itself: returned instead of opening a decision gate. */
  expect?: FailureType[];
}

export type StepOutcome<R> = { kind: 'done'; result: R } | { kind: 'skipped' } | { kind: 'failed'; failure: FailureRecord };

function failureOf(error: unknown, at: string): FailureRecord {
  let cause: unknown = error;
  while (cause instanceof wf.ActivityFailure || cause instanceof wf.ChildWorkflowFailure) cause = cause.cause ?? cause;
  if (cause instanceof wf.ApplicationFailure) return { type: cause.type ?? 'Error', message: cause.message, details: cause.details?.[0], at };
  if (cause instanceof wf.TimeoutFailure) return { type: 'Timeout', message: `the step timed out (${cause.timeoutType})`, at };
  return { type: (cause as Error)?.name ?? 'Error', message: (cause as Error)?.message ?? String(cause), at };
}

export class Runbook {
  readonly record: RunRecord;
  private abortRequest: AbortMessage | null = null;
  private readonly names = new Map<string, number>();

  constructor(runbook: RunbookName, readonly input: RunbookInput) {
    const info = wf.workflowInfo();
    this.record = {
      runbook,
      workflowId: info.workflowId,
      pool: input.topology.pool.fqdn,
      initiator: input.initiator,
      reason: input.reason,
      options: { ...(input.options ?? {}) },
      phase: 'preflight',
      outcome: 'running',
      startedAt: this.now(),
      steps: [],
      gates: [],
      log: [],
      evidence: [],
      measures: {},
      notes: [],
      children: [],
    };
    this.installHandlers();
    wf.upsertSearchAttributes([
      { key: POOL, value: this.record.pool },
      { key: RUNBOOK, value: runbook },
      { key: PHASE, value: 'preflight' },
    ]);
  }

  get topology(): Topology {
    return this.input.topology;
  }

  now(): string {
    return new Date().toISOString();
  }

  setPhase(phase: string): void {
    this.record.phase = phase;
    wf.upsertSearchAttributes([{ key: PHASE, value: phase }]);
  }

  note(text: string): void {
    this.record.notes.push(text);
  }

  /** A precondition: when it does not hold, the run ends before changing anything. */
  require(condition: unknown, why: string): asserts condition {
    if (!condition) throw new RunEnded('precondition-failed', why);
  }

  // ------------------------------------------------------------------------------------------ messages

  private installHandlers(): void {
    wf.setHandler(progressQuery, () => progressOf(this.record));
    wf.setHandler(pendingGatesQuery, () => this.record.gates.filter((gate) => gate.status === 'open').map((gate) => pendingGate(this.record, gate)));
    wf.setHandler(reportQuery, () => reportOf(this.record));

    const bySignal = <M extends { by: string }>(kind: string, refuse: (message: M) => string | null, apply: (message: M) => MessageOutcome) => (message: M) => {
      const refusal = refuse(message);
      if (refusal) this.record.log.push({ at: this.now(), kind: 'refused', by: message.by, message: `${kind} refused: ${refusal}` });
      else apply(message);
    };
    const validator = <M>(refuse: (message: M) => string | null) => (message: M) => {
      const refusal = refuse(message);
      if (refusal) throw new Error(refusal);
    };
    const refuseApprove = (message: ApproveMessage) => refuseApproval(this.record.gates, message, this.record.initiator);
    const refuseReject = (message: RejectMessage) => refuseRejection(this.record.gates, message);
    const refuseDecide = (message: DecideMessage) => refuseDecision(this.record.gates, message);
    const refuseAbort = (message: AbortMessage) => this.refuseAbort(message);

    wf.setHandler(approveSignal, bySignal('approval', refuseApprove, (message) => this.approve(message)));
    wf.setHandler(rejectSignal, bySignal('rejection', refuseReject, (message) => this.reject(message)));
    wf.setHandler(decideSignal, bySignal('decision', refuseDecide, (message) => this.decide(message)));
    wf.setHandler(abortSignal, bySignal('abort', refuseAbort, (message) => this.abort(message)));
    wf.setHandler(approveUpdate, (message) => this.approve(message), { validator: validator(refuseApprove) });
    wf.setHandler(rejectUpdate, (message) => this.reject(message), { validator: validator(refuseReject) });
    wf.setHandler(decideUpdate, (message) => this.decide(message), { validator: validator(refuseDecide) });
    wf.setHandler(abortUpdate, (message) => this.abort(message), { validator: validator(refuseAbort) });
  }

  private approve(message: ApproveMessage): MessageOutcome {
    const gate = findOpenGate(this.record.gates, message.gate, 'approval')!;
    gate.approvals.push({ by: message.by, at: this.now(), ...(message.comment ? { comment: message.comment } : {}), evidenceVersion: gate.evidence?.version ?? '' });
    const distinct = new Set(gate.approvals.map((vote) => vote.by.toLowerCase())).size;
    if (isApproved(gate)) this.close(gate, 'approved');
    return {
      counted: true,
      gate: gate.id,
      gateStatus: gate.status,
      approvals: distinct,
      required: gate.required,
      message: gate.status === 'approved' ? `${gate.id} approved (${distinct} of ${gate.required})` : `approval counted: ${distinct} of ${gate.required}, waiting for ${gate.required - distinct} more`,
    };
  }

  private reject(message: RejectMessage): MessageOutcome {
    const gate = findOpenGate(this.record.gates, message.gate, 'approval')!;
    gate.rejection = { by: message.by, at: this.now(), reason: message.reason };
    this.close(gate, 'rejected');
    return { counted: true, gate: gate.id, gateStatus: 'rejected', message: `${gate.id} rejected by ${message.by}: the run ends` };
  }

  private decide(message: DecideMessage): MessageOutcome {
    const gate = findOpenGate(this.record.gates, message.gate, 'decision')!;
    gate.decision = { choice: message.choice, by: message.by, at: this.now(), reason: message.reason };
    this.close(gate, 'decided');
    return { counted: true, gate: gate.id, gateStatus: 'decided', message: `${message.choice} decided for ${gate.step}` };
  }

  /** Anyone who may answer some gate of this estate, or who started the run, may abort it. */
  private refuseAbort(message: AbortMessage): string | null {
    if (!message.by?.trim()) return 'an abort must say who asks for it (--as)';
    if (!message.reason?.trim()) return 'an abort needs a reason';
    if (this.record.outcome !== 'running') return `the run already ended (${this.record.outcome})`;
    const approvals = this.topology.approvals;
    const people = new Set(
      [this.record.initiator, ...decisionMakers(approvals), ...GATE_NAMES.flatMap((gate) => gatePolicy(approvals, gate).people), ...expandPeople(approvals.default.escalation?.notify ?? [], approvals.groups)].map((person) => person.toLowerCase()),
    );
    if (!people.has(message.by.toLowerCase())) return `${message.by} may not abort runs on ${this.record.pool}`;
    return null;
  }

  private abort(message: AbortMessage): MessageOutcome {
    this.abortRequest = message;
    this.record.log.push({ at: this.now(), kind: 'abort-requested', by: message.by, message: message.reason });
    for (const gate of this.record.gates.filter((candidate) => candidate.status === 'open')) this.close(gate, 'aborted', `aborted by ${message.by}`);
    return { counted: true, gateStatus: 'aborted', message: 'abort accepted: the run stops at the next step boundary (a running step finishes first)' };
  }

  private close(gate: GateRecord, status: GateRecord['status'], because?: string): void {
    gate.status = status;
    gate.closedAt = this.now();
    if (because) gate.closedBecause = because;
  }

  private checkAbort(): void {
    if (this.abortRequest) throw new RunEnded('aborted', `aborted by ${this.abortRequest.by}: ${this.abortRequest.reason}`);
  }

  // ------------------------------------------------------------------------------------------ steps

  private uniqueName(name: string): string {
    const count = (this.names.get(name) ?? 0) + 1;
    this.names.set(name, count);
    return count === 1 ? name : `${name}#${count}`;
  }

  /** Runs one step; a failure it does not expect opens a decision gate and is retried, skipped or ends the run. */
  async step<R extends StepResult>(spec: StepSpec<R>): Promise<StepOutcome<R>> {
    const record: StepRecord = {
      name: this.uniqueName(spec.name),
      title: spec.title,
      ...(spec.target ? { target: spec.target } : {}),
      ...(spec.skippable ? { skippable: spec.skippable } : {}),
      status: 'pending',
      attempts: 0,
      decisions: [],
    };
    this.record.steps.push(record);
    for (;;) {
      this.checkAbort();
      record.status = 'running';
      record.startedAt ??= this.now();
      record.attempts++;
      try {
        const result = await spec.run();
        Object.assign(record, { status: result.outcome, summary: result.summary, figures: result.figures, finishedAt: this.now() });
        delete record.failure;
        return { kind: 'done', result };
      } catch (error) {
        if (error instanceof RunEnded) throw error;
        const failure = failureOf(error, this.now());
        Object.assign(record, { status: 'failed', failure, finishedAt: this.now() });
        if (spec.expect?.includes(failure.type as FailureType)) return { kind: 'failed', failure };
        const decision = await this.decisionGate(record, failure);
        record.decisions.push(decision);
        if (decision.choice === 'abort') throw new RunEnded('aborted', `${decision.by} aborted after "${record.title}" failed: ${decision.reason}`);
        if (decision.choice === 'skip') {
          Object.assign(record, { status: 'decided', summary: `skipped by ${decision.by}: ${decision.reason}` });
          return { kind: 'skipped' };
        }
      }
    }
  }

  private async decisionGate(step: StepRecord, failure: FailureRecord) {
    const approvals = this.topology.approvals;
    const gate = openDecisionGate(
      this.uniqueGateId(`decision:${step.name}`),
      step.name,
      `"${step.title}" failed (${failure.type}): ${failure.message}. Retry${step.skippable ? ', skip' : ''} or abort?`,
      decisionMakers(approvals),
      Boolean(step.skippable),
      approvals.default.timeout ?? '1h',
      this.now(),
    );
    await this.waitFor(gate);
    if (gate.status === 'decided') return gate.decision!;
    const why = gate.status === 'timed-out' ? `no decision within ${gate.timeout}` : (gate.closedBecause ?? gate.status);
    throw new RunEnded(gate.status === 'timed-out' ? 'timed-out' : 'aborted', `"${step.title}" failed and ${why}`);
  }

  /** Runs a child runbook as one step (runbook 1 inside runbook 3, runbook 2 inside runbook 5). */
  async child<O extends object>(runbook: RunbookName, workflow: (input: RunbookInput<O>) => Promise<RunbookReport>, input: RunbookInput<O>, title: string, skippable?: string): Promise<StepOutcome<StepResult<null, { workflowId: string; outcome: RunOutcome }>>> {
    return this.step({
      name: `child-${runbook}`,
      title,
      skippable,
      run: async () => {
        const workflowId = `${this.record.workflowId}/${runbook}-${this.record.children.length + 1}`;
        const child = { workflowId, runbook };
        this.record.children.push(child);
        const report = await wf.executeChild(workflow, { workflowId, args: [input] });
        Object.assign(child, { outcome: report.outcome });
        if (report.outcome !== 'succeeded' && report.outcome !== 'no-change') {
          throw wf.ApplicationFailure.nonRetryable(`${runbook} (${workflowId}) ended ${report.outcome}: ${report.outcomeReason ?? ''}`, 'ChildRunbookFailed');
        }
        const summary = `${runbook} ${report.outcome} (${workflowId})`;
        return { outcome: 'acted' as const, summary, found: null, figures: { workflowId, outcome: report.outcome }, startedAt: report.startedAt, finishedAt: report.finishedAt ?? this.now() };
      },
    });
  }

  // ------------------------------------------------------------------------------------------ gates

  private uniqueGateId(name: string): string {
    const count = this.record.gates.filter((gate) => gate.gate === name || gate.id.split('#')[0] === name).length;
    return count === 0 ? name : `${name}#${count + 1}`;
  }

  /**
   * An approval gate at a point of no return. `gather` reads the evidence the gate depends on; after approval it
   * is read again, and if it changed the approval is void and the gate opens again (RUNBOOKS rule 3).
   */
  async approval(gate: GateName, question: string, gather: () => Promise<EvidenceRecord>): Promise<GateRecord> {
    const policy = gatePolicy(this.topology.approvals, gate);
    if (this.input.coveredBy || policy.waived) {
      const record = openApprovalGate(this.uniqueGateId(gate), policy, question, await gather(), this.now());
      const because = this.input.coveredBy ? `covered by ${this.input.coveredBy.gate} of ${this.input.coveredBy.workflowId}` : 'waived by the approval policy';
      this.close(record, 'waived', because);
      this.record.gates.push(record);
      return record;
    }
    let evidence = await gather();
    for (;;) {
      this.checkAbort();
      const record = openApprovalGate(this.uniqueGateId(gate), policy, question, evidence, this.now());
      this.record.evidence.push({ label: record.id, ...evidence });
      await this.waitFor(record);
      if (record.status === 'rejected') throw new RunEnded('rejected', `${record.id} rejected by ${record.rejection!.by}: ${record.rejection!.reason}`);
      if (record.status === 'timed-out') throw new RunEnded('timed-out', `${record.id}: no decision within ${record.timeout}`);
      if (record.status !== 'approved') throw new RunEnded('aborted', `${record.id} ${record.closedBecause ?? record.status}`);
      const current = await gather();
      if (current.version === record.evidence!.version) return record;
      record.status = 'void';
      record.closedBecause = `the evidence changed after approval (${record.evidence!.version} → ${current.version}): approvals are void, the gate opens again`;
      this.record.log.push({ at: this.now(), kind: 'note', message: `${record.id}: ${record.closedBecause}` });
      evidence = current;
    }
  }

  /** Waits until the gate is answered, escalates when the policy says, times out, or the run is aborted. */
  private async waitFor(gate: GateRecord): Promise<void> {
    this.record.gates.push(gate);
    wf.upsertSearchAttributes([{ key: AWAITING_GATE, value: gate.id }]);
    const recipients = gate.approvers;
    await this.notify({ kind: 'gate-opened', gate: gate.id, recipients, summary: `${this.record.runbook} on ${this.record.pool} waits for ${gate.id}: ${gate.question}` });
    const answered = () => gate.status !== 'open' || this.abortRequest !== null;
    const started = Date.now();
    const timeout = durationMs(gate.timeout);
    if (gate.escalation) {
      const after = Math.min(durationMs(gate.escalation.after), timeout);
      if (!(await wf.condition(answered, after))) {
        gate.escalatedAt = this.now();
        this.record.log.push({ at: gate.escalatedAt, kind: 'note', message: `${gate.id} escalated to ${gate.escalation.people.join(', ')}` });
        await this.notify({ kind: 'gate-escalated', gate: gate.id, recipients: gate.escalation.people, summary: `${gate.id} still open after ${gate.escalation.after}: ${gate.question}` });
      }
    }
    const remaining = Math.max(1, timeout - (Date.now() - started));
    if (!(await wf.condition(answered, remaining))) {
      this.close(gate, 'timed-out', `no answer within ${gate.timeout}`);
      await this.notify({ kind: 'gate-timed-out', gate: gate.id, recipients, summary: `${gate.id} timed out: the run ends` });
    }
    if (gate.status === 'open') this.close(gate, 'aborted', `aborted by ${this.abortRequest?.by}`);
    wf.upsertSearchAttributes([{ key: AWAITING_GATE, value: null }]);
  }

  /** Tells people (webhook); a notification that fails is noted, never a reason to stop. */
  private async notify(event: Omit<NotificationEvent, 'pool' | 'runbook' | 'workflowId'>): Promise<void> {
    const webhook = this.topology.notifications.webhook;
    if (!webhook) return;
    try {
      await steps.notify.notify({ webhook, event: { ...event, pool: this.record.pool, runbook: this.record.runbook, workflowId: this.record.workflowId } as NotificationEvent });
    } catch (error) {
      this.record.log.push({ at: this.now(), kind: 'note', message: `notification failed: ${(error as Error).message}` });
    }
  }

  // ------------------------------------------------------------------------------------------ the run

  /** Runs the runbook's body and always returns its report (outcome, reason, record). */
  async execute(body: () => Promise<{ outcome: 'succeeded' | 'no-change'; reason?: string } | void>): Promise<RunbookReport> {
    let outcome: Exclude<RunOutcome, 'running'> = 'succeeded';
    let reason: string | undefined;
    try {
      const result = await body();
      if (result) ({ outcome, reason } = result);
    } catch (error) {
      if (error instanceof RunEnded) {
        outcome = error.outcome;
        reason = error.why;
      } else if (wf.isCancellation(error)) {
        outcome = 'aborted';
        reason = 'the workflow was cancelled';
      } else {
        outcome = 'failed';
        reason = failureOf(error, this.now()).message;
      }
    }
    Object.assign(this.record, { outcome, outcomeReason: reason, finishedAt: this.now() });
    this.setPhase(outcome === 'succeeded' || outcome === 'no-change' ? 'done' : outcome);
    const finished = outcome === 'succeeded' || outcome === 'no-change';
    await this.notify({ kind: finished ? 'run-finished' : 'run-failed', summary: `${this.record.runbook} on ${this.record.pool} ${outcome}${reason ? `: ${reason}` : ''}` });
    await wf.condition(wf.allHandlersFinished);
    return reportOf(this.record);
  }
}
