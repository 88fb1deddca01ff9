/**
 * The pool's incident lock as a run holds it (docs/runbooks.md rule 5): an incident runbook starts the pool-lock
 * child workflow (pool-lock.ts) before its first step and holds it to its end.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import * as wf from '@temporalio/workflow';
import { incidentLockId, INCIDENT_RUNBOOK_NAMES, type RunbookInput } from '../contracts/runbooks';
import type { RunRecord } from '../contracts/run-record';
import { poolLock, releaseLockSignal } from './pool-lock';
import { RunEnded } from './run-state';
import type { StepRunner } from './step-runner';

/** Patch id (workflow versioning): runs started before the lock ended with its holder replay on their old path. */
const LOCK_ENDS_WITH_HOLDER = 'lock-ends-with-holder';

export class IncidentLock {
  private lock: wf.ChildWorkflowHandle<typeof poolLock> | null = null;

  constructor(
    private readonly record: RunRecord,
    private readonly input: RunbookInput<object>,
    private readonly steps: StepRunner,
  ) {}

  /** Whether this run holds the lock (its child runs then work under it). */
  get held(): boolean {
    return this.lock !== null;
  }

  /**
   * An incident runbook holds its pool's lock from its first step to its end. The lock ends when its holder ends
   * (Temporal terminates it: parent close policy); no message can release it. A lock whose holder has just ended
   * may still be there for a moment: then the run waits for it to go (up to half a minute).
   */
  async acquire(): Promise<void> {
    if (this.record.dryRun || this.input.parent?.holdsLock || !INCIDENT_RUNBOOK_NAMES.includes(this.record.runbook))
      return;
    const workflowId = incidentLockId(this.record.pool);
    const holder = {
      workflowId: this.record.workflowId,
      runbook: this.record.runbook,
      initiator: this.record.initiator,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        this.lock = await wf.startChild(poolLock, { workflowId, args: [holder], parentClosePolicy: 'TERMINATE' });
        return;
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      }
      const found = await this.steps.act({
        name: 'find-open-incident',
        title: `Find the runbook holding ${workflowId}`,
        target: this.record.pool,
        activity: 'findOpenIncident',
        input: { pool: this.record.pool },
      });
      const open = found.kind === 'done' ? found.result.found : null;
      if (!open && attempt < 30 && wf.patched(LOCK_ENDS_WITH_HOLDER)) {
        await wf.sleep('1 second');
        continue;
      }
      if (open) this.record.blockedBy = open;
      throw new RunEnded(
        'precondition-failed',
        `another incident runbook is open on ${this.record.pool}: ${open ? `${open.runbook ?? 'runbook'} ${open.workflowId} (started ${open.startedAt})` : workflowId}; one at a time per pool`,
      );
    }
  }

  /** Runs started before the lock ended with its holder release it with a signal. */
  async release(): Promise<void> {
    if (!this.lock || wf.patched(LOCK_ENDS_WITH_HOLDER)) return;
    const lock = this.lock;
    this.lock = null;
    await wf.CancellationScope.nonCancellable(async () => {
      await lock.signal(releaseLockSignal);
      await lock.result();
    });
  }
}
