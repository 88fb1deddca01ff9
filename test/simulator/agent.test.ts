/**
 * SQL Server Agent sessions as the real Agent keeps them: each start of the service is a row of msdb.dbo.syssessions
 * with a fresh sysjobactivity row per job; stopping the Agent while a job runs kills the job and leaves its activity
 * row with a start date and no stop date for good, so only the current session tells what runs now.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

/** A log-shipping backup job on dc1-sql-a (the procedures create it, disabled and without schedule). */
async function createBackupJob(env: TestEstate): Promise<string> {
  const share = env.topology.backupShare.sqlPath;
  const result = await env.query<{ job: string }>(
    'dc1-sql-a',
    `DECLARE @job uniqueidentifier, @primary uniqueidentifier;
     EXEC master.dbo.sp_add_log_shipping_primary_database @database = N'mgc', @backup_directory = @share,
       @backup_share = @share, @backup_job_name = N'LSBackup_mgc', @backup_job_id = @job OUTPUT, @primary_id = @primary OUTPUT;
     SELECT CAST(@job AS nvarchar(36)) AS job;`,
    { share },
  );
  return result.recordset[0].job;
}

interface ActivityRow {
  session_id: number;
  start_execution_date: Date | null;
  stop_execution_date: Date | null;
}

async function activity(env: TestEstate, job: string): Promise<ActivityRow[]> {
  return (
    await env.query<ActivityRow>(
      'dc1-sql-a',
      `SELECT session_id, start_execution_date, stop_execution_date FROM msdb.dbo.sysjobactivity
         WHERE job_id = @job ORDER BY session_id`,
      { job },
    )
  ).recordset;
}

async function sessions(env: TestEstate): Promise<{ session_id: number; agent_start_date: Date }[]> {
  return (
    await env.query<{ session_id: number; agent_start_date: Date }>(
      'dc1-sql-a',
      'SELECT session_id, agent_start_date FROM msdb.dbo.syssessions ORDER BY session_id',
    )
  ).recordset;
}

describe('SQL Server Agent sessions', () => {
  it('a job killed by an Agent stop keeps a start date and no stop date; the restarted Agent has a new session', async () => {
    env = await startTestEstate();
    const job = await createBackupJob(env);
    const [first] = await sessions(env);
    expect(first.session_id).toBe(1);
    // Jobs created while the Agent runs get a row in its session at once.
    expect(await activity(env, job)).toEqual([
      { session_id: 1, start_execution_date: null, stop_execution_date: null },
    ]);

    // Job steps are slow (sim fault slow-jobs), so the job is still running when the Agent stops.
    env.estate.setJobStepDelay('dc1-sql-a', 30_000);
    await env.query('dc1-sql-a', `EXEC msdb.dbo.sp_start_job @job_name = N'LSBackup_mgc'`);
    await eventually(async () => (await activity(env!, job))[0].start_execution_date, 5_000, 'the job running');
    env.estate.setAgentRunning('dc1-sql-a', false);
    await expect(env.query('dc1-sql-a', `EXEC msdb.dbo.sp_start_job N'LSBackup_mgc'`)).rejects.toMatchObject({
      number: 22022,
    });
    env.estate.setAgentRunning('dc1-sql-a', true);
    env.estate.setJobStepDelay('dc1-sql-a', 0);

    const [, second] = await sessions(env);
    expect(second.session_id).toBe(2);
    expect(second.agent_start_date.getTime()).toBeGreaterThanOrEqual(first.agent_start_date.getTime());
    const [stale, fresh] = await activity(env, job);
    expect(stale).toMatchObject({ session_id: 1, stop_execution_date: null });
    expect(stale.start_execution_date).toBeInstanceOf(Date);
    expect(fresh).toEqual({ session_id: 2, start_execution_date: null, stop_execution_date: null });
    // The killed run wrote no outcome.
    const outcomes = await env.query(
      'dc1-sql-a',
      'SELECT run_status FROM msdb.dbo.sysjobhistory WHERE job_id = @job AND step_id = 0',
      { job },
    );
    expect(outcomes.recordset).toEqual([]);

    // What a DBA asks "is it running?" with: the current session only. The stale row alone would say yes for ever.
    const runningNow = async () =>
      (
        await env!.query<{ n: number }>(
          'dc1-sql-a',
          `SELECT COUNT(*) AS n FROM msdb.dbo.sysjobactivity WHERE job_id = @job AND session_id = @session
             AND start_execution_date IS NOT NULL AND stop_execution_date IS NULL`,
          { job, session: second.session_id },
        )
      ).recordset[0].n;
    expect(await runningNow()).toBe(0);

    // A run in the new session completes normally, and the stale row stays as it was.
    await env.query('dc1-sql-a', `EXEC msdb.dbo.sp_start_job N'LSBackup_mgc'`);
    await eventually(async () => (await activity(env!, job))[1].stop_execution_date, 5_000, 'the new run finishing');
    expect((await activity(env, job))[0]).toEqual(stale);
    expect(
      (
        await env.query(
          'dc1-sql-a',
          'SELECT run_status FROM msdb.dbo.sysjobhistory WHERE job_id = @job AND step_id = 0',
          { job },
        )
      ).recordset,
    ).toEqual([{ run_status: 1 }]);
  });

  it('sp_stop_job cancels a running job: its history says so and its activity row is closed', async () => {
    env = await startTestEstate();
    const job = await createBackupJob(env);
    env.estate.setJobStepDelay('dc1-sql-a', 30_000);
    await env.query('dc1-sql-a', `EXEC msdb.dbo.sp_start_job N'LSBackup_mgc'`);
    await eventually(async () => (await activity(env!, job))[0].start_execution_date, 5_000, 'the job running');
    await env.query('dc1-sql-a', `EXEC msdb.dbo.sp_stop_job N'LSBackup_mgc'`);
    await eventually(async () => (await activity(env!, job))[0].stop_execution_date, 5_000, 'the run closed');
    const outcome = (
      await env.query(
        'dc1-sql-a',
        'SELECT run_status, message FROM msdb.dbo.sysjobhistory WHERE job_id = @job AND step_id = 0',
        { job },
      )
    ).recordset;
    // run_status 3: canceled.
    expect(outcome).toEqual([
      { run_status: 3, message: expect.stringMatching(/^The job was stopped prior to completion by User sa\./) },
    ]);
  });

  it('the instance restarting restarts its Agent: a new session', async () => {
    env = await startTestEstate();
    await env.estate.stopInstance('dc1-sql-a');
    await env.estate.startInstance('dc1-sql-a');
    expect((await sessions(env)).map((session) => session.session_id)).toEqual([1, 2]);
  });
});
