/**
 * The drill's checks of the estate (runbook 6 steps 2 and 3): health — mirroring, log shipping within its
 * thresholds, Agent jobs, the share and the copy folder, the log chain, the pool — and drift between the pool's view
 * and what SQL Server says.
 */
import type { EstateEvidence } from '../activities/evidence';
import type { MirroringState } from '../activities/mirroring';
import type { DrillCheck } from '../contracts/drill-report';
import { databaseNameOf, requiredInstance, sameServers, type PoolView } from '../contracts/estate';
import type { JobInfo, PrimaryConfiguration, SecondaryConfiguration } from '../contracts/log-shipping';
import { durationMs, formatDuration } from '../topology/durations';
import type { DatabaseKind, Instance } from '../topology/schema';
import { observe, type Rb } from './drill-checks';
import { describePartner, gapLine } from './gate-evidence';
import {
  listBackups,
  readAgent,
  readDatabase,
  readPrimaryConfiguration,
  readSecondaryConfiguration,
} from './step-specs';

export interface HealthFacts {
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

export async function health(rb: Rb, checks: DrillCheck[]): Promise<HealthFacts> {
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
      return observe(
        rb,
        readDatabase('read-mirroring', instance, name),
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
  facts.lsPrimary = await observe(
    rb,
    readPrimaryConfiguration('read-log-shipping-primary', shipping, database),
    unread('log-shipping:backup', 'Log-shipping backup', `a log backup within ${ls.backupAlertAfter}`),
  );
  facts.lsSecondary = await observe(
    rb,
    readSecondaryConfiguration('read-log-shipping-secondary', backup, database),
    unread('log-shipping:restore', 'Log-shipping copy and restore', `within ${ls.restoreAlertAfter}`),
  );
  // Each stage of log shipping happened within its threshold; without a configuration, the check says so.
  const notPrimary = facts.lsPrimary ? null : `${database} is not a log-shipping primary on ${shipping.name}`;
  const notSecondary = facts.lsSecondary ? null : `${database} is not a log-shipping secondary on ${backup.name}`;
  const stages: [string, Instance, string | null | undefined, string, string | null][] = [
    ['backup', shipping, facts.lsPrimary?.lastBackupDate, ls.backupAlertAfter, notPrimary],
    ['copy', backup, facts.lsSecondary?.lastCopiedDate, ls.restoreAlertAfter, notSecondary],
    ['restore', backup, facts.lsSecondary?.lastRestoredDate, ls.restoreAlertAfter, notSecondary],
  ];
  for (const [stage, instance, at, limit, missing] of stages) {
    checks.push({
      name: `log-shipping:${stage}`,
      group: 'health',
      title: `Log-shipping ${stage} on ${instance.name}`,
      passed: missing === null && Boolean(at) && Date.now() - Date.parse(at!) <= durationMs(limit),
      observed: missing ?? `last ${ago(at)}`,
      expected: `within ${limit}`,
    });
  }

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
    const agent = await observe(
      rb,
      readAgent(instance),
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
    const files = await observe(
      rb,
      listBackups(`list-${name}`, folder, database),
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
  facts.evidence = await observe(
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
        ? gapLine(chain.gap)
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

export function drift(rb: Rb, facts: HealthFacts, checks: DrillCheck[], deviations: string[]): void {
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
