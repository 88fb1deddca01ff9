/**
 * The incident lock of a pool (docs/runbooks.md rule 5): a child workflow with the id incidentLockId(pool), started
 * by an incident runbook before it reads or changes anything. The server runs one workflow per id at a time, so a
 * second runbook on the same pool cannot start its lock and stops.
 *
 * Nothing anyone sends releases it: the lock ends when its holder ends (the holder starts it with the parent close
 * policy TERMINATE), and a cancellation request does not end it. A lock started by anything but a runbook (say, from
 * the Web UI) has no holder and ends at once, so nobody can block a pool by starting one.
 */
import * as wf from '@temporalio/workflow';

export interface LockHolder {
  workflowId: string;
  runbook: string;
  initiator: string;
}

/** Runs started before the lock ended with its holder had a release signal. */
export const releaseLockSignal = wf.defineSignal('releaseLock');
export const lockHolderQuery = wf.defineQuery<LockHolder>('lockHolder');

export async function poolLock(holder: LockHolder): Promise<void> {
  if (!wf.patched('lock-ends-with-holder')) {
    let released = false;
    wf.setHandler(lockHolderQuery, () => holder);
    wf.setHandler(releaseLockSignal, () => {
      released = true;
    });
    await wf.condition(() => released);
    return;
  }
  const parent = wf.workflowInfo().parent;
  if (!parent) return;
  // The holder is the run Temporal names as the parent, whatever the input says.
  const heldBy: LockHolder = { ...holder, workflowId: parent.workflowId };
  wf.setHandler(lockHolderQuery, () => heldBy);
  await wf.CancellationScope.nonCancellable(() => wf.condition(() => false));
}
