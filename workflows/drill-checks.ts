/**
 * What the drill's parts share (runbook 6): a check of a figure against its objective, and reads whose failure is a
 * check's observation rather than a question to a person (nobody watches a drill).
 */
import type { DrillCheck } from '../contracts/drill-report';
import type { DrillOptions } from '../contracts/runbooks';
import { formatDuration } from '../topology/durations';
import type { ActivityName, ActivityResult } from './activity-kinds';
import type { Runbook } from './runbook';
import type { ActSpec } from './step-runner';

export type Rb = Runbook<DrillOptions>;

export function objectiveCheck(name: string, title: string, value: number | null, objective: number): DrillCheck {
  return {
    name,
    group: 'objectives',
    title,
    passed: value !== null && value <= objective,
    observed: value === null ? 'could not be measured' : formatDuration(value * 1000),
    expected: `at most ${formatDuration(objective * 1000)}`,
  };
}

/** Reads that must answer for a check to pass: a failure is the check's observation. */
export async function observe<K extends ActivityName>(
  rb: Rb,
  spec: ActSpec<K>,
  onFailure: (message: string) => void,
): Promise<ActivityResult<K>['found'] | null> {
  const outcome = await rb.act({ ...spec, expect: 'any' });
  if (outcome.kind === 'done') return outcome.result.found;
  onFailure(outcome.kind === 'failed' ? outcome.failure.message : outcome.kind);
  return null;
}
