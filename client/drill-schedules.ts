/**
 * Drill schedules as Temporal keeps them (runbook 6): reading a schedule into what `pchat-dr drill` shows, creating
 * or updating one (an update keeps a pause: a failed drill paused it, a person resumes it), triggering a drill now,
 * and a pool's drill history with what made each failed drill fail. The commands (client/commands/drill.ts) talk to
 * people; this module talks to Temporal.
 */
import type { Client, ScheduleDescription, ScheduleHandle, ScheduleOptions } from '@temporalio/client';
import { failedChecks, type DrillSummary } from '../contracts/drill-report';
import type { RunbookReport } from '../contracts/run-record';
import { WORKFLOW_TYPES, type DrillOptions, type RunbookInput } from '../contracts/runbooks';
import { CliError, EXIT } from '../runtime/exit';
import { formatDuration } from '../topology/durations';
import { firstLine, temporalClient } from './run-access';

/** A drill missed while Temporal was down still runs when it is at most this late. */
export const DEFAULT_CATCHUP_WINDOW = '10m';
/** Temporal raises a shorter catch-up window to this: refuse it rather than pretend. */
export const MIN_CATCHUP_WINDOW_MS = 10_000;
export const DRILL_TYPE = WORKFLOW_TYPES.drill;

export function defaultScheduleId(pool: string): string {
  return `drill-${pool.toLowerCase()}`;
}

/** Longer than any drill of a real estate should take (a restore rehearsal of a large mgc takes hours at most). */
export const DRILL_TIMEOUT = '12h';

/**
 * What `drill schedule` keeps in the memo of its action (so every drill it starts carries it too, and an update
 * replaces it): the spec as the operator wrote it (Temporal keeps a cron expression only compiled), and the file and
 * time the schedule was made from. The drills themselves carry the pool only.
 */
export interface DrillMemo {
  spec?: string;
  /** The topology file the schedule was made from, and when: what an operator needs to find it again. */
  createdFrom?: string;
  savedAt?: string;
}

export interface DrillScheduleView {
  scheduleId: string;
  pool: string | null;
  spec: string;
  timezone: string | null;
  paused: boolean;
  note: string | null;
  policies: { overlap: string; catchupWindow: string; pauseOnFailure: boolean };
  taskQueue: string | null;
  workflowIdPrefix: string | null;
  initiator: string | null;
  reason: string | null;
  rehearse: boolean | null;
  createdFrom: string | null;
  savedAt: string | null;
  nextRuns: string[];
  /** Drills of this schedule still running (at most one: overlap SKIP). */
  running: string[];
  lastRun: { workflowId: string; startedAt: string; status: string; outcome: string | null } | null;
  actionsTaken: number;
  skippedOverlap: number;
  missedCatchupWindow: number;
}

/** The spec in words: the memo's (as the operator wrote it), else what Temporal describes. */
function specText(description: ScheduleDescription, memo: DrillMemo): string {
  if (memo.spec) return memo.spec;
  const parts = [
    ...(description.spec.intervals ?? []).map((interval) => `every ${formatDuration(interval.every)}`),
    ...(description.spec.calendars ?? []).map((calendar) => calendar.comment ?? 'a calendar'),
  ];
  return parts.join('; ') || 'no spec';
}

async function lastRunOf(client: Client, description: ScheduleDescription): Promise<DrillScheduleView['lastRun']> {
  const last = description.info.recentActions.at(-1);
  if (!last) return null;
  const { workflowId, firstExecutionRunId } = last.action.workflow;
  const view = { workflowId, startedAt: last.takenAt.toISOString(), status: 'unknown', outcome: null as string | null };
  try {
    const handle = client.workflow.getHandle(workflowId, firstExecutionRunId);
    const run = await handle.describe();
    view.status = run.status.name.toLowerCase();
    if (run.status.name === 'COMPLETED') view.outcome = ((await handle.result()) as RunbookReport).outcome;
  } catch {
    // Gone from the server (retention): the schedule still remembers it started.
  }
  return view;
}

export async function viewOf(client: Client, description: ScheduleDescription): Promise<DrillScheduleView> {
  const memo = (description.action.memo ?? {}) as DrillMemo;
  const input = description.action.args?.[0] as RunbookInput<DrillOptions> | undefined;
  return {
    scheduleId: description.scheduleId,
    pool: input?.pool ?? null,
    spec: specText(description, memo),
    timezone: description.spec.timezone || null,
    paused: description.state.paused,
    note: description.state.note ?? null,
    policies: {
      overlap: description.policies.overlap ?? 'SKIP',
      catchupWindow: formatDuration(description.policies.catchupWindow),
      pauseOnFailure: description.policies.pauseOnFailure,
    },
    taskQueue: description.action.taskQueue ?? null,
    workflowIdPrefix: description.action.workflowId ?? null,
    initiator: input?.initiator ?? null,
    reason: input?.reason ?? null,
    rehearse: input?.options?.rehearse ?? null,
    createdFrom: memo.createdFrom ?? null,
    savedAt: memo.savedAt ?? null,
    nextRuns: description.info.nextActionTimes.map((time) => time.toISOString()),
    running: description.info.runningActions.map((action) => action.workflow.workflowId),
    lastRun: await lastRunOf(client, description),
    actionsTaken: description.info.numActionsTaken,
    skippedOverlap: description.info.numActionsSkippedOverlap,
    missedCatchupWindow: description.info.numActionsMissedCatchupWindow,
  };
}

/** The drill schedule with this id; an id Temporal does not know, or a schedule that starts no drills, is exit 2. */
export async function findDrillSchedule(
  client: Client,
  scheduleId: string,
): Promise<{ handle: ScheduleHandle; description: ScheduleDescription }> {
  const handle = client.schedule.getHandle(scheduleId);
  let description: ScheduleDescription;
  try {
    description = await handle.describe();
  } catch (error) {
    if (error instanceof temporalClient().ScheduleNotFoundError)
      throw new CliError(`no drill schedule with id ${scheduleId}`, EXIT.badInput);
    throw new CliError(`cannot read schedule ${scheduleId}: ${firstLine(error)}`, EXIT.failed);
  }
  if (description.action.workflowType !== DRILL_TYPE)
    throw new CliError(
      `no drill schedule with id ${scheduleId} (it starts ${description.action.workflowType} workflows, not drills)`,
      EXIT.badInput,
    );
  return { handle, description };
}

/** Every drill schedule: listed by Temporal (eventually consistent), each then described (its current state). */
export async function drillSchedules(client: Client): Promise<DrillScheduleView[]> {
  const ids: string[] = [];
  try {
    for await (const summary of client.schedule.list())
      if (summary.action?.workflowType === DRILL_TYPE) ids.push(summary.scheduleId);
  } catch (error) {
    throw new CliError(`cannot list schedules: ${firstLine(error)}`, EXIT.failed);
  }
  const views: DrillScheduleView[] = [];
  for (const id of ids.sort()) {
    try {
      views.push(await viewOf(client, await client.schedule.getHandle(id).describe()));
    } catch (error) {
      if (error instanceof temporalClient().ScheduleNotFoundError) continue; // deleted since it was listed
      throw new CliError(`cannot read schedule ${id}: ${firstLine(error)}`, EXIT.failed);
    }
  }
  return views;
}

// ------------------------------------------------------------------------------------------------ create or update

export interface SavedSchedule {
  created: boolean;
  /** The note of a schedule that was paused and stays so (an update does not resume it), else null. */
  stillPaused: string | null;
  view: DrillScheduleView;
}

/**
 * Creates the schedule, or updates the drill schedule of that id (spec, action, policies; its pause and note stay
 * unless a note is given). `when` names what set the spec (`--cron ...`), for the message of a bad one.
 */
export async function saveDrillSchedule(
  client: Client,
  scheduleId: string,
  definition: Omit<ScheduleOptions, 'scheduleId'>,
  note: string | undefined,
  when: string,
): Promise<SavedSchedule> {
  const temporal = temporalClient();
  let created = true;
  let stillPaused: string | null = null;
  try {
    await client.schedule.create({ scheduleId, ...definition, state: { paused: false, ...(note ? { note } : {}) } });
  } catch (error) {
    if (!(error instanceof temporal.ScheduleAlreadyRunning)) throw scheduleError(error, when);
    created = false;
    const handle = client.schedule.getHandle(scheduleId);
    const description = await handle.describe();
    if (description.action.workflowType !== DRILL_TYPE)
      throw new CliError(
        `--id ${scheduleId}: a schedule with this id exists and starts ${description.action.workflowType} workflows, not drills: choose another --id`,
      );
    // An update keeps a pause (a failed drill paused it: a person resumes it, not a redefinition).
    if (description.state.paused) stillPaused = note ?? description.state.note ?? '';
    try {
      await handle.update((previous) => ({
        ...previous,
        spec: definition.spec,
        action: definition.action,
        policies: definition.policies,
        typedSearchAttributes: definition.typedSearchAttributes,
        state: {
          paused: previous.state.paused,
          note: note ?? previous.state.note,
          remainingActions: previous.state.remainingActions,
        },
      }));
    } catch (failure) {
      throw scheduleError(failure, when);
    }
  }
  const view = await viewOf(client, await client.schedule.getHandle(scheduleId).describe());
  return { created, stillPaused, view };
}

/** A schedule Temporal refused: a bad cron expression is bad input; anything else is Temporal's failure. */
function scheduleError(error: unknown, when: string): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof TypeError) return new CliError(`${when}: ${firstLine(error)}`);
  const cause = (error as { cause?: { code?: number; details?: string } }).cause;
  if (cause?.code === 3) return new CliError(`Temporal refused the schedule: ${cause.details ?? firstLine(error)}`);
  return new CliError(`cannot create or update the schedule: ${firstLine(error)}`, EXIT.failed);
}

// ------------------------------------------------------------------------------------------------ trigger

/**
 * Runs a drill of the schedule now, with overlap SKIP (never beside one of its running drills), and says which
 * drill started (the schedule records it within a moment; null when it has not yet). A drill already running is
 * exit 3, naming it.
 */
export async function triggerDrill(handle: ScheduleHandle, description: ScheduleDescription): Promise<string | null> {
  const alreadyRunning = (running: string[]) =>
    new CliError(
      `a drill of schedule ${description.scheduleId} is already running: ${running.join(', ')} (overlap SKIP: no second drill starts). Follow it with: pchat-dr watch ${running[0]}`,
      EXIT.refused,
    );
  const runningBefore = description.info.runningActions.map((action) => action.workflow.workflowId);
  if (runningBefore.length > 0) throw alreadyRunning(runningBefore);
  const known = new Set(description.info.recentActions.map((action) => action.action.workflow.workflowId));
  await handle.trigger('SKIP');
  const deadline = Date.now() + 10_000;
  let started: string | undefined;
  let running: string[] = [];
  while (!started && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await handle.describe();
    started = now.info.recentActions
      .map((action) => action.action.workflow.workflowId)
      .find((workflowId) => !known.has(workflowId));
    running = now.info.runningActions.map((action) => action.workflow.workflowId);
  }
  if (!started && running.length > 0) throw alreadyRunning(running);
  return started ?? null;
}

// ------------------------------------------------------------------------------------------------ history

export interface DrillHistoryEntry extends DrillSummary {
  /** What made it fail, or why it was skipped. */
  failed: string[];
  skipped: string | null;
}

/** A pool's last drills, newest first, each failed one with the checks that failed (from its own report). */
export async function drillHistory(client: Client, pool: string, limit: number): Promise<DrillHistoryEntry[]> {
  const { drillHistoryOf } = require('../activities/drill') as typeof import('../activities/drill');
  let summaries: DrillSummary[];
  try {
    summaries = await drillHistoryOf(client, pool, limit);
  } catch (error) {
    throw new CliError(
      `cannot read the drills of ${pool}: ${firstLine(error)} (are pchat-dr's search attributes registered? see docs/deployment.md)`,
      EXIT.failed,
    );
  }
  const entries: DrillHistoryEntry[] = [];
  for (const summary of summaries) {
    const entry: DrillHistoryEntry = { ...summary, failed: [], skipped: null };
    if (summary.passed !== true && summary.outcome !== 'running') {
      // What failed, from the drill's own report (a drill that passed needs no second read).
      try {
        const report = (await client.workflow.getHandle(summary.workflowId).result()) as RunbookReport;
        entry.skipped = report.drill?.skipped ?? null;
        entry.failed = report.drill
          ? failedChecks(report.drill).map((check) => `${check.title}: ${check.observed}`)
          : report.outcomeReason
            ? [report.outcomeReason]
            : [];
      } catch (error) {
        entry.failed = [`the drill left no report (${firstLine(error)})`];
      }
    }
    entries.push(entry);
  }
  return entries;
}
