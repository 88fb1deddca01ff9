/** The workflows bench/step-latency.ts times: a chain of trivial activities, and a chain of 1 ms timers. */
import { proxyActivities, sleep } from '@temporalio/workflow';

const { echo } = proxyActivities<{ echo(value: number): Promise<number> }>({ startToCloseTimeout: '10s' });

export async function activityChain(steps: number): Promise<number> {
  let total = 0;
  for (let step = 0; step < steps; step++) total += await echo(step);
  return total;
}

export async function timerChain(steps: number): Promise<void> {
  for (let step = 0; step < steps; step++) await sleep(1);
}
