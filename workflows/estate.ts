/**
 * What runbooks need to know about the estate, derived from the topology they receive: instances by role, database
 * names, the pool target, log-shipping settings, file names. Pure (types only from topology and activities).
 */
import type { PrimarySettings, SecondarySettings } from '../activities/log-shipping';
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
export function requiredInstance(topology: Topology, kind: DatabaseKind, role: 'primary' | 'mirror' | 'backup'): Instance {
  return instanceFor(topology, kind, role)!;
}

export function poolTargetOf(topology: Topology): PoolTarget {
  return { poolControl: topology.poolControl, fqdn: topology.pool.fqdn, identity: topology.pool.identity ?? `service:${topology.pool.fqdn}` };
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
