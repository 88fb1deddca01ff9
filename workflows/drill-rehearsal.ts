/**
 * The drill's rehearsals (runbook 6 step 5): the newest full backup and every later log restored into a scratch
 * copy on the backup instance, recovered, counted, timed (the estimated RTO) and always dropped; and on a rehearsal
 * estate the real planned failover and failback, their gates answered for the drill.
 */
import * as wf from '@temporalio/workflow';
import type { DrillFindings } from '../contracts/drill-report';
import { databaseNameOf, requiredInstance } from '../contracts/estate';
import { scratchDatabaseName, type FailbackOptions, type FailoverOptions } from '../contracts/runbooks';
import { formatDuration } from '../topology/durations';
import { listBackups } from './step-specs';
import { objectiveCheck, observe, type Rb } from './drill-checks';
import { failback } from './failback';
import { failover } from './failover';

function scratchFile(physical: string, scratch: string): string {
  const cut = Math.max(physical.lastIndexOf('/'), physical.lastIndexOf('\\'));
  return `${physical.slice(0, cut + 1)}${scratch}_${physical.slice(cut + 1)}`;
}

/** Runbook 6 step 5: the newest full backup and every later log into a scratch copy, recovered, counted, dropped. */
export async function restoreRehearsal(rb: Rb, findings: DrillFindings): Promise<void> {
  const { topology } = rb;
  const database = databaseNameOf(topology, 'mgc');
  const backup = requiredInstance(topology, 'mgc', 'backup');
  const scratch = scratchDatabaseName(database, new Date());
  const failedWith = (title: string) => (message: string) => {
    findings.checks.push({
      name: 'rehearsal:restore',
      group: 'rehearsal',
      title: 'Restore rehearsal',
      passed: false,
      observed: `${title}: ${message}`,
      expected: 'the newest full backup and every later log restore and recover',
    });
  };

  const full = await observe(
    rb,
    {
      name: 'find-full-backup',
      title: `Find the newest full backup of ${database} on the share`,
      target: backup.name,
      activity: 'findLatestFullBackup',
      input: { instance: backup, folder: topology.backupShare, database },
    },
    failedWith('finding the full backup'),
  );
  if (full === null) {
    if (!findings.checks.some((check) => check.name === 'rehearsal:restore'))
      failedWith('finding the full backup')(`no full backup of ${database} in ${topology.backupShare.workerPath}`);
    findings.checks.push(
      objectiveCheck('objective:rto', 'Estimated RTO (restore rehearsal)', null, findings.figures.rtoObjectiveSeconds),
    );
    return;
  }
  let started: number | null = null;
  try {
    const files = await observe(
      rb,
      {
        name: 'read-file-list',
        title: `Read the files of ${full.file}`,
        target: backup.name,
        activity: 'readBackupFileList',
        input: { instance: backup, file: full.file },
      },
      failedWith('reading the backup'),
    );
    const logFiles: string[] = [];
    for (const folder of [topology.backupShare, topology.copyFolder]) {
      const listed = await observe(rb, listBackups('list-logs', folder, database), failedWith('listing log backups'));
      for (const file of listed ?? [])
        if (!logFiles.some((known) => known.endsWith(file.name))) logFiles.push(file.sqlPath);
    }
    const headers =
      files &&
      (await observe(
        rb,
        {
          name: 'read-log-headers',
          title: `Read the headers of ${logFiles.length} log backup(s)`,
          target: backup.name,
          activity: 'readBackupHeaders',
          input: { instance: backup, files: logFiles },
        },
        failedWith('reading log headers'),
      ));
    if (!files || !headers) return;
    const logs = headers
      .filter((header) => header.type === 'Log')
      .map(({ file, firstLsn, lastLsn, backupFinish }) => ({ file, firstLsn, lastLsn, backupFinish }));

    started = Date.now();
    const move = files.map((file) => ({ logicalName: file.logicalName, to: scratchFile(file.physicalName, scratch) }));
    const restored = await rb.act({
      name: 'restore-scratch',
      title: `Restore ${full.file} as ${scratch} on ${backup.name} (MOVE, NORECOVERY)`,
      activity: 'restoreFullDatabase',
      input: { instance: backup, database: scratch, file: full.file, move, replace: false, recovery: 'NORECOVERY' },
      expect: 'any',
    });
    if (restored.kind === 'failed') return failedWith('restoring the full backup')(restored.failure.message);
    const applied = await rb.act({
      name: 'apply-scratch-logs',
      title: `Apply the log backups after it to ${scratch}`,
      activity: 'applyPendingLogs',
      input: { instance: backup, database: scratch, logs },
      expect: 'any',
    });
    if (applied.kind === 'failed') return failedWith('applying the log backups')(applied.failure.message);
    const recovered = await rb.act({
      name: 'recover-scratch',
      title: `RESTORE DATABASE ${scratch} WITH RECOVERY`,
      activity: 'recoverDatabase',
      input: { instance: backup, database: scratch },
      expect: 'any',
    });
    if (recovered.kind === 'failed') return failedWith('recovering the copy')(recovered.failure.message);
    const counted = await rb.act({
      name: 'count-rows',
      title: `Count the rows of ${scratch}.dbo.${topology.drills.rowCheckTable}`,
      activity: 'countRows',
      input: { instance: backup, database: scratch, table: topology.drills.rowCheckTable },
      expect: 'any',
    });
    if (counted.kind === 'failed') return failedWith('checking the copy')(counted.failure.message);
    const seconds = (Date.now() - started) / 1000;
    const rows = counted.kind === 'done' ? counted.result.found.rows : null;
    const appliedCount = applied.kind === 'done' ? applied.result.figures.applied.length : 0;
    findings.figures.estimatedRtoSeconds = seconds;
    findings.figures.rowsInRehearsal = rows;
    findings.checks.push({
      name: 'rehearsal:restore',
      group: 'rehearsal',
      title: 'Restore rehearsal',
      passed: rows !== null,
      observed: `${full.file} and ${appliedCount} log backup(s) restored and recovered in ${formatDuration(seconds * 1000)}; ${rows} row(s) in ${topology.drills.rowCheckTable}`,
      expected: 'the newest full backup and every later log restore and recover, and the copy can be read',
    });
  } finally {
    // Always: the scratch copy must not outlive the drill, whatever failed (and even when the drill is cancelled).
    await wf.CancellationScope.nonCancellable(async () => {
      const dropped = await rb.act({
        name: 'drop-scratch',
        title: `Drop the scratch database ${scratch}`,
        activity: 'dropScratchDatabase',
        input: { instance: backup, database: scratch },
        expect: 'any',
      });
      findings.checks.push({
        name: 'rehearsal:cleanup',
        group: 'rehearsal',
        title: 'Scratch copy dropped',
        passed: dropped.kind === 'done',
        observed: dropped.kind === 'failed' ? dropped.failure.message : `${scratch} is gone`,
        expected: `${scratch} dropped`,
      });
    });
    findings.checks.push(
      objectiveCheck(
        'objective:rto',
        'Estimated RTO (restore rehearsal)',
        findings.figures.estimatedRtoSeconds,
        findings.figures.rtoObjectiveSeconds,
      ),
    );
  }
}

/** On a rehearsal estate: a planned failover to DC2 and the failback, end to end, their gates answered for the drill. */
export async function rehearseFailoverAndFailback(rb: Rb, findings: DrillFindings): Promise<void> {
  const rehearsalApprover = rb.topology.drills.approver;
  /** Runs one runbook as a child and records its check: passed when it succeeded. */
  const rehearse = async (check: string, spec: Omit<Parameters<Rb['child']>[0], 'rehearsalApprover'>) => {
    rb.setPhase(`rehearsing-${spec.runbook}`);
    const outcome = await rb.child({ ...spec, rehearsalApprover });
    const figures = outcome.kind === 'done' ? outcome.result.figures : null;
    findings.checks.push({
      name: `rehearsal:${spec.runbook}`,
      group: 'rehearsal',
      title: check,
      passed: outcome.kind === 'done',
      observed: outcome.kind === 'failed' ? outcome.failure.message : `${figures?.workflowId} ${figures?.outcome}`,
      expected: 'succeeded',
    });
    return figures;
  };
  const over = await rehearse('Rehearsal failover to DC2', {
    name: 'rehearse-failover',
    title: 'Rehearse the failover to DC2 (planned, on the rehearsal estate)',
    runbook: 'failover',
    workflow: failover,
    options: { mode: 'planned' } satisfies FailoverOptions,
  });
  if (!over) return;
  const back = await rehearse('Rehearsal failback to DC1', {
    name: 'rehearse-failback',
    title: 'Rehearse the failback to DC1',
    runbook: 'failback',
    workflow: failback,
    options: {} satisfies FailbackOptions,
  });
  findings.figures.rehearsal = {
    failover: {
      workflowId: over.workflowId,
      rtoSeconds: over.measures.rto?.seconds ?? null,
      rpoSeconds: over.measures.rpo?.seconds ?? null,
    },
    failback: {
      workflowId: back?.workflowId ?? '',
      interruptionSeconds: back?.measures.serviceInterruption?.seconds ?? null,
    },
  };
  const { rtoSeconds } = findings.figures.rehearsal.failover;
  findings.checks.push(
    objectiveCheck(
      'objective:rehearsal-rto',
      'Rehearsal failover RTO',
      rtoSeconds,
      findings.figures.rtoObjectiveSeconds,
    ),
  );
}
