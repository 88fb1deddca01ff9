/**
 * What every runbook is written against. A Runbook keeps the run's record (workflows/run-state.ts), answers its
 * messages (run-messages.ts), keeps the phase and the awaited gate in search attributes, checks the run's start
 * (run-start.ts), holds the pool's incident lock (incident-lock.ts), opens gates (gates.ts), and runs steps
 * (step-runner.ts): activities, and other runbooks as child runs.
 *
 * A dry run reads for real and records everything else as planned: every step with its activity and input, every
 * gate with its policy, and changes nothing.
 */
import * as wf from '@temporalio/workflow';
import type { NotificationEvent } from '../activities/notify';
import type { RunbookInput, RunbookName } from '../contracts/runbooks';
import {
  reportOf,
  type EvidenceRecord,
  type GateRecord,
  type RunbookReport,
  type RunOutcome,
  type RunRecord,
} from '../contracts/run-record';
import { PHASE, POOL, RUNBOOK } from '../contracts/search-attributes';
import type { GateName } from '../topology/gates';
import type { Topology } from '../topology/schema';
import type { ActivityName, ActivityResult } from './activity-kinds';
import { Gates } from './gates';
import { IncidentLock } from './incident-lock';
import { installMessageHandlers } from './run-messages';
import { loadEstate, readInput } from './run-start';
import { failureOf, RunEnded, RunState } from './run-state';
import { StepRunner, type ActSpec, type ChildOutcome, type ChildSpec, type StepOutcome } from './step-runner';

export interface RunbookBehaviour {
  /** Nobody watches (a drill): a failed step ends the run instead of waiting for a decision (also RunbookInput.unattended). */
  unattended?: boolean;
  /** Post the run-finished / run-failed webhook at the end (a drill posts its own). Default true. */
  finalNotification?: boolean;
}

export class Runbook<Options extends object = Record<string, unknown>> {
  readonly record: RunRecord;
  readonly input: RunbookInput<Options>;
  private readonly state: RunState;
  private readonly gates: Gates;
  private readonly steps: StepRunner;
  private readonly lock: IncidentLock;
  /** Why the run's input does not count (it ends without doing anything), or null. */
  private readonly refusal: string | null;
  /** The topology a run started before the worker owned the estates brought with it. */
  private readonly legacyTopology: Topology | null;

  /** `payload` is whatever the run was started with (run-start.ts readInput says how it is checked). */
  constructor(
    runbook: RunbookName,
    payload: unknown,
    private readonly behaviour: RunbookBehaviour = {},
  ) {
    const info = wf.workflowInfo();
    const { input, refusal, legacyTopology } = readInput<Options>(runbook, payload, info.parent?.workflowId);
    this.refusal = refusal;
    this.legacyTopology = legacyTopology;
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
    this.steps = new StepRunner(this.state, this.gates, input, behaviour.unattended === true, () => this.lock.held);
    this.lock = new IncidentLock(this.record, input, this.steps);
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
  act<K extends ActivityName>(spec: ActSpec<K>): Promise<StepOutcome<ActivityResult<K>>> {
    return this.steps.act(spec);
  }

  /** A read-only step whose result the runbook needs (reads cannot be skipped, so it either answers or the run ends). */
  read<K extends ActivityName>(spec: ActSpec<K>): Promise<ActivityResult<K>> {
    return this.steps.read(spec);
  }

  /**
   * Runs another runbook as one step (runbook 1 inside runbook 3, runbook 2 inside runbook 5). The child works under
   * this run's incident lock; its approval gates are covered by `coveringGate` when given.
   */
  child<O extends object>(spec: ChildSpec<O>): Promise<ChildOutcome> {
    return this.steps.child(spec);
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

  // ------------------------------------------------------------------------------------------ the run

  /** Runs the runbook's body and always returns its report (outcome, reason, record). */
  async execute(
    body: () => Promise<{ outcome: 'succeeded' | 'no-change' | 'skipped' | 'failed'; reason?: string } | void>,
  ): Promise<RunbookReport> {
    let outcome: Exclude<RunOutcome, 'running'> = 'succeeded';
    let reason: string | undefined;
    try {
      if (this.refusal) throw new RunEnded('rejected', this.refusal);
      await loadEstate(this.state, this.input, this.steps, this.legacyTopology);
      await this.lock.acquire();
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
      await this.lock.release();
    });
    await wf.condition(wf.allHandlersFinished);
    return reportOf(this.record);
  }
}
