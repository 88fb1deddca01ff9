/**
 * Starting runbooks, for the CLI, the demo and tests alike: the input names the pool of the caller's topology file
 * and that file's digest (the worker runs on its own copy of the estate and refuses one that differs,
 * docs/runbooks.md rule 8), a readable workflow id, the pool's search attributes set at start (so `list` finds the
 * run at once), and rule 5 checked before starting: when an incident runbook is open on the pool, the answer is that
 * run, not a second one. (The workflow checks again with its lock, which no race can get past.)
 */
import os from 'node:os';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { openIncidentOf, type OpenIncident } from '../activities/incidents';
import type { LoadedTopology } from '../topology/load';
import {
  defaultWorkflowId,
  INCIDENT_RUNBOOK_NAMES,
  startStatementOf,
  WORKFLOW_TYPES,
  type RunbookName,
  type RunbookInput,
} from '../contracts/runbooks';
import { progressQuery } from '../contracts/messages';
import type { SignaturePart, Statement } from '../contracts/statements';
import { POOL, RUNBOOK } from '../contracts/search-attributes';
import { CliError, EXIT } from '../runtime/exit';

export interface StartRequest {
  runbook: RunbookName;
  /** The caller's copy of the estate: its pool names the run, its digest must match the worker's file. */
  estate: LoadedTopology;
  /** Run on the worker's estate even when it differs from the caller's file (both digests are in the report). */
  useWorkerEstate?: boolean;
  options?: object;
  /** Who starts it; default: the OS user (a claim: real identity needs Temporal's authorization). */
  initiator?: string;
  reason?: string;
  workflowId?: string;
  dryRun?: boolean;
  taskQueue: string;
  /** Signs the start statement (client/signing.ts signNow): the run's input then carries it. */
  sign?: (statement: Omit<Statement, 'time'>) => Promise<SignaturePart>;
}

export type StartOutcome =
  { started: true; workflowId: string; runId: string } | { started: false; open: OpenIncident };

export function defaultInitiator(): string {
  try {
    return os.userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

export async function startRunbook(client: Client, request: StartRequest): Promise<StartOutcome> {
  const { runbook, estate } = request;
  const pool = estate.topology.pool.fqdn;
  if (!request.dryRun && INCIDENT_RUNBOOK_NAMES.includes(runbook)) {
    const open = await openIncidentOf(client, pool);
    if (open) return { started: false, open };
  }
  const workflowId = request.workflowId ?? defaultWorkflowId(runbook, pool, new Date(), request.dryRun);
  const input: RunbookInput = {
    pool,
    estateDigest: estate.digest,
    ...(request.useWorkerEstate ? { useWorkerEstate: true } : {}),
    initiator: request.initiator ?? defaultInitiator(),
    reason: request.reason ?? `${runbook} started from the pchat-dr CLI`,
    options: { ...(request.options ?? {}) },
    ...(request.dryRun ? { dryRun: true } : {}),
  };
  // Signed: the statement names everything this input says and the workflow id (there is no run id before the start).
  if (request.sign)
    input.signature = await request.sign(startStatementOf(runbook, input, client.options.namespace, workflowId));
  try {
    const handle = await client.workflow.start(WORKFLOW_TYPES[runbook], {
      taskQueue: request.taskQueue,
      workflowId,
      args: [input],
      typedSearchAttributes: [
        { key: POOL, value: pool },
        { key: RUNBOOK, value: runbook },
      ],
    });
    return { started: true, workflowId, runId: handle.firstExecutionRunId };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      throw new CliError(
        `a run with id ${workflowId} is already open: choose another --id, or follow it with pchat-dr watch ${workflowId}`,
        EXIT.refused,
      );
    }
    throw error;
  }
}

/** How the worker took a run's estate: loaded (the same file, or the worker's as asked), refused, or no answer yet. */
export type EstateCheck = { kind: 'loaded' } | { kind: 'refused'; reason: string } | { kind: 'no-worker' };

/**
 * Waits until the run has loaded its estate on the worker (its first step) or ended, for at most `timeoutMs`: a run
 * whose worker holds a different estate file refuses at once, and the person who started it should hear so now.
 */
export async function estateCheck(client: Client, workflowId: string, timeoutMs: number): Promise<EstateCheck> {
  const deadline = Date.now() + timeoutMs;
  const handle = client.workflow.getHandle(workflowId);
  for (;;) {
    const progress = await handle.query(progressQuery).catch(() => null);
    if (progress) {
      // The run records its estate once it accepted it; a run that ended without one refused it.
      if (progress.estate) return { kind: 'loaded' };
      if (progress.outcome !== 'running')
        return { kind: 'refused', reason: progress.outcomeReason ?? progress.outcome };
    }
    if (Date.now() > deadline) return { kind: 'no-worker' };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
