/**
 * What a step would execute, for a dry run's plan (`pchat-dr run --dry-run`, the report of a planned run): the very
 * T-SQL batches and Management Shell lines the activities send (built by statements.ts), with every parameter as
 * T-SQL spells it, and a note on where it runs and when it is skipped. Keyed by the one list of activities: a new
 * activity without a describer here does not compile.
 */
import type { Activities } from './index';
import {
  addJobSchedule,
  addLogShippingPrimaryDatabase,
  addLogShippingPrimarySecondary,
  addLogShippingSecondaryDatabase,
  addLogShippingSecondaryPrimary,
  backupDatabase,
  backupTailLog,
  deleteLogShippingPrimaryDatabase,
  deleteLogShippingPrimarySecondary,
  deleteLogShippingSecondaryDatabase,
  dropDatabase,
  enableJob,
  forceServiceAllowDataLoss,
  installMirrorDatabase,
  invokeDatabaseFailover,
  isLater,
  killSession,
  later,
  partnerFailover,
  partnerOff,
  partnerSafety,
  readPoolScript,
  recoverDatabase,
  restoreDatabase,
  restoreLog,
  scriptOf,
  setPersistentChatActiveServer,
  setPersistentChatState,
  startJob,
  type CmdletLine,
  type Later,
  type PlannedStatement,
  type Statement,
} from './statements';
import { sqlPathIn } from './files';
import type { PoolTarget } from '../contracts/estate';
import type { Parameter, TypedParameter } from './sql/connections';

type ActivityName = keyof Activities;

/** A parameter value as T-SQL would spell it (N'...' for text); a Later as <what it is>. */
export function renderValue(value: Parameter | Later | unknown): string {
  if (isLater(value)) return `<${value.later}>`;
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'object' && 'sqlType' in (value as object)) {
    const inner = (value as TypedParameter).value;
    return isLater(inner)
      ? renderValue(inner)
      : typeof inner === 'string'
        ? `'${inner.replace(/'/g, "''")}'`
        : renderValue(inner);
  }
  if (typeof value === 'string') return `N'${value.replace(/'/g, "''")}'`;
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (value instanceof Date) return `'${value.toISOString()}'`;
  return String(value);
}

/** The batch as sent, then one `-- @name = value` line per parameter. */
export function renderStatement(statement: Statement | PlannedStatement): string[] {
  return [
    ...statement.text.split('\n'),
    ...Object.entries(statement.parameters).map(([name, value]) => `-- @${name} = ${renderValue(value)}`),
  ];
}

/** The script as one shell runs it; a change to the pool is read back in the same shell (pool-control.ts). */
function renderCmdlet(pool: PoolTarget, line: CmdletLine, readBack = false): string[] {
  const lines = readBack ? [line, ...readPoolScript(pool.identity, pool.fqdn)] : [line];
  return [`# Management Shell: ${pool.poolControl.command.join(' ')}`, scriptOf(lines)];
}

const note = (text: string) => `-- ${text}`;
const jobIdOf = (jobName: string | Later) =>
  later(
    isLater(jobName)
      ? `job_id of ${jobName.later.replace(/, read when the step runs$/, '')} (msdb.dbo.sysjobs), read when the step runs`
      : `job_id of ${jobName} (msdb.dbo.sysjobs), read when the step runs`,
  );

/** A read sends nothing that changes the estate: a dry run runs it for real. */
const reads = (): string[] => [];

const DESCRIBERS: { [K in ActivityName]: (input: Parameters<Activities[K]>[0]) => string[] } = {
  loadEstate: reads,
  confirmSimulatedEstate: reads,
  verifySignature: reads,
  readMirroringState: reads,
  readAgentStatus: reads,
  readLogShippingPrimary: reads,
  readLogShippingSecondary: reads,
  listBackupFiles: reads,
  readPoolState: reads,
  findOpenIncident: reads,
  readBackupHeaders: reads,
  gatherEvidence: reads,
  findLatestFullBackup: reads,
  readBackupFileList: reads,
  countRows: reads,
  readMessagesSince: reads,
  readRestorePoint: reads,
  readDrillHistory: reads,
  setMirroringSafety: (input) => [
    note(`on ${input.principal.name}; skipped when safety already is ${input.safety}`),
    ...renderStatement(partnerSafety(input.database, input.safety)),
  ],
  plannedMirrorFailover: (input) => [
    note(
      `on ${input.partner.name} (the principal); refused unless SAFETY FULL and SYNCHRONIZED; skipped when ${input.target.name} already is the principal`,
    ),
    ...renderStatement(partnerFailover(input.database)),
  ],
  forceMirrorService: (input) => [
    note(`on ${input.mirror.name} (the mirror); refused while ${input.principal.name} still answers as principal`),
    ...renderStatement(forceServiceAllowDataLoss(input.database)),
  ],
  removeMirroring: (input) => [
    note(`on ${input.instance.name}; skipped when ${input.database} is not mirrored`),
    ...renderStatement(partnerOff(input.database)),
  ],
  waitUntilSynchronized: (input) => [
    note(
      `waits up to ${input.timeoutSeconds} s until mirroring of ${input.database} on ${input.principal.name} is SYNCHRONIZED (reads sys.database_mirroring only)`,
    ),
  ],
  addLogShippingPrimary: (input) => [
    note(
      `on ${input.instance.name}, unless ${input.database} already is a log-shipping primary with these settings${input.replace ? ' (a different configuration is replaced)' : ''}`,
    ),
    ...renderStatement(addLogShippingPrimaryDatabase(input.database, input.settings, input.replace === true)),
    note(`then, when ${input.settings.jobName} has no enabled schedule`),
    ...renderStatement(
      addJobSchedule(
        jobIdOf(input.settings.jobName),
        `${input.settings.jobName}_schedule`,
        input.settings.scheduleSeconds,
      ),
    ),
    note(`and when ${input.settings.jobName} is disabled`),
    ...renderStatement(enableJob(jobIdOf(input.settings.jobName))),
  ],
  addLogShippingPrimarySecondary: (input) => [
    note(`on ${input.instance.name}; skipped when the secondary is already recorded`),
    ...renderStatement(addLogShippingPrimarySecondary(input.database, input.secondaryServer, input.secondaryDatabase)),
  ],
  addLogShippingSecondary: (input) => [
    note(
      `on ${input.instance.name}, unless ${input.database} already restores from ${input.settings.primaryServer} with these settings`,
    ),
    ...(input.replace
      ? [
          note('when a different secondary configuration exists (it is replaced)'),
          ...renderStatement(deleteLogShippingSecondaryDatabase(input.database)),
        ]
      : []),
    note(`when ${input.settings.primaryServer}.${input.settings.primaryDatabase} is not yet registered`),
    ...renderStatement(addLogShippingSecondaryPrimary(input.settings)),
    ...renderStatement(addLogShippingSecondaryDatabase(input.database, input.settings)),
    note('then, for each job without an enabled schedule, and each disabled job'),
    ...renderStatement(
      addJobSchedule(
        jobIdOf(input.settings.copyJobName),
        `${input.settings.copyJobName}_schedule`,
        input.settings.copyScheduleSeconds,
      ),
    ),
    ...renderStatement(
      addJobSchedule(
        jobIdOf(input.settings.restoreJobName),
        `${input.settings.restoreJobName}_schedule`,
        input.settings.restoreScheduleSeconds,
      ),
    ),
    ...renderStatement(enableJob(jobIdOf(input.settings.copyJobName))),
    ...renderStatement(enableJob(jobIdOf(input.settings.restoreJobName))),
  ],
  removeLogShippingSecondary: (input) => [
    note(
      `on ${input.instance.name}, after a running copy or restore job finished (waits up to ${input.waitSeconds} s); skipped when not a secondary`,
    ),
    ...renderStatement(deleteLogShippingSecondaryDatabase(input.database)),
  ],
  removeLogShippingPrimary: (input) => [
    note(
      `on ${input.instance.name}; skipped when ${input.database} is not a log-shipping primary there; for each secondary it records`,
    ),
    ...renderStatement(
      deleteLogShippingPrimarySecondary(
        input.database,
        later(`secondary_server from msdb.dbo.log_shipping_primary_secondaries`),
        later('secondary_database from the same row'),
      ),
    ),
    ...renderStatement(deleteLogShippingPrimaryDatabase(input.database)),
  ],
  copyLogShippingPrimarySettings: (input) => {
    const from = (column: string) =>
      later(`${column} of ${input.database} on ${input.from.name} (msdb), read when the step runs`);
    const jobName = from('the backup job name');
    return [
      note(
        `on ${input.to.name}, with the settings ${input.from.name} uses, read from its msdb when the step runs; skipped when already configured so`,
      ),
      ...renderStatement(
        addLogShippingPrimaryDatabase(
          input.database,
          {
            backupDirectory: from('backup_directory'),
            backupShare: from('backup_share'),
            retentionMinutes: from('backup_retention_period'),
            backupThresholdMinutes: from('backup_threshold'),
            compression: from('backup_compression'),
            jobName,
            scheduleSeconds: from('the backup job schedule'),
          },
          false,
        ),
      ),
      note('then, when the backup job has no enabled schedule, and when it is disabled'),
      ...renderStatement(
        addJobSchedule(
          jobIdOf(jobName),
          later(`the backup job name of ${input.from.name} + _schedule`),
          from('the backup job schedule'),
        ),
      ),
      ...renderStatement(enableJob(jobIdOf(jobName))),
      note(`and, unless ${input.to.name} already records the secondary`),
      ...renderStatement(
        addLogShippingPrimarySecondary(input.database, input.secondaryServer, input.secondaryDatabase),
      ),
    ];
  },
  runAgentJob: (input) => [
    note(
      `on ${input.instance.name}; joins the run in progress instead when the job is running, then waits up to ${input.timeoutSeconds} s for its outcome`,
    ),
    ...renderStatement(startJob(jobIdOf(input.jobName))),
  ],
  backupFullDatabase: (input) => [
    note(
      `on ${input.instance.name}; skipped when the file already holds a full backup of ${input.database}; written as ${input.fileName}.partial, verified (RESTORE VERIFYONLY), then renamed`,
    ),
    ...renderStatement(
      backupDatabase(input.database, sqlPathIn(input.folder.sqlPath, `${input.fileName}.partial`), {
        copyOnly: input.copyOnly === true,
      }),
    ),
  ],
  backupTailLog: (input) => [
    note(`on ${input.instance.name}; leaves ${input.database} RESTORING there (fenced)`),
    ...renderStatement(backupTailLog(input.database, sqlPathIn(input.folder.sqlPath, input.fileName))),
  ],
  restoreFullDatabase: (input) => [
    note(`on ${input.instance.name}; skipped when this backup set is already restored`),
    ...renderStatement(restoreDatabase(input.database, input.file, input.move, input.replace, input.recovery)),
  ],
  applyPendingLogs: (input) =>
    input.logs.length === 0
      ? [note(`on ${input.instance.name}: no log backup is pending (the list is read again when the step runs)`)]
      : [
          note(
            `on ${input.instance.name}, in LSN order; a log already applied is skipped, a gap in the chain stops the step`,
          ),
          ...input.logs.flatMap((log) => renderStatement(restoreLog(input.database, log.file))),
        ],
  recoverDatabase: (input) => [
    note(`on ${input.instance.name}; skipped when ${input.database} is already ONLINE`),
    ...renderStatement(recoverDatabase(input.database)),
  ],
  endSessions: (input) => [
    note(`on ${input.instance.name}, for each user session using ${input.database} (sys.dm_exec_sessions)`),
    ...renderStatement(killSession(later(`session_id of each session using ${input.database}`))),
  ],
  copyPendingBackups: (input) => [
    `# copies every log backup of ${input.database} in ${input.from.workerPath} that ${input.to.workerPath} lacks (or holds at another size), checking each copy's size`,
  ],
  setPoolState: (input) => renderCmdlet(input.pool, setPersistentChatState(input.pool.identity, input.state), true),
  setActiveServers: (input) =>
    renderCmdlet(input.pool, setPersistentChatActiveServer(input.pool.identity, input.servers), true),
  invokeDatabaseFailover: (input) =>
    renderCmdlet(
      input.pool,
      invokeDatabaseFailover(input.pool.fqdn, input.databaseType, input.newPrincipal, input.force),
    ),
  installMirrorDatabase: (input) =>
    renderCmdlet(
      input.pool,
      installMirrorDatabase(input.databaseType, input.principal.host, input.principal.instanceName, input.fileShare),
    ),
  notify: (input) => (input.webhook ? [`# POST ${input.webhook} (a ${input.event.kind} event as JSON)`] : []),
  dropScratchDatabase: (input) => [
    note(`on ${input.instance.name}; skipped when ${input.database} does not exist`),
    ...renderStatement(dropDatabase(input.database)),
  ],
  writeDrillReport: (input) => [`# writes the drill report (Markdown and JSON) into ${input.folder}`],
  pauseDrillSchedule: (input) => [`# pauses the Temporal Schedule ${input.scheduleId} (note: ${input.note})`],
};

/**
 * What an activity would execute with this input: the T-SQL (with `-- @param = value` lines) or the cmdlet line,
 * every statement of the step; nothing for a read-only activity (or one this function does not know).
 */
export function describeStep(activity: string, input: unknown): string[] {
  const describe = (DESCRIBERS as Record<string, (input: unknown) => string[]>)[activity];
  if (!describe || input === null || typeof input !== 'object') return [];
  return describe(input);
}
