/**
 * SQL Server errors and informational messages the simulator raises, with the numbers, severities and texts of
 * sys.messages. One function per situation, named after it, so every place that raises an error says which
 * situation it is in.
 */
import type { SqlMessage } from '../tds/session';

export class SqlError extends Error implements SqlMessage {
  lineNumber?: number;
  procName?: string;

  constructor(
    readonly number: number,
    message: string,
    readonly severity = 16,
    readonly state = 1,
  ) {
    super(message);
    this.name = 'SqlError';
  }

  /** SqlMessage's name for the severity. */
  get class(): number {
    return this.severity;
  }

  static syntax(message: string, line: number, number = 102): SqlError {
    const error = new SqlError(number, message, 15);
    error.lineNumber = line;
    return error;
  }
}

const error = (number: number, message: string, severity = 16, state = 1) =>
  new SqlError(number, message, severity, state);

export const errors = {
  // Batches and names
  incorrectSyntax: (near: string, line: number) => SqlError.syntax(`Incorrect syntax near '${near}'.`, line),
  incorrectSyntaxKeyword: (keyword: string, line: number) =>
    SqlError.syntax(`Incorrect syntax near the keyword '${keyword}'.`, line, 156),
  unsupported: (near: string, statement: string, line: number) =>
    SqlError.syntax(
      `Incorrect syntax near '${near}'. The pchat-dr simulator does not support this statement: ${statement}`,
      line,
    ),
  mustDeclareVariable: (name: string) => error(137, `Must declare the scalar variable "${name}".`, 15, 2),
  invalidObjectName: (name: string) => error(208, `Invalid object name '${name}'.`, 16, 1),
  invalidColumnName: (name: string) => error(207, `Invalid column name '${name}'.`, 16, 1),
  ambiguousColumnName: (name: string) => error(209, `Ambiguous column name '${name}'.`, 16, 1),
  procedureNotFound: (name: string) => error(2812, `Could not find stored procedure '${name}'.`, 16, 62),
  parameterNotSupplied: (procedure: string, parameter: string) =>
    error(201, `Procedure or function '${procedure}' expects parameter '${parameter}', which was not supplied.`, 16, 4),
  tooManyArguments: (procedure: string) =>
    error(8144, `Procedure or function ${procedure} has too many arguments specified.`, 16, 2),
  notAParameter: (parameter: string, procedure: string) =>
    error(8145, `${parameter} is not a parameter for procedure ${procedure}.`, 16, 2),
  conversionFailed: (value: string, type: string) =>
    error(245, `Conversion failed when converting the value '${value}' to data type ${type}.`, 16, 1),
  internal: (message: string) => error(50000, `pchat-dr simulator internal error: ${message}`, 16, 1),
  injected: (number: number, message: string, severity: number) => error(number, message, severity, 1),

  // Logins and database access
  loginFailed: (user: string) => error(18456, `Login failed for user '${user}'.`, 14, 1),
  cannotOpenDatabaseAtLogin: (database: string) =>
    error(4060, `Cannot open database "${database}" requested by the login. The login failed.`, 11, 1),
  databaseDoesNotExist: (database: string) =>
    error(911, `Database '${database}' does not exist. Make sure that the name is entered correctly.`, 16, 1),
  databaseRestoring: (database: string) =>
    error(927, `Database '${database}' cannot be opened. It is in the middle of a restore.`, 14, 1),
  databaseSuspect: (database: string) =>
    error(
      926,
      `Database '${database}' cannot be opened. It has been marked SUSPECT by recovery. See the SQL Server errorlog for more information.`,
      14,
      1,
    ),
  databaseReadOnly: (database: string) =>
    error(3906, `Failed to update database "${database}" because the database is read-only.`, 16, 1),
  databaseOffline: (database: string) =>
    error(942, `Database '${database}' cannot be opened because it is offline.`, 14, 4),
  databaseIsMirror: (database: string) =>
    error(954, `The database "${database}" cannot be opened. It is acting as a mirror database.`, 14, 1),
  databaseSingleUser: (database: string) =>
    error(924, `Database '${database}' is already open and can only have one user at a time.`, 14, 1),
  mustBeInMaster: () => error(5001, 'User must be in the master database.', 16, 2),
  databaseAlreadyExists: (database: string) =>
    error(1801, `Database '${database}' already exists. Choose a different database name.`, 16, 3),
  cannotDropInUse: (database: string) =>
    error(3702, `Cannot drop database "${database}" because it is currently in use.`, 16, 4),
  cannotDropMirrored: (database: string) =>
    error(
      3743,
      `The database '${database}' is enabled for database mirroring. Database mirroring must be removed before you drop the database.`,
      16,
      2,
    ),
  killOwnProcess: () => error(6104, 'Cannot use KILL to kill your own process.', 16, 1),
  notActiveProcess: (spid: number) => error(6106, `Process ID ${spid} is not an active process ID.`, 16, 2),

  // ALTER DATABASE and mirroring (§A.7 mapping)
  alterDatabaseFailed: () => error(5069, 'ALTER DATABASE statement failed.', 16, 1),
  stateChangeWhileInUse: (database: string) =>
    error(5070, `Database state cannot be changed while other users are using the database '${database}'`, 16, 2),
  alreadyMirrored: (database: string) =>
    error(1405, `The database "${database}" is already enabled for database mirroring.`, 16, 1),
  notMirrored: (database: string) =>
    error(1416, `Database "${database}" is not configured for database mirroring.`, 16, 31),
  partnerUnreachable: (address: string) =>
    error(
      1418,
      `The server network address "${address}" can not be reached or does not exist. Check the network address name and that the ports for the local and remote endpoints are operational.`,
      16,
      1,
    ),
  remoteCopyNotRestoring: (database: string) =>
    error(
      1419,
      `The remote copy of database "${database}" cannot be opened. Check the database name and ensure that it is in the restoring state, and then reissue the command.`,
      16,
      1,
    ),
  mirrorNotCaughtUp: (database: string) =>
    error(
      1422,
      `The mirror server instance is not caught up to the recent changes to database "${database}". Unable to fail over.`,
      16,
      2,
    ),
  partnersNotConnected: (database: string) =>
    error(
      1447,
      `ALTER DATABASE "${database}" command cannot be executed until both partner server instances are up, running, and connected. Start the partner and reissue the command.`,
      16,
      21,
    ),
  partnerIsSelf: () =>
    error(
      1452,
      'The partner server instance name must be distinct from the server instance that manages the database. The ALTER DATABASE SET PARTNER command failed.',
      16,
      1,
    ),
  cannotForceService: (database: string) =>
    error(
      1455,
      `The database mirroring service cannot be forced for database "${database}" because the database is not in the correct state to become the principal database.`,
      16,
      1,
    ),
  remoteNotRolledForward: (database: string) =>
    error(
      1412,
      `The remote copy of database "${database}" has not been rolled forward to a point in time that is encompassed in the local copy of the database log.`,
      16,
      1,
    ),
  remoteDoesNotExist: (database: string) =>
    error(
      1448,
      `The remote copy of database "${database}" does not exist. Check the database name and reissue the command.`,
      16,
      1,
    ),
  timeoutTooLarge: (seconds: number) =>
    error(1476, `Database mirroring timeout value ${seconds} exceeds the maximum value 32767.`, 16, 1),
  remoteAlreadyMirrored: (database: string) =>
    error(
      1460,
      `The database "${database}" is already configured for database mirroring on the remote server. Drop database mirroring on the remote server to establish a new partner.`,
      16,
      1,
    ),
  remoteNotRecovering: (database: string) =>
    error(
      1464,
      `Database mirroring cannot be enabled for the remote copy of database "${database}" because the database is not in a recovering state. The remote database must be restored using WITH NORECOVERY.`,
      16,
      1,
    ),
  notFullRecovery: (database: string) =>
    error(
      1465,
      `Database mirroring cannot be enabled because the "${database}" database is not in full recovery mode on both partners.`,
      16,
      1,
    ),
  onlyOnPrincipal: (database: string) =>
    error(
      1470,
      `The alter database for this partner config values may only be initiated on the current principal server for database "${database}".`,
      16,
      1,
    ),
  safetyMustBeFull: (database: string) =>
    error(
      1477,
      `The database mirroring safety level must be FULL to manually failover database "${database}". Set safety level to FULL and retry.`,
      16,
      1,
    ),
  mirrorMissingLog: (database: string) =>
    error(
      1478,
      `The mirror database, "${database}", has insufficient transaction log data to preserve the log backup chain of the principal database. This may happen if a log backup from the principal database has not been taken or has not been restored on the mirror database.`,
      16,
      5,
    ),
  involvedInMirroring: (database: string) =>
    error(
      1468,
      `The operation cannot be performed on database "${database}" because it is involved in a database mirroring session.`,
      16,
      1,
    ),

  // BACKUP and RESTORE (§C.6)
  terminatingAbnormally: (statement: string) => error(3013, `${statement} is terminating abnormally.`, 16, 1),
  exclusiveAccess: () => error(3101, 'Exclusive access could not be obtained because the database is in use.', 16, 1),
  inUseBySession: (statement: string, database: string) =>
    error(
      3102,
      `${statement} cannot process database '${database}' because it is in use by this session. It is recommended that the master database be used when performing this operation.`,
      16,
      1,
    ),
  restoreOnMirrored: (database: string) =>
    error(
      3104,
      `RESTORE cannot operate on database '${database}' because it is configured for database mirroring. Use ALTER DATABASE to remove mirroring if you intend to restore the database.`,
      16,
      1,
    ),
  noFilesReadyToRollForward: () =>
    error(3117, 'The log or differential backup cannot be restored because no files are ready to rollforward.', 16, 1),
  restoreLogMissingDatabase: (database: string) =>
    error(
      3118,
      `The database "${database}" does not exist. RESTORE can only create a database when restoring either a full backup or a file backup of the primary file.`,
      16,
      1,
    ),
  alreadyRecovered: () => error(3153, 'The database is already fully recovered.', 16, 1),
  backupOfOtherDatabase: (database: string) =>
    error(3154, `The backup set holds a backup of a database other than the existing '${database}' database.`, 16, 4),
  tailNotBackedUp: (database: string) =>
    error(
      3159,
      `The tail of the log for the database "${database}" has not been backed up. Use BACKUP LOG WITH NORECOVERY to backup the log if it contains work you do not want to lose. Use the WITH REPLACE or WITH STOPAT clause of the RESTORE statement to just overwrite the contents of the log.`,
      16,
      1,
    ),
  cannotOpenBackupDevice: (path: string, osError: string) =>
    error(3201, `Cannot open backup device '${path}'. Operating system error ${osError}.`, 16, 2),
  writeFailed: (path: string, osError: string) => error(3202, `Write on "${path}" failed: ${osError}`, 16, 1),
  mediaFamilyMalformed: (path: string) =>
    error(
      3241,
      `The media family on device '${path}' is incorrectly formed. SQL Server cannot process this media family.`,
      16,
      0,
    ),
  cannotRestoreFileTo: (file: string, path: string) =>
    error(
      3156,
      `File '${file}' cannot be restored to '${path}'. Use WITH MOVE to identify a valid location for the file.`,
      16,
      3,
    ),
  logFileNotInBackup: (logicalName: string, database: string) =>
    error(
      3234,
      `Logical file '${logicalName}' is not part of database '${database}'. Use RESTORE FILELISTONLY to list the logical file names.`,
      16,
      2,
    ),
  warmStandbyBackup: (database: string) =>
    error(
      3036,
      `The database "${database}" is in warm-standby state (set by executing RESTORE WITH STANDBY) and cannot be backed up until the entire restore sequence is completed.`,
      16,
      1,
    ),
  backupRestoreInTransaction: () =>
    error(3021, 'Cannot perform a backup or restore operation within a transaction.', 16, 1),
  logTooRecent: (first: string, redo: string) =>
    error(
      4305,
      `The log in this backup set begins at LSN ${first}, which is too recent to apply to the database. An earlier log backup that includes LSN ${redo} can be restored.`,
      16,
      1,
    ),
  logTooEarly: (last: string, redo: string) =>
    error(
      4326,
      `The log in this backup set terminates at LSN ${last}, which is too early to apply to the database. A more recent log backup that includes LSN ${redo} can be restored.`,
      16,
      1,
    ),
  inconsistentRecoveryPath: () =>
    error(
      4330,
      'This backup set cannot be applied because it is on a recovery path that is inconsistent with the database. The recovery path is the sequence of data and log backups that have brought the database to a particular recovery point. Find a compatible backup to restore, or restore the rest of the database to match a recovery point within this backup set, which will restore the database to a different point in time.',
      16,
      1,
    ),
  logBackupSimpleRecovery: () =>
    error(
      4208,
      'The statement BACKUP LOG is not allowed while the recovery model is SIMPLE. Use BACKUP DATABASE or change the recovery model using ALTER DATABASE.',
      16,
      1,
    ),
  noCurrentDatabaseBackup: (database: string) =>
    error(
      4214,
      `BACKUP LOG cannot be performed because there is no current database backup. (database '${database}')`,
      16,
      1,
    ),

  // Log shipping and SQL Server Agent (§B)
  lsPrimaryExists: (database: string) =>
    error(32009, `A log shipping primary entry already exists for database ${database}.`),
  lsNotPrimary: (database: string) => error(32010, `Database ${database} does not exist as log shipping primary.`),
  lsPrimaryHasSecondaries: (database: string) =>
    error(
      32011,
      `Primary Database ${database} has active log shipping secondary database(s). Drop the secondary database(s) first.`,
    ),
  lsSecondaryLinkExists: (server: string, database: string, primary: string) =>
    error(32012, `Secondary ${server}.${database} already exists for primary ${primary}.`),
  lsSecondaryExists: (database: string) =>
    error(32013, `A log shipping entry already exists for secondary database ${database}.`),
  lsNotSecondary: (database: string) => error(32014, `Database ${database} does not exist as log shipping secondary.`),
  lsSimpleRecovery: (database: string) =>
    error(32015, `The primary database ${database} cannot have SIMPLE recovery for log shipping to work properly.`),
  lsPrimaryNotRegistered: (server: string, database: string) =>
    error(
      32023,
      `An entry for primary server ${server}, primary database ${database} does not exist on this secondary. Register the primary first.`,
    ),
  lsSecondaryPrimaryExists: (server: string, database: string) =>
    error(32024, `An entry for primary server ${server}, primary database ${database} already exists.`),
  lsSecondaryPrimaryInUse: (server: string, database: string) =>
    error(
      32025,
      `Primary Server ${server}, Database ${database} has active log shipping secondary database(s) on the secondary. Drop the secondary database(s) first.`,
    ),
  jobDoesNotExist: (how: string, name: string) => error(14262, `The specified ${how} ('${name}') does not exist.`),
  jobAlreadyRunning: (job: string) =>
    error(
      22022,
      `SQLServerAgent Error: Request to run job ${job} refused because the job is already running from a request by User sa.`,
    ),
  agentNotRunning: () =>
    error(22022, 'SQLServerAgent is not currently running so it cannot be notified of this action.'),
};

export const infos = {
  changedDatabase: (database: string): SqlMessage => ({
    number: 5701,
    state: 1,
    class: 0,
    message: `Changed database context to '${database}'.`,
  }),
  processedPages: (pages: number, database: string, file: string): SqlMessage => ({
    number: 4035,
    state: 1,
    class: 0,
    message: `Processed ${pages} pages for database '${database}', file '${file}' on file 1.`,
  }),
  successfullyProcessed: (statement: string, pages: number, seconds: number): SqlMessage => {
    const mbPerSecond = seconds > 0 ? (pages * 8) / 1024 / seconds : 0;
    return {
      number: 3014,
      state: 1,
      class: 0,
      message: `${statement} successfully processed ${pages} pages in ${seconds.toFixed(3)} seconds (${mbPerSecond.toFixed(3)} MB/sec).`,
    };
  },
  percentProcessed: (percent: number): SqlMessage => ({
    number: 3211,
    state: 1,
    class: 0,
    message: `${percent} percent processed.`,
  }),
  jobStarted: (job: string): SqlMessage => ({
    number: 14243,
    state: 1,
    class: 0,
    message: `Job '${job}' started successfully.`,
  }),
};

/**
 * What a server that refuses logins sends, by error number (the `refuse-logins` fault): the client sees the last
 * one. Only errors whose text SQL Server documents are here.
 */
export const LOGIN_REFUSALS: Readonly<Record<number, (user: string, database: string) => SqlError[]>> = {
  18456: (user) => [errors.loginFailed(user)],
  18451: (user) => [
    error(18451, `Login failed for user '${user}'. Only administrators may connect at this time.`, 14, 1),
  ],
  18486: (user) => [
    error(
      18486,
      `Login failed for user '${user}' because the account is currently locked out. The system administrator can unlock it. `,
      14,
      1,
    ),
  ],
  18487: (user) => [
    error(18487, `Login failed for user '${user}'. Reason: The password of the account has expired.`, 14, 1),
  ],
  18488: (user) => [
    error(18488, `Login failed for user '${user}'. Reason: The password of the account must be changed.`, 14, 1),
  ],
  4060: (user, database) => [errors.cannotOpenDatabaseAtLogin(database), errors.loginFailed(user)],
};
