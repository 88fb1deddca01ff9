/**
 * A backup database and a chain of log backups waiting for it, on a simulated estate: mgc seeded on dc2-sql-a from
 * a full backup (RESTORING), then `count` log backups of dc1-sql-a on the share, one chat message in each, named as
 * log shipping names them. Returns the logs with their exact LSNs (read from the primary's msdb), in chain order.
 */
import path from 'node:path';
import type sql from 'mssql';
import type { PendingLog } from '../../contracts/log-shipping';
import type { TestEstate } from './estate';
import { readdirSync } from 'node:fs';
import { isLogBackupOf, logBackupStamp } from '../../contracts/log-shipping';

/** yyyymmddhhmmss for `seconds` after 2026-01-01 00:00:00 UTC: distinct, sortable log backup names. */
function stamp(seconds: number): string {
  return new Date(Date.UTC(2026, 0, 1) + seconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export async function seedLogChain(env: TestEstate, count: number): Promise<{ logs: PendingLog[]; full: string }> {
  const share = env.topology.backupShare.sqlPath;
  const primary: sql.ConnectionPool = await env.connect('dc1-sql-a');
  const backup: sql.ConnectionPool = await env.connect('dc2-sql-a');
  const full = path.join(share, 'mgc_seed.bak');
  await primary.request().input('file', full).query('BACKUP DATABASE [mgc] TO DISK = @file WITH INIT');
  await backup.request().input('file', full).query('RESTORE DATABASE [mgc] FROM DISK = @file WITH NORECOVERY');
  const files: string[] = [];
  for (let index = 0; index < count; index++) {
    await env.estate.chat.postOne();
    const file = path.join(share, `mgc_${stamp(index)}.trn`);
    await primary.request().input('file', file).query('BACKUP LOG [mgc] TO DISK = @file WITH INIT');
    files.push(file);
  }
  const rows = (
    await primary.request().query<{ file: string; first_lsn: string; last_lsn: string; finished: Date }>(
      `SELECT f.physical_device_name AS file, CAST(b.first_lsn AS varchar(25)) AS first_lsn, CAST(b.last_lsn AS varchar(25)) AS last_lsn,
              b.backup_finish_date AS finished
         FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily f ON f.media_set_id = b.media_set_id
        WHERE b.type = 'L' AND b.database_name = N'mgc'`,
    )
  ).recordset;
  const byFile = new Map(rows.map((row) => [row.file, row]));
  await Promise.all([primary.close(), backup.close()]);
  return {
    full,
    logs: files.map((file) => {
      const row = byFile.get(file)!;
      return { file, firstLsn: row.first_lsn, lastLsn: row.last_lsn, backupFinish: row.finished.toISOString() };
    }),
  };
}

/**
 * When the next log backup of `database` taken by a test may be named: a second after the newest one in the share
 * folder (or now), so no file of the same name ever replaces another and many can be taken quickly.
 */
export function nextLogBackupTime(shareFolder: string, database = 'mgc'): number {
  const newest = readdirSync(shareFolder)
    .filter((name) => isLogBackupOf(name, database))
    .sort()
    .pop();
  const stamp = newest ? logBackupStamp(newest) : null;
  return Math.max(Date.now(), stamp ? stamp.at + 1_000 : 0);
}
