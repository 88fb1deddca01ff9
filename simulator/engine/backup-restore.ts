/**
 * BACKUP DATABASE/LOG and RESTORE DATABASE/LOG with SQL Server's documented rules:
 * the log chain (4305 too recent, 4326 too early), recovery forks (4330),
 * exclusive access (3101/3102), the tail-log rule (3159), REPLACE, MOVE, NORECOVERY/RECOVERY/STANDBY, msdb
 * history (backup-history.ts). Statements (backup-statements.ts) and the Agent's log-shipping jobs both come through
 * here, so both follow the same rules.
 */
import { randomUUID } from 'node:crypto';
import type { SqlMessage } from '../tds/session';
import { readBackupFile, writeBackupSet, type BackupHeader, type BackupSet } from './backup-file';
import { recordBackup, recordRestore } from './backup-history';
import { Database, type DatabaseFile } from './database';
import { errors, infos, SqlError } from './errors';
import type { SqlInstance } from './instance';
import type { Session } from './session';

/** Who runs the operation: a session (exclusive-access checks apply) or SQL Server Agent. */
export interface Actor {
  userName: string;
  session?: Session;
}

export interface BackupRequest {
  init?: boolean;
  copyOnly?: boolean;
  norecovery?: boolean;
  checksum?: boolean;
  compression?: boolean;
  name?: string | null;
  description?: string | null;
}

export interface RestoreRequest {
  recovery: 'RECOVERY' | 'NORECOVERY' | 'STANDBY';
  replace?: boolean;
  move?: { logicalName: string; to: string }[];
  position?: number;
}

// ------------------------------------------------------------------------------------------------ BACKUP

/** Databases that may be backed up: ONLINE, not a mirror, not in warm standby. */
function requireBackupSource(instance: SqlInstance, name: string): Database {
  const database = instance.requireAvailable(name);
  if (database.isInStandby) throw errors.warmStandbyBackup(database.name);
  return database;
}

export function backupDatabase(
  instance: SqlInstance,
  name: string,
  device: string,
  request: BackupRequest,
  actor: Actor,
): { header: BackupHeader; messages: SqlMessage[] } {
  const database = requireBackupSource(instance, name);
  const started = new Date();
  const checkpoint = database.allocateLsn();
  const header = makeHeader(instance, database, actor, request, {
    type: 1,
    first: checkpoint,
    last: database.nextLsn,
    checkpoint,
    databaseBackup: checkpoint,
    started,
  });
  const set: BackupSet = {
    header,
    files: database.files.map((file) => ({
      LogicalName: file.logicalName,
      PhysicalName: file.physicalName,
      Type: file.type,
      FileId: file.fileId,
      SizePages: file.sizePages,
    })),
    forks: database.forks.map((fork) => ({ guid: fork.guid, startLsn: fork.startLsn.toString() })),
    messages: rowsOf(database.messagesBetween(0n, database.nextLsn)),
  };
  const position = writeBackupSet(device, set, request.init ?? false);
  if (!request.copyOnly) {
    database.lastFullBackupLsn = checkpoint;
    if (database.logChainStart === null) database.logChainStart = checkpoint;
  }
  recordBackup(instance, { ...header, Position: position }, device);
  instance.changed();
  const pages = dataPages(database) + 2;
  return {
    header,
    messages: [
      infos.processedPages(dataPages(database), database.name, database.files[0].logicalName),
      infos.processedPages(2, database.name, database.files[1].logicalName),
      infos.successfullyProcessed('BACKUP DATABASE', pages, elapsedSeconds(started)),
    ],
  };
}

export function backupLog(
  instance: SqlInstance,
  name: string,
  device: string,
  request: BackupRequest,
  actor: Actor,
): { header: BackupHeader; messages: SqlMessage[] } {
  const database = requireBackupSource(instance, name);
  if (database.recoveryModel === 'SIMPLE') throw errors.logBackupSimpleRecovery();
  if (database.logChainStart === null) throw errors.noCurrentDatabaseBackup(database.name);
  if (request.norecovery) {
    // A tail-log backup fences the database: it needs exclusive access and may not break a mirroring session.
    if (database.mirroring) throw errors.involvedInMirroring(database.name);
    requireExclusiveAccess(instance, database, actor, 'BACKUP LOG');
  }
  const started = new Date();
  const first = database.logChainStart;
  database.allocateLsn(); // the log backup's own record: LastLSN is always after FirstLSN
  const last = database.nextLsn;
  const header = makeHeader(instance, database, actor, request, {
    type: 2,
    first,
    last,
    checkpoint: database.lastFullBackupLsn ?? first,
    databaseBackup: database.lastFullBackupLsn ?? first,
    started,
  });
  const messages = database.messagesBetween(first, last);
  const set: BackupSet = { header, files: [], forks: [], messages: rowsOf(messages) };
  const position = writeBackupSet(device, set, request.init ?? false);
  if (!request.copyOnly) database.logChainStart = last;
  if (request.norecovery) {
    instance.terminateSessionsUsing(database, actor.session);
    database.state = 'RESTORING';
  }
  recordBackup(instance, { ...header, Position: position }, device);
  instance.changed();
  const pages = Math.max(1, Math.ceil(messages.length / 20));
  return {
    header,
    messages: [
      infos.processedPages(pages, database.name, database.files[1].logicalName),
      infos.successfullyProcessed('BACKUP LOG', pages, elapsedSeconds(started)),
    ],
  };
}

function makeHeader(
  instance: SqlInstance,
  database: Database,
  actor: Actor,
  request: BackupRequest,
  at: { type: 1 | 2; first: bigint; last: bigint; checkpoint: bigint; databaseBackup: bigint; started: Date },
): BackupHeader {
  // The fork of the backup's last record; if that fork began inside the backup, the backup spans a fork point.
  const lastFork = database.forkAt(at.last - 1n);
  const forkIndex = database.forks.indexOf(lastFork);
  const spansFork = at.type === 2 && forkIndex > 0 && lastFork.startLsn >= at.first;
  const tail = at.type === 2 && request.norecovery === true;
  const pages =
    at.type === 1
      ? dataPages(database) + 2
      : Math.max(1, Math.ceil(database.messagesBetween(at.first, at.last).length / 20));
  return {
    BackupName: request.name ?? null,
    BackupDescription: request.description ?? null,
    BackupType: at.type,
    Position: 1,
    DeviceType: 2,
    UserName: actor.userName,
    ServerName: instance.serverName,
    DatabaseName: database.name,
    DatabaseVersion: 957,
    DatabaseCreationDate: database.createDate.toISOString(),
    BackupSize: String(pages * 8192 + 65536),
    FirstLSN: at.first.toString(),
    LastLSN: at.last.toString(),
    CheckpointLSN: at.checkpoint.toString(),
    DatabaseBackupLSN: at.databaseBackup.toString(),
    BackupStartDate: at.started.toISOString(),
    BackupFinishDate: new Date().toISOString(),
    SoftwareVendorId: 4608,
    SoftwareVersionMajor: instance.version.major,
    SoftwareVersionMinor: instance.version.minor,
    SoftwareVersionBuild: instance.version.build,
    MachineName: instance.machineName,
    Flags: (request.checksum ? 16 : 0) | (tail ? 64 | 256 : 0),
    BindingID: randomUUID().toUpperCase(),
    RecoveryForkID: lastFork.guid,
    Collation: 'SQL_Latin1_General_CP1_CI_AS',
    FamilyGUID: database.familyGuid,
    HasBackupChecksums: request.checksum ?? false,
    IsDamaged: false,
    BeginsLogChain: at.type === 2 && database.lastFullBackupLsn !== null && at.first === database.lastFullBackupLsn,
    IsForceOffline: tail,
    IsCopyOnly: request.copyOnly ?? false,
    FirstRecoveryForkID: spansFork ? database.forks[forkIndex - 1].guid : lastFork.guid,
    ForkPointLSN: spansFork ? lastFork.startLsn.toString() : null,
    RecoveryModel: database.recoveryModel,
    BackupTypeDescription: at.type === 1 ? 'Database' : 'Transaction Log',
    BackupSetGUID: randomUUID().toUpperCase(),
    Compressed: request.compression ?? false,
    CompressedBackupSize: String(pages * 8192 + 65536),
  };
}

// ------------------------------------------------------------------------------------------------ RESTORE

function readSet(device: string, position: number, expectedType: 1 | 2): BackupSet {
  const sets = readBackupFile(device);
  const set = sets[position - 1];
  if (!set) throw new SqlError(4038, `Cannot find file ID ${position} on device '${device}'.`, 16, 1);
  if (set.header.BackupType !== expectedType) {
    throw new SqlError(
      3135,
      `The backup set in file '${device}' was created by ${set.header.BackupType === 1 ? 'BACKUP DATABASE' : 'BACKUP LOG'} and cannot be used for this restore operation.`,
      16,
      2,
    );
  }
  return set;
}

/** RESTORE needs the database to itself: no other session in it (3101), and not the caller's own context (3102). */
function requireExclusiveAccess(instance: SqlInstance, database: Database, actor: Actor, statement: string): void {
  if (actor.session && actor.session.database.toLowerCase() === database.name.toLowerCase())
    throw errors.inUseBySession(statement, database.name);
  if (instance.sessionsUsing(database).some((session) => session !== actor.session)) throw errors.exclusiveAccess();
}

export function restoreDatabase(
  instance: SqlInstance,
  name: string,
  device: string,
  request: RestoreRequest,
  actor: Actor,
): SqlMessage[] {
  const started = new Date();
  const set = readSet(device, request.position ?? 1, 1);
  const existing = instance.database(name);
  if (existing) {
    if (existing.id <= 4)
      throw new SqlError(
        3108,
        'To restore the master database, the server must be running in single-user mode.',
        16,
        1,
      );
    if (existing.mirroring) throw errors.restoreOnMirrored(existing.name);
    requireExclusiveAccess(instance, existing, actor, 'RESTORE');
    if (!request.replace) {
      if (existing.familyGuid !== set.header.FamilyGUID) throw errors.backupOfOtherDatabase(existing.name);
      if (existing.state === 'ONLINE' && existing.recoveryModel !== 'SIMPLE')
        throw errors.tailNotBackedUp(existing.name);
    }
  }

  const moves = request.move ?? [];
  for (const move of moves) {
    if (!set.files.some((file) => file.LogicalName.toLowerCase() === move.logicalName.toLowerCase()))
      throw errors.logFileNotInBackup(move.logicalName, set.header.DatabaseName);
  }
  const files: DatabaseFile[] = set.files.map((file) => {
    const move = moves.find((candidate) => candidate.logicalName.toLowerCase() === file.LogicalName.toLowerCase());
    const physicalName = move?.to ?? file.PhysicalName;
    const owner = instance.physicalFileOwner(physicalName, name);
    if (owner) throw errors.cannotRestoreFileTo(file.LogicalName, physicalName);
    return {
      fileId: file.FileId,
      logicalName: file.LogicalName,
      physicalName,
      type: file.Type,
      sizePages: file.SizePages,
    };
  });

  const database = new Database({
    id: existing?.id ?? 0,
    name: existing?.name ?? name,
    dataFolder: instance.dataFolder,
    createDate: new Date(set.header.DatabaseCreationDate),
  });
  database.familyGuid = set.header.FamilyGUID;
  database.recoveryModel = set.header.RecoveryModel as Database['recoveryModel'];
  database.forks = set.forks.map((fork) => ({ guid: fork.guid, startLsn: BigInt(fork.startLsn) }));
  database.nextLsn = BigInt(set.header.LastLSN);
  database.lastFullBackupLsn = BigInt(set.header.DatabaseBackupLSN);
  database.messages = set.messages.map((row) => ({ ...row, postedAt: new Date(row.postedAt), lsn: BigInt(row.lsn) }));
  database.files = files;
  database.state = 'RESTORING';
  finishRestore(database, request.recovery);
  if (existing) instance.terminateSessionsUsing(existing, actor.session);
  instance.putDatabase(database);
  recordRestore(instance, set.header, device, database.name, 'D', request, actor);
  const pages = set.files.reduce((total, file) => total + (file.Type === 'D' ? dataPagesOf(set) : 2), 0);
  return [
    ...set.files.map((file) =>
      infos.processedPages(file.Type === 'D' ? dataPagesOf(set) : 2, database.name, file.LogicalName),
    ),
    infos.successfullyProcessed('RESTORE DATABASE', pages, elapsedSeconds(started)),
  ];
}

export interface RestoreLogResult {
  header: BackupHeader;
  messages: SqlMessage[];
}

export function restoreLog(
  instance: SqlInstance,
  name: string,
  device: string,
  request: RestoreRequest,
  actor: Actor,
): RestoreLogResult {
  const started = new Date();
  const database = instance.database(name);
  if (!database) throw errors.restoreLogMissingDatabase(name);
  if (database.mirroring) throw errors.restoreOnMirrored(database.name);
  if (database.state !== 'RESTORING' && !database.isInStandby) throw errors.noFilesReadyToRollForward();
  const set = readSet(device, request.position ?? 1, 2);
  const header = set.header;
  if (header.FamilyGUID !== database.familyGuid) throw errors.backupOfOtherDatabase(database.name);
  const first = BigInt(header.FirstLSN);
  const last = BigInt(header.LastLSN);
  const redo = database.nextLsn;
  if (first > redo) throw errors.logTooRecent(header.FirstLSN, redo.toString());
  if (last <= redo) throw errors.logTooEarly(header.LastLSN, redo.toString());
  // The backup must continue the database's recovery path at the redo point.
  const forkPoint = header.ForkPointLSN === null ? null : BigInt(header.ForkPointLSN);
  const requiredFork = forkPoint !== null && redo <= forkPoint ? header.FirstRecoveryForkID : header.RecoveryForkID;
  if (database.currentFork.guid !== requiredFork) throw errors.inconsistentRecoveryPath();

  const applied = set.messages.filter((row) => BigInt(row.lsn) >= redo);
  database.messages.push(...applied.map((row) => ({ ...row, postedAt: new Date(row.postedAt), lsn: BigInt(row.lsn) })));
  if (header.RecoveryForkID !== database.currentFork.guid)
    database.forks.push({ guid: header.RecoveryForkID, startLsn: forkPoint ?? redo });
  database.nextLsn = last;
  database.isInStandby = false;
  database.isReadOnly = false;
  database.state = 'RESTORING';
  finishRestore(database, request.recovery);
  instance.changed();
  recordRestore(instance, header, device, database.name, 'L', request, actor);
  const pages = Math.max(1, Math.ceil(set.messages.length / 20));
  return {
    header,
    messages: [
      infos.processedPages(pages, database.name, database.files[1]?.logicalName ?? `${database.name}_log`),
      infos.successfullyProcessed('RESTORE LOG', pages, elapsedSeconds(started)),
    ],
  };
}

/** RESTORE DATABASE x WITH RECOVERY: bring a restoring database online without restoring anything. */
export function recoverDatabase(instance: SqlInstance, name: string, actor: Actor): SqlMessage[] {
  const started = new Date();
  const database = instance.requireDatabase(name);
  if (database.state === 'ONLINE' && !database.isInStandby) throw errors.alreadyRecovered();
  if (database.mirroring) throw errors.restoreOnMirrored(database.name);
  requireExclusiveAccess(instance, database, actor, 'RESTORE');
  database.isInStandby = false;
  database.isReadOnly = false;
  finishRestore(database, 'RECOVERY');
  instance.changed();
  return [infos.successfullyProcessed('RESTORE DATABASE', 0, elapsedSeconds(started))];
}

/** RECOVERY brings the database online on a new recovery fork; its log chain continues from there. */
function finishRestore(database: Database, recovery: RestoreRequest['recovery']): void {
  if (recovery === 'RECOVERY') {
    database.startNewFork();
    database.state = 'ONLINE';
    database.logChainStart = database.nextLsn;
  } else if (recovery === 'STANDBY') {
    database.state = 'ONLINE';
    database.isInStandby = true;
    database.isReadOnly = true;
  }
}

// ------------------------------------------------------------------------------------------------ helpers

function rowsOf(messages: Database['messages']): BackupSet['messages'] {
  return messages.map((message) => ({
    ...message,
    postedAt: message.postedAt.toISOString(),
    lsn: message.lsn.toString(),
  }));
}

function dataPages(database: Database): number {
  return 300 + Math.ceil(database.messages.length / 20);
}

function dataPagesOf(set: BackupSet): number {
  return 300 + Math.ceil(set.messages.length / 20);
}

function elapsedSeconds(since: Date): number {
  return Math.max(0.001, (Date.now() - since.getTime()) / 1000);
}
