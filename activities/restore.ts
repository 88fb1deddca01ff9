/**
 * Backup and restore steps (runbook 2 step 3, runbook 4 steps 4, 7, 8, runbook 5 steps 5 and 6). LSNs are always
 * exact decimal strings: headers are read through RESTORE VERIFYONLY ... WITH LOADHISTORY and msdb.dbo.backupset
 * (CAST to varchar), because RESTORE HEADERONLY's numeric(25,0) columns lose precision in the driver.
 */
import { Context } from '@temporalio/activity';
import path from 'node:path';
import type { Instance } from '../topology/schema';
import type { ActivityDependencies } from './dependencies';
import { stepFailure } from './failures';
import { heartbeat, heartbeatWhile } from './heartbeat';
import { sqlPathIn, type Folder } from './files';
import {
  backupDatabase,
  backupTailLog,
  killSession,
  recoverDatabase,
  restoreDatabase,
  restoreLog,
  type Statement,
} from './statements';
import { StepClock, type StepResult } from './step-result';
import type { PendingLog } from '../contracts/log-shipping';

export interface BackupHeaderFacts {
  /** The file as SQL Server names it. */
  file: string;
  type: 'Database' | 'Log';
  database: string;
  firstLsn: string;
  lastLsn: string;
  databaseBackupLsn: string;
  backupStart: string;
  backupFinish: string;
  isForceOffline: boolean;
  isCopyOnly: boolean;
  familyGuid: string;
  backupSetGuid: string;
}

const lsnOrder = (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0);

/** Verifies a backup file on `instance` and reads its header exactly (see the file comment). */
export async function readBackupHeader(
  deps: ActivityDependencies,
  instance: Instance,
  file: string,
): Promise<BackupHeaderFacts> {
  await heartbeatWhile(
    deps.sql.query(instance, 'RESTORE VERIFYONLY FROM DISK = @file WITH LOADHISTORY', { file }, 'backupRestore'),
  );
  const row = await deps.sql.firstRow<Record<string, unknown>>(
    instance,
    `SELECT TOP 1 b.type, b.database_name, CAST(b.first_lsn AS varchar(25)) AS first_lsn, CAST(b.last_lsn AS varchar(25)) AS last_lsn,
              CAST(b.database_backup_lsn AS varchar(25)) AS database_backup_lsn, b.backup_start_date, b.backup_finish_date,
              b.is_force_offline, b.is_copy_only, b.family_guid, b.backup_set_uuid
         FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily f ON f.media_set_id = b.media_set_id
        WHERE f.physical_device_name = @file
        ORDER BY b.backup_set_id DESC`,
    { file },
  );
  if (!row)
    throw stepFailure('BackupFileUnavailable', `${instance.name} verified ${file} but recorded no header for it`, {
      instance: instance.name,
      file,
    });
  return {
    file,
    type: row.type === 'D' ? 'Database' : 'Log',
    database: String(row.database_name),
    firstLsn: String(row.first_lsn),
    lastLsn: String(row.last_lsn),
    databaseBackupLsn: String(row.database_backup_lsn),
    backupStart: (row.backup_start_date as Date).toISOString(),
    backupFinish: (row.backup_finish_date as Date).toISOString(),
    isForceOffline: row.is_force_offline === true,
    isCopyOnly: row.is_copy_only === true,
    familyGuid: String(row.family_guid),
    backupSetGuid: String(row.backup_set_uuid),
  };
}

export interface RedoPoint {
  exists: boolean;
  state: string | null;
  /** sys.master_files.redo_start_lsn: the LSN the next restored log must contain; null unless RESTORING. */
  redoLsn: string | null;
  /** Backup time of the last backup restored into it (msdb.restorehistory): the point its data reaches. */
  restoredUpTo: string | null;
}

export async function readRedoPoint(
  deps: ActivityDependencies,
  instance: Instance,
  database: string,
): Promise<RedoPoint> {
  const row = await deps.sql.firstRow<{ state_desc: string; redo_lsn: string | null }>(
    instance,
    `SELECT d.state_desc, CAST(f.redo_start_lsn AS varchar(25)) AS redo_lsn
         FROM sys.databases d LEFT JOIN sys.master_files f ON f.database_id = d.database_id AND f.file_id = 1
        WHERE d.name = @database`,
    { database },
  );
  if (!row) return { exists: false, state: null, redoLsn: null, restoredUpTo: null };
  const last = await deps.sql.firstRow<{ finished: Date }>(
    instance,
    `SELECT TOP 1 b.backup_finish_date AS finished FROM msdb.dbo.restorehistory r
         JOIN msdb.dbo.backupset b ON b.backup_set_id = r.backup_set_id
        WHERE r.destination_database_name = @database ORDER BY r.restore_history_id DESC`,
    { database },
  );
  return {
    exists: true,
    state: row.state_desc,
    redoLsn: row.redo_lsn,
    restoredUpTo: last ? last.finished.toISOString() : null,
  };
}

/** Heartbeat details of applyPendingLogs: what a retry resumes from. */
export interface ApplyProgress {
  applied: number;
  lastFile: string | null;
  redoLsn: string;
}

export interface ApplyFigures {
  applied: string[];
  alreadyApplied: number;
  redoLsnBefore: string;
  redoLsnAfter: string;
  /** Backup time of the last log now in the database (the recovery point, for RPO). */
  lastAppliedBackupFinish: string | null;
  /** The file a retried attempt found in the heartbeat, if it resumed. */
  resumedAfter: string | null;
}

export function restoreActivities(deps: ActivityDependencies) {
  /** BACKUP and RESTORE run under the long statement timeout. */
  const run = (instance: Instance, statement: Statement, signal?: AbortSignal) =>
    deps.sql.execute(instance, statement, 'backupRestore', signal);
  return {
    /** Where a database stands: its state, redo point and the backup time of the last backup restored into it. */
    async readRestorePoint(input: { instance: Instance; database: string }): Promise<StepResult<RedoPoint>> {
      const clock = new StepClock(deps.clock);
      const point = await readRedoPoint(deps, input.instance, input.database);
      return clock.observed(
        `${input.database} on ${input.instance.name}: ${point.exists ? `${point.state}, restored up to ${point.restoredUpTo ?? 'nothing restored'}` : 'absent'}`,
        point,
      );
    },

    /** Exact header of each file (verified), for evidence and for ordering logs by LSN. */
    async readBackupHeaders(input: { instance: Instance; files: string[] }): Promise<StepResult<BackupHeaderFacts[]>> {
      const clock = new StepClock(deps.clock);
      const headers: BackupHeaderFacts[] = [];
      for (const file of input.files) {
        headers.push(await readBackupHeader(deps, input.instance, file));
        heartbeat({ read: headers.length, of: input.files.length });
      }
      return clock.observed(`read ${headers.length} backup header(s) on ${input.instance.name}`, headers);
    },

    /**
     * A full backup to the share (failback step 5, seeding log shipping): skipped when the file already holds one of
     * this database. It is written under a temporary name, verified, then renamed: the final name only ever holds a
     * whole, verified backup, and a partial file left by an attempt killed half way is removed by the next one.
     */
    async backupFullDatabase(input: {
      instance: Instance;
      database: string;
      folder: Folder;
      fileName: string;
      copyOnly?: boolean;
    }): Promise<StepResult<{ existing: BackupHeaderFacts | null }, BackupHeaderFacts>> {
      const clock = new StepClock(deps.clock);
      const file = sqlPathIn(input.folder.sqlPath, input.fileName);
      const final = path.join(input.folder.workerPath, input.fileName);
      if ((await deps.files.size(final)) !== null) {
        const existing = await readBackupHeader(deps, input.instance, file);
        if (existing.type === 'Database' && existing.database.toLowerCase() === input.database.toLowerCase()) {
          return clock.skipped(
            `${file} already holds a full backup of ${input.database} (finished ${existing.backupFinish})`,
            { existing },
            existing,
          );
        }
      }
      const partialName = `${input.fileName}.partial`;
      const partial = path.join(input.folder.workerPath, partialName);
      await deps.files.remove(partial);
      const statement = backupDatabase(input.database, sqlPathIn(input.folder.sqlPath, partialName), {
        copyOnly: input.copyOnly === true,
      });
      await heartbeatWhile(run(input.instance, statement));
      const verified = await readBackupHeader(deps, input.instance, sqlPathIn(input.folder.sqlPath, partialName));
      await deps.files.rename(partial, final);
      const header = { ...verified, file };
      return clock.acted(
        `backed up ${input.database} on ${input.instance.name} to ${file}${input.copyOnly ? ' (COPY_ONLY)' : ''}, verified`,
        { existing: null },
        header,
      );
    },

    /** Planned failover step 4: BACKUP LOG ... WITH NORECOVERY fences the old principal (RESTORING) with nothing lost. */
    async backupTailLog(input: {
      instance: Instance;
      database: string;
      folder: Folder;
      fileName: string;
    }): Promise<StepResult<RedoPoint, BackupHeaderFacts>> {
      const clock = new StepClock(deps.clock);
      const file = sqlPathIn(input.folder.sqlPath, input.fileName);
      const before = await readRedoPoint(deps, input.instance, input.database);
      if (!before.exists)
        throw stepFailure('DatabaseMissing', `${input.database} does not exist on ${input.instance.name}`, {
          instance: input.instance.name,
        });
      if (before.state === 'RESTORING') {
        if ((await deps.files.size(path.join(input.folder.workerPath, input.fileName))) !== null) {
          const existing = await readBackupHeader(deps, input.instance, file);
          if (existing.isForceOffline)
            return clock.skipped(
              `${input.database} on ${input.instance.name} is already fenced by the tail-log backup ${file}`,
              before,
              existing,
            );
        }
        throw stepFailure(
          'WrongDatabaseState',
          `${input.database} on ${input.instance.name} is already RESTORING, but not by this tail-log backup: there is no tail to back up`,
          { instance: input.instance.name },
        );
      }
      await heartbeatWhile(run(input.instance, backupTailLog(input.database, file)));
      const header = await readBackupHeader(deps, input.instance, file);
      return clock.acted(
        `tail of the log of ${input.database} backed up to ${file}; ${input.instance.name} is RESTORING (fenced)`,
        before,
        header,
      );
    },

    /** Restores a full backup (WITH MOVE / REPLACE as the topology says); skipped when this very backup set is already restored. */
    async restoreFullDatabase(input: {
      instance: Instance;
      database: string;
      file: string;
      move: { logicalName: string; to: string }[];
      replace: boolean;
      recovery: 'RECOVERY' | 'NORECOVERY';
    }): Promise<StepResult<{ header: BackupHeaderFacts; before: RedoPoint }>> {
      const clock = new StepClock(deps.clock);
      const header = await readBackupHeader(deps, input.instance, input.file);
      if (header.type !== 'Database')
        throw stepFailure('RestoreRefused', `${input.file} holds a log backup, not a full backup`, {
          file: input.file,
        });
      const before = await readRedoPoint(deps, input.instance, input.database);
      const restored =
        ((
          await deps.sql.firstRow<{ n: number }>(
            input.instance,
            `SELECT COUNT(*) AS n FROM msdb.dbo.restorehistory r JOIN msdb.dbo.backupset b ON b.backup_set_id = r.backup_set_id
            WHERE r.destination_database_name = @database AND r.restore_type = 'D' AND b.backup_set_uuid = @set`,
            { database: input.database, set: header.backupSetGuid },
          )
        )?.n ?? 0) > 0;
      const expectedState = input.recovery === 'RECOVERY' ? 'ONLINE' : 'RESTORING';
      if (restored && before.state === expectedState) {
        return clock.skipped(
          `${input.database} on ${input.instance.name} is already restored from ${input.file} (${before.state})`,
          { header, before },
        );
      }
      const statement = restoreDatabase(input.database, input.file, input.move, input.replace, input.recovery);
      await heartbeatWhile(run(input.instance, statement));
      return clock.acted(
        `restored ${input.database} on ${input.instance.name} from ${input.file} WITH ${statement.label}`,
        { header, before },
      );
    },

    /**
     * Runbook 4 step 7: every pending log in LSN order, WITH NORECOVERY, in one activity however many there are.
     * Already applied logs are skipped, a gap stops with LogChainBroken (the LSN needed and the LSN found), progress
     * is heartbeated after each file so a retried attempt resumes, and cancellation cancels the running RESTORE.
     */
    async applyPendingLogs(input: {
      instance: Instance;
      database: string;
      logs: PendingLog[];
    }): Promise<StepResult<{ logs: number }, ApplyFigures>> {
      const clock = new StepClock(deps.clock);
      const context = Context.current();
      const resumed = context.info.heartbeatDetails as ApplyProgress | undefined;
      const signal = context.cancellationSignal;
      const point = await readRedoPoint(deps, input.instance, input.database);
      if (!point.exists)
        throw stepFailure('DatabaseMissing', `${input.database} does not exist on ${input.instance.name}`, {
          instance: input.instance.name,
        });
      if (point.state !== 'RESTORING' || !point.redoLsn) {
        throw stepFailure(
          'WrongDatabaseState',
          `${input.database} on ${input.instance.name} is ${point.state}: logs can only be applied to a RESTORING database`,
          { instance: input.instance.name, state: point.state },
        );
      }
      const redoLsnBefore = point.redoLsn;
      let redo = point.redoLsn;
      const applied: string[] = [];
      let alreadyApplied = 0;
      let lastAppliedBackupFinish: string | null = null;
      const logs = [...input.logs].sort((a, b) => lsnOrder(a.firstLsn, b.firstLsn) || lsnOrder(a.lastLsn, b.lastLsn));
      for (const log of logs) {
        if (signal.aborted) throw signal.reason;
        if (lsnOrder(log.lastLsn, redo) <= 0) {
          alreadyApplied++;
          lastAppliedBackupFinish = log.backupFinish;
          continue;
        }
        if (lsnOrder(log.firstLsn, redo) > 0) {
          throw stepFailure(
            'LogChainBroken',
            `the log chain of ${input.database} breaks before ${log.file}: the database needs LSN ${redo} next, the file starts at ${log.firstLsn}`,
            {
              instance: input.instance.name,
              expectedLsn: redo,
              foundLsn: log.firstLsn,
              file: log.file,
              applied: applied.length,
              lastAppliedBackupFinish,
            },
          );
        }
        try {
          const progress: ApplyProgress = {
            applied: (resumed?.applied ?? 0) + applied.length,
            lastFile: applied[applied.length - 1] ?? resumed?.lastFile ?? null,
            redoLsn: redo,
          };
          await heartbeatWhile(run(input.instance, restoreLog(input.database, log.file), signal), progress);
        } catch (error) {
          if (signal.aborted) throw signal.reason;
          throw error;
        }
        redo = log.lastLsn;
        applied.push(log.file);
        lastAppliedBackupFinish = log.backupFinish;
        heartbeat({
          applied: (resumed?.applied ?? 0) + applied.length,
          lastFile: log.file,
          redoLsn: redo,
        } satisfies ApplyProgress);
      }
      const figures: ApplyFigures = {
        applied,
        alreadyApplied,
        redoLsnBefore,
        redoLsnAfter: redo,
        lastAppliedBackupFinish,
        resumedAfter: resumed?.lastFile ?? null,
      };
      const found = { logs: logs.length };
      if (applied.length === 0)
        return clock.skipped(
          `all ${logs.length} log backup(s) were already applied to ${input.database}`,
          found,
          figures,
        );
      const resumedNote = resumed?.lastFile ? ` (resumed after ${resumed.lastFile})` : '';
      return clock.acted(
        `applied ${applied.length} log backup(s) to ${input.database} on ${input.instance.name}${resumedNote}; ${alreadyApplied} were already applied`,
        found,
        figures,
      );
    },

    /** Runbook 4 step 8 (and 5 step 6): RESTORE DATABASE ... WITH RECOVERY, then ONLINE verified. */
    async recoverDatabase(input: { instance: Instance; database: string }): Promise<StepResult<RedoPoint>> {
      const clock = new StepClock(deps.clock);
      const before = await readRedoPoint(deps, input.instance, input.database);
      if (!before.exists)
        throw stepFailure('DatabaseMissing', `${input.database} does not exist on ${input.instance.name}`, {
          instance: input.instance.name,
        });
      if (before.state === 'ONLINE')
        return clock.skipped(`${input.database} on ${input.instance.name} is already ONLINE`, before);
      await heartbeatWhile(run(input.instance, recoverDatabase(input.database)));
      const after = await readRedoPoint(deps, input.instance, input.database);
      if (after.state !== 'ONLINE')
        throw stepFailure(
          'WrongDatabaseState',
          `${input.database} on ${input.instance.name} is ${after.state} after recovery`,
          { instance: input.instance.name },
        );
      return clock.acted(`${input.database} on ${input.instance.name} recovered and ONLINE`, before);
    },

    /** Runbook 4 step 8: end every session using the database (Microsoft: sp_who2, then KILL). */
    async endSessions(input: {
      instance: Instance;
      database: string;
    }): Promise<StepResult<{ sessions: { spid: number; login: string; host: string; program: string }[] }>> {
      const clock = new StepClock(deps.clock);
      const rows = await deps.sql.rows<{
        session_id: number;
        login_name: string;
        host_name: string;
        program_name: string;
      }>(
        input.instance,
        `SELECT s.session_id, s.login_name, s.host_name, s.program_name FROM sys.dm_exec_sessions s
          WHERE s.database_id = DB_ID(@database) AND s.session_id <> @@SPID AND s.is_user_process = 1`,
        { database: input.database },
      );
      const sessions = rows.map((row) => ({
        spid: row.session_id,
        login: row.login_name,
        host: row.host_name,
        program: row.program_name,
      }));
      if (sessions.length === 0)
        return clock.skipped(`no session uses ${input.database} on ${input.instance.name}`, { sessions });
      for (const session of sessions) {
        try {
          const kill = killSession(session.spid);
          await deps.sql.execute(input.instance, kill, 'change');
        } catch (error) {
          // Gone by itself between the listing and the KILL (6106): that is the outcome wanted.
          if (!(error as { details?: { sqlErrors?: number[] }[] }).details?.[0]?.sqlErrors?.includes(6106)) throw error;
        }
      }
      return clock.acted(`ended ${sessions.length} session(s) using ${input.database} on ${input.instance.name}`, {
        sessions,
      });
    },
  };
}
