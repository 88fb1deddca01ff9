/**
 * A one-step workflow for the worker process tests: runs the real `notify` activity against a webhook the test
 * holds open, so a test can stop the worker while a step is running. Bundled by test/worker/worker.test.ts.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities/index';

const { notify } = proxyActivities<Activities>({ startToCloseTimeout: '2 minutes', retry: { maximumAttempts: 1 } });

export async function notifyProbe(webhook: string): Promise<{ outcome: string; status: number | null }> {
  const result = await notify({
    webhook,
    event: {
      kind: 'run-finished',
      pool: 'probe.example.test',
      runbook: 'probe',
      workflowId: 'probe',
      summary: 'worker shutdown probe',
    },
  });
  return { outcome: result.outcome, status: result.figures.status };
}
