/**
 * The backup share and the copy folder (runbook 4 step 6): listing log backups, and copying the ones not yet copied,
 * each verified by size. A folder has two names: the path SQL Server uses, and the path the worker uses.
 */
import path from 'node:path';
import type { ActivityDependencies, FileInfo } from './dependencies';
import { stepFailure } from './failures';
import { heartbeat, heartbeatWhile } from './heartbeat';
import { StepClock, type StepResult } from './step-result';
import { isLogBackupOf } from '../contracts/log-shipping';

export interface Folder {
  sqlPath: string;
  workerPath: string;
}

export interface BackupFile {
  name: string;
  /** The file as SQL Server names it (for BACKUP/RESTORE statements). */
  sqlPath: string;
  size: number;
  modified: string;
}

/** A Windows share or drive path joins with \, anything else with /. */
export function sqlPathIn(folder: string, name: string): string {
  if (/^(\\\\|[A-Za-z]:)/.test(folder) || folder.includes('\\')) return `${folder.replace(/\\+$/, '')}\\${name}`;
  return path.posix.join(folder, name);
}

export async function listLogBackups(
  deps: ActivityDependencies,
  folder: Folder,
  database: string,
): Promise<BackupFile[]> {
  let files: FileInfo[];
  try {
    files = await deps.files.list(folder.workerPath);
  } catch (error) {
    throw stepFailure('BackupFileUnavailable', `cannot list ${folder.workerPath}: ${(error as Error).message}`, {
      folder: folder.workerPath,
    });
  }
  return files
    .filter((file) => isLogBackupOf(file.name, database))
    .map((file) => ({
      name: file.name,
      sqlPath: sqlPathIn(folder.sqlPath, file.name),
      size: file.size,
      modified: file.modified.toISOString(),
    }));
}

export function filesActivities(deps: ActivityDependencies) {
  return {
    async listBackupFiles(input: { folder: Folder; database: string }): Promise<StepResult<BackupFile[]>> {
      const clock = new StepClock(deps.clock);
      const files = await listLogBackups(deps, input.folder, input.database);
      return clock.observed(`${files.length} log backup(s) of ${input.database} in ${input.folder.workerPath}`, files);
    },

    /**
     * Runbook 4 step 6: every log backup on the share that the copy folder lacks (or holds at another size, or
     * holds damaged: `recopy`, the files whose copy failed verification while the share's verified) is copied and
     * checked; progress is heartbeated, and a retry simply finds the copied ones in place.
     */
    async copyPendingBackups(input: {
      from: Folder;
      to: Folder;
      database: string;
      recopy?: string[];
    }): Promise<StepResult<{ pending: string[] }, { copied: string[]; bytes: number; alreadyThere: number }>> {
      const clock = new StepClock(deps.clock);
      const source = await listLogBackups(deps, input.from, input.database);
      const target = new Map(
        (await listLogBackups(deps, input.to, input.database)).map((file) => [file.name, file.size]),
      );
      const damaged = new Set(input.recopy ?? []);
      const pending = source.filter((file) => target.get(file.name) !== file.size || damaged.has(file.name));
      const copied: string[] = [];
      let bytes = 0;
      for (const file of pending) {
        const from = path.join(input.from.workerPath, file.name);
        const to = path.join(input.to.workerPath, file.name);
        try {
          await heartbeatWhile(deps.files.copy(from, to), { copied: copied.length, of: pending.length });
        } catch (error) {
          throw stepFailure('CopyFailed', `copying ${from} to ${to} failed: ${(error as Error).message}`, {
            file: file.name,
          });
        }
        const size = await deps.files.size(to);
        if (size !== file.size) {
          await deps.files.remove(to);
          throw stepFailure(
            'CopyFailed',
            `${to} has ${size} bytes after copying, the share has ${file.size}: removed it`,
            { file: file.name },
          );
        }
        copied.push(file.name);
        bytes += file.size;
        heartbeat({ copied: copied.length, of: pending.length });
      }
      const found = { pending: pending.map((file) => file.name) };
      const figures = { copied, bytes, alreadyThere: source.length - pending.length };
      if (copied.length === 0)
        return clock.skipped(
          `all ${source.length} log backup(s) of ${input.database} are already in ${input.to.workerPath}`,
          found,
          figures,
        );
      return clock.acted(
        `copied ${copied.length} log backup(s) of ${input.database} (${bytes} bytes) to ${input.to.workerPath}`,
        found,
        figures,
      );
    },
  };
}
