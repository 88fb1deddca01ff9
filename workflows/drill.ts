/**
 * Runbook 6 — drill: a scheduled DR drill. Read-only towards production: skip when an incident runbook is open;
 * health (mirroring, log shipping within thresholds, Agent jobs, the share, the pool); drift between the pool's
 * view and SQL Server's; RPO now; a restore rehearsal into a scratch copy on the backup instance (timed: the
 * estimated RTO; always dropped). On a rehearsal estate it may also run the real failover and failback. Nobody
 * watches a drill: a failed step is a failed check, never a question to a person. The report goes where the
 * topology says; a failing drill notifies once and pauses its schedule.
 */
import type { EstateEvidence } from '../activities/evidence';
import type { MirroringState } from '../activities/mirroring';
import type { JobInfo, PrimaryConfiguration, SecondaryConfiguration } from '../activities/log-shipping';
import type { PoolView } from '../activities/pool-control';
import { durationMs, formatDuration } from '../topology/durations';
import type { DatabaseKind, Instance } from '../topology/schema';
import { failedChecks, type DrillCheck, type DrillFindings } from './drill-report';
import { databaseNameOf, requiredInstance, sameServers } from './estate';
import { failback, type FailbackOptions } from './failback';
import { failover, type FailoverOptions } from './failover';
import { describePartner, secondsBetween } from './gate-evidence';
import { scratchDatabaseName } from './ids';
import { reportOf, type RunbookReport } from './report';
import { Runbook, type RunbookInput } from './runbook';
import * as wf from '@temporalio/workflow';

export interface DrillOptions {
  /** Also run the real failover and failback (rehearsal estates only); default the topology's drills.rehearse. */
  rehearse?: boolean;
  /** The schedule that started this drill: it is paused when the drill fails. */
  scheduleId?: string;
}

type Rb = Runbook<DrillOptions>;

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

interface HealthFacts {
  partners: Partial<Record<DatabaseKind, { primary: MirroringState | null; mirror: MirroringState | null }>>;
  principal: { instance: Instance; state: MirroringState } | null;
  backupState: MirroringState | null;
  lsPrimary: PrimaryConfiguration | null;
  lsSecondary: SecondaryConfiguration | null;
  evidence: EstateEvidence | null;
  pool: PoolView | null;
}

const ago = (iso: string | null | undefined) =>
  iso ? `${iso} (${formatDuration(Date.now() - Date.parse(iso))} ago)` : 'never';

function objectiveCheck(name: string, title: string, value: number | null, objective: number): DrillCheck {
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
async function observe<T>(
  rb: Rb,
  spec: Parameters<Rb['act']>[0],
  onFailure: (message: string) => void,
): Promise<T | null> {
  const outcome = await rb.act({ ...spec, expect: 'any' });
  if (outcome.kind === 'done') return outcome.result.found as T;
  onFailure(outcome.kind === 'failed' ? outcome.failure.message : outcome.kind);
  return null;
}

async function health(rb: Rb, checks: DrillCheck[]): Promise<HealthFacts> {
  const { topology } = rb;
  const database = databaseNameOf(topology, 'mgc');
  const facts: HealthFacts = {
    partners: {},
    principal: null,
    backupState: null,
    lsPrimary: null,
    lsSecondary: null,
    evidence: null,
    pool: null,
  };
  const unread = (name: string, title: string, expected: string) => (message: string) => {
    checks.push({ name, group: 'health', title, passed: false, observed: `could not be read: ${message}`, expected });
  };

  // Mirroring SYNCHRONIZED and safety FULL, for each database.
  for (const kind of (['mgc', 'mgccomp'] as const).filter((candidate) => topology.databases[candidate])) {
    const name = databaseNameOf(topology, kind);
    const title = `Mirroring of ${name}`;
    const expected = 'the principal ONLINE, SYNCHRONIZED, safety FULL';
    const read = (role: 'primary' | 'mirror') => {
      const instance = requiredInstance(topology, kind, role);
      return observe<MirroringState>(
        rb,
        {
          name: 'read-mirroring',
          title: `Read ${name} on ${instance.name}`,
          target: instance.name,
          activity: 'readMirroringState',
          input: { instance, database: name },
        },
        unread(`mirroring:${name}:${role}`, `${title} (${instance.name})`, expected),
      );
    };
    const pair = { primary: await read('primary'), mirror: await read('mirror') };
    facts.partners[kind] = pair;
    const principalRole = (['primary', 'mirror'] as const).find(
      (role) => pair[role]?.role === 'PRINCIPAL' && pair[role]?.state === 'ONLINE',
    );
    const principal = principalRole ? pair[principalRole]! : null;
    checks.push({
      name: `mirroring:${name}`,
      group: 'health',
      title,
      passed: principal !== null && principal.mirroringState === 'SYNCHRONIZED' && principal.safety === 'FULL',
      observed: principal
        ? describePartner(principal)
        : [pair.primary, pair.mirror]
            .filter((state): state is MirroringState => state !== null)
            .map(describePartner)
            .join('; ') || 'no partner answered',
      expected,
    });
    if (kind === 'mgc' && principalRole)
      facts.principal = { instance: requiredInstance(topology, 'mgc', principalRole), state: principal! };
  }

  // Log shipping: backup, copy and restore within their thresholds.
  const ls = topology.logShipping;
  const shipping = facts.principal?.instance ?? requiredInstance(topology, 'mgc', 'primary');
  const backup = requiredInstance(topology, 'mgc', 'backup');
  facts.lsPrimary = await observe<PrimaryConfiguration | null>(
    rb,
    {
      name: 'read-log-shipping-primary',
      title: `Read log shipping on ${shipping.name}`,
      target: shipping.name,
      activity: 'readLogShippingPrimary',
      input: { instance: shipping, database },
    },
    unread('log-shipping:backup', 'Log-shipping backup', `a log backup within ${ls.backupAlertAfter}`),
  );
  facts.lsSecondary = await observe<SecondaryConfiguration | null>(
    rb,
    {
      name: 'read-log-shipping-secondary',
      title: `Read log shipping on ${backup.name}`,
      target: backup.name,
      activity: 'readLogShippingSecondary',
      input: { instance: backup, database },
    },
    unread('log-shipping:restore', 'Log-shipping copy and restore', `within ${ls.restoreAlertAfter}`),
  );
  const within = (name: string, title: string, at: string | null | undefined, limit: string, missing: string | null) =>
    checks.push({
      name,
      group: 'health',
      title,
      passed: missing === null && Boolean(at) && Date.now() - Date.parse(at!) <= durationMs(limit),
      observed: missing ?? `last ${ago(at)}`,
      expected: `within ${limit}`,
    });
  within(
    'log-shipping:backup',
    `Log-shipping backup on ${shipping.name}`,
    facts.lsPrimary?.lastBackupDate,
    ls.backupAlertAfter,
    facts.lsPrimary ? null : `${database} is not a log-shipping primary on ${shipping.name}`,
  );
  within(
    'log-shipping:copy',
    `Log-shipping copy on ${backup.name}`,
    facts.lsSecondary?.lastCopiedDate,
    ls.restoreAlertAfter,
    facts.lsSecondary ? null : `${database} is not a log-shipping secondary on ${backup.name}`,
  );
  within(
    'log-shipping:restore',
    `Log-shipping restore on ${backup.name}`,
    facts.lsSecondary?.lastRestoredDate,
    ls.restoreAlertAfter,
    facts.lsSecondary ? null : `${database} is not a log-shipping secondary on ${backup.name}`,
  );

  // Agent jobs enabled and last outcome success; the Agent itself running.
  const jobs: [Instance, JobInfo | null | undefined, string][] = [
    [shipping, facts.lsPrimary?.backupJob, 'backup job'],
    [backup, facts.lsSecondary?.copyJob, 'copy job'],
    [backup, facts.lsSecondary?.restoreJob, 'restore job'],
  ];
  for (const [instance, job, what] of jobs) {
    if (job === undefined) continue; // no configuration: the log-shipping checks above already failed
    checks.push({
      name: `job:${job?.name ?? what}`,
      group: 'health',
      title: `Log-shipping ${what}${job ? ` ${job.name}` : ''} on ${instance.name}`,
      passed: job !== null && job.enabled && job.lastOutcome === 'succeeded',
      observed: job
        ? `${job.enabled ? 'enabled' : 'DISABLED'}, last run ${job.lastOutcome ?? 'never'}${job.lastOutcome === 'failed' && job.lastMessage ? `: ${job.lastMessage}` : ''}`
        : 'the job does not exist',
      expected: 'enabled, last run succeeded',
    });
  }
  for (const instance of [shipping, backup]) {
    const agent = await observe<{ running: boolean; status: string | null }>(
      rb,
      {
        name: 'read-agent',
        title: `Check SQL Server Agent on ${instance.name}`,
        target: instance.name,
        activity: 'readAgentStatus',
        input: { instance },
      },
      unread(`agent:${instance.name}`, `SQL Server Agent on ${instance.name}`, 'Running'),
    );
    if (agent)
      checks.push({
        name: `agent:${instance.name}`,
        group: 'health',
        title: `SQL Server Agent on ${instance.name}`,
        passed: agent.running,
        observed: agent.status ?? 'not installed',
        expected: 'Running',
      });
  }

  // The share and the copy folder answer; the chain of log backups not yet restored is complete.
  for (const [name, folder] of [
    ['share', topology.backupShare],
    ['copy-folder', topology.copyFolder],
  ] as const) {
    const files = await observe<unknown[]>(
      rb,
      {
        name: `list-${name}`,
        title: `List ${folder.workerPath}`,
        target: folder.sqlPath,
        activity: 'listBackupFiles',
        input: { folder, database },
      },
      unread(name, `${name === 'share' ? 'Backup share' : 'Copy folder'} reachable`, 'readable by the worker'),
    );
    if (files)
      checks.push({
        name,
        group: 'health',
        title: `${name === 'share' ? 'Backup share' : 'Copy folder'} reachable`,
        passed: true,
        observed: `${folder.workerPath}: ${files.length} log backup(s)`,
        expected: 'readable by the worker',
      });
  }
  facts.evidence = await observe<EstateEvidence>(
    rb,
    {
      name: 'gather-evidence',
      title: 'Gather evidence: pending log backups, the chain, the pool',
      target: backup.name,
      activity: 'gatherEvidence',
      input: { topology, database: 'mgc' },
    },
    unread('log-chain', 'Log chain of the pending log backups', 'complete'),
  );
  if (facts.evidence) {
    const { chain } = facts.evidence;
    checks.push({
      name: 'log-chain',
      group: 'health',
      title: 'Log chain of the pending log backups',
      passed: chain.redoLsn !== null && chain.gap === null,
      observed: chain.gap
        ? `breaks before ${chain.gap.file}: the backup needs LSN ${chain.gap.expectedLsn}, the file starts at ${chain.gap.foundLsn}`
        : chain.redoLsn
          ? `${facts.evidence.pending.length} pending, complete`
          : `${database} on ${backup.name} is not restoring`,
      expected: 'complete from the backup database’s redo point',
    });
    facts.backupState = facts.evidence.partners.backup;
    facts.pool = facts.evidence.pool;
  }

  // The pool: Normal, DC1's servers active.
  if (facts.pool) {
    checks.push({
      name: 'pool-state',
      group: 'health',
      title: 'Pool state',
      passed: facts.pool.poolState === 'Normal',
      observed: facts.pool.poolState,
      expected: 'Normal',
    });
    checks.push({
      name: 'active-servers',
      group: 'health',
      title: 'Active Persistent Chat servers',
      passed: sameServers(facts.pool.activeServers, topology.pool.servers.dc1),
      observed: facts.pool.activeServers.join(', ') || 'none',
      expected: `DC1: ${topology.pool.servers.dc1.join(', ')}`,
    });
  } else {
    checks.push({
      name: 'pool-state',
      group: 'health',
      title: 'Pool state',
      passed: false,
      observed: `could not be read: ${facts.evidence?.problems.find((problem) => problem.startsWith('pool')) ?? 'no evidence'}`,
      expected: 'Normal',
    });
  }
  return facts;
}

/** Runbook 6 step 3 [beyond]: the pool, the active servers and log shipping agree with where SQL Server serves mgc. */
function drift(rb: Rb, facts: HealthFacts, checks: DrillCheck[], deviations: string[]): void {
  const { topology } = rb;
  const database = databaseNameOf(topology, 'mgc');
  const backupOnline = facts.backupState?.state === 'ONLINE';
  const servedBy = facts.principal
    ? `${facts.principal.instance.name} (DC1)`
    : backupOnline
      ? `${requiredInstance(topology, 'mgc', 'backup').name} (DC2)`
      : 'no instance';
  if (facts.pool) {
    const expectedState =
      facts.principal && !backupOnline ? 'Normal' : backupOnline && !facts.principal ? 'FailedOver' : null;
    checks.push({
      name: 'drift:pool-state',
      group: 'drift',
      title: 'Pool state agrees with SQL Server',
      passed: expectedState !== null && facts.pool.poolState === expectedState,
      observed: `pool ${facts.pool.poolState}; ${database} served by ${servedBy}${facts.principal && backupOnline ? ' and ONLINE on the backup too' : ''}`,
      expected: expectedState ? `pool ${expectedState}` : `${database} served in exactly one datacenter`,
    });
    const servingDc =
      facts.principal && !backupOnline
        ? topology.pool.servers.dc1
        : backupOnline && !facts.principal
          ? topology.pool.servers.dc2
          : null;
    checks.push({
      name: 'drift:active-servers',
      group: 'drift',
      title: 'Active servers are in the datacenter that serves mgc',
      passed:
        servingDc !== null &&
        facts.pool.activeServers.length > 0 &&
        facts.pool.activeServers.every((server) =>
          servingDc.some((candidate) => candidate.toLowerCase() === server.toLowerCase()),
        ),
      observed: `${facts.pool.activeServers.join(', ') || 'none'}; ${database} served by ${servedBy}`,
      expected: servingDc ? servingDc.join(', ') : 'one datacenter serving',
    });
  }
  if (facts.principal) {
    const secondary = facts.evidence?.partners.backup?.serverName ?? requiredInstance(topology, 'mgc', 'backup').name;
    const ships =
      facts.lsPrimary?.secondaries.some((link) => link.server.toLowerCase() === secondary.toLowerCase()) ?? false;
    checks.push({
      name: 'drift:log-shipping-primary',
      group: 'drift',
      title: 'The principal ships its log to the backup',
      passed: ships,
      observed: facts.lsPrimary
        ? `${facts.principal.instance.name} ships to ${facts.lsPrimary.secondaries.map((link) => link.server).join(', ') || 'no secondary'}`
        : `no log-shipping primary configuration on ${facts.principal.instance.name}`,
      expected: `${facts.principal.instance.name} → ${secondary}`,
    });
    if (facts.principal.instance.name !== requiredInstance(topology, 'mgc', 'primary').name) {
      deviations.push(
        `${facts.principal.instance.name} (the topology's mirror) is the principal of ${database}: fail back with mirror-failover --to primary when convenient`,
      );
    }
  }
  if (facts.lsSecondary) {
    const partners = (['primary', 'mirror'] as const).map(
      (role) => facts.partners.mgc?.[role]?.serverName ?? requiredInstance(topology, 'mgc', role).name,
    );
    checks.push({
      name: 'drift:log-shipping-secondary',
      group: 'drift',
      title: 'The backup restores from this estate’s primary',
      passed:
        partners.some((name) => name.toLowerCase() === facts.lsSecondary!.primaryServer.toLowerCase()) &&
        facts.lsSecondary.primaryDatabase.toLowerCase() === database.toLowerCase(),
      observed: `${facts.lsSecondary.database} restores ${facts.lsSecondary.primaryServer}.${facts.lsSecondary.primaryDatabase}`,
      expected: `${partners.join(' or ')}.${database}`,
    });
  }
}

/** The physical file `file` of a restore, moved beside itself under the scratch database's name. */
function scratchFile(physical: string, scratch: string): string {
  const cut = Math.max(physical.lastIndexOf('/'), physical.lastIndexOf('\\'));
  return `${physical.slice(0, cut + 1)}${scratch}_${physical.slice(cut + 1)}`;
}

/** Runbook 6 step 5: the newest full backup and every later log into a scratch copy, recovered, counted, dropped. */
async function restoreRehearsal(rb: Rb, findings: DrillFindings): Promise<void> {
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

  const full = await observe<{ file: string; backupFinish: string } | null>(
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
    const files = await observe<{ logicalName: string; physicalName: string }[]>(
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
      const listed = await observe<{ name: string; sqlPath: string }[]>(
        rb,
        {
          name: 'list-logs',
          title: `List the log backups in ${folder.workerPath}`,
          target: folder.sqlPath,
          activity: 'listBackupFiles',
          input: { folder, database },
        },
        failedWith('listing log backups'),
      );
      for (const file of listed ?? [])
        if (!logFiles.some((known) => known.endsWith(file.name))) logFiles.push(file.sqlPath);
    }
    const headers =
      files &&
      (await observe<{ type: string; file: string; firstLsn: string; lastLsn: string; backupFinish: string }[]>(
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
      target: backup.name,
      activity: 'restoreFullDatabase',
      input: { instance: backup, database: scratch, file: full.file, move, replace: false, recovery: 'NORECOVERY' },
      expect: 'any',
    });
    if (restored.kind === 'failed') return failedWith('restoring the full backup')(restored.failure.message);
    const applied = await rb.act({
      name: 'apply-scratch-logs',
      title: `Apply the log backups after it to ${scratch}`,
      target: backup.name,
      activity: 'applyPendingLogs',
      input: { instance: backup, database: scratch, logs },
      expect: 'any',
    });
    if (applied.kind === 'failed') return failedWith('applying the log backups')(applied.failure.message);
    const recovered = await rb.act({
      name: 'recover-scratch',
      title: `RESTORE DATABASE ${scratch} WITH RECOVERY`,
      target: backup.name,
      activity: 'recoverDatabase',
      input: { instance: backup, database: scratch },
      expect: 'any',
    });
    if (recovered.kind === 'failed') return failedWith('recovering the copy')(recovered.failure.message);
    const counted = await rb.act({
      name: 'count-rows',
      title: `Count the rows of ${scratch}.dbo.${topology.drills.rowCheckTable}`,
      target: backup.name,
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
        target: backup.name,
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
async function rehearseFailoverAndFailback(rb: Rb, findings: DrillFindings): Promise<void> {
  rb.setPhase('rehearsing-failover');
  const approver = rb.topology.drills.approver;
  const over = await rb.child<FailoverOptions>({
    name: 'rehearse-failover',
    title: 'Rehearse the failover to DC2 (planned, on the rehearsal estate)',
    runbook: 'failover',
    workflow: failover,
    options: { mode: 'planned' },
    rehearsalApprover: approver,
  });
  const measure = (outcome: typeof over) => (outcome.kind === 'done' ? outcome.result.figures : null);
  const overFigures = measure(over);
  findings.checks.push({
    name: 'rehearsal:failover',
    group: 'rehearsal',
    title: 'Rehearsal failover to DC2',
    passed: over.kind === 'done',
    observed: over.kind === 'failed' ? over.failure.message : `${overFigures?.workflowId} ${overFigures?.outcome}`,
    expected: 'succeeded',
  });
  if (over.kind !== 'done') return;
  rb.setPhase('rehearsing-failback');
  const back = await rb.child<FailbackOptions>({
    name: 'rehearse-failback',
    title: 'Rehearse the failback to DC1',
    runbook: 'failback',
    workflow: failback,
    options: {},
    rehearsalApprover: approver,
  });
  const backFigures = measure(back);
  findings.checks.push({
    name: 'rehearsal:failback',
    group: 'rehearsal',
    title: 'Rehearsal failback to DC1',
    passed: back.kind === 'done',
    observed: back.kind === 'failed' ? back.failure.message : `${backFigures?.workflowId} ${backFigures?.outcome}`,
    expected: 'succeeded',
  });
  findings.figures.rehearsal = {
    failover: {
      workflowId: overFigures!.workflowId,
      rtoSeconds: overFigures!.measures.rto?.seconds ?? null,
      rpoSeconds: overFigures!.measures.rpo?.seconds ?? null,
    },
    failback: {
      workflowId: backFigures?.workflowId ?? '',
      interruptionSeconds: backFigures?.measures.serviceInterruption?.seconds ?? null,
    },
  };
  findings.checks.push(
    objectiveCheck(
      'objective:rehearsal-rto',
      'Rehearsal failover RTO',
      findings.figures.rehearsal.failover.rtoSeconds,
      findings.figures.rtoObjectiveSeconds,
    ),
  );
}
