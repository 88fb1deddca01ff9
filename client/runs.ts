/**
 * Starting runbooks, for the CLI, the demo and tests alike: the workflow input built from a validated topology
 * (secrets stay references), a readable workflow id, the pool's search attributes set at start (so `list` finds
 * the run at once), and docs/runbooks.md rule 5 checked before starting: when an incident runbook is open on the pool, the
 * answer is that run, not a second one. (The workflow checks again with its lock, which no race can get past.)
 */
import os from 'node:os';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { openIncidentOf, type OpenIncident } from '../activities/incidents';
import type { Topology } from '../topology/schema';
import {
  defaultWorkflowId,
  INCIDENT_RUNBOOK_NAMES,
  WORKFLOW_TYPES,
  type RunbookName,
  type RunbookInput,
} from '../contracts/runbooks';
import { POOL, RUNBOOK } from '../contracts/search-attributes';
import { CliError, EXIT } from '../runtime/exit';

export interface StartRequest {
  runbook: RunbookName;
  topology: Topology;
  options?: object;
  /** Who starts it; default: the OS user (a claim: real identity needs Temporal's authorization). */
  initiator?: string;
  reason?: string;
  workflowId?: string;
  dryRun?: boolean;
  taskQueue: string;
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
  const { runbook, topology } = request;
  const pool = topology.pool.fqdn;
  if (!request.dryRun && INCIDENT_RUNBOOK_NAMES.includes(runbook)) {
    const open = await openIncidentOf(client, pool);
    if (open) return { started: false, open };
  }
  const workflowId = request.workflowId ?? defaultWorkflowId(runbook, pool, new Date(), request.dryRun);
  const input: RunbookInput = {
    topology,
    initiator: request.initiator ?? defaultInitiator(),
    reason: request.reason ?? `${runbook} started from the pchat-dr CLI`,
    options: { ...(request.options ?? {}) },
    ...(request.dryRun ? { dryRun: true } : {}),
  };
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
