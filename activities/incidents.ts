/**
 * Which incident runbook holds a pool's lock (docs/runbooks.md rule 5), read from the Temporal server: a drill skips
 * when one is open, a runbook that could not take the lock says who has it, and the CLI says so before starting.
 */
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { incidentLockId } from '../contracts/runbooks';
import { RUNBOOK } from '../contracts/search-attributes';
import { StepClock, type StepResult } from './step-result';
import type { ActivityDependencies } from './dependencies';

export interface OpenIncident {
  workflowId: string;
  runId: string;
  runbook: string | null;
  startedAt: string;
}

/** The run holding the pool's incident lock, or null when none does. */
export async function openIncidentOf(client: Client, pool: string): Promise<OpenIncident | null> {
  try {
    const lock = await client.workflow.getHandle(incidentLockId(pool)).describe();
    const parent = lock.parentExecution;
    if (lock.status.name !== 'RUNNING' || !parent?.workflowId) return null;
    const holder = await client.workflow.getHandle(parent.workflowId, parent.runId ?? undefined).describe();
    // The holder has ended: Temporal is about to end its lock (parent close policy), so the pool is free.
    if (holder.status.name !== 'RUNNING') return null;
    return {
      workflowId: holder.workflowId,
      runId: holder.runId,
      runbook: holder.typedSearchAttributes.get(RUNBOOK) ?? null,
      startedAt: holder.startTime.toISOString(),
    };
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

export function incidentActivities(deps: ActivityDependencies) {
  return {
    /** docs/runbooks.md rule 5: is an incident runbook open on the pool? */
    async findOpenIncident(input: { pool: string }): Promise<StepResult<OpenIncident | null>> {
      const clock = new StepClock(deps.clock);
      const open = await openIncidentOf(Context.current().client, input.pool);
      return clock.observed(
        open
          ? `${open.runbook ?? 'a runbook'} ${open.workflowId} is open on ${input.pool}`
          : `no incident runbook is open on ${input.pool}`,
        open,
      );
    },
  };
}
