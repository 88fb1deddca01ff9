/**
 * The automatic operator: plays the people a run waits for, through the same updates the CLI sends. It approves
 * approval gates with as many allowed people as the policy asks (never the initiator under the two-person rule);
 * refuses the split-brain override (DC1 serving means this is no disaster); approves accept-data-loss only when the
 * evidence names a gap that is real (a log the cell's fault destroyed in every copy) and a disaster leaves no other
 * way; at a decision gate undoes the fault, then retries (and aborts when the same step keeps failing); approves
 * the way back of a switchover. It answers the run's gates and those of its child runs.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  approveUpdate,
  decideUpdate,
  progressQuery,
  rejectUpdate,
  type MessageOutcome,
} from '../../contracts/messages';
import type { PendingGate, Progress, RunbookReport } from '../../contracts/run-record';

export interface OperatorPolicy {
  /** Whether to accept the loss this gate describes, and why. */
  acceptDataLoss(gate: PendingGate): { approve: boolean; why: string };
  /** Called before a retry at a decision gate: undo the fault. */
  beforeRetry(): Promise<void>;
  /** Called on every turn: a fault that outlived its time is undone. */
  tick(): Promise<void>;
}

export interface Driven {
  report: RunbookReport | null;
  /** The run's last progress, when it did not end in time. */
  progress: Progress | null;
  /** What the operator did, in order (for a violated cell's detail). */
  actions: string[];
}

const INITIATOR = 'erin';
/** A step that fails this many times after its fault was undone is given up on: the operator aborts. */
const RETRIES = 3;

export class Operator {
  readonly actions: string[] = [];
  private readonly retries = new Map<string, number>();
  /** Decision gates answered (an update that did not count is sent again). */
  private readonly decided = new Set<string>();

  constructor(
    private readonly client: Client,
    private readonly policy: OperatorPolicy,
  ) {}

  /** Answers the run's gates until it ends or the deadline passes. */
  async drive(handle: WorkflowHandle, deadline: number, pollMs = 400): Promise<Driven> {
    let last: Progress | null = null;
    while (Date.now() < deadline) {
      await this.policy.tick();
      const progress = await query(handle);
      if (progress) {
        last = progress;
        if (progress.outcome !== 'running') break;
        await this.answer(handle, progress);
      } else if (await closed(handle)) {
        break;
      }
      await sleep(pollMs);
    }
    if (Date.now() >= deadline && !(await closed(handle)))
      return { report: null, progress: last, actions: this.actions };
    const report = (await withTimeout(handle.result(), 60_000, 'the run to return its report')) as RunbookReport;
    return { report, progress: last, actions: this.actions };
  }

  /** The gates open now in the run and in its running children (and theirs). */
  private async answer(handle: WorkflowHandle, progress: Progress): Promise<void> {
    for (const gate of progress.openGates) await this.answerGate(handle, progress, gate);
    for (const child of progress.children.filter((each) => !each.outcome)) {
      const childHandle = this.client.workflow.getHandle(child.workflowId);
      const childProgress = await query(childHandle);
      if (childProgress?.outcome === 'running') await this.answer(childHandle, childProgress);
    }
  }

  private async answerGate(handle: WorkflowHandle, progress: Progress, gate: PendingGate): Promise<void> {
    const where = `${handle.workflowId === progress.workflowId ? '' : `${progress.runbook} `}${gate.id}`;
    if (gate.kind === 'decision') {
      const id = `${handle.workflowId}/${gate.id}`;
      if (this.decided.has(id)) return;
      const key = `${handle.workflowId}/${gate.step}`;
      const tries = (this.retries.get(key) ?? 0) + 1;
      const by = gate.approvers[0];
      const choice = tries > RETRIES ? 'abort' : 'retry';
      if (choice === 'retry') await this.policy.beforeRetry();
      this.actions.push(`${choice} at ${where}${choice === 'abort' ? ` (failed ${tries} times)` : ''}`);
      const counted = await send(
        handle.executeUpdate(decideUpdate, {
          args: [
            { choice, by, reason: choice === 'retry' ? 'the cause was undone' : 'it keeps failing', gate: gate.id },
          ],
        }),
      );
      if (counted) {
        this.decided.add(id);
        this.retries.set(key, tries);
      }
      return;
    }
    if (gate.gate === 'override-split-brain-guard') {
      this.actions.push(`reject ${where}`);
      await send(
        handle.executeUpdate(rejectUpdate, {
          args: [{ gate: gate.id, by: gate.approvers[0], reason: 'DC1 still serves: this is not a disaster' }],
        }),
      );
      return;
    }
    if (gate.gate === 'accept-data-loss') {
      const decision = this.policy.acceptDataLoss(gate);
      if (!decision.approve) {
        this.actions.push(`reject ${where}: ${decision.why}`);
        await send(
          handle.executeUpdate(rejectUpdate, {
            args: [{ gate: gate.id, by: gate.approvers[0], reason: decision.why }],
          }),
        );
        return;
      }
    }
    const voted = new Set(gate.approvals.map((vote) => vote.by));
    const by = gate.approvers.find((person) => !voted.has(person) && !(gate.twoPersonRule && person === INITIATOR));
    if (!by) return;
    this.actions.push(`approve ${where} as ${by}`);
    await send(
      handle.executeUpdate(approveUpdate, {
        args: [{ gate: gate.id, by, evidenceVersion: gate.evidence?.version ?? 'none' }],
      }),
    );
  }
}

/** The run's progress, or null when nobody answers (no worker: it was just killed). */
async function query(handle: WorkflowHandle): Promise<Progress | null> {
  try {
    return await withTimeout(handle.query(progressQuery), 10_000, 'a query');
  } catch {
    return null;
  }
}

async function closed(handle: WorkflowHandle): Promise<boolean> {
  try {
    return (await handle.describe()).status.name !== 'RUNNING';
  } catch {
    return false;
  }
}

/** Whether the update counted; one that did not (the gate moved on meanwhile) is answered again on the next turn. */
async function send(update: Promise<MessageOutcome>): Promise<boolean> {
  return withTimeout(update, 15_000, 'an update').then(
    () => true,
    () => false,
  );
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
