/**
 * Runbooks 2 and 3 end to end: log shipping primary → backup (seeded, jobs run once), then the mirror as a second
 * log-shipping primary through two child mirror failovers; the msdb tables and jobs as an operator would check them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { recordHistory } from '../helpers/histories';
import { approve, gateOpen, result, runbookHarness, stepOf, type RunbookHarness } from '../helpers/runbooks';

let harness: RunbookHarness;
afterEach(async () => harness?.close());

const instance = (name: string) =>
  harness.env.estate.snapshot().instances.find((candidate) => candidate.name === name)!;
const mgcOn = (name: string) => instance(name).databases.find((database) => database.name === 'mgc');

describe('setup-log-shipping and setup-mirror-log-shipping', () => {
  it('ships mgc from the primary to the backup, then from the mirror too, and the secondary keeps restoring', async () => {
    harness = await runbookHarness({ label: 'log-shipping' });
    await harness.withWorker(async () => {
      const setup = await harness.start('setup-log-shipping');
      const report = await result(setup);
      await recordHistory(setup, 'setup-log-shipping');
      expect(report.outcome, report.outcomeReason).toBe('succeeded');
      expect(report.gates).toEqual([]);
      for (const step of ['add-primary', 'add-primary-secondary', 'full-backup', 'seed-secondary', 'add-secondary'])
        expect(stepOf(report, step).status).toBe('acted');
      expect(report.steps.filter((step) => step.name.startsWith('run-job')).map((step) => step.status)).toEqual([
        'acted',
        'acted',
        'acted',
      ]);

      const primary = instance('dc1-sql-a');
      expect(primary.logShipping.primaries).toHaveLength(1);
      expect(primary.logShipping.primaries[0]).toMatchObject({ primary_database: 'mgc' });
      expect(primary.jobs.find((job) => job.name === 'LSBackup_mgc')).toMatchObject({
        enabled: true,
        lastOutcome: 'succeeded',
      });
      const backup = instance('dc2-sql-a');
      expect(mgcOn('dc2-sql-a')?.state).toBe('RESTORING');
      expect(backup.logShipping.secondaries[0]).toMatchObject({
        secondary_database: 'mgc',
        restore_mode: false,
        restore_delay: 0,
      });
      expect(backup.logShipping.monitorSecondary[0].last_copied_file).toBeTruthy();
      expect(backup.logShipping.monitorSecondary[0].last_restored_file).toBeTruthy();
      expect(backup.jobs.filter((job) => /^LS(Copy|Restore)_/.test(job.name)).map((job) => job.lastOutcome)).toEqual([
        'succeeded',
        'succeeded',
      ]);

      // Run again: nothing is configured twice and the secondary is not re-seeded.
      const again = await result(await harness.start('setup-log-shipping'));
      expect(again.outcome).toBe('succeeded');
      expect(stepOf(again, 'add-primary').status).toBe('skipped');
      expect(stepOf(again, 'add-secondary').status).toBe('skipped');
      expect(again.steps.some((step) => step.name === 'seed-secondary')).toBe(false);
      expect(instance('dc1-sql-a').logShipping.primaries).toHaveLength(1);

      const mirrorSide = await harness.start('setup-mirror-log-shipping');
      await gateOpen(mirrorSide, 'approve-mirror-log-shipping');
      await approve(mirrorSide, 'approve-mirror-log-shipping', 'carol');
      const third = await result(mirrorSide);
      await recordHistory(mirrorSide, 'setup-mirror-log-shipping');
      expect(third.outcome, third.outcomeReason).toBe('succeeded');
      expect(third.children.map((child) => [child.runbook, child.outcome])).toEqual([
        ['mirror-failover', 'succeeded'],
        ['mirror-failover', 'succeeded'],
      ]);
      expect(stepOf(third, 'copy-primary-settings').status).toBe('acted');
      // The mirror holds the primary half with the primary's settings; the primary is principal again.
      const mirror = instance('dc1-sql-b');
      expect(mirror.logShipping.primaries[0]).toMatchObject({
        primary_database: 'mgc',
        backup_directory: primary.logShipping.primaries[0].backup_directory,
        backup_retention_period: primary.logShipping.primaries[0].backup_retention_period,
      });
      expect(mirror.jobs.find((job) => job.name === 'LSBackup_mgc')).toMatchObject({
        enabled: true,
        lastOutcome: 'succeeded',
      });
      expect(mgcOn('dc1-sql-a')?.mirroring).toMatchObject({ role: 'PRINCIPAL' });
      expect(mgcOn('dc2-sql-a')?.state).toBe('RESTORING');

      // The children's approval gates were covered by the parent's.
      const child = await harness.client.workflow.getHandle(third.children[0].workflowId).result();
      expect(child.gates[0]).toMatchObject({
        gate: 'approve-mirror-failover',
        status: 'waived',
        closedBecause: expect.stringContaining('approve-mirror-log-shipping'),
      });

      expect((await result(await harness.start('setup-mirror-log-shipping'))).outcome).toBe('no-change');
    });
  });
});
