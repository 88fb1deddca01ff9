/**
 * The step runner every runbook shares. A Runbook keeps the run's record (workflows/run-state.ts), answers its
 * messages (run-messages.ts), keeps the phase and the awaited gate in search attributes, holds the pool's incident
 * lock, opens gates (gates.ts), and runs steps: an activity with the options of its kind (activity-kinds.ts); when it
 * fails for good, a decision gate (retry, skip if the step allows it, abort) instead of a silent end (docs/runbooks.md
 * rule 4). Another runbook may run as one step (a child).
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
import { parsePayload } from '../contracts/messages';
import {
  incidentLockId,
  INCIDENT_RUNBOOK_NAMES,
  runInputSchema,
  type RunbookInput,
  type RunbookName,
} from '../contracts/runbooks';
import {
  reportOf,
  type EvidenceRecord,
  type FailureRecord,
  type GateRecord,
  type RunbookReport,
  type RunOutcome,
  type RunRecord,
  type StepRecord,
} from '../contracts/run-record';
import { PHASE, POOL, RUNBOOK } from '../contracts/search-attributes';
import { parseStatement, signatureRequired } from '../contracts/statements';
import { DEFAULT_GATE_TIMEOUT } from '../topology/approvals';
import type { GateName } from '../topology/gates';
import type { Topology } from '../topology/schema';
import { activityOf, isReadOnly, type ActivityName, type ActivityResult } from './activity-kinds';
import { Gates } from './gates';
import { poolLock, releaseLockSignal } from './pool-lock';
import { installMessageHandlers } from './run-messages';
import { failureOf, RunEnded, RunState } from './run-state';
import { signatureOf, signingOf, startExpectation, statementMismatch } from './signed-messages';

export interface ActSpec<K extends ActivityName> {
  /** Stable identifier in the record (numbered when a runbook repeats a step). */
  name: string;
  /** What an operator reads: "Apply pending log backups on dc2-sql-a". */
  title: string;
  /** The instance, pool or folder the step acts on; by default the input's `instance`, `pool` or `folder`. */
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

/** What a step acts on when its spec does not say: the instance, the pool or the folder its input names. */
function targetOf(input: unknown): string | undefined {
  const { instance, pool, folder } = (input ?? {}) as {
    instance?: { name: string };
    pool?: { fqdn: string };
    folder?: { sqlPath: string };
  };
  return instance?.name ?? pool?.fqdn ?? folder?.sqlPath;
}

export interface RunbookBehaviour {
  /** Nobody watches (a drill): a failed step ends the run instead of waiting for a decision (also RunbookInput.unattended). */
  unattended?: boolean;
  /** Post the run-finished / run-failed webhook at the end (a drill posts its own). Default true. */
  finalNotification?: boolean;
}

/** Patch ids (workflow versioning): runs started before these changes replay on their old path. */
const WORKER_OWNS_ESTATE = 'worker-owns-estate';
const LOCK_ENDS_WITH_HOLDER = 'lock-ends-with-holder';

/** The input of a run started before the worker owned the estates: the topology came with it. */
interface LegacyInput {
  topology: Topology;
}

export class Runbook<Options extends object = Record<string, unknown>> {
  readonly record: RunRecord;
  readonly input: RunbookInput<Options>;
  private readonly state: RunState;
  private readonly gates: Gates;
  /** Why the run's input does not count (it ends without doing anything), or null. */
  private readonly refusal: string | null = null;
  /** The topology a run started before the worker owned the estates brought with it. */
  private readonly legacyTopology: Topology | null = null;
  private lock: wf.ChildWorkflowHandle<typeof poolLock> | null = null;

  /**
   * `payload` is whatever the run was started with: anyone with access to the namespace can start a workflow with
   * any input, so it is parsed first, and what a caller cannot be trusted with is checked against what Temporal
   * itself says (a parent's claims count only from the run Temporal names as the parent).
   */
  constructor(
    runbook: RunbookName,
    payload: unknown,
    private readonly behaviour: RunbookBehaviour = {},
  ) {
    const info = wf.workflowInfo();
    let input: RunbookInput<Options>;
    if (wf.patched(WORKER_OWNS_ESTATE)) {
      const parsed = parsePayload(runInputSchema(runbook), payload);
      input = parsed.ok ? (parsed.value as RunbookInput<Options>) : fallbackInput(payload);
      if (!parsed.ok)
        this.refusal = `the run's input: ${parsed.refusal} (a run's input names the pool and the runbook's options; the worker owns the estate)`;
      else this.refusal = refuseUnprovenParent(input, info.parent?.workflowId);
    } else {
      input = payload as RunbookInput<Options> & LegacyInput;
      this.legacyTopology = (payload as LegacyInput).topology;
      input.pool = this.legacyTopology.pool.fqdn;
    }
    this.input = input;
    this.record = {
      runbook,
      workflowId: info.workflowId,
      runId: info.runId,
      pool: input.pool,
      initiator: input.initiator,
      reason: input.reason,
      options: { ...(input.options ?? {}) },
      dryRun: input.dryRun === true,
      phase: 'preflight',
      outcome: 'running',
      startedAt: new Date().toISOString(),
      steps: [],
      gates: [],
      log: [],
      evidence: [],
      measures: {},
      notes: [],
      children: [],
      ...(input.parent ? { parent: input.parent.workflowId } : {}),
    };
    this.state = new RunState(this.record);
    this.gates = new Gates(this.state, input);
    installMessageHandlers(this.state);
    wf.upsertSearchAttributes([
      { key: POOL, value: this.record.pool },
      { key: RUNBOOK, value: runbook },
      { key: PHASE, value: 'preflight' },
    ]);
  }

  /** The estate's topology, as the run's first step loaded it from the worker's files. */
  get topology(): Topology {
    return this.state.topology;
  }

  get options(): Partial<Options> {
    return this.input.options ?? {};
  }

  get dryRun(): boolean {
    return this.record.dryRun;
  }

  now(): string {
    return this.state.now();
  }

  setPhase(phase: string): void {
    this.state.setPhase(phase);
  }

  note(text: string): void {
    this.state.note(text);
  }

  /**
   * A compensation (docs/runbooks.md rule 10) runs after the abort that stopped the run: that abort is answered, and
   * a new one (at the compensation's gate or during it) stops the compensation too. Returns the answered abort.
   */
  resumeAfterAbort(): { by: string; reason: string } | null {
    const request = this.state.abortRequest;
    this.state.abortRequest = null;
    if (request) this.note(`the abort by ${request.by} stopped the forward steps; what follows is the way back`);
    return request;
  }

  /** A precondition: when it does not hold, the run ends before changing anything more. */
  require(condition: unknown, why: string): void {
    if (!condition) throw new RunEnded('precondition-failed', why);
  }

  // ------------------------------------------------------------------------------------------ steps

  /** Runs one activity as a named step (see StepOutcome); in a dry run, only reads run and the rest is planned. */
  async act<K extends ActivityName>(spec: ActSpec<K>): Promise<StepOutcome<ActivityResult<K>>> {
    const record = this.state.newStep(spec.name, spec.title, spec.target ?? targetOf(spec.input), spec.skippable);
    if (this.dryRun && !isReadOnly(spec.activity)) {
      Object.assign(record, { status: 'planned', plan: { activity: spec.activity, input: spec.input } });
      return { kind: 'planned' };
    }
    const activity = activityOf(spec.activity);
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
      this.state.checkAbort();
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
        const decision = await this.gates.decision(record, failure);
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
    const record = this.state.newStep(spec.name, spec.title, undefined, spec.skippable);
    if (this.dryRun) {
      Object.assign(record, { status: 'planned', plan: { runbook: spec.runbook, options: spec.options } });
      return { kind: 'planned' };
    }
    return this.attempt(record, async () => {
      const workflowId = `${this.record.workflowId}/${spec.runbook}-${this.record.children.length + 1}`;
      const child: RunRecord['children'][number] = { workflowId, runbook: spec.runbook };
      this.record.children.push(child);
      const input: RunbookInput<O> = {
        pool: this.record.pool,
        // The same estate as this run: a file edited meanwhile makes the child refuse rather than mix versions.
        ...(this.state.estate?.digest ? { estateDigest: this.state.estate.digest } : {}),
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

  /** An approval gate at a point of no return (workflows/gates.ts). */
  approval(
    gate: GateName,
    question: string,
    gather: () => Promise<EvidenceRecord>,
    options: { optional?: boolean } = {},
  ): Promise<GateRecord> {
    return this.gates.approval(gate, question, gather, options);
  }

  /** Tells people (webhook); a notification that fails is noted, never a reason to stop. */
  notify(event: Omit<NotificationEvent, 'pool' | 'runbook' | 'workflowId'>): Promise<void> {
    return this.gates.notify(event);
  }

  // ------------------------------------------------------------------------------------------ the lock

  /**
   * docs/runbooks.md rule 5: an incident runbook holds its pool's lock from its first step to its end. The lock
   * ends when its holder ends (Temporal terminates it: parent close policy); no message can release it. A lock whose
   * holder has just ended may still be there for a moment: then the run waits for it to go (up to half a minute).
   */
  private async acquireLock(): Promise<void> {
    if (this.dryRun || this.input.parent?.holdsLock || !INCIDENT_RUNBOOK_NAMES.includes(this.record.runbook)) return;
    const workflowId = incidentLockId(this.record.pool);
    const holder = {
      workflowId: this.record.workflowId,
      runbook: this.record.runbook,
      initiator: this.record.initiator,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        this.lock = await wf.startChild(poolLock, { workflowId, args: [holder], parentClosePolicy: 'TERMINATE' });
        return;
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
      const found = await this.act({
        name: 'find-open-incident',
        title: `Find the runbook holding ${workflowId}`,
        target: this.record.pool,
        activity: 'findOpenIncident',
        input: { pool: this.record.pool },
      });
      const open = found.kind === 'done' ? found.result.found : null;
      if (!open && attempt < 30 && wf.patched(LOCK_ENDS_WITH_HOLDER)) {
        await wf.sleep('1 second');
        continue;
      }
      if (open) this.record.blockedBy = open;
      throw new RunEnded(
        'precondition-failed',
        `another incident runbook is open on ${this.record.pool}: ${open ? `${open.runbook ?? 'runbook'} ${open.workflowId} (started ${open.startedAt})` : workflowId}; one at a time per pool`,
      );
    }
  }

  /** Runs started before the lock ended with its holder release it with a signal. */
  private async releaseLock(): Promise<void> {
    if (!this.lock || wf.patched(LOCK_ENDS_WITH_HOLDER)) return;
    const lock = this.lock;
    this.lock = null;
    await wf.CancellationScope.nonCancellable(async () => {
      await lock.signal(releaseLockSignal);
      await lock.result();
    });
  }

  // ------------------------------------------------------------------------------------------ the estate

  /**
   * The run's first step (docs/runbooks.md rule 8): the pool's estate from the worker's own file. When the caller
   * named the digest of the file it looked at and the worker's differs, the run refuses (unless told to use the
   * worker's), saying both.
   */
  private async loadEstate(): Promise<void> {
    if (this.legacyTopology) {
      this.state.estate = {
        pool: this.record.pool,
        file: '(the run input)',
        digest: '',
        topology: this.legacyTopology,
      };
      return;
    }
    const pool = this.record.pool;
    const loaded = await this.act({
      name: 'load-estate',
      title: `Load the estate of ${pool} from the worker's estate files`,
      target: pool,
      activity: 'loadEstate',
      input: { pool },
      expect: 'any',
    });
    if (loaded.kind !== 'done') {
      throw new RunEnded(
        'precondition-failed',
        loaded.kind === 'failed' ? loaded.failure.message : `${pool}: no estate`,
      );
    }
    const estate = loaded.result.found;
    const callerDigest = this.input.estateDigest;
    if (callerDigest && callerDigest !== estate.digest && !this.input.useWorkerEstate) {
      throw new RunEnded(
        'precondition-failed',
        `the worker's estate of ${pool} differs from the caller's: the worker's ${estate.file} has sha256 ${estate.digest}, the caller's file ${callerDigest}. Compare the files, or start the run again using the worker's estate (pchat-dr run --use-worker-estate)`,
      );
    }
    if (callerDigest && callerDigest !== estate.digest)
      this.state.note(
        `run on the worker's estate ${estate.file} (sha256 ${estate.digest}), not the caller's file (sha256 ${callerDigest}), as asked`,
      );
    this.state.estate = estate;
    const signatures = estate.topology.signatures;
    if (signatures) this.record.signing = { policy: signatures.policy, allowedSigners: signatures.allowedSigners };
    await this.verifyStart();
    // Recorded once accepted and its start verified: a run that shows an estate runs on it (pchat-dr run waits for it).
    this.record.estate = { file: estate.file, digest: estate.digest, ...(callerDigest ? { callerDigest } : {}) };
  }

  /**
   * Who started the run, when the estate has signers (docs/operations.md "Approvals and identity"): the input's
   * signed start statement must say everything the input says, for this workflow id, signed shortly before Temporal
   * started the run; the worker verifies the signature and that no other run of the workflow id used it. Required
   * by the `required` and `critical` policies, except for runs that change nothing a person must answer for: dry
   * runs, drills, and a runbook's own child runs (its parent's start was signed). A refused start ends the run
   * `rejected` before any step acts.
   */
  private async verifyStart(): Promise<void> {
    const { topology } = this.state;
    const { policy, signers } = signingOf(topology);
    const signature = this.input.signature;
    const exempt = this.dryRun || this.input.parent !== undefined || this.record.runbook === 'drill';
    if (!signature) {
      if (signers && !exempt && signatureRequired(policy, 'start', false))
        throw new RunEnded(
          'rejected',
          `the start must be signed: ${this.record.pool} requires signed starts (signatures.policy ${policy}); start it with pchat-dr run ... --sign`,
        );
      return;
    }
    if (!signers)
      throw new RunEnded(
        'rejected',
        `the start is signed but ${this.record.pool} has no signers (signatures.allowedSigners in its topology): start it without a signature`,
      );
    const info = wf.workflowInfo();
    const expected = startExpectation(
      this.record.runbook,
      this.input,
      info.namespace,
      info.workflowId,
      topology.approvals.default.timeout ?? DEFAULT_GATE_TIMEOUT,
    );
    // The statement's time is the signer's; the run's start time is Temporal's.
    const mismatch = statementMismatch(signature.statement, expected, info.runStartTime.getTime());
    if (mismatch) throw new RunEnded('rejected', `the signed start does not count: ${mismatch}`);
    const signedAt = parseStatement(signature.statement);
    const verified = await this.read({
      name: 'verify-start-signature',
      title: `Verify ${this.record.initiator}'s signature of the start`,
      target: this.record.pool,
      activity: 'verifySignature',
      input: {
        pool: this.record.pool,
        statement: signature.statement,
        ...(signature.webauthn ? { webauthn: signature.webauthn } : { sshsig: signature.sshsig }),
        signer: this.record.initiator,
        firstRunOf: {
          workflowId: info.workflowId,
          runId: info.runId,
          since: signedAt.ok ? signedAt.statement.time : info.runStartTime.toISOString(),
        },
      },
    });
    const verdict = verified.found;
    if (!verdict.verified) throw new RunEnded('rejected', `the signed start does not count: ${verdict.reason}`);
    (this.record.signed ??= []).push({
      action: 'start',
      by: this.record.initiator,
      at: this.now(),
      statement: signature.statement,
      ...signatureOf(signature, verdict),
      key: verdict.key,
      allowedSigners: { file: verdict.allowedSigners.file, digest: verdict.allowedSigners.digest },
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
      if (this.refusal) throw new RunEnded('rejected', this.refusal);
      await this.loadEstate();
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

/** What a refused input still says (a pool, who, why), cut short, so the report of the refusal can name them. */
function fallbackInput<Options extends object>(payload: unknown): RunbookInput<Options> {
  const raw = (payload !== null && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
  const text = (value: unknown, limit: number) => (typeof value === 'string' ? value.slice(0, limit) : '');
  return {
    pool: text(raw.pool, 253) || 'unknown',
    initiator: text(raw.initiator, 128) || 'unknown',
    reason: text(raw.reason, 300),
  };
}

/**
 * A parent's claims (a covering gate, a held lock, a rehearsal approver, nobody watching) count only when Temporal
 * says that parent started this run; claimed by anyone else, the input is forged and the run refuses it.
 */
function refuseUnprovenParent(input: RunbookInput<object>, parentWorkflowId: string | undefined): string | null {
  const claims = ['parent', 'rehearsalApprover', 'unattended'].filter((key) => key in input);
  if (claims.length === 0) return null;
  if (input.parent && parentWorkflowId === input.parent.workflowId) return null;
  return `the run's input claims ${claims.join(', ')}, which only a parent runbook that started this run may give (Temporal names ${parentWorkflowId ?? 'no parent'})`;
}
