/**
 * The msdb tables of one instance: backup and restore history, the log-shipping tables, SQL Server Agent's jobs,
 * steps, schedules, history, sessions and activity. Column lists follow SQL Server's documentation of these tables
 * (the columns DR tooling reads); rows are plain objects keyed by column name, so SELECT can read them directly.
 */
import type { Column, SqlValue } from '../tds/session';
import { BIT, DATETIME, GUID, INT, LSN, nvarchar, NVARCHAR_128 } from './values';

export type Row = Record<string, SqlValue>;

/** Whether a msdb value is this name, compared as the server's case-insensitive collation compares names. */
export function sameText(value: SqlValue, text: string | null): boolean {
  return text !== null && typeof value === 'string' && value.toLowerCase() === text.toLowerCase();
}

const TINYINT = { kind: 'tinyint' } as const;
const CHAR1 = { kind: 'varchar', length: 1 } as const;
const NUMERIC20 = { kind: 'numeric', precision: 20, scale: 0 } as const;

const column = (name: string, type: Column['type']): Column => ({ name, type });

export const MSDB_TABLES = {
  backupset: [
    column('backup_set_id', INT),
    column('backup_set_uuid', GUID),
    column('media_set_id', INT),
    column('position', INT),
    column('name', NVARCHAR_128),
    column('description', nvarchar(255)),
    column('user_name', NVARCHAR_128),
    column('software_major_version', TINYINT),
    column('first_lsn', LSN),
    column('last_lsn', LSN),
    column('checkpoint_lsn', LSN),
    column('database_backup_lsn', LSN),
    column('database_creation_date', DATETIME),
    column('backup_start_date', DATETIME),
    column('backup_finish_date', DATETIME),
    column('type', CHAR1),
    column('backup_size', NUMERIC20),
    column('database_name', NVARCHAR_128),
    column('server_name', NVARCHAR_128),
    column('machine_name', NVARCHAR_128),
    column('recovery_model', nvarchar(60)),
    column('has_backup_checksums', BIT),
    column('is_damaged', BIT),
    column('begins_log_chain', BIT),
    column('is_force_offline', BIT),
    column('is_copy_only', BIT),
    column('first_recovery_fork_guid', GUID),
    column('last_recovery_fork_guid', GUID),
    column('fork_point_lsn', LSN),
    column('database_guid', GUID),
    column('family_guid', GUID),
    column('compressed_backup_size', NUMERIC20),
  ],
  backupmediafamily: [
    column('media_set_id', INT),
    column('family_sequence_number', TINYINT),
    column('media_family_id', GUID),
    column('media_count', INT),
    column('logical_device_name', NVARCHAR_128),
    column('physical_device_name', nvarchar(260)),
    column('device_type', TINYINT),
    column('physical_block_size', INT),
    column('mirror', TINYINT),
  ],
  restorehistory: [
    column('restore_history_id', INT),
    column('restore_date', DATETIME),
    column('destination_database_name', NVARCHAR_128),
    column('user_name', NVARCHAR_128),
    column('backup_set_id', INT),
    column('restore_type', CHAR1),
    column('replace', BIT),
    column('recovery', BIT),
    column('restart', BIT),
    column('stop_at', DATETIME),
    column('device_count', TINYINT),
    column('stop_at_mark_name', NVARCHAR_128),
    column('stop_before', BIT),
  ],
  log_shipping_primary_databases: [
    column('primary_id', GUID),
    column('primary_database', NVARCHAR_128),
    column('backup_directory', nvarchar(500)),
    column('backup_share', nvarchar(500)),
    column('backup_retention_period', INT),
    column('backup_job_id', GUID),
    column('monitor_server', NVARCHAR_128),
    column('monitor_server_security_mode', BIT),
    column('last_backup_file', nvarchar(500)),
    column('last_backup_date', DATETIME),
    column('user_specified_monitor', BIT),
    column('backup_compression', TINYINT),
  ],
  log_shipping_primary_secondaries: [
    column('primary_id', GUID),
    column('secondary_server', NVARCHAR_128),
    column('secondary_database', NVARCHAR_128),
  ],
  log_shipping_secondary: [
    column('secondary_id', GUID),
    column('primary_server', NVARCHAR_128),
    column('primary_database', NVARCHAR_128),
    column('backup_source_directory', nvarchar(500)),
    column('backup_destination_directory', nvarchar(500)),
    column('file_retention_period', INT),
    column('copy_job_id', GUID),
    column('restore_job_id', GUID),
    column('monitor_server', NVARCHAR_128),
    column('monitor_server_security_mode', BIT),
    column('last_copied_file', nvarchar(500)),
    column('last_copied_date', DATETIME),
    column('user_specified_monitor', BIT),
  ],
  log_shipping_secondary_databases: [
    column('secondary_database', NVARCHAR_128),
    column('secondary_id', GUID),
    column('restore_delay', INT),
    column('restore_all', BIT),
    column('restore_mode', BIT),
    column('disconnect_users', BIT),
    column('block_size', INT),
    column('buffer_count', INT),
    column('max_transfer_size', INT),
    column('last_restored_file', nvarchar(500)),
    column('last_restored_date', DATETIME),
  ],
  log_shipping_monitor_primary: [
    column('primary_id', GUID),
    column('primary_server', NVARCHAR_128),
    column('primary_database', NVARCHAR_128),
    column('backup_threshold', INT),
    column('threshold_alert', INT),
    column('threshold_alert_enabled', BIT),
    column('last_backup_file', nvarchar(500)),
    column('last_backup_date', DATETIME),
    column('last_backup_date_utc', DATETIME),
    column('history_retention_period', INT),
  ],
  log_shipping_monitor_secondary: [
    column('secondary_server', NVARCHAR_128),
    column('secondary_database', NVARCHAR_128),
    column('secondary_id', GUID),
    column('primary_server', NVARCHAR_128),
    column('primary_database', NVARCHAR_128),
    column('restore_threshold', INT),
    column('threshold_alert', INT),
    column('threshold_alert_enabled', BIT),
    column('last_copied_file', nvarchar(500)),
    column('last_copied_date', DATETIME),
    column('last_copied_date_utc', DATETIME),
    column('last_restored_file', nvarchar(500)),
    column('last_restored_date', DATETIME),
    column('last_restored_date_utc', DATETIME),
    column('last_restored_latency', INT),
    column('history_retention_period', INT),
  ],
  log_shipping_monitor_history_detail: [
    column('agent_id', GUID),
    column('agent_type', TINYINT),
    column('session_id', INT),
    column('database_name', NVARCHAR_128),
    column('session_status', TINYINT),
    column('log_time', DATETIME),
    column('log_time_utc', DATETIME),
    column('message', nvarchar('max')),
  ],
  log_shipping_monitor_error_detail: [
    column('agent_id', GUID),
    column('agent_type', TINYINT),
    column('session_id', INT),
    column('database_name', NVARCHAR_128),
    column('sequence_number', INT),
    column('log_time', DATETIME),
    column('log_time_utc', DATETIME),
    column('message', nvarchar('max')),
    column('source', nvarchar(4000)),
    column('help_url', nvarchar(4000)),
  ],
  sysjobs: [
    column('job_id', GUID),
    column('originating_server_id', INT),
    column('name', NVARCHAR_128),
    column('enabled', TINYINT),
    column('description', nvarchar(512)),
    column('category_id', INT),
    column('owner_sid', { kind: 'varbinary', length: 85 }),
    column('date_created', DATETIME),
    column('date_modified', DATETIME),
    column('version_number', INT),
  ],
  sysjobsteps: [
    column('job_id', GUID),
    column('step_id', INT),
    column('step_name', NVARCHAR_128),
    column('subsystem', nvarchar(40)),
    column('command', nvarchar('max')),
    column('database_name', NVARCHAR_128),
    column('last_run_outcome', INT),
    column('last_run_date', INT),
    column('last_run_time', INT),
    column('last_run_duration', INT),
  ],
  sysjobhistory: [
    column('instance_id', INT),
    column('job_id', GUID),
    column('step_id', INT),
    column('step_name', NVARCHAR_128),
    column('sql_message_id', INT),
    column('sql_severity', INT),
    column('message', nvarchar(4000)),
    column('run_status', INT),
    column('run_date', INT),
    column('run_time', INT),
    column('run_duration', INT),
    column('server', NVARCHAR_128),
  ],
  sysjobactivity: [
    column('session_id', INT),
    column('job_id', GUID),
    column('run_requested_date', DATETIME),
    column('run_requested_source', nvarchar(128)),
    column('queued_date', DATETIME),
    column('start_execution_date', DATETIME),
    column('last_executed_step_id', INT),
    column('last_executed_step_date', DATETIME),
    column('stop_execution_date', DATETIME),
    column('job_history_id', INT),
    column('next_scheduled_run_date', DATETIME),
  ],
  syssessions: [column('session_id', INT), column('agent_start_date', DATETIME)],
  sysschedules: [
    column('schedule_id', INT),
    column('schedule_uid', GUID),
    column('name', NVARCHAR_128),
    column('enabled', INT),
    column('freq_type', INT),
    column('freq_interval', INT),
    column('freq_subday_type', INT),
    column('freq_subday_interval', INT),
    column('freq_relative_interval', INT),
    column('freq_recurrence_factor', INT),
    column('active_start_date', INT),
    column('active_end_date', INT),
    column('active_start_time', INT),
    column('active_end_time', INT),
    column('date_created', DATETIME),
  ],
  sysjobschedules: [
    column('schedule_id', INT),
    column('job_id', GUID),
    column('next_run_date', INT),
    column('next_run_time', INT),
  ],
} satisfies Record<string, Column[]>;

export type MsdbTable = keyof typeof MSDB_TABLES;
export const MSDB_TABLE_NAMES = Object.keys(MSDB_TABLES) as MsdbTable[];

export class Msdb {
  private readonly tables: Record<MsdbTable, Row[]>;
  private readonly counters: Record<string, number>;

  constructor(data?: MsdbData) {
    this.tables = Object.fromEntries(
      MSDB_TABLE_NAMES.map((name) => [name, (data?.tables[name] ?? []).map((row) => reviveDates(name, row))]),
    ) as Record<MsdbTable, Row[]>;
    this.counters = data?.counters ?? {};
  }

  rows(table: MsdbTable): Row[] {
    return this.tables[table];
  }

  /** Adds a row; columns not given are NULL. */
  insert(table: MsdbTable, values: Row): Row {
    const row: Row = Object.fromEntries(MSDB_TABLES[table].map((col) => [col.name, values[col.name] ?? null]));
    this.tables[table].push(row);
    return row;
  }

  find(table: MsdbTable, predicate: (row: Row) => boolean): Row | undefined {
    return this.tables[table].find(predicate);
  }

  delete(table: MsdbTable, predicate: (row: Row) => boolean): number {
    const before = this.tables[table].length;
    this.tables[table] = this.tables[table].filter((row) => !predicate(row));
    return before - this.tables[table].length;
  }

  /** The next value of an identity column. */
  nextId(counter: string): number {
    this.counters[counter] = (this.counters[counter] ?? 0) + 1;
    return this.counters[counter];
  }

  toData(): MsdbData {
    return { tables: this.tables, counters: this.counters };
  }
}

export interface MsdbData {
  tables: Partial<Record<MsdbTable, Row[]>>;
  counters: Record<string, number>;
}

/** Saved state holds dates as ISO strings; the tables hold Dates. */
function reviveDates(table: MsdbTable, row: Row): Row {
  const revived = { ...row };
  for (const col of MSDB_TABLES[table]) {
    if (col.type.kind === 'datetime' && typeof revived[col.name] === 'string')
      revived[col.name] = new Date(revived[col.name] as string);
  }
  return revived;
}
