/**
 * Every statement the acting steps send, in one place: the T-SQL batches (with their parameters) and the Management
 * Shell cmdlet lines. Pure builders, no I/O: the activities run what they build, and a dry run shows exactly the same
 * text (dry-run.ts), so what an operator reviews is what would be executed.
 *
 * Identifiers are checked and bracket-quoted (sql/identifiers.ts); every value is a parameter (docs/runbooks.md rule 6), or,
 * for PowerShell, single-quoted (powershellQuote). A value only known when the step runs (a job id read from msdb,
 * the sessions to end, settings copied from another instance) is a `Later` in a plan: shown, never sent.
 */
import type { PrimarySettings, SecondarySettings } from '../contracts/log-shipping';
import type { Parameter, Statement, TypedParameter } from './sql/connections';

export type { Statement } from './sql/connections';
import { quoteIdentifier, sessionIdLiteral } from './sql/identifiers';

/** A value the step reads when it runs (plans only). */
export interface Later {
  later: string;
}

/** A statement of a plan: some values may be known only when the step runs. */
export interface PlannedStatement {
  text: string;
  parameters: Record<string, Parameter | Later>;
}

export function later(what: string): Later {
  return { later: what };
}

export function isLater(value: unknown): value is Later {
  return value !== null && typeof value === 'object' && typeof (value as Later).later === 'string';
}

type Plannable<T> = { [K in keyof T]: T[K] | Later };

/** A uniqueidentifier parameter (a job id, a log shipping primary id): mssql would send a string as nvarchar. */
export const uniqueIdentifier = (value: string | Later): TypedParameter => ({ sqlType: 'uniqueidentifier', value });

// ------------------------------------------------------------------------------------------------ mirroring

/** Runbook 1 step 3: on the current principal. */
export function partnerFailover(database: string): Statement {
  return { text: `ALTER DATABASE ${quoteIdentifier(database)} SET PARTNER FAILOVER`, parameters: {} };
}

/** Runbook 1 step 4: on the mirror, when the principal is gone. */
export function forceServiceAllowDataLoss(database: string): Statement {
  return {
    text: `ALTER DATABASE ${quoteIdentifier(database)} SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS`,
    parameters: {},
  };
}

export function partnerSafety(database: string, safety: 'FULL' | 'OFF'): Statement {
  return {
    text: `ALTER DATABASE ${quoteIdentifier(database)} SET PARTNER SAFETY ${safety === 'FULL' ? 'FULL' : 'OFF'}`,
    parameters: {},
  };
}

/** Runbook 5 step 4: ends the mirroring session (either partner). */
export function partnerOff(database: string): Statement {
  return { text: `ALTER DATABASE ${quoteIdentifier(database)} SET PARTNER OFF`, parameters: {} };
}

// ------------------------------------------------------------------------------------------------ backup and restore

/** A full backup; COPY_ONLY leaves the database's backup sequence (and so log shipping's chain) as it was. */
export function backupDatabase(database: string, file: string, options: { copyOnly?: boolean } = {}): Statement {
  return {
    text: `BACKUP DATABASE ${quoteIdentifier(database)} TO DISK = @file WITH ${options.copyOnly ? 'COPY_ONLY, ' : ''}INIT, CHECKSUM`,
    parameters: { file },
  };
}

/** Planned failover step 4: the tail of the log, leaving the database RESTORING (fenced). */
export function backupTailLog(database: string, file: string): Statement {
  return {
    text: `BACKUP LOG ${quoteIdentifier(database)} TO DISK = @file WITH NORECOVERY, INIT, CHECKSUM`,
    parameters: { file },
  };
}

/** The options of a full restore, MOVE first; `label` is what a summary prints (without the MOVE clauses). */
export function restoreDatabase(
  database: string,
  file: string,
  move: { logicalName: string; to: string }[],
  replace: boolean,
  recovery: 'RECOVERY' | 'NORECOVERY',
): Statement & { label: string } {
  const parameters: Record<string, string> = { file };
  const options = move.map((clause, index) => {
    parameters[`move${index}_name`] = clause.logicalName;
    parameters[`move${index}_to`] = clause.to;
    return `MOVE @move${index}_name TO @move${index}_to`;
  });
  if (replace) options.push('REPLACE');
  options.push(recovery);
  return {
    text: `RESTORE DATABASE ${quoteIdentifier(database)} FROM DISK = @file WITH ${options.join(', ')}`,
    parameters,
    label: options.filter((option) => !option.startsWith('MOVE')).join(', '),
  };
}

export function restoreLog(database: string, file: string): Statement {
  return { text: `RESTORE LOG ${quoteIdentifier(database)} FROM DISK = @file WITH NORECOVERY`, parameters: { file } };
}

export function recoverDatabase(database: string): Statement {
  return { text: `RESTORE DATABASE ${quoteIdentifier(database)} WITH RECOVERY`, parameters: {} };
}

/** A drill's scratch database (runbook 6 step 5), never one of the estate's. */
export function dropDatabase(database: string): Statement {
  return { text: `DROP DATABASE ${quoteIdentifier(database)}`, parameters: {} };
}

/** KILL takes a literal: only a session id checked to be one is written into it. */
export function killSession(spid: number): Statement;
export function killSession(spid: number | Later): PlannedStatement;
export function killSession(spid: number | Later): PlannedStatement {
  return { text: `KILL ${isLater(spid) ? `<${spid.later}>` : sessionIdLiteral(spid)}`, parameters: {} };
}

// ------------------------------------------------------------------------------------------------ log shipping

/** msdb's backup_compression: 0 off, 1 on, 2 the server's default. */
export const COMPRESSION = { off: 0, on: 1, default: 2 } as const;

/** SQL Server Agent sub-day schedules: every N hours (8), minutes (4) or seconds (2). */
export function subdaySchedule(seconds: number): { type: number; interval: number } {
  if (seconds % 3600 === 0) return { type: 8, interval: seconds / 3600 };
  if (seconds % 60 === 0) return { type: 4, interval: seconds / 60 };
  return { type: 2, interval: seconds };
}

/** Runbook 2 step 2: the primary configuration and its backup job (@overwrite replaces a different one). */
export function addLogShippingPrimaryDatabase(
  database: string,
  settings: PrimarySettings,
  overwrite: boolean,
): Statement;
export function addLogShippingPrimaryDatabase(
  database: string,
  settings: Plannable<PrimarySettings>,
  overwrite: boolean,
): PlannedStatement;
export function addLogShippingPrimaryDatabase(
  database: string,
  settings: Plannable<PrimarySettings>,
  overwrite: boolean,
): PlannedStatement {
  return {
    text: [
      'DECLARE @job uniqueidentifier, @primary uniqueidentifier;',
      'EXEC master.dbo.sp_add_log_shipping_primary_database @database = @database, @backup_directory = @directory,',
      '  @backup_share = @share, @backup_job_name = @job_name, @backup_retention_period = @retention,',
      '  @backup_threshold = @threshold, @threshold_alert_enabled = 1, @history_retention_period = 5760,',
      '  @backup_compression = @compression, @backup_job_id = @job OUTPUT, @primary_id = @primary OUTPUT, @overwrite = @overwrite;',
    ].join('\n'),
    parameters: {
      database,
      directory: settings.backupDirectory,
      share: settings.backupShare,
      job_name: settings.jobName,
      retention: settings.retentionMinutes,
      threshold: settings.backupThresholdMinutes,
      compression: isLater(settings.compression) ? settings.compression : COMPRESSION[settings.compression],
      overwrite: overwrite ? 1 : 0,
    },
  };
}

/** The primary's record of a secondary: added (runbook 2 step 2), or deleted when log shipping is removed. */
function primarySecondaryRecord(
  action: 'add' | 'delete',
  database: string,
  server: string | Later,
  secondary: string | Later,
): PlannedStatement {
  return {
    text: `EXEC master.dbo.sp_${action}_log_shipping_primary_secondary @primary_database = @database, @secondary_server = @server, @secondary_database = @secondary`,
    parameters: { database, server, secondary },
  };
}

export function addLogShippingPrimarySecondary(database: string, server: string, secondary: string): Statement {
  return primarySecondaryRecord('add', database, server, secondary) as Statement;
}

/** Runbook 2 step 4: the secondary's copy and restore jobs. */
export function addLogShippingSecondaryPrimary(settings: SecondarySettings): Statement {
  return {
    text: [
      'DECLARE @copy uniqueidentifier, @restore uniqueidentifier, @secondary uniqueidentifier;',
      'EXEC master.dbo.sp_add_log_shipping_secondary_primary @primary_server = @server, @primary_database = @database,',
      '  @backup_source_directory = @source, @backup_destination_directory = @destination,',
      '  @copy_job_name = @copy_job, @restore_job_name = @restore_job, @file_retention_period = @retention,',
      '  @copy_job_id = @copy OUTPUT, @restore_job_id = @restore OUTPUT, @secondary_id = @secondary OUTPUT;',
    ].join('\n'),
    parameters: {
      server: settings.primaryServer,
      database: settings.primaryDatabase,
      source: settings.sourceDirectory,
      destination: settings.destinationDirectory,
      copy_job: settings.copyJobName,
      restore_job: settings.restoreJobName,
      retention: settings.retentionMinutes,
    },
  };
}

/** Runbook 2 step 4: restore mode NORECOVERY, restore delay and alert threshold as given. */
export function addLogShippingSecondaryDatabase(database: string, settings: SecondarySettings): Statement {
  return {
    text: [
      'EXEC master.dbo.sp_add_log_shipping_secondary_database @secondary_database = @secondary, @primary_server = @server,',
      '  @primary_database = @database, @restore_delay = @delay, @restore_all = 1, @restore_mode = 0, @disconnect_users = 0,',
      '  @restore_threshold = @threshold, @threshold_alert_enabled = 1, @history_retention_period = 5760',
    ].join('\n'),
    parameters: {
      secondary: database,
      server: settings.primaryServer,
      database: settings.primaryDatabase,
      delay: settings.restoreDelayMinutes,
      threshold: settings.restoreThresholdMinutes,
    },
  };
}

/** Runbook 4 step 5 (and replacing a secondary): also deletes its copy and restore jobs. */
export function deleteLogShippingSecondaryDatabase(database: string): Statement {
  return {
    text: 'EXEC master.dbo.sp_delete_log_shipping_secondary_database @secondary_database = @database',
    parameters: { database },
  };
}

export function deleteLogShippingPrimarySecondary(
  database: string,
  secondaryServer: string,
  secondaryDatabase: string,
): Statement;
export function deleteLogShippingPrimarySecondary(
  database: string,
  secondaryServer: string | Later,
  secondaryDatabase: string | Later,
): PlannedStatement;
export function deleteLogShippingPrimarySecondary(
  database: string,
  server: string | Later,
  secondary: string | Later,
): PlannedStatement {
  return primarySecondaryRecord('delete', database, server, secondary);
}

/** Also deletes the backup job. */
export function deleteLogShippingPrimaryDatabase(database: string): Statement {
  return {
    text: 'EXEC master.dbo.sp_delete_log_shipping_primary_database @database = @database',
    parameters: { database },
  };
}

/** An enabled daily schedule repeating every `seconds`, attached to the job. */
export function addJobSchedule(jobId: string, scheduleName: string, seconds: number): Statement;
export function addJobSchedule(
  jobId: string | Later,
  scheduleName: string | Later,
  seconds: number | Later,
): PlannedStatement;
export function addJobSchedule(
  jobId: string | Later,
  scheduleName: string | Later,
  seconds: number | Later,
): PlannedStatement {
  const schedule = isLater(seconds) ? { type: seconds, interval: seconds } : subdaySchedule(seconds);
  return {
    text: [
      'DECLARE @schedule int;',
      'EXEC msdb.dbo.sp_add_schedule @schedule_name = @name, @enabled = 1, @freq_type = 4, @freq_interval = 1,',
      '  @freq_subday_type = @type, @freq_subday_interval = @interval, @active_start_time = 0, @schedule_id = @schedule OUTPUT;',
      'EXEC msdb.dbo.sp_attach_schedule @job_id = @id, @schedule_id = @schedule;',
    ].join('\n'),
    parameters: { name: scheduleName, type: schedule.type, interval: schedule.interval, id: uniqueIdentifier(jobId) },
  };
}

export function enableJob(jobId: string): Statement;
export function enableJob(jobId: string | Later): PlannedStatement;
export function enableJob(jobId: string | Later): PlannedStatement {
  return {
    text: 'EXEC msdb.dbo.sp_update_job @job_id = @id, @enabled = 1',
    parameters: { id: uniqueIdentifier(jobId) },
  };
}

export function startJob(jobId: string): Statement;
export function startJob(jobId: string | Later): PlannedStatement;
export function startJob(jobId: string | Later): PlannedStatement {
  return { text: 'EXEC msdb.dbo.sp_start_job @job_id = @id', parameters: { id: uniqueIdentifier(jobId) } };
}

// ------------------------------------------------------------------------------------------------ the pool (Management Shell)

/**
 * A PowerShell single-quoted string. Inside one, PowerShell treats the ASCII quote and the typographic single
 * quotes alike, so each is doubled; nothing else is special ($, `, ;, newlines stay literal).
 */
export function powershellQuote(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201A\u201B]/g, (quote) => quote + quote)}'`;
}

/** One cmdlet line, as the pool-control command receives it (a single argument, no shell). */
export interface CmdletLine {
  cmdlet: string;
  text: string;
  parameters: Record<string, string | string[] | boolean | null>;
}

export function getPersistentChatState(identity: string): CmdletLine {
  return {
    cmdlet: 'Get-CsPersistentChatState',
    text: `Get-CsPersistentChatState -Identity ${powershellQuote(identity)} | ConvertTo-Json -Compress`,
    parameters: { Identity: identity },
  };
}

export function getPersistentChatService(poolFqdn: string): CmdletLine {
  return {
    cmdlet: 'Get-CsService',
    text: `Get-CsService -PersistentChatServer -PoolFqdn ${powershellQuote(poolFqdn)} | ConvertTo-Json -Compress`,
    parameters: { PersistentChatServer: true, PoolFqdn: poolFqdn },
  };
}

/** The pool as the runbooks read it, in one script: its state, then its active servers, one JSON line each. */
export function readPoolScript(identity: string, poolFqdn: string): CmdletLine[] {
  return [getPersistentChatState(identity), getPersistentChatService(poolFqdn)];
}

/** Cmdlet lines run by one shell, in order: one script, its statements separated by `; `. */
export function scriptOf(lines: CmdletLine[]): string {
  return lines.map((line) => line.text).join('; ');
}

export function setPersistentChatState(identity: string, state: 'Normal' | 'FailedOver'): CmdletLine {
  return {
    cmdlet: 'Set-CsPersistentChatState',
    text: `Set-CsPersistentChatState -Identity ${powershellQuote(identity)} -PoolState ${powershellQuote(state)} -Confirm:$false`,
    parameters: { Identity: identity, PoolState: state, Confirm: false },
  };
}

/** No servers: -ActiveServers $Null (nothing serves the pool). */
export function setPersistentChatActiveServer(identity: string, servers: string[]): CmdletLine {
  const value = servers.length === 0 ? '$Null' : `@{Replace=${servers.map(powershellQuote).join(',')}}`;
  return {
    cmdlet: 'Set-CsPersistentChatActiveServer',
    text: `Set-CsPersistentChatActiveServer -Identity ${powershellQuote(identity)} -ActiveServers ${value} -Confirm:$false`,
    parameters: { Identity: identity, ActiveServers: servers.length === 0 ? null : servers, Confirm: false },
  };
}

export type DatabaseType = 'PersistentChat' | 'PersistentChatCompliance';

export function invokeDatabaseFailover(
  poolFqdn: string,
  databaseType: DatabaseType,
  newPrincipal: 'Primary' | 'Mirror',
  force: boolean,
): CmdletLine {
  return {
    cmdlet: 'Invoke-CsDatabaseFailover',
    text: `Invoke-CsDatabaseFailover -PoolFqdn ${powershellQuote(poolFqdn)} -DatabaseType ${databaseType} -NewPrincipal ${newPrincipal}${force ? ' -Force' : ''} -Confirm:$false`,
    parameters: {
      PoolFqdn: poolFqdn,
      DatabaseType: databaseType,
      NewPrincipal: newPrincipal,
      Force: force,
      Confirm: false,
    },
  };
}

export function installMirrorDatabase(
  databaseType: DatabaseType,
  sqlServerFqdn: string,
  sqlInstanceName: string | undefined,
  fileShare: string,
): CmdletLine {
  const instanceName = sqlInstanceName ? ` -SqlInstanceName ${powershellQuote(sqlInstanceName)}` : '';
  return {
    cmdlet: 'Install-CsMirrorDatabase',
    text: `Install-CsMirrorDatabase -DatabaseType ${databaseType} -SqlServerFqdn ${powershellQuote(sqlServerFqdn)}${instanceName} -FileShare ${powershellQuote(fileShare)} -DropExistingDatabasesOnMirror -Confirm:$false`,
    parameters: {
      DatabaseType: databaseType,
      SqlServerFqdn: sqlServerFqdn,
      ...(sqlInstanceName ? { SqlInstanceName: sqlInstanceName } : {}),
      FileShare: fileShare,
      DropExistingDatabasesOnMirror: true,
      Confirm: false,
    },
  };
}
