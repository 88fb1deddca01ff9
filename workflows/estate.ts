/**
 * What runbooks need to know about the estate, derived from the topology they receive: instances by role, database
 * names, the pool target, log-shipping settings, file names. Pure (types only from topology and activities).
 */
import type {
  PrimaryConfiguration,
  PrimarySettings,
  SecondaryConfiguration,
  SecondarySettings,
} from '../activities/log-shipping';
import type { PoolTarget } from '../activities/pool-control';
import { durationMs } from '../topology/durations';
import type { DatabaseKind, DatabaseRoles, Instance, Role, Topology } from '../topology/schema';

export function rolesOf(topology: Topology, kind: DatabaseKind): DatabaseRoles {
  const roles = topology.databases[kind];
  if (!roles) throw new TypeError(`the topology describes no ${kind} database`);
  return roles;
}

export function databaseNameOf(topology: Topology, kind: DatabaseKind): string {
  return rolesOf(topology, kind).name ?? kind;
}

export function instanceFor(topology: Topology, kind: DatabaseKind, role: Role): Instance | undefined {
  const name = rolesOf(topology, kind)[role];
  return name ? topology.instances.find((instance) => instance.name === name) : undefined;
}

/** Like instanceFor, for roles every topology has (primary, mirror, backup). */
export function requiredInstance(
  topology: Topology,
  kind: DatabaseKind,
  role: 'primary' | 'mirror' | 'backup',
): Instance {
  return instanceFor(topology, kind, role)!;
}

export function poolTargetOf(topology: Topology): PoolTarget {
  return {
    poolControl: topology.poolControl,
    fqdn: topology.pool.fqdn,
    identity: topology.pool.identity ?? `service:${topology.pool.fqdn}`,
  };
}

/** Two lists of server FQDNs name the same servers (in any order, any case). */
export function sameServers(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((server) => b.some((other) => other.toLowerCase() === server.toLowerCase()));
}

const minutes = (duration: string) => Math.max(1, Math.round(durationMs(duration) / 60_000));
const seconds = (duration: string) => Math.round(durationMs(duration) / 1000);

/** Runbook 2 step 2: the primary's settings, from the topology's logShipping and backupShare sections. */
export function primarySettingsOf(topology: Topology, kind: DatabaseKind): PrimarySettings {
  const ls = topology.logShipping;
  const database = databaseNameOf(topology, kind);
  return {
    backupDirectory: topology.backupShare.localPath ?? topology.backupShare.sqlPath,
    backupShare: topology.backupShare.sqlPath,
    retentionMinutes: minutes(ls.deleteFilesOlderThan),
    backupThresholdMinutes: minutes(ls.backupAlertAfter),
    compression: ls.compression,
    jobName: `LSBackup_${database}`,
    scheduleSeconds: seconds(ls.backupEvery),
  };
}

/** Runbook 2 step 4: the secondary's settings (restore delay and thresholds from the topology). */
export function secondarySettingsOf(topology: Topology, kind: DatabaseKind, primaryServer: string): SecondarySettings {
  const ls = topology.logShipping;
  const database = databaseNameOf(topology, kind);
  return {
    primaryServer,
    primaryDatabase: database,
    sourceDirectory: topology.backupShare.sqlPath,
    destinationDirectory: topology.copyFolder.sqlPath,
    retentionMinutes: minutes(ls.deleteFilesOlderThan),
    copyJobName: `LSCopy_${primaryServer}_${database}`,
    restoreJobName: `LSRestore_${primaryServer}_${database}`,
    copyScheduleSeconds: seconds(ls.copyEvery),
    restoreScheduleSeconds: seconds(ls.restoreEvery),
    restoreDelayMinutes: Math.round(durationMs(ls.restoreDelay) / 60_000),
    restoreThresholdMinutes: minutes(ls.restoreAlertAfter),
  };
}

/** yyyymmddhhmmss (UTC), for file names the runbooks choose: sortable, and matching log shipping's naming. */
export function timestampOf(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** A planned failover's tail-log backup: named like log shipping's backups, so it is copied and applied with them. */
export function tailLogBackupName(database: string, at: Date): string {
  return `${database}_${timestampOf(at)}_tail.trn`;
}

/** Settings that differ between what is configured and what is asked, as "field: configured → asked". */
function differences(configured: Record<string, unknown>, asked: Record<string, unknown>): string[] {
  return Object.keys(asked)
    .filter((key) => String(configured[key]).toLowerCase() !== String(asked[key]).toLowerCase())
    .map((key) => `${key}: ${String(configured[key])} → ${String(asked[key])}`);
}

/**
 * How a primary's log-shipping configuration differs from the settings asked. Shared by the runbooks' preflight
 * and the activities that configure it, so both judge "the same configuration" alike.
 */
export function primaryDifferences(configured: PrimaryConfiguration, asked: PrimarySettings): string[] {
  const { backupDirectory, backupShare, retentionMinutes, backupThresholdMinutes, compression } = configured;
  const jobName = configured.backupJob?.name;
  const scheduleSeconds = configured.backupJob?.scheduleSeconds ?? asked.scheduleSeconds;
  return differences(
    { backupDirectory, backupShare, retentionMinutes, backupThresholdMinutes, compression, jobName, scheduleSeconds },
    { ...asked },
  );
}

/** How a secondary's configuration differs in what matters for restoring (the partner, the folders, the delay). */
export function secondaryDifferences(configured: SecondaryConfiguration, asked: SecondarySettings): string[] {
  const pick = (from: SecondaryConfiguration | SecondarySettings) => ({
    primaryServer: from.primaryServer,
    primaryDatabase: from.primaryDatabase,
    sourceDirectory: from.sourceDirectory,
    destinationDirectory: from.destinationDirectory,
    restoreDelayMinutes: from.restoreDelayMinutes,
  });
  return differences(pick(configured), pick(asked));
}
