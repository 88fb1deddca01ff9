/**
 * The T-SQL statements BACKUP DATABASE/LOG, RESTORE DATABASE/LOG and RESTORE HEADERONLY/FILELISTONLY/VERIFYONLY: what
 * a session writes, turned into the operations of backup-restore.ts, and the rows and messages SQL Server answers.
 */
import { randomUUID } from 'node:crypto';
import type { Column, SqlMessage, SqlValue } from '../tds/session';
import type { Statement } from '../tsql/ast';
import { readBackupFile, type BackupHeader } from './backup-file';
import { recordBackup } from './backup-history';
import {
  backupDatabase,
  backupLog,
  recoverDatabase,
  restoreDatabase,
  restoreLog,
  type BackupRequest,
  type RestoreRequest,
} from './backup-restore';
import { errors, SqlError } from './errors';
import type { Execution } from './session';
import type { SelectResult } from './select';
import { BIGINT, BIT, castValue, DATETIME, GUID, INT, LSN, nvarchar, NVARCHAR_128 } from './values';

export async function backup(statement: Extract<Statement, { kind: 'backup' }>, execution: Execution): Promise<void> {
  const options = statement.options;
  const name = databaseName(statement.database, execution);
  const request: BackupRequest = {
    init: options.init,
    copyOnly: options.copyOnly,
    norecovery: options.norecovery,
    checksum: options.checksum,
    compression: options.compression,
    name: options.name ? execution.text(options.name) : null,
    description: options.description ? execution.text(options.description) : null,
  };
  const actor = { userName: execution.session.login, session: execution.session };
  const device = execution.text(statement.devices[0]);
  const messages =
    statement.target === 'DATABASE'
      ? backupDatabase(execution.instance, name, device, request, actor).messages
      : backupLog(execution.instance, name, device, request, actor).messages;
  messages.forEach((message) => execution.out.info(message));
}

export async function restore(statement: Extract<Statement, { kind: 'restore' }>, execution: Execution): Promise<void> {
  const options = statement.options;
  const name = databaseName(statement.database, execution);
  const actor = { userName: execution.session.login, session: execution.session };
  const recovery = options.recovery ?? 'RECOVERY';
  let messages: SqlMessage[];
  if (statement.devices.length === 0) {
    if (recovery !== 'RECOVERY') throw errors.incorrectSyntax(name, statement.line);
    messages = recoverDatabase(execution.instance, name, actor);
  } else {
    const device = execution.text(statement.devices[0]);
    const request: RestoreRequest = {
      recovery,
      replace: options.replace,
      move: options.move.map((move) => ({
        logicalName: execution.text(move.logicalName),
        to: execution.text(move.to),
      })),
      position: options.file ? Number(castValue(execution.evaluate(options.file), INT)) : 1,
    };
    messages =
      statement.target === 'DATABASE'
        ? restoreDatabase(execution.instance, name, device, request, actor)
        : restoreLog(execution.instance, name, device, request, actor).messages;
  }
  messages.forEach((message) => execution.out.info(message));
}

/** HEADERONLY and FILELISTONLY return rows; VERIFYONLY checks the set (and with LOADHISTORY records it in msdb). */
export function restoreInfo(
  statement: Extract<Statement, { kind: 'restoreInfo' }>,
  execution: Execution,
): SelectResult | null {
  const device = execution.text(statement.devices[0]);
  const sets = readBackupFile(device);
  if (statement.what === 'VERIFYONLY') {
    const position = statement.file ? Number(castValue(execution.evaluate(statement.file), INT)) : 1;
    const set = sets[position - 1];
    if (!set) throw new SqlError(4038, `Cannot find file ID ${position} on device '${device}'.`, 16, 1);
    if (statement.loadHistory) recordBackup(execution.instance, set.header, device);
    execution.out.info({ number: 3262, state: 1, class: 0, message: `The backup set on file ${position} is valid.` });
    return null;
  }
  if (statement.what === 'HEADERONLY') {
    return {
      columns: HEADER_COLUMNS,
      rows: sets.map((set) => HEADER_COLUMNS.map((column) => headerValue(set.header, column.name))),
    };
  }
  const set = sets[0];
  return {
    columns: FILELIST_COLUMNS,
    rows: set.files.map((file) => [
      file.LogicalName,
      file.PhysicalName,
      file.Type,
      file.Type === 'D' ? 'PRIMARY' : null,
      String(file.SizePages * 8192),
      '35184372080640',
      BigInt(file.FileId),
      '0',
      null,
      randomUUID().toUpperCase(),
      null,
      null,
      BigInt(file.SizePages * 8192),
      512,
      file.Type === 'D' ? 1 : 0,
    ]),
  };
}

function databaseName(target: { name: string } | { variable: string }, execution: Execution): string {
  return 'name' in target ? target.name : execution.text({ kind: 'variable', name: target.variable });
}

const TINYINT = { kind: 'tinyint' } as const;
const SMALLINT = { kind: 'smallint' } as const;
const NUMERIC20 = { kind: 'numeric', precision: 20, scale: 0 } as const;

const HEADER_COLUMNS: Column[] = [
  ['BackupName', NVARCHAR_128],
  ['BackupDescription', nvarchar(255)],
  ['BackupType', SMALLINT],
  ['ExpirationDate', DATETIME],
  ['Compressed', BIT],
  ['Position', SMALLINT],
  ['DeviceType', TINYINT],
  ['UserName', NVARCHAR_128],
  ['ServerName', NVARCHAR_128],
  ['DatabaseName', NVARCHAR_128],
  ['DatabaseVersion', INT],
  ['DatabaseCreationDate', DATETIME],
  ['BackupSize', NUMERIC20],
  ['FirstLSN', LSN],
  ['LastLSN', LSN],
  ['CheckpointLSN', LSN],
  ['DatabaseBackupLSN', LSN],
  ['BackupStartDate', DATETIME],
  ['BackupFinishDate', DATETIME],
  ['SortOrder', SMALLINT],
  ['CodePage', SMALLINT],
  ['UnicodeLocaleId', INT],
  ['UnicodeComparisonStyle', INT],
  ['CompatibilityLevel', TINYINT],
  ['SoftwareVendorId', INT],
  ['SoftwareVersionMajor', INT],
  ['SoftwareVersionMinor', INT],
  ['SoftwareVersionBuild', INT],
  ['MachineName', NVARCHAR_128],
  ['Flags', INT],
  ['BindingID', GUID],
  ['RecoveryForkID', GUID],
  ['Collation', NVARCHAR_128],
  ['FamilyGUID', GUID],
  ['HasBulkLoggedData', BIT],
  ['IsSnapshot', BIT],
  ['IsReadOnly', BIT],
  ['IsSingleUser', BIT],
  ['HasBackupChecksums', BIT],
  ['IsDamaged', BIT],
  ['BeginsLogChain', BIT],
  ['HasIncompleteMetaData', BIT],
  ['IsForceOffline', BIT],
  ['IsCopyOnly', BIT],
  ['FirstRecoveryForkID', GUID],
  ['ForkPointLSN', LSN],
  ['RecoveryModel', nvarchar(60)],
  ['DifferentialBaseLSN', LSN],
  ['DifferentialBaseGUID', GUID],
  ['BackupTypeDescription', nvarchar(60)],
  ['BackupSetGUID', GUID],
  ['CompressedBackupSize', BIGINT],
].map(([name, type]) => ({ name: name as string, type: type as Column['type'] }));

const FILELIST_COLUMNS: Column[] = [
  ['LogicalName', NVARCHAR_128],
  ['PhysicalName', nvarchar(260)],
  ['Type', { kind: 'varchar', length: 1 }],
  ['FileGroupName', NVARCHAR_128],
  ['Size', NUMERIC20],
  ['MaxSize', NUMERIC20],
  ['FileID', BIGINT],
  ['CreateLSN', LSN],
  ['DropLSN', LSN],
  ['UniqueID', GUID],
  ['ReadOnlyLSN', LSN],
  ['ReadWriteLSN', LSN],
  ['BackupSizeInBytes', BIGINT],
  ['SourceBlockSize', INT],
  ['FileGroupID', INT],
].map(([name, type]) => ({ name: name as string, type: type as Column['type'] }));

function headerValue(header: BackupHeader, column: string): SqlValue {
  const fixed: Record<string, SqlValue> = {
    ExpirationDate: null,
    SortOrder: 52,
    CodePage: 0,
    UnicodeLocaleId: 1033,
    UnicodeComparisonStyle: 196609,
    CompatibilityLevel: 160,
    HasBulkLoggedData: false,
    IsSnapshot: false,
    IsReadOnly: false,
    IsSingleUser: false,
    HasIncompleteMetaData: false,
    DifferentialBaseLSN: null,
    DifferentialBaseGUID: null,
  };
  if (column in fixed) return fixed[column];
  const value = header[column as keyof BackupHeader];
  if (column.endsWith('Date') && typeof value === 'string') return new Date(value);
  if (column === 'CompressedBackupSize') return BigInt(value as string);
  return value as SqlValue;
}
