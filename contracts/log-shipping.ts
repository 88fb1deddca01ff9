/**
 * Log shipping as runbooks, steps and clients share it: the settings a runbook asks for (derived from the topology),
 * the configuration a step reads from msdb, how the two differ, the logs waiting to be applied, and the one rule for
 * the names of the backup files the runbooks and log shipping write. Pure.
 */
import { durationMs } from '../topology/durations';
import type { DatabaseKind, Topology } from '../topology/schema';
import { databaseNameOf } from './estate';

export interface JobInfo {
  id: string;
  name: string;
  enabled: boolean;
  /** The interval of its enabled schedule, in seconds; null when no schedule is attached. */
  scheduleSeconds: number | null;
  running: boolean;
  lastOutcome: 'succeeded' | 'failed' | null;
  lastRunAt: string | null;
  lastMessage: string | null;
}

export interface PrimaryConfiguration {
  primaryId: string;
  database: string;
  backupDirectory: string;
  backupShare: string;
  retentionMinutes: number;
  backupThresholdMinutes: number;
  compression: 'default' | 'on' | 'off';
  lastBackupFile: string | null;
  lastBackupDate: string | null;
  secondaries: { server: string; database: string }[];
  backupJob: JobInfo | null;
}

export interface SecondaryConfiguration {
  secondaryId: string;
  database: string;
  primaryServer: string;
  primaryDatabase: string;
  sourceDirectory: string;
  destinationDirectory: string;
  retentionMinutes: number;
  restoreDelayMinutes: number;
  restoreMode: 'NORECOVERY' | 'STANDBY';
  restoreThresholdMinutes: number | null;
  lastCopiedFile: string | null;
  lastCopiedDate: string | null;
  lastRestoredFile: string | null;
  lastRestoredDate: string | null;
  lastRestoredLatencyMinutes: number | null;
  copyJob: JobInfo | null;
  restoreJob: JobInfo | null;
}

/** The settings runbook 2 gives the primary; runbook 3 copies them to the mirror unchanged. */
export interface PrimarySettings {
  backupDirectory: string;
  backupShare: string;
  retentionMinutes: number;
  backupThresholdMinutes: number;
  compression: 'default' | 'on' | 'off';
  jobName: string;
  scheduleSeconds: number;
}

export interface SecondarySettings {
  primaryServer: string;
  primaryDatabase: string;
  sourceDirectory: string;
  destinationDirectory: string;
  retentionMinutes: number;
  copyJobName: string;
  restoreJobName: string;
  copyScheduleSeconds: number;
  restoreScheduleSeconds: number;
  restoreDelayMinutes: number;
  restoreThresholdMinutes: number;
}

/** A log backup waiting to be applied, with its exact LSN range (decimal strings: numeric(25,0) overflows a double). */
export interface PendingLog {
  file: string;
  firstLsn: string;
  lastLsn: string;
  backupFinish: string;
}

// ------------------------------------------------------------------------------------------------ settings

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

// ------------------------------------------------------------------------------------------------ backup file names

/** yyyymmddhhmmss (UTC): sqllogship's time stamp in file names; sortable. */
export function timestampOf(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The name sqllogship gives a log backup taken at `at`: <database>_yyyymmddhhmmss.trn. */
export function logBackupName(database: string, at: Date): string {
  return `${database}_${timestampOf(at)}.trn`;
}

/**
 * A planned failover's tail-log backup: <database>_yyyymmddhhmmss_tail.trn. Named like log shipping's backups, so
 * it is listed, copied and applied with them; its own suffix, so it never replaces a log backup taken in the same
 * second, and it sorts after it.
 */
export function tailLogBackupName(database: string, at: Date): string {
  return `${database}_${timestampOf(at)}_tail.trn`;
}

/** The time a log backup's name is stamped with (UTC, to the second) and whether it is a tail; null for no stamp. */
export function logBackupStamp(file: string): { at: number; tail: boolean } | null {
  const name = file.split(/[\\/]/).pop() ?? '';
  const stamp = /_(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(_tail)?\.trn$/i.exec(name);
  if (!stamp) return null;
  const [, year, month, day, hour, minute, second, tail] = stamp;
  const at = Date.parse(`${year}-${month}-${day}T${hour}:${minute}:${second}Z`);
  return Number.isNaN(at) ? null : { at, tail: !!tail };
}

/**
 * When to stamp a planned failover's tail-log backup: now, or — when a log backup of the chain (the newest seen, the
 * last one backed up, copied or restored) is stamped later (the SQL Server host's clock ahead of the worker's) — that
 * stamp, or a second after it for a tail. The tail must sort after all of them: log shipping and the evidence take the
 * files after the last restored one by name, and miss one by name.
 */
export function tailLogBackupTime(now: Date, chain: (string | null | undefined)[]): Date {
  const stamps = chain.map((file) => (file ? logBackupStamp(file) : null));
  return new Date(Math.max(now.getTime(), ...stamps.map((stamp) => (stamp ? stamp.at + (stamp.tail ? 1_000 : 0) : 0))));
}

/** A log backup of `database` as log shipping or a planned failover names it. */
export function isLogBackupOf(name: string, database: string): boolean {
  return new RegExp(`^${database}_\\d{14}(_tail)?\\.trn$`, 'i').test(name);
}

/**
 * A full backup a runbook takes: <database>_<purpose>_yyyymmddhhmmss.bak. The purpose keeps it apart from log
 * shipping's files, which it never matches (isLogBackupOf), and says why it exists.
 */
export function fullBackupName(
  database: string,
  purpose: 'logshipping_seed' | 'failback' | 'diverged',
  at: Date,
): string {
  return `${database}_${purpose}_${timestampOf(at)}.bak`;
}
