/**
 * Log shipping configured with the msdb procedures, exactly as runbook 2 will send them, running on SQL Server
 * Agent schedules in the simulator: files on the share, copied, restored, monitor tables advancing; a gap in the
 * chain makes the restore job fail with 4305.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { errorNumbers, eventually, startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate;
afterEach(async () => env?.close());

/** Runbook 2's T-SQL: primary configuration and schedule, seeding, secondary configuration and schedules. */
async function configureLogShipping(everySeconds = 1): Promise<void> {
  const share = env.topology.backupShare.sqlPath;
  const copy = env.topology.copyFolder.sqlPath;
  await env.query(
    'dc1-sql-a',
    `DECLARE @job uniqueidentifier, @primary uniqueidentifier, @schedule int;
     EXEC master.dbo.sp_add_log_shipping_primary_database @database = N'mgc', @backup_directory = @share, @backup_share = @share,
       @backup_job_name = N'LSBackup_mgc', @backup_retention_period = 4320, @backup_threshold = 60,
       @backup_job_id = @job OUTPUT, @primary_id = @primary OUTPUT;
     EXEC msdb.dbo.sp_add_schedule @schedule_name = N'LSBackupSchedule_mgc', @freq_type = 4, @freq_interval = 1,
       @freq_subday_type = 2, @freq_subday_interval = @every, @schedule_id = @schedule OUTPUT;
     EXEC msdb.dbo.sp_attach_schedule @job_id = @job, @schedule_id = @schedule;
     EXEC msdb.dbo.sp_update_job @job_id = @job, @enabled = 1;
     EXEC master.dbo.sp_add_log_shipping_primary_secondary @primary_database = N'mgc', @secondary_server = N'SQLDC2A', @secondary_database = N'mgc';`,
    { share, every: everySeconds },
  );
  const seed = path.join(share, 'mgc_seed.bak');
  await env.query('dc1-sql-a', 'BACKUP DATABASE [mgc] TO DISK = @seed WITH INIT, CHECKSUM', { seed });
  await env.query('dc2-sql-a', 'RESTORE DATABASE [mgc] FROM DISK = @seed WITH NORECOVERY', { seed });
  await env.query(
    'dc2-sql-a',
    `DECLARE @copy uniqueidentifier, @restore uniqueidentifier, @secondary uniqueidentifier;
     EXEC master.dbo.sp_add_log_shipping_secondary_primary @primary_server = N'SQLDC1A', @primary_database = N'mgc',
       @backup_source_directory = @share, @backup_destination_directory = @copy_folder,
       @copy_job_name = N'LSCopy_SQLDC1A_mgc', @restore_job_name = N'LSRestore_SQLDC1A_mgc',
       @copy_job_id = @copy OUTPUT, @restore_job_id = @restore OUTPUT, @secondary_id = @secondary OUTPUT;
     EXEC msdb.dbo.sp_add_jobschedule @job_id = @copy, @name = N'LSCopySchedule', @freq_type = 4, @freq_interval = 1, @freq_subday_type = 2, @freq_subday_interval = @every;
     EXEC msdb.dbo.sp_add_jobschedule @job_id = @restore, @name = N'LSRestoreSchedule', @freq_type = 4, @freq_interval = 1, @freq_subday_type = 2, @freq_subday_interval = @every;
     EXEC master.dbo.sp_add_log_shipping_secondary_database @secondary_database = N'mgc', @primary_server = N'SQLDC1A',
       @primary_database = N'mgc', @restore_delay = 0, @restore_mode = 0, @restore_threshold = 45;
     EXEC msdb.dbo.sp_update_job @job_id = @copy, @enabled = 1;
     EXEC msdb.dbo.sp_update_job @job_id = @restore, @enabled = 1;`,
    { share, copy_folder: copy, every: everySeconds },
  );
}

const logFiles = (folder: string) =>
  readdirSync(folder)
    .filter((name) => /^mgc_\d{14}\.trn$/.test(name))
    .sort();

async function monitor() {
  const result = await env.query(
    'dc2-sql-a',
    "SELECT last_copied_file, last_restored_file, last_restored_date FROM msdb.dbo.log_shipping_monitor_secondary WHERE secondary_database = N'mgc'",
  );
  return result.recordset[0] as {
    last_copied_file: string | null;
    last_restored_file: string | null;
    last_restored_date: Date | null;
  };
}

describe('simulated log shipping', () => {
  it('runs on schedule: log backups appear on the share, are copied and restored, and the monitor tables advance', async () => {
    env = await startTestEstate();
    env.estate.chat.start(20);
    await configureLogShipping();

    const share = env.topology.backupShare.workerPath;
    const copy = env.topology.copyFolder.workerPath;
    await eventually(() => logFiles(share).length >= 3, 15_000, 'three log backups on the share');
    await eventually(() => logFiles(copy).length >= 2, 15_000, 'copied files');
    const first = await eventually(async () => (await monitor()).last_restored_file, 15_000, 'a restored file');
    await eventually(async () => (await monitor()).last_restored_file !== first, 15_000, 'the monitor advancing');

    const primary = (
      await env.query(
        'dc1-sql-a',
        'SELECT last_backup_file, last_backup_date FROM msdb.dbo.log_shipping_monitor_primary',
      )
    ).recordset[0];
    expect(existsSync(String(primary.last_backup_file))).toBe(true);
    const history = (
      await env.query(
        'dc2-sql-a',
        `SELECT j.name, h.run_status FROM msdb.dbo.sysjobhistory h JOIN msdb.dbo.sysjobs j ON j.job_id = h.job_id WHERE h.step_id = 0`,
      )
    ).recordset;
    expect(
      history.filter((row) => row.name === 'LSRestore_SQLDC1A_mgc' && row.run_status === 1).length,
    ).toBeGreaterThan(0);
    // The secondary stays RESTORING, and what it holds is a prefix of what the primary acknowledged.
    const secondary = (await env.query('dc2-sql-a', `SELECT state_desc FROM sys.databases WHERE name = N'mgc'`))
      .recordset[0];
    expect(secondary.state_desc).toBe('RESTORING');
  });

  it('the backup job on the mirror side skips the mirror database and reports success', async () => {
    env = await startTestEstate();
    await env.query(
      'dc1-sql-b',
      `DECLARE @job uniqueidentifier, @primary uniqueidentifier;
       EXEC master.dbo.sp_add_log_shipping_primary_database @database = N'mgc', @backup_directory = @share, @backup_share = @share,
         @backup_job_name = N'LSBackup_mgc', @backup_job_id = @job OUTPUT, @primary_id = @primary OUTPUT;
       EXEC msdb.dbo.sp_start_job @job_id = @job;`,
      { share: env.topology.backupShare.sqlPath },
    );
    const outcome = await eventually(
      async () =>
        (await env.query('dc1-sql-b', 'SELECT run_status, message FROM msdb.dbo.sysjobhistory WHERE step_id = 1'))
          .recordset[0],
      5_000,
      'job history',
    );
    expect(outcome.run_status).toBe(1);
    expect(outcome.message).toContain("Skipping log backup for primary database 'mgc'");
    expect(logFiles(env.topology.backupShare.workerPath)).toEqual([]);
  });

  it('a backup file deleted from the middle of the chain makes the next restore fail with 4305 and the restore job report failure', async () => {
    env = await startTestEstate();
    await configureLogShipping(3600); // schedules out of the way: jobs run when the test starts them
    const start = async (instance: string, job: string) => {
      await env.query(instance, 'EXEC msdb.dbo.sp_start_job @job_name = @job', { job });
      await env.estate.instance(instance).agent.idle();
    };
    for (let index = 0; index < 3; index++) {
      await env.estate.chat.postOne();
      await start('dc1-sql-a', 'LSBackup_mgc');
    }
    const share = env.topology.backupShare.workerPath;
    const files = logFiles(share);
    expect(files).toHaveLength(3);
    env.estate.deleteBackupFile(path.join(share, files[1]));
    await start('dc2-sql-a', 'LSCopy_SQLDC1A_mgc');
    await start('dc2-sql-a', 'LSRestore_SQLDC1A_mgc');

    const outcome = (
      await env.query(
        'dc2-sql-a',
        `SELECT TOP 1 h.run_status, h.message FROM msdb.dbo.sysjobhistory h JOIN msdb.dbo.sysjobs j ON j.job_id = h.job_id WHERE j.name = N'LSRestore_SQLDC1A_mgc' AND h.step_id = 0 ORDER BY h.instance_id DESC`,
      )
    ).recordset[0];
    expect(outcome.run_status).toBe(0);
    const errors = (
      await env.query('dc2-sql-a', 'SELECT message FROM msdb.dbo.log_shipping_monitor_error_detail')
    ).recordset.map((row) => row.message as string);
    expect(errors.some((message) => message.startsWith('Error 4305: The log in this backup set begins at LSN'))).toBe(
      true,
    );
    // The first file was applied; the database waits at the gap.
    expect((await monitor()).last_restored_file).toBe(path.join(env.topology.copyFolder.sqlPath, files[0]));

    // Applying the third file by hand fails the same way, as SQL Server reports it: 4305 then 3013.
    const third = path.join(env.topology.copyFolder.sqlPath, files[2]);
    const failure = await env
      .query('dc2-sql-a', 'RESTORE LOG [mgc] FROM DISK = @file WITH NORECOVERY', { file: third })
      .catch((err: unknown) => err);
    expect(errorNumbers(failure)).toEqual([4305, 3013]);
  });

  it('refuses what SQL Server refuses: a second primary entry, a secondary before its primary, LS on a SIMPLE database', async () => {
    env = await startTestEstate();
    const share = env.topology.backupShare.sqlPath;
    const addPrimary = `EXEC master.dbo.sp_add_log_shipping_primary_database @database = N'mgc', @backup_directory = @share, @backup_share = @share, @backup_job_name = N'LSBackup_mgc'`;
    await env.query('dc1-sql-a', addPrimary, { share });
    await expect(env.query('dc1-sql-a', addPrimary, { share })).rejects.toMatchObject({ number: 32009 });
    await expect(
      env.query('dc2-sql-a', `EXEC sp_add_log_shipping_secondary_database N'mgc', N'SQLDC1A', N'mgc'`),
    ).rejects.toMatchObject({ number: 32023 });
    await env.query('dc2-sql-a', 'CREATE DATABASE scratch; ALTER DATABASE scratch SET RECOVERY SIMPLE');
    await expect(
      env.query(
        'dc2-sql-a',
        `EXEC sp_add_log_shipping_primary_database @database = N'scratch', @backup_directory = N'x', @backup_share = N'x', @backup_job_name = N'j'`,
      ),
    ).rejects.toMatchObject({ number: 32015 });
    await expect(env.query('dc2-sql-a', `EXEC sp_delete_log_shipping_secondary_database mgc`)).rejects.toMatchObject({
      number: 32014,
    });
    await expect(env.query('dc1-sql-a', `EXEC sp_start_job N'LSBackup_mgc'`)).rejects.toMatchObject({ number: 2812 });
    await expect(env.query('dc1-sql-a', `EXEC msdb.dbo.sp_start_job N'no such job'`)).rejects.toMatchObject({
      number: 14262,
    });
  });
});
