/**
 * What the drill command tests share: one harness at a time, every schedule they make deleted (with the drills it
 * started) after each test, and the schedule list and drill history as the CLI prints them in JSON.
 */
import { afterEach, expect } from 'vitest';
import type { DrillHistoryEntry, DrillScheduleView } from '../../client/drill-schedules';
import { POOL } from '../../contracts/search-attributes';
import type { RunbookHarness } from '../helpers/runbooks';
import { connectClient } from '../helpers/temporal';
import { cli } from './cli-env';

export const drillTest: { harness: RunbookHarness | undefined; schedules: string[] } = {
  harness: undefined,
  schedules: [],
};

afterEach(async () => {
  // Schedules live on the shared dev server: none of this test may fire after it.
  const { client, close } = await connectClient();
  try {
    for (const id of drillTest.schedules.splice(0))
      await client.schedule
        .getHandle(id)
        .delete()
        .catch(() => undefined);
    if (drillTest.harness) {
      // A drill a schedule started may still run: end it with the test.
      for await (const run of client.workflow.list({
        query: `${POOL.name} = '${drillTest.harness.env.topology.pool.fqdn}' AND ExecutionStatus = 'Running'`,
      })) {
        await client.workflow
          .getHandle(run.workflowId, run.runId)
          .terminate('test finished')
          .catch(() => undefined);
      }
    }
  } finally {
    await close();
  }
  await drillTest.harness?.close();
  drillTest.harness = undefined;
});

export async function listed(h: RunbookHarness | undefined, id: string): Promise<DrillScheduleView | undefined> {
  const list = await cli(h, ['drill', 'list', '-o', 'json']);
  expect(list.code, list.stderr).toBe(0);
  return (JSON.parse(list.stdout) as DrillScheduleView[]).find((schedule) => schedule.scheduleId === id);
}

export async function history(h: RunbookHarness, pool: string): Promise<DrillHistoryEntry[]> {
  const result = await cli(h, ['drill', 'history', pool, '-o', 'json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as DrillHistoryEntry[];
}
