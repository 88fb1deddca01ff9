/**
 * BACKUP and RESTORE in the simulator: real files, the LSN chain, recovery, and the data a recovered database
 * holds.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPoolState, writePoolState } from '../../simulator/pool/pool-state';
import { errorNumbers, startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate;
afterEach(async () => env?.close());

async function failure(promise: Promise<unknown>): Promise<number[]> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!outcome) throw new Error('the statement succeeded but should have failed');
  return errorNumbers(outcome);
}

/** A full backup and `count` log backups of mgc on dc1-sql-a, each log after two more chat messages. */
async function backupChain(count: number): Promise<{ full: string; logs: string[]; clientIdsPerLog: string[][] }> {
  const share = env.topology.backupShare.sqlPath;
  const full = path.join(share, 'chain_full.bak');
  await env.query('dc1-sql-a', 'BACKUP DATABASE [mgc] TO DISK = @full WITH INIT', { full });
  const logs: string[] = [];
  const clientIdsPerLog: string[][] = [];
  for (let index = 0; index < count; index++) {
    const ids = [await env.estate.chat.postOne(), await env.estate.chat.postOne()] as string[];
    const file = path.join(share, `chain_${index}.trn`);
    await env.query('dc1-sql-a', 'BACKUP LOG [mgc] TO DISK = @file WITH INIT', { file });
    logs.push(file);
    clientIdsPerLog.push(ids);
  }
  return { full, logs, clientIdsPerLog };
}

const restoreLog = (file: string) =>
  env.query('dc2-sql-a', 'RESTORE LOG [mgc] FROM DISK = @file WITH NORECOVERY', { file });

describe('simulated BACKUP and RESTORE', () => {
  it('applies logs in order only: 4305 for a log too recent, 4326 for one already applied', async () => {
    env = await startTestEstate();
    const { full, logs } = await backupChain(3);
    await env.query('dc2-sql-a', 'RESTORE DATABASE [mgc] FROM DISK = @full WITH NORECOVERY', { full });
    expect(await failure(restoreLog(logs[1]))).toEqual([4305, 3013]);
    await restoreLog(logs[0]);
    expect(await failure(restoreLog(logs[0]))).toEqual([4326, 3013]);
    await restoreLog(logs[1]);
    await restoreLog(logs[2]);
  });

  it('RESTORE DATABASE ... WITH RECOVERY brings it ONLINE holding exactly the messages of the applied range', async () => {
    env = await startTestEstate();
    const { full, logs, clientIdsPerLog } = await backupChain(3);
    await env.query('dc2-sql-a', 'RESTORE DATABASE [mgc] FROM DISK = @full WITH NORECOVERY', { full });
    await restoreLog(logs[0]);
    await restoreLog(logs[1]);
    // A RESTORING database cannot be read.
    expect(await failure(env.query('dc2-sql-a', 'SELECT COUNT(*) AS n FROM mgc.dbo.messages'))).toEqual([927]);
    await env.query('dc2-sql-a', 'restore database mgc with recovery');
    const state = (await env.query('dc2-sql-a', `SELECT state_desc FROM sys.databases WHERE name = 'mgc'`))
      .recordset[0];
    expect(state.state_desc).toBe('ONLINE');
    const held = (await env.query('dc2-sql-a', 'SELECT client_id FROM mgc.dbo.messages ORDER BY id')).recordset.map(
      (row) => row.client_id,
    );
    expect(held).toEqual([...clientIdsPerLog[0], ...clientIdsPerLog[1]]);
    // After recovery no further log can be restored, and recovering again is refused.
    expect(await failure(restoreLog(logs[2]))).toEqual([3117, 3013]);
    expect(await failure(env.query('dc2-sql-a', 'RESTORE DATABASE mgc WITH RECOVERY'))).toEqual([3153, 3013]);
  });

  it('reads headers with RESTORE HEADERONLY and files with RESTORE FILELISTONLY; LSNs are exact as strings', async () => {
    env = await startTestEstate();
    const { full, logs } = await backupChain(2);
    const headers = (await env.query('dc1-sql-a', 'RESTORE HEADERONLY FROM DISK = @file', { file: logs[1] })).recordset;
    expect(headers).toHaveLength(1);
    expect(headers[0]).toMatchObject({
      BackupType: 2,
      DatabaseName: 'mgc',
      ServerName: 'SQLDC1A',
      BackupTypeDescription: 'Transaction Log',
    });
    const exact = (
      await env.query<{ first_lsn: string; last_lsn: string }>(
        'dc1-sql-a',
        `SELECT CAST(first_lsn AS varchar(25)) AS first_lsn, CAST(last_lsn AS varchar(25)) AS last_lsn FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily f ON f.media_set_id = b.media_set_id WHERE f.physical_device_name = @file`,
        { file: logs[0] },
      )
    ).recordset[0];
    const next = (
      await env.query<{ first_lsn: string }>(
        'dc1-sql-a',
        `SELECT CAST(first_lsn AS varchar(25)) AS first_lsn FROM msdb.dbo.backupset b JOIN msdb.dbo.backupmediafamily f ON f.media_set_id = b.media_set_id WHERE f.physical_device_name = @file`,
        { file: logs[1] },
      )
    ).recordset[0];
    // Consecutive log backups chain exactly: one's LastLSN is the next one's FirstLSN.
    expect(next.first_lsn).toBe(exact.last_lsn);
    expect(BigInt(exact.last_lsn)).toBeGreaterThan(2n ** 53n);
    const files = (await env.query('dc1-sql-a', 'RESTORE FILELISTONLY FROM DISK = @full', { full })).recordset;
    expect(files.map((file) => [file.LogicalName, file.Type])).toEqual([
      ['mgc', 'D'],
      ['mgc_log', 'L'],
    ]);
  });

  it('enforces the tail-log rule (3159), exclusive access (3101), MOVE clashes (3156), a missing file (3201), a damaged one (3241)', async () => {
    env = await startTestEstate();
    const { full } = await backupChain(1);
    await env.query('dc1-sql-b', 'ALTER DATABASE mgc SET PARTNER OFF');
    await env.query('dc1-sql-b', 'RESTORE DATABASE mgc WITH RECOVERY');
    expect(
      await failure(env.query('dc1-sql-b', 'RESTORE DATABASE [mgc] FROM DISK = @full WITH RECOVERY', { full })),
    ).toEqual([3159, 3013]);

    const user = await env.connect('dc1-sql-b', { database: 'mgc' });
    await user.request().query('SELECT 1 AS one');
    expect(
      await failure(env.query('dc1-sql-b', 'RESTORE DATABASE [mgc] FROM DISK = @full WITH REPLACE', { full })),
    ).toEqual([3101, 3013]);
    await user.close();
    await env.query('dc1-sql-b', 'RESTORE DATABASE [mgc] FROM DISK = @full WITH REPLACE, RECOVERY', { full });

    // A second copy on the same instance needs its files moved.
    expect(
      await failure(env.query('dc1-sql-b', 'RESTORE DATABASE [scratch] FROM DISK = @full WITH RECOVERY', { full })),
    ).toEqual([3156, 3013]);
    await env.query(
      'dc1-sql-b',
      `RESTORE DATABASE [scratch] FROM DISK = @full WITH MOVE N'mgc' TO N'/var/opt/mssql/data/scratch.mdf', MOVE N'mgc_log' TO N'/var/opt/mssql/data/scratch_log.ldf', RECOVERY`,
      { full },
    );
    await env.query('dc1-sql-b', 'DROP DATABASE [scratch]');

    const missing = path.join(env.topology.backupShare.sqlPath, 'no-such-file.bak');
    expect(
      await failure(env.query('dc2-sql-a', 'RESTORE DATABASE [mgc] FROM DISK = @missing WITH NORECOVERY', { missing })),
    ).toEqual([3201, 3013]);
    env.estate.corruptBackupFile(full);
    expect(
      await failure(env.query('dc2-sql-a', 'RESTORE DATABASE [mgc] FROM DISK = @full WITH NORECOVERY', { full })),
    ).toEqual([3241, 3013]);
  });

  it('a tail-log backup WITH NORECOVERY fences the database: RESTORING, users disconnected, log chain continuing', async () => {
    env = await startTestEstate();
    const { full, logs } = await backupChain(1);
    await env.query('dc1-sql-a', 'ALTER DATABASE mgc SET PARTNER OFF');
    // With mirroring still on, SQL Server refuses a tail-log backup WITH NORECOVERY (1468): checked above by OFF.
    await env.estate.chat.postOne();
    const tail = path.join(env.topology.backupShare.sqlPath, 'tail.trn');
    // The chat servers' sessions hold mgc: the fence needs exclusive access (3101) until they are stopped.
    expect(
      await failure(env.query('dc1-sql-a', 'BACKUP LOG [mgc] TO DISK = @tail WITH NORECOVERY, INIT', { tail })),
    ).toEqual([3101, 3013]);
    writePoolState(env.estate.poolStateFile, { ...readPoolState(env.estate.poolStateFile), activeServers: [] });
    expect(await env.estate.chat.postOne()).toBeNull();
    await env.query('dc1-sql-a', 'BACKUP LOG [mgc] TO DISK = @tail WITH NORECOVERY, INIT', { tail });
    expect(
      (await env.query('dc1-sql-a', `SELECT state_desc FROM sys.databases WHERE name = 'mgc'`)).recordset[0].state_desc,
    ).toBe('RESTORING');
    const header = (await env.query('dc1-sql-a', 'RESTORE HEADERONLY FROM DISK = @tail', { tail })).recordset[0];
    expect(header).toMatchObject({ IsForceOffline: true, Flags: 320 });

    await env.query('dc2-sql-a', 'RESTORE DATABASE [mgc] FROM DISK = @full WITH NORECOVERY', { full });
    await restoreLog(logs[0]);
    await restoreLog(tail);
    await env.query('dc2-sql-a', 'RESTORE DATABASE [mgc] WITH RECOVERY');
    expect(env.estate.lostMessages('dc2-sql-a')).toEqual([]);
  });

  it('refuses a tail-log backup WITH NORECOVERY on a mirrored database (1468)', async () => {
    env = await startTestEstate();
    const tail = path.join(env.topology.backupShare.sqlPath, 'tail.trn');
    expect(await failure(env.query('dc1-sql-a', 'BACKUP LOG [mgc] TO DISK = @tail WITH NORECOVERY', { tail }))).toEqual(
      [1468, 3013],
    );
  });
});
