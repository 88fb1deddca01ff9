/**
 * Recording histories for the replay test (test/replay): with RECORD_HISTORIES=1 (npm run record-histories), the
 * runbook tests save the history of each run they finish under test/replay/histories/NAME.json.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  const history = await handle.fetchHistory();
  writeFileSync(path.join(__dirname, '..', 'replay', 'histories', `${name}.json`), `${historyToJSON(history)}\n`);
}
