/**
 * The step runner every runbook shares. A Runbook keeps the run's record (steps, gates, approvals, decisions,
 * refused messages, evidence, measures), answers the progress / pending-gates / report queries and the
 * approve / reject / decide / abort signals and updates, keeps the phase and the awaited gate in search attributes,
 * holds the pool's incident lock, and runs steps: an activity with the options of its kind; when it fails for good,
 * a decision gate (retry, skip if the step allows it, abort) instead of a silent end (RUNBOOKS rule 4).
 *
 * A dry run reads for real and records everything else as planned: every step with its activity and input, every
 * gate with its policy, and changes nothing.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FailureType } from '../activities/failures';
import type { NotificationEvent } from '../activities/notify';
import type { StepResult } from '../activities/step-result';
import { decisionMakers, expandPeople, gatePolicy } from '../topology/approvals';
import { durationMs } from '../topology/durations';
import { GATE_NAMES, type GateName } from '../topology/gates';
import type { Topology } from '../topology/schema';
import {
  findOpenGate,
  isApproved,
  openApprovalGate,
  openDecisionGate,
  refuseApproval,
  refuseDecision,
  refuseRejection,
} from './approval';
import { incidentLockId, INCIDENT_RUNBOOKS } from './ids';
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
import { poolLock, releaseLockSignal } from './pool-lock';
import {
  pendingGate,
  progressOf,
  reportOf,
  type EvidenceRecord,
  type FailureRecord,
  type GateRecord,
  type RunbookName,
  type RunbookReport,
  type RunOutcome,
  type RunRecord,
  type StepRecord,
} from './report';
import { AWAITING_GATE, PHASE, POOL, RUNBOOK } from './search-attributes';

export interface RunbookInput<Options extends object = Record<string, unknown>> {
  topology: Topology;
  /** Who started the run (the two-person rule keeps them from approving critical gates). */
  initiator: string;
  reason: string;
  options?: Options;
  /** Read the estate and record the plan (steps, targets, inputs, gates) without changing anything. */
  dryRun?: boolean;
  /** Set when a runbook runs another as a child step. */
  parent?: {
    workflowId: string;
    /** The parent holds the pool's incident lock (a child of an incident runbook). */
    holdsLock: boolean;
    /** The parent's approved gate that covers this run's approval gates. */
    coveringGate?: string;
  };
  /** Rehearsal estates only (topology.simulated): approval gates are answered by this person (a drill's approver). */
  rehearsalApprover?: string;
  /** Nobody watches (a drill's rehearsal): a failed step ends the run instead of waiting for a decision. */
  unattended?: boolean;
}

export type ActivityName = keyof Activities;
export type ActivityResult<K extends ActivityName> = Awaited<ReturnType<Activities[K]>>;

/**
 * How long each activity may take, by what it does. Reads and quick changes retry a few times (only NotReachable
 * is retryable); long steps (backup, restore, applying logs, waiting on jobs or mirroring, the Management Shell)
 * heartbeat, so a dead worker is noticed within 30 seconds and the step resumes on another.
 */
type StepKind = 'read' | 'change' | 'long';

export const ACTIVITY_KINDS: Record<ActivityName, StepKind> = {
  readMirroringState: 'read',
  readAgentStatus: 'read',
  readLogShippingPrimary: 'read',
  readLogShippingSecondary: 'read',
  listBackupFiles: 'read',
  readPoolState: 'long',
  findOpenIncident: 'read',
  readBackupHeaders: 'long',
  gatherEvidence: 'long',
  setMirroringSafety: 'change',
  plannedMirrorFailover: 'change',
  forceMirrorService: 'change',
  removeMirroring: 'change',
  waitUntilSynchronized: 'long',
  addLogShippingPrimary: 'change',
  addLogShippingPrimarySecondary: 'change',
  addLogShippingSecondary: 'change',
  removeLogShippingSecondary: 'long',
  removeLogShippingPrimary: 'change',
  copyLogShippingPrimarySettings: 'change',
  runAgentJob: 'long',
  backupFullDatabase: 'long',
  backupTailLog: 'long',
  restoreFullDatabase: 'long',
  applyPendingLogs: 'long',
  recoverDatabase: 'long',
  endSessions: 'change',
  copyPendingBackups: 'long',
  setPoolState: 'long',
  setActiveServers: 'long',
  invokeDatabaseFailover: 'long',
  installMirrorDatabase: 'long',
  notify: 'change',
  findLatestFullBackup: 'long',
  readBackupFileList: 'read',
  countRows: 'read',
  dropScratchDatabase: 'change',
  writeDrillReport: 'change',
  readDrillHistory: 'read',
  pauseDrillSchedule: 'change',
};

/** Activities that only read: a dry run runs them; everything else it plans. */
const READ_ONLY: ReadonlySet<ActivityName> = new Set<ActivityName>([
  'readMirroringState',
  'readAgentStatus',
  'readLogShippingPrimary',
  'readLogShippingSecondary',
  'listBackupFiles',
  'readPoolState',
  'findOpenIncident',
  'readBackupHeaders',
  'gatherEvidence',
  'findLatestFullBackup',
  'readBackupFileList',
  'countRows',
  'readDrillHistory',
]);

const retry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 };
const proxies: Record<StepKind, Activities> = {
  read: wf.proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry }),
  change: wf.proxyActivities<Activities>({ startToCloseTimeout: '10 minutes', retry }),
  long: wf.proxyActivities<Activities>({
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: '30 seconds',
    retry: { ...retry, maximumAttempts: 10 },
  }),
};
const notifications = wf.proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { ...retry, maximumAttempts: 3 },
});

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

export interface ActSpec<K extends ActivityName> {
  /** Stable identifier in the record (numbered when a runbook repeats a step). */
  name: string;
  /** What an operator reads: "Apply pending log backups on dc2-sql-a". */
  title: string;
  /** The instance, folder or pool the step acts on. */
  target?: string;
  activity: K;
  input: Parameters<Activities[K]>[0];
  /** Why this step may be skipped by a decision; absent: it may not be skipped. */
  skippable?: string;
  /** Failure types the runbook handles itself (or any failure: a drill's check): returned instead of opening a decision gate. */
  expect?: FailureType[] | 'any';
}

export type StepOutcome<R> =
  { kind: 'done'; result: R } | { kind: 'skipped' } | { kind: 'planned' } | { kind: 'failed'; failure: FailureRecord };

function failureOf(error: unknown, at: string): FailureRecord {
  let cause: unknown = error;
  while ((cause instanceof wf.ActivityFailure || cause instanceof wf.ChildWorkflowFailure) && cause.cause)
    cause = cause.cause;
  if (cause instanceof wf.ApplicationFailure)
    return { type: cause.type ?? 'Error', message: cause.message, details: cause.details?.[0], at };
  if (cause instanceof wf.TimeoutFailure)
    return { type: 'Timeout', message: `the step timed out (${cause.timeoutType})`, at };
  return { type: (cause as Error)?.name ?? 'Error', message: (cause as Error)?.message ?? String(cause), at };
}

export interface RunbookBehaviour {
  /** Nobody watches (a drill): a failed step ends the run instead of waiting for a decision (also RunbookInput.unattended). */
  unattended?: boolean;
  /** Post the run-finished / run-failed webhook at the end (a drill posts its own). Default true. */
  finalNotification?: boolean;
}

export class Runbook<Options extends object = Record<string, unknown>> {
  readonly record: RunRecord;
  private abortRequest: AbortMessage | null = null;
  private readonly names = new Map<string, number>();
  private lock: wf.ChildWorkflowHandle<typeof poolLock> | null = null;

  constructor(
    runbook: RunbookName,
    readonly input: RunbookInput<Options>,
    private readonly behaviour: RunbookBehaviour = {},
  ) {
    const info = wf.workflowInfo();
    this.record = {
      runbook,
      workflowId: info.workflowId,
      runId: info.runId,
      pool: input.topology.pool.fqdn,
      initiator: input.initiator,
      reason: input.reason,
      options: { ...(input.options ?? {}) },
      dryRun: input.dryRun === true,
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
      ...(input.parent ? { parent: input.parent.workflowId } : {}),
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

  get options(): Partial<Options> {
    return this.input.options ?? {};
  }

  get dryRun(): boolean {
    return this.record.dryRun;
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

  /** A precondition: when it does not hold, the run ends before changing anything more. */
  require(condition: unknown, why: string): void {
    if (!condition) throw new RunEnded('precondition-failed', why);
  }

  // ------------------------------------------------------------------------------------------ messages

  private installHandlers(): void {
    wf.setHandler(progressQuery, () => progressOf(this.record));
    wf.setHandler(pendingGatesQuery, () =>
      this.record.gates.filter((gate) => gate.status === 'open').map((gate) => pendingGate(this.record, gate)),
    );
    wf.setHandler(reportQuery, () => reportOf(this.record));

    // A refused signal cannot answer its sender, so the refusal goes into the run's log (and the report).
    const bySignal =
      <M extends { by: string }>(
        kind: string,
        refuse: (message: M) => string | null,
        apply: (message: M) => MessageOutcome,
      ) =>
      (message: M) => {
        const refusal = refuse(message);
        if (refusal)
          this.record.log.push({
            at: this.now(),
            kind: 'refused',
            by: message?.by ?? '',
            message: `${kind} refused: ${refusal}`,
          });
        else apply(message);
      };
    // A refused update is rejected by its validator: the caller learns why, and nothing enters history.
    const validator =
      <M>(refuse: (message: M) => string | null) =>
      (message: M) => {
        const refusal = refuse(message);
        if (refusal) throw new Error(refusal);
      };
    const refuseApprove = (message: ApproveMessage) =>
      refuseApproval(this.record.gates, message, this.record.initiator);
    const refuseReject = (message: RejectMessage) => refuseRejection(this.record.gates, message);
    const refuseDecide = (message: DecideMessage) => refuseDecision(this.record.gates, message);
    const refuseAbort = (message: AbortMessage) => this.refuseAbort(message);

    wf.setHandler(
      approveSignal,
      bySignal('approval', refuseApprove, (message) => this.approve(message)),
    );
    wf.setHandler(
      rejectSignal,
      bySignal('rejection', refuseReject, (message) => this.reject(message)),
    );
    wf.setHandler(
      decideSignal,
      bySignal('decision', refuseDecide, (message) => this.decide(message)),
    );
    wf.setHandler(
      abortSignal,
      bySignal('abort', refuseAbort, (message) => this.abort(message)),
    );
    wf.setHandler(approveUpdate, (message) => this.approve(message), { validator: validator(refuseApprove) });
    wf.setHandler(rejectUpdate, (message) => this.reject(message), { validator: validator(refuseReject) });
    wf.setHandler(decideUpdate, (message) => this.decide(message), { validator: validator(refuseDecide) });
    wf.setHandler(abortUpdate, (message) => this.abort(message), { validator: validator(refuseAbort) });
  }

  private approve(message: ApproveMessage): MessageOutcome {
    const gate = findOpenGate(this.record.gates, message.gate, 'approval')!;
    gate.approvals.push({
      by: message.by,
      at: this.now(),
      ...(message.comment ? { comment: message.comment } : {}),
      evidenceVersion: gate.evidence?.version ?? '',
    });
    const distinct = new Set(gate.approvals.map((vote) => vote.by.toLowerCase())).size;
    if (isApproved(gate)) this.close(gate, 'approved');
    return {
      counted: true,
      gate: gate.id,
      gateStatus: gate.status,
      approvals: distinct,
      required: gate.required,
      message:
        gate.status === 'approved'
          ? `${gate.id} approved (${distinct} of ${gate.required})`
          : `approval counted: ${distinct} of ${gate.required}, waiting for ${gate.required - distinct} more`,
    };
  }

  private reject(message: RejectMessage): MessageOutcome {
    const gate = findOpenGate(this.record.gates, message.gate, 'approval')!;
    gate.rejection = { by: message.by, at: this.now(), reason: message.reason };
    this.close(gate, 'rejected');
    return {
      counted: true,
      gate: gate.id,
      gateStatus: 'rejected',
      message: `${gate.id} rejected by ${message.by}: the run ends`,
    };
  }

  private decide(message: DecideMessage): MessageOutcome {
    const gate = findOpenGate(this.record.gates, message.gate, 'decision')!;
    gate.decision = { choice: message.choice, by: message.by, at: this.now(), reason: message.reason };
    this.close(gate, 'decided');
    return {
      counted: true,
      gate: gate.id,
      gateStatus: 'decided',
      message: `${message.choice} decided for ${gate.step}`,
    };
  }

  /** Anyone who may answer some gate of this estate, or who started the run, may abort it. */
  private refuseAbort(message: AbortMessage): string | null {
    if (!message?.by?.trim()) return 'an abort must say who asks for it (--as)';
    if (!message.reason?.trim()) return 'an abort needs a reason';
    if (this.record.outcome !== 'running') return `the run already ended (${this.record.outcome})`;
    if (this.abortRequest) return `an abort is already under way (asked by ${this.abortRequest.by})`;
    const approvals = this.topology.approvals;
    const people = new Set(
      [
        this.record.initiator,
        ...decisionMakers(approvals),
        ...GATE_NAMES.flatMap((gate) => gatePolicy(approvals, gate).people),
        ...GATE_NAMES.flatMap((gate) => gatePolicy(approvals, gate).escalation?.people ?? []),
        ...expandPeople(approvals.default.escalation?.notify ?? [], approvals.groups),
      ].map((person) => person.toLowerCase()),
    );
    if (!people.has(message.by.toLowerCase()))
      return `${message.by} may not abort runs on ${this.record.pool} (only the initiator, approvers and decision makers may)`;
    return null;
  }

  private abort(message: AbortMessage): MessageOutcome {
    this.abortRequest = message;
    this.record.log.push({ at: this.now(), kind: 'abort-requested', by: message.by, message: message.reason });
    for (const gate of this.record.gates.filter((candidate) => candidate.status === 'open'))
      this.close(gate, 'aborted', `aborted by ${message.by}: ${message.reason}`);
    return {
      counted: true,
      gateStatus: 'aborted',
      message: 'abort accepted: the run stops at the next step boundary (a running step finishes first)',
    };
  }

  private close(gate: GateRecord, status: GateRecord['status'], because?: string): void {
    gate.status = status;
    gate.closedAt = this.now();
    if (because) gate.closedBecause = because;
  }

  private checkAbort(): void {
    if (this.abortRequest)
      throw new RunEnded('aborted', `aborted by ${this.abortRequest.by}: ${this.abortRequest.reason}`);
  }

  // ------------------------------------------------------------------------------------------ steps

  private uniqueName(name: string): string {
    const count = (this.names.get(name) ?? 0) + 1;
    this.names.set(name, count);
    return count === 1 ? name : `${name}#${count}`;
  }

  private newStep(name: string, title: string, target?: string, skippable?: string): StepRecord {
    const record: StepRecord = {
      name: this.uniqueName(name),
      title,
      ...(target ? { target } : {}),
      ...(skippable ? { skippable } : {}),
      status: 'pending',
      attempts: 0,
      decisions: [],
    };
    this.record.steps.push(record);
    return record;
  }

  /** Runs one activity as a named step (see StepOutcome); in a dry run, only reads run and the rest is planned. */
  async act<K extends ActivityName>(spec: ActSpec<K>): Promise<StepOutcome<ActivityResult<K>>> {
    const record = this.newStep(spec.name, spec.title, spec.target, spec.skippable);
    if (this.dryRun && !READ_ONLY.has(spec.activity)) {
      Object.assign(record, { status: 'planned', plan: { activity: spec.activity, input: spec.input } });
      return { kind: 'planned' };
    }
    const activity = proxies[ACTIVITY_KINDS[spec.activity]][spec.activity] as (
      input: unknown,
    ) => Promise<ActivityResult<K>>;
    return this.attempt(record, () => activity(spec.input), spec.expect);
  }

  /** A read-only step whose result the runbook needs (reads cannot be skipped, so it either answers or the run ends). */
  async read<K extends ActivityName>(spec: ActSpec<K>): Promise<ActivityResult<K>> {
    const outcome = await this.act(spec);
    if (outcome.kind !== 'done')
      throw new RunEnded(
        'failed',
        `${spec.title}: ${outcome.kind === 'failed' ? outcome.failure.message : 'no answer'}`,
      );
    return outcome.result;
  }

  /** Retries, skips or ends the run as people decide when the step fails for good. */
  private async attempt<R extends StepResult<unknown, object>>(
    record: StepRecord,
    run: () => Promise<R>,
    expect?: FailureType[] | 'any',
  ): Promise<StepOutcome<R>> {
    for (;;) {
      this.checkAbort();
      record.status = 'running';
      record.startedAt ??= this.now();
      record.attempts++;
      try {
        const result = await run();
        Object.assign(record, {
          status: result.outcome,
          summary: result.summary,
          figures: result.figures,
          finishedAt: this.now(),
        });
        delete record.failure;
        return { kind: 'done', result };
      } catch (error) {
        if (error instanceof RunEnded || wf.isCancellation(error)) throw error;
        const failure = failureOf(error, this.now());
        Object.assign(record, { status: 'failed', failure, finishedAt: this.now() });
        if (expect === 'any' || expect?.includes(failure.type as FailureType)) return { kind: 'failed', failure };
        if (this.behaviour.unattended || this.input.unattended)
          throw new RunEnded('failed', `"${record.title}" failed (${failure.type}): ${failure.message}`);
        const decision = await this.decisionGate(record, failure);
        record.decisions.push(decision);
        if (decision.choice === 'abort')
          throw new RunEnded('aborted', `${decision.by} aborted after "${record.title}" failed: ${decision.reason}`);
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
    this.setPhase('awaiting-decision');
    await this.waitFor(gate);
    if (gate.status === 'decided') return gate.decision!;
    const why =
      gate.status === 'timed-out' ? `no decision within ${gate.timeout}` : (gate.closedBecause ?? gate.status);
    throw new RunEnded(gate.status === 'timed-out' ? 'timed-out' : 'aborted', `"${step.title}" failed and ${why}`);
  }

  /**
   * Runs another runbook as one step (runbook 1 inside runbook 3, runbook 2 inside runbook 5). The child works under
   * this run's incident lock; its approval gates are covered by `coveringGate` when given.
   */
  async child<O extends object>(spec: {
    name: string;
    title: string;
    runbook: RunbookName;
    workflow: (input: RunbookInput<O>) => Promise<RunbookReport>;
    options: O;
    coveringGate?: string;
    skippable?: string;
    /** A drill's rehearsal: the child's gates are answered by this person. */
    rehearsalApprover?: string;
  }): Promise<
    StepOutcome<StepResult<null, { workflowId: string; outcome: RunOutcome; measures: RunRecord['measures'] }>>
  > {
    const record = this.newStep(spec.name, spec.title, undefined, spec.skippable);
    if (this.dryRun) {
      Object.assign(record, { status: 'planned', plan: { runbook: spec.runbook, options: spec.options } });
      return { kind: 'planned' };
    }
    return this.attempt(record, async () => {
      const workflowId = `${this.record.workflowId}/${spec.runbook}-${this.record.children.length + 1}`;
      const child: RunRecord['children'][number] = { workflowId, runbook: spec.runbook };
      this.record.children.push(child);
      const input: RunbookInput<O> = {
        topology: this.topology,
        initiator: this.record.initiator,
        reason: `${spec.title} (part of ${this.record.runbook} ${this.record.workflowId})`,
        options: spec.options,
        parent: {
          workflowId: this.record.workflowId,
          holdsLock: this.lock !== null || this.input.parent?.holdsLock === true,
          ...(spec.coveringGate ? { coveringGate: spec.coveringGate } : {}),
        },
        ...((spec.rehearsalApprover ?? this.input.rehearsalApprover)
          ? { rehearsalApprover: spec.rehearsalApprover ?? this.input.rehearsalApprover }
          : {}),
        ...(this.behaviour.unattended || this.input.unattended ? { unattended: true } : {}),
      };
      const report = await wf.executeChild(spec.workflow, { workflowId, args: [input] });
      child.outcome = report.outcome;
      if (report.outcome !== 'succeeded' && report.outcome !== 'no-change') {
        throw wf.ApplicationFailure.nonRetryable(
          `${spec.runbook} (${workflowId}) ended ${report.outcome}: ${report.outcomeReason ?? ''}`,
          'ChildRunbookFailed',
        );
      }
      const figures = { workflowId, outcome: report.outcome, measures: report.measures };
      return {
        outcome: 'acted' as const,
        summary: `${spec.runbook} ${report.outcome} (${workflowId})`,
        found: null,
        figures,
        startedAt: report.startedAt,
        finishedAt: report.finishedAt ?? this.now(),
      };
    });
  }

  // ------------------------------------------------------------------------------------------ gates

  private uniqueGateId(name: string): string {
    const count = this.record.gates.filter((gate) => gate.id === name || gate.id.startsWith(`${name}#`)).length;
    return count === 0 ? name : `${name}#${count + 1}`;
  }

  /**
   * An approval gate at a point of no return. `gather` reads the evidence the gate depends on; after approval it
   * is read again, and if it changed the approval is void and the gate opens again (RUNBOOKS rule 3). An `optional`
   * gate guards a phase the run can do without: a rejection returns (status rejected) instead of ending the run.
   */
  async approval(
    gate: GateName,
    question: string,
    gather: () => Promise<EvidenceRecord>,
    options: { optional?: boolean } = {},
  ): Promise<GateRecord> {
    const policy = gatePolicy(this.topology.approvals, gate);
    let evidence = await gather();
    const covering = this.input.parent?.coveringGate;
    if (covering || policy.waived || this.dryRun) {
      const record = openApprovalGate(this.uniqueGateId(gate), policy, question, evidence, this.now());
      this.record.gates.push(record);
      this.record.evidence.push({ label: record.id, ...evidence });
      if (this.dryRun) this.close(record, 'planned', 'dry run: the gate would open here');
      else
        this.close(
          record,
          'waived',
          covering ? `covered by ${covering} of ${this.input.parent!.workflowId}` : 'waived by the approval policy',
        );
      return record;
    }
    for (;;) {
      this.checkAbort();
      const record = openApprovalGate(this.uniqueGateId(gate), policy, question, evidence, this.now());
      this.record.evidence.push({ label: record.id, ...evidence });
      this.setPhase('awaiting-approval');
      if (this.rehearsing) this.answerForRehearsal(record);
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
      this.record.log.push({ at: this.now(), kind: 'note', message: `${record.id}: ${record.closedBecause}` });
      evidence = current;
    }
  }

  /** Only a simulated estate may have its gates answered by a drill's approver. */
  private get rehearsing(): boolean {
    return Boolean(this.input.rehearsalApprover) && this.topology.simulated;
  }

  private answerForRehearsal(gate: GateRecord): void {
    const by = this.input.rehearsalApprover!;
    gate.approvals.push({
      by,
      at: this.now(),
      comment: 'rehearsal on a simulated estate',
      evidenceVersion: gate.evidence?.version ?? '',
    });
    this.close(gate, 'approved', `rehearsal: answered by ${by} for the drill`);
  }

  /** Waits until the gate is answered, escalates when the policy says, times out, or the run is aborted. */
  private async waitFor(gate: GateRecord): Promise<void> {
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
    const answered = () => gate.status !== 'open' || this.abortRequest !== null;
    const started = Date.now();
    const timeout = durationMs(gate.timeout);
    if (gate.escalation) {
      const after = Math.min(durationMs(gate.escalation.after), timeout);
      if (!(await wf.condition(answered, after))) {
        gate.escalatedAt = this.now();
        this.record.log.push({
          at: gate.escalatedAt,
          kind: 'note',
          message: `${gate.id} escalated to ${gate.escalation.people.join(', ')}`,
        });
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
      this.close(gate, 'timed-out', `no answer within ${gate.timeout}`);
      await this.notify({
        kind: 'gate-timed-out',
        gate: gate.id,
        recipients,
        summary: `${gate.id} timed out: the run ends`,
      });
    }
    if (gate.status === 'open') this.close(gate, 'aborted', `aborted by ${this.abortRequest?.by}`);
    wf.upsertSearchAttributes([{ key: AWAITING_GATE, value: null }]);
  }

  /** Tells people (webhook); a notification that fails is noted, never a reason to stop. */
  async notify(event: Omit<NotificationEvent, 'pool' | 'runbook' | 'workflowId'>): Promise<void> {
    const webhook = this.topology.notifications.webhook;
    if (!webhook || this.dryRun) return;
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
      this.record.log.push({
        at: this.now(),
        kind: 'note',
        message: `notification failed: ${failureOf(error, this.now()).message}`,
      });
    }
  }

  // ------------------------------------------------------------------------------------------ the lock

  /** RUNBOOKS rule 5: an incident runbook holds its pool's lock from its first step to its end. */
  private async acquireLock(): Promise<void> {
    if (this.dryRun || this.input.parent?.holdsLock || !INCIDENT_RUNBOOKS.includes(this.record.runbook)) return;
    const workflowId = incidentLockId(this.record.pool);
    try {
      this.lock = await wf.startChild(poolLock, {
        workflowId,
        args: [{ workflowId: this.record.workflowId, runbook: this.record.runbook, initiator: this.record.initiator }],
        parentClosePolicy: 'TERMINATE',
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const found = await this.act({
        name: 'find-open-incident',
        title: `Find the runbook holding ${workflowId}`,
        target: this.record.pool,
        activity: 'findOpenIncident',
        input: { pool: this.record.pool },
      });
      const holder = found.kind === 'done' ? found.result.found : null;
      if (holder) this.record.blockedBy = holder;
      throw new RunEnded(
        'precondition-failed',
        `another incident runbook is open on ${this.record.pool}: ${holder ? `${holder.runbook ?? 'runbook'} ${holder.workflowId} (started ${holder.startedAt})` : workflowId}; one at a time per pool`,
      );
    }
  }

  private async releaseLock(): Promise<void> {
    if (!this.lock) return;
    const lock = this.lock;
    this.lock = null;
    await wf.CancellationScope.nonCancellable(async () => {
      await lock.signal(releaseLockSignal);
      await lock.result();
    });
  }

  // ------------------------------------------------------------------------------------------ the run

  /** Runs the runbook's body and always returns its report (outcome, reason, record). */
  async execute(
    body: () => Promise<{ outcome: 'succeeded' | 'no-change' | 'skipped' | 'failed'; reason?: string } | void>,
  ): Promise<RunbookReport> {
    let outcome: Exclude<RunOutcome, 'running'> = 'succeeded';
    let reason: string | undefined;
    try {
      await this.acquireLock();
      const result = await body();
      if (result) ({ outcome, reason } = result);
      if (this.dryRun) {
        // A dry run that finds nothing to do says so; otherwise its record is the plan.
        reason = outcome === 'no-change' ? `dry run: ${reason ?? 'nothing to do'}` : 'dry run: nothing was changed';
        if (outcome !== 'no-change') outcome = 'planned';
      }
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
    await wf.CancellationScope.nonCancellable(async () => {
      Object.assign(this.record, { outcome, outcomeReason: reason, finishedAt: this.now() });
      this.setPhase(outcome === 'succeeded' || outcome === 'no-change' ? 'done' : outcome);
      const finished =
        outcome === 'succeeded' || outcome === 'no-change' || outcome === 'planned' || outcome === 'skipped';
      if (this.behaviour.finalNotification !== false) {
        await this.notify({
          kind: finished ? 'run-finished' : 'run-failed',
          summary: `${this.record.runbook} on ${this.record.pool} ${outcome}${reason ? `: ${reason}` : ''}`,
        });
      }
      await this.releaseLock();
    });
    await wf.condition(wf.allHandlersFinished);
    return reportOf(this.record);
  }
}
