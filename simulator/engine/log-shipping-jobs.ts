/**
 * What the log-shipping Agent jobs run: sqllogship.exe's backup, copy and restore, on real files in the backup share
 * and the copy folder, with the monitor tables and history kept current. The backup job on a database that is
 * currently a mirror logs a skip and succeeds.
 */
import { copyFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { backupLog, restoreLog, type Actor } from './backup-restore';
import { readBackupFile } from './backup-file';
import { SqlError } from './errors';
import type { SqlInstance } from './instance';
import { AGENT_TYPE, type AgentType } from './log-shipping-tables';
import { sameText } from './msdb';

const AGENT: Actor = { userName: 'NT SERVICE\\SQLSERVERAGENT' };

export interface CommandOutcome {
  succeeded: boolean;
  message: string;
}

/** Runs an Agent CmdExec step. The simulator understands sqllogship.exe -Backup|-Copy|-Restore <id> -server <name>. */
export async function runLogShippingCommand(instance: SqlInstance, command: string): Promise<CommandOutcome> {
  const match = /sqllogship(?:\.exe)?"?\s+-(backup|copy|restore)\s+([0-9A-Fa-f-]{36})/i.exec(command);
  if (!match)
    return { succeeded: false, message: `The pchat-dr simulator cannot run this job step command: ${command}` };
  const kind = match[1].toLowerCase() as keyof typeof AGENT_TYPE;
  const id = match[2].toUpperCase();
  const log = new SessionLog(instance, id, AGENT_TYPE[kind]);
  try {
    if (kind === 'backup') backupJob(instance, id, log);
    else if (kind === 'copy') copyJob(instance, id, log);
    else restoreJob(instance, id, log);
    log.finish(true);
    return { succeeded: true, message: log.summary() };
  } catch (err) {
    const message = err instanceof SqlError ? `Error ${err.number}: ${err.message}` : (err as Error).message;
    log.error(message);
    log.finish(false);
    return { succeeded: false, message: log.summary() };
  } finally {
    instance.changed();
  }
}

/** One sqllogship session's rows in log_shipping_monitor_history_detail / _error_detail. */
class SessionLog {
  private readonly sessionId: number;
  private readonly lines: string[] = [];
  private errorSequence = 0;
  database = '';

  constructor(
    private readonly instance: SqlInstance,
    private readonly agentId: string,
    private readonly agentType: AgentType,
  ) {
    this.sessionId = instance.msdb.nextId(`ls_session_${agentType}`);
    this.history(
      0,
      `Starting ${['transaction log backup', 'transaction log copy', 'transaction log restore'][agentType]}. Agent ID: ${agentId}.`,
    );
  }

  info(message: string): void {
    this.history(1, message);
  }

  error(message: string): void {
    const now = new Date();
    this.instance.msdb.insert('log_shipping_monitor_error_detail', {
      agent_id: this.agentId,
      agent_type: this.agentType,
      session_id: this.sessionId,
      database_name: this.database,
      sequence_number: ++this.errorSequence,
      log_time: now,
      log_time_utc: now,
      message,
      source: 'Microsoft.SqlServer.Management.LogShipping',
    });
    this.lines.push(message);
  }

  finish(succeeded: boolean): void {
    this.history(
      succeeded ? 2 : 3,
      succeeded ? 'Operation completed successfully.' : 'Operation failed; see log_shipping_monitor_error_detail.',
    );
  }

  summary(): string {
    return this.lines.join(' ');
  }

  private history(status: number, message: string): void {
    const now = new Date();
    this.instance.msdb.insert('log_shipping_monitor_history_detail', {
      agent_id: this.agentId,
      agent_type: this.agentType,
      session_id: this.sessionId,
      database_name: this.database,
      session_status: status,
      log_time: now,
      log_time_utc: now,
      message,
    });
    if (status === 1 || status === 3) this.lines.push(message);
  }
}

/** <db>_yyyymmddhhmmss.trn in UTC, as sqllogship names log backups (one second later if the name is taken). */
function backupFileName(directory: string, database: string): string {
  for (let time = Date.now(); ; time += 1000) {
    const stamp = new Date(time).toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const file = path.join(directory, `${database}_${stamp}.trn`);
    try {
      statSync(file);
    } catch {
      return file;
    }
  }
}

function logFilesOf(directory: string, database: string): string[] {
  const pattern = new RegExp(`^${database.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d{14}\\.trn$`, 'i');
  return readdirSync(directory)
    .filter((name) => pattern.test(name))
    .sort();
}

function deleteOlderThan(directory: string, database: string, minutes: number, log: SessionLog): void {
  const limit = Date.now() - minutes * 60_000;
  const old = logFilesOf(directory, database).filter((name) => statSync(path.join(directory, name)).mtimeMs < limit);
  for (const name of old) rmSync(path.join(directory, name), { force: true });
  if (old.length > 0) log.info(`Deleted ${old.length} old log backup file(s) from '${directory}'.`);
}

function backupJob(instance: SqlInstance, primaryId: string, log: SessionLog): void {
  const primary = instance.msdb.find('log_shipping_primary_databases', (row) => row.primary_id === primaryId);
  if (!primary) throw new Error(`Log shipping primary ${primaryId} is not configured on ${instance.serverName}.`);
  const name = String(primary.primary_database);
  log.database = name;
  const database = instance.requireDatabase(name);
  if (database.isMirror) {
    // Microsoft: the mirror's backup job logs a message and reports success, so no alert fires.
    log.info(
      `Skipping log backup for primary database '${name}' because this database is the mirror database in a database mirroring session.`,
    );
    return;
  }
  const directory = String(primary.backup_directory);
  const file = backupFileName(directory, name);
  backupLog(instance, name, file, { init: true, compression: primary.backup_compression === 1 }, AGENT);
  const now = new Date();
  Object.assign(primary, { last_backup_file: file, last_backup_date: now });
  const monitor = instance.msdb.find('log_shipping_monitor_primary', (row) => row.primary_id === primaryId);
  if (monitor) Object.assign(monitor, { last_backup_file: file, last_backup_date: now, last_backup_date_utc: now });
  log.info(`Backed up log of database '${name}' to file '${file}'.`);
  deleteOlderThan(directory, name, Number(primary.backup_retention_period), log);
}

function copyJob(instance: SqlInstance, secondaryId: string, log: SessionLog): void {
  const secondary = instance.msdb.find('log_shipping_secondary', (row) => row.secondary_id === secondaryId);
  if (!secondary) throw new Error(`Log shipping secondary ${secondaryId} is not configured on ${instance.serverName}.`);
  const database = String(secondary.primary_database);
  const source = String(secondary.backup_source_directory);
  const destination = String(secondary.backup_destination_directory);
  const lastCopied = secondary.last_copied_file ? path.basename(String(secondary.last_copied_file)) : '';
  let candidates: string[];
  try {
    candidates = logFilesOf(source, database).filter((name) => name > lastCopied);
  } catch (err) {
    throw new Error(`Could not access the backup source directory '${source}': ${(err as Error).message}`);
  }
  for (const name of candidates) {
    const target = path.join(destination, name);
    // Copy beside and rename, so the restore job never reads half a file.
    const partial = `${target}.copying`;
    copyFileSync(path.join(source, name), partial);
    renameSync(partial, target);
    const now = new Date();
    Object.assign(secondary, { last_copied_file: target, last_copied_date: now });
    const monitor = instance.msdb.find('log_shipping_monitor_secondary', (row) => row.secondary_id === secondaryId);
    if (monitor) Object.assign(monitor, { last_copied_file: target, last_copied_date: now, last_copied_date_utc: now });
    log.info(`Copied log backup file '${path.join(source, name)}' to '${target}'.`);
  }
  deleteOlderThan(destination, database, Number(secondary.file_retention_period), log);
}

function restoreJob(instance: SqlInstance, secondaryId: string, log: SessionLog): void {
  const secondary = instance.msdb.find('log_shipping_secondary', (row) => row.secondary_id === secondaryId);
  if (!secondary) throw new Error(`Log shipping secondary ${secondaryId} is not configured on ${instance.serverName}.`);
  const destination = String(secondary.backup_destination_directory);
  for (const entry of instance.msdb
    .rows('log_shipping_secondary_databases')
    .filter((row) => row.secondary_id === secondaryId)) {
    const name = String(entry.secondary_database);
    log.database = name;
    const database = instance.requireDatabase(name);
    const delayMs = Number(entry.restore_delay ?? 0) * 60_000;
    for (const file of logFilesOf(destination, String(secondary.primary_database))) {
      const device = path.join(destination, file);
      const header = readBackupFile(device)[0].header;
      if (BigInt(header.LastLSN) <= database.nextLsn) continue; // already applied
      if (new Date(header.BackupFinishDate).getTime() + delayMs > Date.now()) break; // restore delay not yet over
      restoreLog(instance, name, device, { recovery: entry.restore_mode ? 'STANDBY' : 'NORECOVERY' }, AGENT);
      const now = new Date();
      const latency = Math.max(0, Math.round((now.getTime() - new Date(header.BackupFinishDate).getTime()) / 60_000));
      Object.assign(entry, { last_restored_file: device, last_restored_date: now });
      const monitor = instance.msdb.find('log_shipping_monitor_secondary', (row) =>
        sameText(row.secondary_database, name),
      );
      if (monitor)
        Object.assign(monitor, {
          last_restored_file: device,
          last_restored_date: now,
          last_restored_date_utc: now,
          last_restored_latency: latency,
        });
      log.info(`Restored log backup file '${device}' to database '${name}'.`);
      if (!entry.restore_all) break;
    }
  }
}
