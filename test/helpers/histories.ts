/**
 * Recording histories for the replay test (test/replay): with RECORD_HISTORIES=1 (npm run record-histories), the
 * runbook tests save the history of each run they finish under test/replay/histories/NAME.json, and its workflow
 * id in workflow-ids.json (a replay needs it: child runs are named after their parent).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES = path.join(__dirname, '..', 'replay', 'histories');
export const WORKFLOW_IDS = path.join(HISTORIES, 'workflow-ids.json');

export function recordedWorkflowIds(): Record<string, string> {
  return existsSync(WORKFLOW_IDS) ? (JSON.parse(readFileSync(WORKFLOW_IDS, 'utf8')) as Record<string, string>) : {};
}

export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  const history = await handle.fetchHistory();
  writeFileSync(path.join(HISTORIES, `${name}.json`), `${historyToJSON(history)}\n`);
  const ids = { ...recordedWorkflowIds(), [`${name}.json`]: handle.workflowId };
  writeFileSync(WORKFLOW_IDS, `${JSON.stringify(Object.fromEntries(Object.entries(ids).sort()), null, 2)}\n`);
}
