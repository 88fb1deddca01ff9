/**
 * The incident lock of a pool (docs/runbooks.md rule 5): a child workflow with the id incidentLockId(pool), started by an
 * incident runbook before it reads or changes anything. The server runs one workflow per id at a time, so a second
 * runbook on the same pool cannot start its lock and stops; the lock ends when its holder releases it, and the
 * server terminates it if the holder ends in any other way (parent close policy).
 */
import * as wf from '@temporalio/workflow';

export interface LockHolder {
  workflowId: string;
  runbook: string;
  initiator: string;
}

export const releaseLockSignal = wf.defineSignal('releaseLock');
export const lockHolderQuery = wf.defineQuery<LockHolder>('lockHolder');

export async function poolLock(holder: LockHolder): Promise<void> {
  let released = false;
  wf.setHandler(lockHolderQuery, () => holder);
  wf.setHandler(releaseLockSignal, () => {
    released = true;
  });
  await wf.condition(() => released);
}
