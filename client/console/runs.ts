/**
 * What the console reads through the Temporal client: the open runs of its task queue (visibility: search
 * attributes, then each run's progress, asked with a short deadline so one stuck run does not stall the page), one
 * run's progress and, once it ended, its report. The same reads the CLI makes (client/run-access.ts).
 */
import type { Client } from '@temporalio/client';
import type { PendingGate, Progress, RunbookReport } from '../../contracts/run-record';
import { AWAITING_GATE, PHASE, POOL, RUNBOOK } from '../../contracts/search-attributes';
import { CliError } from '../../runtime/exit';
import { listQuery } from '../commands/list';
import { firstLine, findRun, progressOfRun, reportOfRun, type RunHandle } from '../run-access';

export interface OpenRun {
  workflowId: string;
  runbook: string;
  pool: string;
  phase: string;
  startedAt: string;
  /** The gates it waits on (its own and its child runs'); empty when its progress could not be read in time. */
  gates: PendingGate[];
  /** Why the progress is missing, if it is. */
  unread?: string;
}

/** How long a page waits for a run to answer a query before it shows what visibility knows. */
const QUERY_DEADLINE_MS = 3_000;

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The open runbook runs on the console's task queue, newest first. */
export async function openRuns(client: Client, taskQueue: string, limit = 50): Promise<OpenRun[]> {
  const query = `${listQuery({ open: true })} AND TaskQueue = '${taskQueue.replace(/'/g, "\\'")}'`;
  const runs: OpenRun[] = [];
  for await (const execution of client.workflow.list({ query })) {
    const attributes = execution.typedSearchAttributes;
    runs.push({
      workflowId: execution.workflowId,
      runbook: attributes.get(RUNBOOK) ?? execution.type,
      pool: attributes.get(POOL) ?? '-',
      phase: attributes.get(PHASE) ?? '-',
      startedAt: execution.startTime.toISOString(),
      gates: [],
      ...(attributes.get(AWAITING_GATE) ? { unread: `waits on ${attributes.get(AWAITING_GATE)}` } : {}),
    });
    if (runs.length >= limit) break;
  }
  await Promise.all(
    runs.map(async (run) => {
      try {
        const progress = await within(
          progressOfRun(await findRun(client, run.workflowId)),
          QUERY_DEADLINE_MS,
          `run ${run.workflowId}`,
        );
        run.phase = progress.phase;
        run.gates = progress.openGates;
        delete run.unread;
      } catch (error) {
        run.unread = `${run.unread ? `${run.unread}; ` : ''}${firstLine(error)}`;
      }
    }),
  );
  return runs;
}

export interface RunView {
  run: RunHandle;
  progress: Progress;
  /** Once the run ended: its report. */
  report?: RunbookReport;
}

/** A run by id, as the run page shows it; an unknown id is a CliError the page turns into "no such run". */
export async function runView(client: Client, workflowId: string): Promise<RunView> {
  const run = await findRun(client, workflowId);
  const progress = await within(progressOfRun(run), QUERY_DEADLINE_MS * 5, `run ${workflowId}`).catch((error) => {
    throw error instanceof CliError ? error : new CliError(firstLine(error));
  });
  const report = progress.outcome !== 'running' ? await reportOfRun(run).catch(() => undefined) : undefined;
  return { run, progress, ...(report ? { report } : {}) };
}

/** When an open gate escalates and times out, from when it opened. */
export function gateDeadlines(gate: PendingGate, durationMs: (text: string) => number) {
  const opened = Date.parse(gate.openedAt);
  return {
    escalatesAt: gate.escalation ? new Date(opened + durationMs(gate.escalation.after)).toISOString() : null,
    timesOutAt: new Date(opened + durationMs(gate.timeout)).toISOString(),
  };
}
