/**
 * Runbook 6 — drill: a scheduled DR drill. Read-only towards production: skip when an incident runbook is open;
 * health (mirroring, log shipping within thresholds, Agent jobs, the share, the pool); drift between the pool's
 * view and SQL Server's; RPO now; a restore rehearsal into a scratch copy on the backup instance (timed: the
 * estimated RTO; always dropped). On a rehearsal estate it may also run the real failover and failback. Nobody
 * watches a drill: a failed step is a failed check, never a question to a person. The report goes where the
 * topology says; a failing drill notifies once and pauses its schedule.
 */
import { failedChecks, type DrillCheck, type DrillFindings } from '../contracts/drill-report';
import type { DrillOptions, RunbookInput } from '../contracts/runbooks';
import { reportOf, type RunbookReport } from '../contracts/run-record';
import { durationMs } from '../topology/durations';
import { objectiveCheck, type Rb } from './drill-checks';
import { drift, health } from './drill-health';
import { rehearseFailoverAndFailback, restoreRehearsal } from './drill-rehearsal';
import { secondsBetween } from './gate-evidence';
import { Runbook } from './runbook';

export async function drill(input: RunbookInput<DrillOptions>): Promise<RunbookReport> {
  const rb: Rb = new Runbook<DrillOptions>('drill', input, { unattended: true, finalNotification: false });
  return rb.execute(async () => {
    const { topology } = rb;
    const checks: DrillCheck[] = [];
    const deviations: string[] = [];
    const findings: DrillFindings = {
      checks,
      figures: {
        rpoSeconds: null,
        rpoObjectiveSeconds: durationMs(topology.objectives.rpo) / 1000,
        estimatedRtoSeconds: null,
        rtoObjectiveSeconds: durationMs(topology.objectives.rto) / 1000,
        rowsInRehearsal: null,
      },
      trend: [],
      deviations,
      passed: false,
    };
    rb.record.drill = findings;

    // Step 1: never while an incident runbook is open on the pool.
    const incident = await rb.act({
      name: 'find-open-incident',
      title: 'Is an incident runbook open on the pool?',
      target: topology.pool.fqdn,
      activity: 'findOpenIncident',
      input: { pool: topology.pool.fqdn },
      expect: 'any',
    });
    if (incident.kind === 'done' && incident.result.found) {
      const open = incident.result.found;
      findings.skipped = `incident open: ${open.runbook ?? 'a runbook'} ${open.workflowId} (started ${open.startedAt})`;
      findings.passed = true;
      return { outcome: 'skipped', reason: findings.skipped };
    }
    let mayRehearse = incident.kind === 'done';
    if (incident.kind === 'failed')
      deviations.push(
        `could not tell whether an incident runbook is open (${incident.failure.message}): no real failover was rehearsed`,
      );

    // Step 2: health.
    rb.setPhase('health-checks');
    const facts = await health(rb, checks);
    // Step 3 [beyond]: drift between the pool's view and SQL Server's.
    rb.setPhase('drift');
    drift(rb, facts, checks, deviations);
    // Step 4: RPO now.
    findings.figures.rpoSeconds = secondsBetween(
      facts.evidence?.backupDatabase?.restoredUpTo,
      facts.lsPrimary?.lastBackupDate ?? facts.evidence?.lastLogBackup?.finishedAt,
    );
    checks.push(
      objectiveCheck(
        'objective:rpo',
        'RPO now (last restored log backup on the backup vs. the last log backup)',
        findings.figures.rpoSeconds,
        findings.figures.rpoObjectiveSeconds,
      ),
    );
    // Step 5: restore rehearsal into a scratch copy, timed.
    rb.setPhase('restore-rehearsal');
    await restoreRehearsal(rb, findings);

    // On a rehearsal estate: the real failover and failback, gates answered by the drill's approver.
    const rehearse = rb.options.rehearse ?? topology.drills.rehearse;
    if (rehearse && !topology.simulated)
      deviations.push('rehearse was asked on an estate that is not simulated: no real failover was run');
    if (rehearse && topology.simulated && mayRehearse) {
      const unhealthy = failedChecks(findings).filter((check) => check.group === 'health' || check.group === 'drift');
      mayRehearse = unhealthy.length === 0;
      if (!mayRehearse)
        deviations.push(`the real failover was not rehearsed: ${unhealthy.length} health or drift check(s) failed`);
      else await rehearseFailoverAndFailback(rb, findings);
    }

    // Step 6: the report, the trend, and people told when something is wrong.
    rb.setPhase('reporting');
    const trend = await rb.act({
      name: 'read-trend',
      title: 'Read earlier drills of the pool',
      target: topology.pool.fqdn,
      activity: 'readDrillHistory',
      input: { pool: topology.pool.fqdn, limit: topology.drills.trend, except: rb.record.workflowId },
      expect: 'any',
    });
    if (trend.kind === 'done') findings.trend = trend.result.found;
    const failed = failedChecks(findings);
    findings.passed = failed.length === 0;
    const reason = findings.passed
      ? undefined
      : `${failed.length} check(s) failed: ${failed.map((check) => `${check.title} (${check.observed})`).join('; ')}`;
    if (topology.drills.reportFolder) {
      const report = {
        ...reportOf(rb.record),
        outcome: findings.passed ? ('succeeded' as const) : ('failed' as const),
        ...(reason ? { outcomeReason: reason } : {}),
        finishedAt: rb.now(),
      };
      await rb.act({
        name: 'write-report',
        title: `Write the drill report to ${topology.drills.reportFolder}`,
        activity: 'writeDrillReport',
        input: { folder: topology.drills.reportFolder, report },
        expect: 'any',
      });
    }
    if (!findings.passed) {
      const onlyObjectives = failed.every((check) => check.group === 'objectives');
      await rb.notify({
        kind: onlyObjectives ? 'objective-missed' : 'drill-failed',
        summary: `drill ${rb.record.workflowId} on ${topology.pool.fqdn}: ${reason}`,
        failedChecks: failed.map((check) => check.name),
      });
      if (rb.options.scheduleId) {
        await rb.act({
          name: 'pause-schedule',
          title: `Pause schedule ${rb.options.scheduleId}`,
          activity: 'pauseDrillSchedule',
          input: {
            scheduleId: rb.options.scheduleId,
            note: `paused by drill ${rb.record.workflowId}: ${reason}`.slice(0, 500),
          },
          expect: 'any',
        });
      }
      return { outcome: 'failed', reason };
    }
  });
}
