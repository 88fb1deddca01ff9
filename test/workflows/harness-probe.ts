/**
 * A minimal workflow for proving the test harness: it runs one activity on the worker, exposes its state through
 * a query, and waits for a signal. Not part of the product.
 */
import { condition, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ProbeActivities } from './harness-probe-activities';

export interface ProbeState {
  phase: 'started' | 'activity-done' | 'released';
  workerPid?: number;
  echoed?: string;
}

export const probeState = defineQuery<ProbeState>('probeState');
export const release = defineSignal('release');

const { describeWorker } = proxyActivities<ProbeActivities>({ startToCloseTimeout: '10 seconds' });

export async function harnessProbe(text: string): Promise<ProbeState> {
  let state: ProbeState = { phase: 'started' };
  let released = false;
  setHandler(probeState, () => state);
  setHandler(release, () => {
    released = true;
  });
  const found = await describeWorker(text);
  state = { phase: 'activity-done', workerPid: found.pid, echoed: found.echoed };
  await condition(() => released);
  state = { ...state, phase: 'released' };
  return state;
}
