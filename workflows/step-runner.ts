/**
 * How a runbook runs its steps: an activity with the options of its kind (activity-kinds.ts), or another runbook as
 * a child run; when a step fails for good, a decision gate (retry, skip if the step allows it, abort) instead of a
 * silent end (docs/runbooks.md rule 4). In a dry run only reads run; every other step is recorded as planned.
 */
import * as wf from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { FailureType } from '../activities/failures';
import type { StepResult } from '../activities/step-result';
import type { RunbookInput, RunbookName } from '../contracts/runbooks';
import type { FailureRecord, RunbookReport, RunOutcome, RunRecord, StepRecord } from '../contracts/run-record';
import { activityOf, isReadOnly, type ActivityName, type ActivityResult } from './activity-kinds';
import type { Gates } from './gates';
import { failureOf, RunEnded, type RunState } from './run-state';

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

/** The spec of a child run (ChildRuns.child). */
export interface ChildSpec<O extends object> {
  name: string;
  title: string;
  runbook: RunbookName;
  workflow: (input: RunbookInput<O>) => Promise<RunbookReport>;
  options: O;
  coveringGate?: string;
  skippable?: string;
  /** A drill's rehearsal: the child's gates are answered by this person. */
  rehearsalApprover?: string;
}

export type ChildOutcome = StepOutcome<
  StepResult<null, { workflowId: string; outcome: RunOutcome; measures: RunRecord['measures'] }>
>;

/** What a step acts on when its spec does not say: the instance, the pool or the folder its input names. */
function targetOf(input: unknown): string | undefined {
  const { instance, pool, folder } = (input ?? {}) as {
    instance?: { name: string };
    pool?: { fqdn: string };
    folder?: { sqlPath: string };
  };
  return instance?.name ?? pool?.fqdn ?? folder?.sqlPath;
}

export class StepRunner {
  /**
   * `unattended`: nobody watches (a drill), so a failed step ends the run instead of waiting for a decision.
   * `holdsLock`: whether this run (or its parent) holds the pool's incident lock, which its child runs work under.
   */
  constructor(
    private readonly state: RunState,
    private readonly gates: Gates,
    private readonly input: RunbookInput<object>,
    private readonly unattended: boolean,
    private readonly holdsLock: () => boolean,
  ) {}

  private get record(): RunRecord {
    return this.state.record;
  }

  /** Runs one activity as a named step (see StepOutcome); in a dry run, only reads run and the rest is planned. */
  async act<K extends ActivityName>(spec: ActSpec<K>): Promise<StepOutcome<ActivityResult<K>>> {
    const record = this.state.newStep(spec.name, spec.title, spec.target ?? targetOf(spec.input), spec.skippable);
    if (this.record.dryRun && !isReadOnly(spec.activity)) {
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

  /**
   * Runs another runbook as one step (runbook 1 inside runbook 3, runbook 2 inside runbook 5). The child works under
   * this run's incident lock; its approval gates are covered by `coveringGate` when given.
   */
  async child<O extends object>(spec: ChildSpec<O>): Promise<ChildOutcome> {
    const record = this.state.newStep(spec.name, spec.title, undefined, spec.skippable);
    if (this.record.dryRun) {
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
          holdsLock: this.holdsLock() || this.input.parent?.holdsLock === true,
          ...(spec.coveringGate ? { coveringGate: spec.coveringGate } : {}),
        },
        ...((spec.rehearsalApprover ?? this.input.rehearsalApprover)
          ? { rehearsalApprover: spec.rehearsalApprover ?? this.input.rehearsalApprover }
          : {}),
        ...(this.unattended || this.input.unattended ? { unattended: true } : {}),
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
        finishedAt: report.finishedAt ?? this.state.now(),
      };
    });
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
      record.startedAt ??= this.state.now();
      record.attempts++;
      try {
        const result = await run();
        Object.assign(record, {
          status: result.outcome,
          summary: result.summary,
          figures: result.figures,
          finishedAt: this.state.now(),
        });
        delete record.failure;
        return { kind: 'done', result };
      } catch (error) {
        if (error instanceof RunEnded || wf.isCancellation(error)) throw error;
        const failure = failureOf(error, this.state.now());
        Object.assign(record, { status: 'failed', failure, finishedAt: this.state.now() });
        if (expect === 'any' || expect?.includes(failure.type as FailureType)) return { kind: 'failed', failure };
        if (this.unattended || this.input.unattended)
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
}
