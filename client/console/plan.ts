/**
 * What the next steps of a run will send: a dry run of the same runbook, with the same options, on the worker's
 * estate as it is now (`pchat-dr run ... --dry-run`, the existing dry-run renderer shows its plan). A dry run
 * changes nothing, takes no lock and needs no signature; it is a run of its own, so its page (and its report) keep
 * what it planned.
 */
import type { Client } from '@temporalio/client';
import { defaultWorkflowId, WORKFLOW_TYPES, type RunbookInput } from '../../contracts/runbooks';
import { POOL, RUNBOOK } from '../../contracts/search-attributes';
import { findRun, reportOfRun } from '../run-access';
import { AnswerRefused } from './answers';

/** Who the console's dry runs name as their initiator. */
export const PLAN_INITIATOR = 'pchat-dr-console';
const PLAN_TIMEOUT_MS = 90_000;

/** Starts the dry run of a running run and waits for its plan; its workflow id, whose page shows the plan. */
export async function planNextSteps(client: Client, workflowId: string, taskQueue: string): Promise<string> {
  const run = await findRun(client, workflowId);
  if (run.status !== 'RUNNING') throw new AnswerRefused(`run ${workflowId} has ended: nothing more will be sent`);
  const report = await reportOfRun(run);
  if (report.dryRun) throw new AnswerRefused(`${workflowId} is itself a dry run: its page shows its plan`);
  const planId = defaultWorkflowId(run.runbook, report.pool, new Date(), true);
  const input: RunbookInput = {
    pool: report.pool,
    useWorkerEstate: true,
    initiator: PLAN_INITIATOR,
    reason: `what the next steps of ${workflowId} will send (asked in the approval console)`,
    options: report.options,
    dryRun: true,
  };
  const handle = await client.workflow.start(WORKFLOW_TYPES[run.runbook], {
    taskQueue,
    workflowId: planId,
    args: [input],
    typedSearchAttributes: [
      { key: POOL, value: report.pool },
      { key: RUNBOOK, value: run.runbook },
    ],
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      handle.result(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new AnswerRefused(
                `the dry run ${planId} did not finish within ${PLAN_TIMEOUT_MS / 1000} s: is a worker running?`,
              ),
            ),
          PLAN_TIMEOUT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return planId;
}
