/**
 * Log shipping as SQL Server documents it: the master procedures that configure and remove it (they
 * fill the msdb log-shipping tables and create the Agent jobs), and what the jobs run — sqllogship.exe's backup,
 * copy and restore, on real files in the backup share and the copy folder, with the monitor tables and history
 * kept current. The backup job on a database that is currently a mirror logs a skip and succeeds.
 */
import { randomUUID } from 'node:crypto';
import { copyFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { backupLog, restoreLog, type Actor } from './backup-restore';
import { readBackupFile } from './backup-file';
import { errors, SqlError } from './errors';
import type { SqlInstance } from './instance';
import type { Row } from './msdb';
import type { ProcedureDefinition } from './procedures';
import { BIT, GUID, INT, nvarchar, NVARCHAR_128 } from './values';

const AGENT: Actor = { userName: 'NT SERVICE\\SQLSERVERAGENT' };
const SQLLOGSHIP = '"C:\\Program Files\\Microsoft SQL Server\\160\\Tools\\Binn\\sqllogship.exe"';
/** 14420 minutes: the documented default for retention and alert thresholds. */
const DEFAULT_MINUTES = 14420;

type AgentType = 0 | 1 | 2;
const AGENT_TYPE = { backup: 0, copy: 1, restore: 2 } as const;

// ------------------------------------------------------------------------------------------------ procedures

function sameText(value: unknown, text: string | null): boolean {
  return text !== null && typeof value === 'string' && value.toLowerCase() === text.toLowerCase();
}

function primaryRow(instance: SqlInstance, database: string): Row | undefined {
  return instance.msdb.find('log_shipping_primary_databases', (row) => sameText(row.primary_database, database));
}

const overwrite = { name: '@overwrite', type: BIT, default: 0 };
const ignoredMonitor = [
  { name: '@monitor_server', type: NVARCHAR_128 },
  { name: '@monitor_server_security_mode', type: BIT, default: 1 },
  { name: '@monitor_server_login', type: NVARCHAR_128 },
  { name: '@monitor_server_password', type: NVARCHAR_128 },
];

export const LOG_SHIPPING_PROCEDURES: ProcedureDefinition[] = [
  {
    name: 'sp_add_log_shipping_primary_database',
    home: 'master',
    parameters: [
      { name: '@database', type: NVARCHAR_128, required: true },
      { name: '@backup_directory', type: nvarchar(500), required: true },
      { name: '@backup_share', type: nvarchar(500), required: true },
      { name: '@backup_job_name', type: NVARCHAR_128, required: true },
      { name: '@backup_retention_period', type: INT, default: DEFAULT_MINUTES },
      ...ignoredMonitor,
      { name: '@backup_threshold', type: INT, default: 60 },
      { name: '@threshold_alert', type: INT, default: DEFAULT_MINUTES },
      { name: '@threshold_alert_enabled', type: BIT, default: 0 },
      { name: '@history_retention_period', type: INT, default: DEFAULT_MINUTES },
      { name: '@backup_job_id', type: GUID, output: true },
      { name: '@primary_id', type: GUID, output: true },
      { name: '@backup_compression', type: { kind: 'tinyint' }, default: 2 },
      overwrite,
    ],
    run(call) {
      const instance = call.execution.instance;
      const name = call.requiredText('@database');
      const database = instance.requireDatabase(name);
      if (database.recoveryModel === 'SIMPLE') throw errors.lsSimpleRecovery(database.name);
      const existing = primaryRow(instance, database.name);
      if (existing) {
        if (!call.flag('@overwrite')) throw errors.lsPrimaryExists(database.name);
        removePrimary(instance, existing);
      }
      const primaryId = randomUUID().toUpperCase();
      const jobId = instance.agent.createJob({
        name: call.requiredText('@backup_job_name'),
        description: `Log shipping backup log job for ${instance.serverName}.${database.name}.`,
        stepName: 'Log shipping backup log job step.',
        command: `${SQLLOGSHIP} -Backup ${primaryId} -server ${instance.serverName}`,
      });
      instance.msdb.insert('log_shipping_primary_databases', {
        primary_id: primaryId,
        primary_database: database.name,
        backup_directory: call.requiredText('@backup_directory'),
        backup_share: call.requiredText('@backup_share'),
        backup_retention_period: call.number('@backup_retention_period'),
        backup_job_id: jobId,
        monitor_server: instance.serverName,
        monitor_server_security_mode: 1,
        user_specified_monitor: call.given('@monitor_server'),
        backup_compression: call.number('@backup_compression'),
      });
      instance.msdb.insert('log_shipping_monitor_primary', {
        primary_id: primaryId,
        primary_server: instance.serverName,
        primary_database: database.name,
        backup_threshold: call.number('@backup_threshold'),
        threshold_alert: call.number('@threshold_alert'),
        threshold_alert_enabled: call.flag('@threshold_alert_enabled'),
        history_retention_period: call.number('@history_retention_period'),
      });
      call.setOutput('@backup_job_id', jobId);
      call.setOutput('@primary_id', primaryId);
      instance.changed();
    },
  },
  {
    name: 'sp_add_log_shipping_primary_secondary',
    home: 'master',
    parameters: [
      { name: '@primary_database', type: NVARCHAR_128, required: true },
      { name: '@secondary_server', type: NVARCHAR_128, required: true },
      { name: '@secondary_database', type: NVARCHAR_128, required: true },
      overwrite,
    ],
    run(call) {
      const instance = call.execution.instance;
      const database = call.requiredText('@primary_database');
      const primary = primaryRow(instance, database);
      if (!primary) throw errors.lsNotPrimary(database);
      const server = call.requiredText('@secondary_server');
      const secondary = call.requiredText('@secondary_database');
      const existing = (row: Row) =>
        row.primary_id === primary.primary_id &&
        sameText(row.secondary_server, server) &&
        sameText(row.secondary_database, secondary);
      if (instance.msdb.find('log_shipping_primary_secondaries', existing)) {
        if (!call.flag('@overwrite')) throw errors.lsSecondaryLinkExists(server, secondary, database);
        instance.msdb.delete('log_shipping_primary_secondaries', existing);
      }
      instance.msdb.insert('log_shipping_primary_secondaries', {
        primary_id: primary.primary_id,
        secondary_server: server,
        secondary_database: secondary,
      });
      instance.changed();
    },
  },
  {
    name: 'sp_add_log_shipping_secondary_primary',
    home: 'master',
    parameters: [
      { name: '@primary_server', type: NVARCHAR_128, required: true },
      { name: '@primary_database', type: NVARCHAR_128, required: true },
      { name: '@backup_source_directory', type: nvarchar(500), required: true },
      { name: '@backup_destination_directory', type: nvarchar(500), required: true },
      { name: '@copy_job_name', type: NVARCHAR_128, required: true },
      { name: '@restore_job_name', type: NVARCHAR_128, required: true },
      { name: '@file_retention_period', type: INT, default: DEFAULT_MINUTES },
      ...ignoredMonitor,
      { name: '@copy_job_id', type: GUID, output: true },
      { name: '@restore_job_id', type: GUID, output: true },
      { name: '@secondary_id', type: GUID, output: true },
      overwrite,
    ],
    run(call) {
      const instance = call.execution.instance;
      const server = call.requiredText('@primary_server');
      const database = call.requiredText('@primary_database');
      const existing = instance.msdb.find(
        'log_shipping_secondary',
        (row) => sameText(row.primary_server, server) && sameText(row.primary_database, database),
      );
      if (existing) {
        if (!call.flag('@overwrite')) throw errors.lsSecondaryPrimaryExists(server, database);
        removeSecondaryPrimary(instance, existing);
      }
      const secondaryId = randomUUID().toUpperCase();
      const copyJobId = instance.agent.createJob({
        name: call.requiredText('@copy_job_name'),
        description: `Log shipping copy job for ${server}:${database}.`,
        stepName: 'Log shipping copy job step.',
        command: `${SQLLOGSHIP} -Copy ${secondaryId} -server ${instance.serverName}`,
      });
      const restoreJobId = instance.agent.createJob({
        name: call.requiredText('@restore_job_name'),
        description: `Log shipping restore log job for ${server}:${database}.`,
        stepName: 'Log shipping restore log job step.',
        command: `${SQLLOGSHIP} -Restore ${secondaryId} -server ${instance.serverName}`,
      });
      instance.msdb.insert('log_shipping_secondary', {
        secondary_id: secondaryId,
        primary_server: server,
        primary_database: database,
        backup_source_directory: call.requiredText('@backup_source_directory'),
        backup_destination_directory: call.requiredText('@backup_destination_directory'),
        file_retention_period: call.number('@file_retention_period'),
        copy_job_id: copyJobId,
        restore_job_id: restoreJobId,
        monitor_server: instance.serverName,
        monitor_server_security_mode: 1,
        user_specified_monitor: call.given('@monitor_server'),
      });
      call.setOutput('@copy_job_id', copyJobId);
      call.setOutput('@restore_job_id', restoreJobId);
      call.setOutput('@secondary_id', secondaryId);
      instance.changed();
    },
  },
  {
    name: 'sp_add_log_shipping_secondary_database',
    home: 'master',
    parameters: [
      { name: '@secondary_database', type: NVARCHAR_128, required: true },
      { name: '@primary_server', type: NVARCHAR_128, required: true },
      { name: '@primary_database', type: NVARCHAR_128, required: true },
      { name: '@restore_delay', type: INT, default: 0 },
      { name: '@restore_all', type: BIT, default: 1 },
      { name: '@restore_mode', type: BIT, default: 0 },
      { name: '@disconnect_users', type: BIT, default: 0 },
      { name: '@block_size', type: INT, default: -1 },
      { name: '@buffer_count', type: INT, default: -1 },
      { name: '@max_transfer_size', type: INT },
      { name: '@restore_threshold', type: INT, default: 45 },
      { name: '@threshold_alert', type: INT, default: DEFAULT_MINUTES },
      { name: '@threshold_alert_enabled', type: BIT, default: 1 },
      { name: '@history_retention_period', type: INT, default: DEFAULT_MINUTES },
      overwrite,
    ],
    run(call) {
      const instance = call.execution.instance;
      const secondaryDatabase = call.requiredText('@secondary_database');
      const server = call.requiredText('@primary_server');
      const database = call.requiredText('@primary_database');
      const secondary = instance.msdb.find(
        'log_shipping_secondary',
        (row) => sameText(row.primary_server, server) && sameText(row.primary_database, database),
      );
      if (!secondary) throw errors.lsPrimaryNotRegistered(server, database);
      const existing = (row: Row) => sameText(row.secondary_database, secondaryDatabase);
      if (instance.msdb.find('log_shipping_secondary_databases', existing)) {
        if (!call.flag('@overwrite')) throw errors.lsSecondaryExists(secondaryDatabase);
        instance.msdb.delete('log_shipping_secondary_databases', existing);
        instance.msdb.delete('log_shipping_monitor_secondary', existing);
      }
      instance.msdb.insert('log_shipping_secondary_databases', {
        secondary_database: secondaryDatabase,
        secondary_id: secondary.secondary_id,
        restore_delay: call.number('@restore_delay'),
        restore_all: call.flag('@restore_all'),
        restore_mode: call.flag('@restore_mode'),
        disconnect_users: call.flag('@disconnect_users'),
        block_size: call.number('@block_size'),
        buffer_count: call.number('@buffer_count'),
        max_transfer_size: call.number('@max_transfer_size'),
      });
      instance.msdb.insert('log_shipping_monitor_secondary', {
        secondary_server: instance.serverName,
        secondary_database: secondaryDatabase,
        secondary_id: secondary.secondary_id,
        primary_server: server,
        primary_database: database,
        restore_threshold: call.number('@restore_threshold'),
        threshold_alert: call.number('@threshold_alert'),
        threshold_alert_enabled: call.flag('@threshold_alert_enabled'),
        history_retention_period: call.number('@history_retention_period'),
      });
      instance.changed();
    },
  },
  {
    name: 'sp_delete_log_shipping_primary_secondary',
    home: 'master',
    parameters: [
      { name: '@primary_database', type: NVARCHAR_128, required: true },
      { name: '@secondary_server', type: NVARCHAR_128, required: true },
      { name: '@secondary_database', type: NVARCHAR_128, required: true },
    ],
    run(call) {
      const instance = call.execution.instance;
      const database = call.requiredText('@primary_database');
      const primary = primaryRow(instance, database);
      if (!primary) throw errors.lsNotPrimary(database);
      instance.msdb.delete(
        'log_shipping_primary_secondaries',
        (row) =>
          row.primary_id === primary.primary_id &&
          sameText(row.secondary_server, call.text('@secondary_server')) &&
          sameText(row.secondary_database, call.text('@secondary_database')),
      );
      instance.changed();
    },
  },
  {
    name: 'sp_delete_log_shipping_primary_database',
    home: 'master',
    parameters: [{ name: '@database', type: NVARCHAR_128, required: true }],
    run(call) {
      const instance = call.execution.instance;
      const database = call.requiredText('@database');
      const primary = primaryRow(instance, database);
      if (!primary) throw errors.lsNotPrimary(database);
      if (instance.msdb.find('log_shipping_primary_secondaries', (row) => row.primary_id === primary.primary_id))
        throw errors.lsPrimaryHasSecondaries(database);
      removePrimary(instance, primary);
    },
  },
  {
    name: 'sp_delete_log_shipping_secondary_database',
    home: 'master',
    parameters: [{ name: '@secondary_database', type: NVARCHAR_128, required: true }],
    run(call) {
      const instance = call.execution.instance;
      const name = call.requiredText('@secondary_database');
      const entry = instance.msdb.find('log_shipping_secondary_databases', (row) =>
        sameText(row.secondary_database, name),
      );
      if (!entry) throw errors.lsNotSecondary(name);
      instance.msdb.delete('log_shipping_secondary_databases', (row) => row === entry);
      instance.msdb.delete('log_shipping_monitor_secondary', (row) => sameText(row.secondary_database, name));
      instance.msdb.delete(
        'log_shipping_monitor_history_detail',
        (row) => sameText(row.database_name, name) && row.agent_type === AGENT_TYPE.restore,
      );
      // The last secondary database of this primary takes the copy and restore jobs with it.
      if (!instance.msdb.find('log_shipping_secondary_databases', (row) => row.secondary_id === entry.secondary_id)) {
        const secondary = instance.msdb.find(
          'log_shipping_secondary',
          (row) => row.secondary_id === entry.secondary_id,
        );
        if (secondary) removeSecondaryPrimary(instance, secondary);
      }
      instance.changed();
    },
  },
  {
    name: 'sp_delete_log_shipping_secondary_primary',
    home: 'master',
    parameters: [
      { name: '@primary_server', type: NVARCHAR_128, required: true },
      { name: '@primary_database', type: NVARCHAR_128, required: true },
    ],
    run(call) {
      const instance = call.execution.instance;
      const server = call.requiredText('@primary_server');
      const database = call.requiredText('@primary_database');
      const secondary = instance.msdb.find(
        'log_shipping_secondary',
        (row) => sameText(row.primary_server, server) && sameText(row.primary_database, database),
      );
      if (!secondary) return;
      if (instance.msdb.find('log_shipping_secondary_databases', (row) => row.secondary_id === secondary.secondary_id))
        throw errors.lsSecondaryPrimaryInUse(server, database);
      removeSecondaryPrimary(instance, secondary);
    },
  },
  {
    name: 'sp_change_log_shipping_primary_database',
    home: 'master',
    parameters: [
      { name: '@database', type: NVARCHAR_128, required: true },
      { name: '@backup_directory', type: nvarchar(500) },
      { name: '@backup_share', type: nvarchar(500) },
      { name: '@backup_retention_period', type: INT },
      { name: '@monitor_server_security_mode', type: BIT },
      { name: '@monitor_server_login', type: NVARCHAR_128 },
      { name: '@monitor_server_password', type: NVARCHAR_128 },
      { name: '@backup_threshold', type: INT },
      { name: '@threshold_alert', type: INT },
      { name: '@threshold_alert_enabled', type: BIT },
      { name: '@history_retention_period', type: INT },
      { name: '@backup_compression', type: { kind: 'tinyint' } },
    ],
    run(call) {
      const instance = call.execution.instance;
      const database = call.requiredText('@database');
      const primary = primaryRow(instance, database);
      if (!primary) throw errors.lsNotPrimary(database);
      const monitor = instance.msdb.find(
        'log_shipping_monitor_primary',
        (row) => row.primary_id === primary.primary_id,
      );
      for (const field of ['backup_directory', 'backup_share', 'backup_retention_period', 'backup_compression']) {
        if (call.given(`@${field}`)) primary[field] = call.value(`@${field}`);
      }
      for (const field of [
        'backup_threshold',
        'threshold_alert',
        'threshold_alert_enabled',
        'history_retention_period',
      ]) {
        if (call.given(`@${field}`) && monitor) monitor[field] = call.value(`@${field}`);
      }
      instance.changed();
    },
  },
  {
    name: 'sp_change_log_shipping_secondary_database',
    home: 'master',
    parameters: [
      { name: '@secondary_database', type: NVARCHAR_128, required: true },
      { name: '@restore_delay', type: INT },
      { name: '@restore_all', type: BIT },
      { name: '@restore_mode', type: BIT },
      { name: '@disconnect_users', type: BIT },
      { name: '@block_size', type: INT },
      { name: '@buffer_count', type: INT },
      { name: '@max_transfer_size', type: INT },
      { name: '@restore_threshold', type: INT },
      { name: '@threshold_alert', type: INT },
      { name: '@threshold_alert_enabled', type: BIT },
      { name: '@history_retention_period', type: INT },
    ],
    run(call) {
      const instance = call.execution.instance;
      const name = call.requiredText('@secondary_database');
      const entry = instance.msdb.find('log_shipping_secondary_databases', (row) =>
        sameText(row.secondary_database, name),
      );
      if (!entry) throw errors.lsNotSecondary(name);
      const monitor = instance.msdb.find('log_shipping_monitor_secondary', (row) =>
        sameText(row.secondary_database, name),
      );
      for (const field of [
        'restore_delay',
        'restore_all',
        'restore_mode',
        'disconnect_users',
        'block_size',
        'buffer_count',
        'max_transfer_size',
      ]) {
        if (call.given(`@${field}`)) entry[field] = call.value(`@${field}`);
      }
      for (const field of [
        'restore_threshold',
        'threshold_alert',
        'threshold_alert_enabled',
        'history_retention_period',
      ]) {
        if (call.given(`@${field}`) && monitor) monitor[field] = call.value(`@${field}`);
      }
      instance.changed();
    },
  },
  {
    name: 'sp_help_log_shipping_monitor',
    home: 'master',
    parameters: [],
    run(call) {
      const instance = call.execution.instance;
      const now = Date.now();
      const minutesSince = (date: unknown) =>
        date instanceof Date ? Math.floor((now - date.getTime()) / 60_000) : null;
      const columns = [
        ['status', BIT],
        ['is_primary', BIT],
        ['server', NVARCHAR_128],
        ['database_name', NVARCHAR_128],
        ['time_since_last_backup', INT],
        ['last_backup_file', nvarchar(500)],
        ['backup_threshold', INT],
        ['is_backup_alert_enabled', BIT],
        ['time_since_last_copy', INT],
        ['last_copied_file', nvarchar(500)],
        ['time_since_last_restore', INT],
        ['last_restored_file', nvarchar(500)],
        ['last_restored_latency', INT],
        ['restore_threshold', INT],
        ['is_restore_alert_enabled', BIT],
      ].map(([name, type]) => ({ name: name as string, type: type as typeof INT }));
      const rows = [
        ...instance.msdb.rows('log_shipping_monitor_primary').map((row) => {
          const since = minutesSince(row.last_backup_date);
          const unhealthy = since === null || since > Number(row.backup_threshold);
          return [
            unhealthy,
            true,
            row.primary_server,
            row.primary_database,
            since,
            row.last_backup_file,
            row.backup_threshold,
            row.threshold_alert_enabled,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
          ];
        }),
        ...instance.msdb.rows('log_shipping_monitor_secondary').map((row) => {
          const sinceRestore = minutesSince(row.last_restored_date);
          const unhealthy = sinceRestore === null || sinceRestore > Number(row.restore_threshold);
          return [
            unhealthy,
            false,
            row.secondary_server,
            row.secondary_database,
            null,
            null,
            null,
            null,
            minutesSince(row.last_copied_date),
            row.last_copied_file,
            sinceRestore,
            row.last_restored_file,
            row.last_restored_latency,
            row.restore_threshold,
            row.threshold_alert_enabled,
          ];
        }),
      ];
      call.execution.out.resultSet(columns, rows);
    },
  },
  ...['sp_add_log_shipping_alert_job', 'sp_refresh_log_shipping_monitor', 'sp_cleanup_log_shipping_history'].map(
    (name): ProcedureDefinition => ({
      // The simulated estate has no separate monitor server: each instance is its own monitor.
      name,
      home: 'master',
      parameters: [
        { name: '@alert_job_id', type: GUID, output: true },
        { name: '@agent_id', type: GUID },
        { name: '@agent_type', type: { kind: 'tinyint' } },
        { name: '@database', type: NVARCHAR_128 },
        { name: '@mode', type: { kind: 'tinyint' } },
      ],
      run: () => 0,
    }),
  ),
];

function removePrimary(instance: SqlInstance, primary: Row): void {
  if (primary.backup_job_id) instance.agent.deleteJob(String(primary.backup_job_id));
  const id = primary.primary_id;
  instance.msdb.delete('log_shipping_monitor_primary', (row) => row.primary_id === id);
  instance.msdb.delete('log_shipping_monitor_history_detail', (row) => row.agent_id === id);
  instance.msdb.delete('log_shipping_monitor_error_detail', (row) => row.agent_id === id);
  instance.msdb.delete('log_shipping_primary_secondaries', (row) => row.primary_id === id);
  instance.msdb.delete('log_shipping_primary_databases', (row) => row.primary_id === id);
  instance.changed();
}

function removeSecondaryPrimary(instance: SqlInstance, secondary: Row): void {
  for (const job of [secondary.copy_job_id, secondary.restore_job_id]) if (job) instance.agent.deleteJob(String(job));
  const id = secondary.secondary_id;
  instance.msdb.delete('log_shipping_monitor_history_detail', (row) => row.agent_id === id);
  instance.msdb.delete('log_shipping_monitor_error_detail', (row) => row.agent_id === id);
  instance.msdb.delete('log_shipping_secondary', (row) => row.secondary_id === id);
  instance.changed();
}

// ------------------------------------------------------------------------------------------------ jobs

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
