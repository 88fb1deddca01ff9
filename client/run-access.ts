/**
 * How the commands reach runs on Temporal: the connection options every command takes, one client per command
 * (closed when it is done), a run by its id (an unknown id is one line and exit 2), and a run's progress or report,
 * from its queries while it runs and from its result once it has ended (a finished run needs no worker to answer).
 */
import type { Client, Connection, WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { RUNBOOK_NAMES, WORKFLOW_TYPES, type RunbookName } from '../contracts/runbooks';
import { progressQuery, reportQuery } from '../contracts/messages';
import type { PendingGate, Progress, RunbookReport } from '../contracts/run-record';
import { DEFAULT_TASK_QUEUE, temporalConnectionOptions } from '../runtime/temporal-connection';
import { CliError, EXIT } from '../runtime/exit';

/** Loaded on use: the Temporal client takes a while to load, which `topology check` and `sim` need not pay. */
export function temporalClient(): typeof import('@temporalio/client') {
  return require('@temporalio/client') as typeof import('@temporalio/client');
}

export interface TemporalFlags {
  address?: string;
  namespace?: string;
  taskQueue?: string;
}

export function withTemporalOptions(command: Command): Command {
  return command
    .option(
      '--address <host:port>',
      'Temporal frontend (default: TEMPORAL_ADDRESS, then temporal.toml, then 127.0.0.1:7233)',
    )
    .option('--namespace <name>', 'Temporal namespace (default: TEMPORAL_NAMESPACE, then temporal.toml, then default)')
    .option(
      '--task-queue <name>',
      `the workers' task queue (default: PCHAT_DR_TASK_QUEUE, then ${DEFAULT_TASK_QUEUE})`,
    );
}

export function taskQueueOf(flags: TemporalFlags): string {
  return flags.taskQueue ?? (process.env.PCHAT_DR_TASK_QUEUE || DEFAULT_TASK_QUEUE);
}

/** How long the CLI waits for a worker to answer (an update, a run's first step): PCHAT_DR_ANSWER_TIMEOUT_MS, else 30 s. */
export function answerTimeoutMs(): number {
  return Number(process.env.PCHAT_DR_ANSWER_TIMEOUT_MS ?? 30_000);
}

/** The first line of an error's message: the CLI says one line per error. */
export function firstLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0];
}

/** The innermost cause's first line: what a refused update's validator said, under the SDK's wrappers. */
export function innermostMessage(error: unknown): string {
  let cause: unknown = error;
  while ((cause as { cause?: unknown })?.cause) cause = (cause as { cause: unknown }).cause;
  return firstLine(cause);
}

/** A connection to Temporal by the flags and TEMPORAL_* settings; one that cannot be made says what to set. */
export async function connectTemporal(
  flags: TemporalFlags,
): Promise<{ connection: Connection; namespace: string; address: string }> {
  const { namespace, ...connect } = temporalConnectionOptions({ address: flags.address, namespace: flags.namespace });
  try {
    const connection = await temporalClient().Connection.connect({ ...connect, connectTimeout: '10s' });
    return { connection, namespace, address: connect.address };
  } catch (error) {
    throw new CliError(
      `cannot reach Temporal at ${connect.address}: ${firstLine(error)} (set TEMPORAL_ADDRESS or --address)`,
      EXIT.failed,
    );
  }
}

/** Connects, runs `use`, closes the connection (so the process can end). */
export async function withClient<T>(flags: TemporalFlags, use: (client: Client) => Promise<T>): Promise<T> {
  const { connection, namespace } = await connectTemporal(flags);
  try {
    return await use(new (temporalClient().Client)({ connection, namespace }));
  } finally {
    await connection.close();
  }
}

const RUNBOOK_OF_TYPE = new Map(RUNBOOK_NAMES.map((runbook) => [WORKFLOW_TYPES[runbook], runbook]));

export interface RunHandle {
  handle: WorkflowHandle;
  workflowId: string;
  /** The run's id (the latest run of the workflow id) and its Temporal namespace: what a signed answer names. */
  runId: string;
  namespace: string;
  runbook: RunbookName;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, ... */
  status: string;
  startedAt: string;
}

/** The run with this id; an id Temporal does not know, or that is no runbook run, is bad input (exit 2). */
export async function findRun(client: Client, workflowId: string): Promise<RunHandle> {
  const handle = client.workflow.getHandle(workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (error) {
    if (error instanceof temporalClient().WorkflowNotFoundError)
      throw new CliError(`no run with id ${workflowId}`, EXIT.badInput);
    throw new CliError(`cannot read run ${workflowId}: ${firstLine(error)}`, EXIT.failed);
  }
  const runbook = RUNBOOK_OF_TYPE.get(description.type);
  if (!runbook)
    throw new CliError(
      `no run with id ${workflowId} (${workflowId} is a ${description.type} workflow, not a runbook run)`,
      EXIT.badInput,
    );
  return {
    handle,
    workflowId,
    runId: description.runId,
    namespace: client.options.namespace,
    runbook,
    status: description.status.name,
    startedAt: description.startTime.toISOString(),
  };
}

/** Queries a running run; a query that cannot be answered yet (the first task not yet processed) is asked again. */
async function queryRun<T>(run: RunHandle, query: typeof progressQuery | typeof reportQuery): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return (await run.handle.query(query as never)) as T;
    } catch (error) {
      // A cancelled call (Ctrl+C in the demo) is an answer: asking again would only outlive the connection.
      if (temporalClient().isGrpcCancelledError(error)) throw error;
      if (Date.now() > deadline)
        throw new CliError(
          `run ${run.workflowId} does not answer (${firstLine(error)}): is a pchat-dr worker running on its task queue?`,
          EXIT.failed,
        );
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** The report of a run: from the report query while it runs, from its result once it ended. */
export async function reportOfRun(run: RunHandle): Promise<RunbookReport> {
  if (run.status === 'COMPLETED') return (await run.handle.result()) as RunbookReport;
  if (run.status === 'RUNNING') return queryRun<RunbookReport>(run, reportQuery);
  return ended(run, () => queryRun<RunbookReport>(run, reportQuery));
}

/** Progress (for status and watch), built from the report once the run ended. */
export async function progressOfRun(run: RunHandle): Promise<Progress> {
  if (run.status === 'COMPLETED') return progressFromReport((await run.handle.result()) as RunbookReport);
  if (run.status === 'RUNNING') return queryRun<Progress>(run, progressQuery);
  return ended(run, () => queryRun<Progress>(run, progressQuery));
}

/** A run Temporal ended itself (terminated, timed out, cancelled): its record, if a worker can still replay it. */
async function ended<T>(run: RunHandle, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch {
    throw new CliError(
      `run ${run.workflowId} was ${run.status.toLowerCase().replace('_', ' ')} in Temporal and left no report`,
      EXIT.failed,
    );
  }
}

export function progressFromReport(report: RunbookReport): Progress {
  return {
    workflowId: report.workflowId,
    runbook: report.runbook,
    pool: report.pool,
    initiator: report.initiator,
    phase: report.outcome === 'succeeded' || report.outcome === 'no-change' ? 'done' : report.outcome,
    outcome: report.outcome,
    outcomeReason: report.outcomeReason,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    steps: report.steps,
    openGates: [],
    children: report.children,
  };
}

/** What a run waits for in a child run it runs as a step (a parent waiting in a child says so). */
export interface ChildWait {
  workflowId: string;
  runbook: RunbookName;
  phase: string;
  openGates: PendingGate[];
}

/** The open gates of the run's running children, and of theirs. */
export async function childWaits(client: Client, progress: Progress, depth = 0): Promise<ChildWait[]> {
  if (depth > 3) return [];
  const waits: ChildWait[] = [];
  for (const child of progress.children.filter((candidate) => !candidate.outcome)) {
    let childProgress: Progress;
    try {
      const run = await findRun(client, child.workflowId);
      if (run.status !== 'RUNNING') continue;
      childProgress = await progressOfRun(run);
    } catch {
      continue; // not started yet, or gone: nothing it waits for
    }
    if (childProgress.openGates.length > 0)
      waits.push({
        workflowId: child.workflowId,
        runbook: child.runbook,
        phase: childProgress.phase,
        openGates: childProgress.openGates,
      });
    waits.push(...(await childWaits(client, childProgress, depth + 1)));
  }
  return waits;
}
