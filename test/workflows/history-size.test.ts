/**
 * A failover with a thousand log backups waiting stays a small history: one activity applies them all (heartbeating
 * its progress), so the event count does not grow with the number of files.
 */
import { describe, expect, it } from 'vitest';
import { approve, gateOpen, result, runbookHarness, stepOf } from '../helpers/runbooks';
import { loseDc1, mgcOn, setUpLogShipping, takeLogBackups } from '../helpers/story';

describe('history size', () => {
  it('stays under 500 events for a failover that applies 1,000 pending logs', { timeout: 600_000 }, async () => {
    const harness = await runbookHarness({ label: 'history-size' });
    try {
      const { env } = harness;
      await harness.withWorker(async () => {
        await setUpLogShipping(harness);
        for (const job of env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-a')!.jobs)
          env.estate.setJobEnabled('dc2-sql-a', job.name, false);
        await takeLogBackups(env, 1_000, 0);
        await loseDc1(env);
        const handle = await harness.start('failover', { mode: 'disaster' });
        await gateOpen(handle, 'declare-disaster', 120_000);
        await approve(handle, 'declare-disaster', 'carol');
        await approve(handle, 'declare-disaster', 'dave');
        const report = await result(handle);
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect((stepOf(report, 'apply-logs').figures as { applied: string[] }).applied).toHaveLength(1_000);
        expect(mgcOn(env, 'dc2-sql-a')?.state).toBe('ONLINE');
        const events = (await handle.fetchHistory()).events ?? [];
        expect(events.length).toBeLessThan(500);
        const scheduled = events.filter((event) => event.activityTaskScheduledEventAttributes).length;
        expect(scheduled).toBeLessThan(60);
        console.log(`failover with 1,000 pending logs: ${events.length} history events, ${scheduled} activities`);
      });
    } finally {
      await harness.close();
    }
  });
});
