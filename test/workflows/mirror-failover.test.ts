/**
 * Runbook 1 end to end on the dev server, a real worker and the simulated estate: planned failover and back,
 * forced service with the principal stopped, and "already there".
 */
import { afterEach, describe, expect, it } from 'vitest';
import { recordHistory } from '../helpers/histories';
import { approve, gateOpen, result, runbookHarness, stepOf, type RunbookHarness } from '../helpers/runbooks';

let harness: RunbookHarness;
afterEach(async () => harness?.close());

function mgcOn(instance: string) {
  return harness.env.estate
    .snapshot()
    .instances.find((candidate) => candidate.name === instance)!
    .databases.find((database) => database.name === 'mgc')!;
}

describe('mirror-failover', () => {
  it('fails mgc over to the mirror after approval, and back to the primary', async () => {
    harness = await runbookHarness({ label: 'mirror-failover' });
    await harness.withWorker(async () => {
      const handle = await harness.start('mirror-failover', { to: 'mirror' });
      const gate = await gateOpen(handle, 'approve-mirror-failover');
      expect(gate.evidence?.summary.join('\n')).toMatch(
        /dc1-sql-a: mgc ONLINE \(PRINCIPAL, SYNCHRONIZED, safety FULL\)/,
      );
      expect(mgcOn('dc1-sql-a').mirroring?.role).toBe('PRINCIPAL');
      expect(await approve(handle, 'approve-mirror-failover', 'bob', { comment: 'planned maintenance' })).toMatchObject(
        { counted: true, gateStatus: 'approved' },
      );
      const report = await result(handle);
      await recordHistory(handle, 'mirror-failover-planned');
      expect(report.outcome).toBe('succeeded');
      expect(stepOf(report, 'planned-failover')).toMatchObject({ status: 'acted', target: 'dc1-sql-a' });
      expect(report.gates[0]).toMatchObject({
        gate: 'approve-mirror-failover',
        status: 'approved',
        approvals: [{ by: 'bob', comment: 'planned maintenance' }],
      });
      expect(mgcOn('dc1-sql-b')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
      expect(mgcOn('dc1-sql-a')).toMatchObject({ state: 'RESTORING', mirroring: { role: 'MIRROR' } });

      const back = await harness.start('mirror-failover', { to: 'primary' });
      await gateOpen(back, 'approve-mirror-failover');
      await approve(back, 'approve-mirror-failover', 'alice');
      expect((await result(back)).outcome).toBe('succeeded');
      expect(mgcOn('dc1-sql-a')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
    });
  });

  it('reports no change when the target already is the principal', async () => {
    harness = await runbookHarness({ label: 'mirror-noop' });
    await harness.withWorker(async () => {
      const report = await result(await harness.start('mirror-failover', { to: 'primary' }));
      expect(report.outcome).toBe('no-change');
      expect(report.gates).toEqual([]);
      expect(report.steps.map((step) => step.status)).toEqual(['observed', 'observed', 'observed']);
      expect(report.steps[0]).toMatchObject({ name: 'load-estate', target: harness.env.topology.pool.fqdn });
    });
  });

  it('forces service on the mirror when the principal is down, only after two people accept the data loss', async () => {
    harness = await runbookHarness({ label: 'mirror-forced' });
    await harness.env.estate.stopInstance('dc1-sql-a');
    await harness.withWorker(async () => {
      const handle = await harness.start('mirror-failover', { to: 'mirror' });
      const gate = await gateOpen(handle, 'accept-data-loss');
      expect(gate).toMatchObject({ required: 2, twoPersonRule: true });
      expect(gate.evidence?.summary.join('\n')).toMatch(/dc1-sql-a: unreachable/);
      expect(mgcOn('dc1-sql-b').state).toBe('RESTORING');
      expect(await approve(handle, 'accept-data-loss', 'alice')).toMatchObject({
        gateStatus: 'open',
        approvals: 1,
        required: 2,
      });
      expect(mgcOn('dc1-sql-b').state).toBe('RESTORING');
      await approve(handle, 'accept-data-loss', 'bob');
      const report = await result(handle);
      await recordHistory(handle, 'mirror-failover-forced');
      expect(report.outcome).toBe('succeeded');
      expect(stepOf(report, 'force-service').status).toBe('acted');
      expect(mgcOn('dc1-sql-b')).toMatchObject({ state: 'ONLINE', mirroring: { role: 'PRINCIPAL' } });
    });
  });
});
