/**
 * SQL Server Agent and its jobs (runbook 2 steps 1 and 5; runbook 4 step 5): whether the Agent runs, a job's
 * settings, schedule, last outcome and whether it is running, running a job and waiting for its outcome.
 */
import { Context } from '@temporalio/activity';
import type { JobInfo } from '../contracts/log-shipping';
import type { Instance } from '../topology/schema';
import type { ActivityDependencies } from './dependencies';
import { heartbeat } from './heartbeat';
import { stepFailure } from './failures';
import type { TypedParameter } from './sql/connections';
import { startJob, uniqueIdentifier } from './statements';
import { StepClock, type StepResult } from './step-result';

const SUBDAY_SECONDS: Record<number, number> = { 2: 1, 4: 60, 8: 3600 };

export async function readJob(
  deps: ActivityDependencies,
  instance: Instance,
  jobId: string | null,
): Promise<JobInfo | null> {
  if (!jobId) return null;
  const id = uniqueIdentifier(jobId);
  const job = await deps.sql.firstRow<{ name: string; enabled: number }>(
    instance,
    'SELECT name, enabled FROM msdb.dbo.sysjobs WHERE job_id = @id',
    { id },
  );
  if (!job) return null;
  const schedule = await deps.sql.firstRow<{ freq_subday_type: number; freq_subday_interval: number }>(
    instance,
    `SELECT s.freq_subday_type, s.freq_subday_interval FROM msdb.dbo.sysjobschedules js
         JOIN msdb.dbo.sysschedules s ON s.schedule_id = js.schedule_id WHERE js.job_id = @id AND s.enabled = 1`,
    { id },
  );
  const last = await deps.sql.firstRow<{ run_status: number; run_date: number; run_time: number; message: string }>(
    instance,
    'SELECT TOP 1 run_status, run_date, run_time, message FROM msdb.dbo.sysjobhistory WHERE job_id = @id AND step_id = 0 ORDER BY instance_id DESC',
    { id },
  );
  const running = await isRunningNow(deps, instance, id);
  return {
    id: jobId.toUpperCase(),
    name: job.name,
    enabled: job.enabled === 1,
    scheduleSeconds: schedule
      ? (SUBDAY_SECONDS[schedule.freq_subday_type] ?? 86_400) *
        (schedule.freq_subday_type === 1 ? 1 : schedule.freq_subday_interval)
      : null,
    running,
    lastOutcome: last ? (last.run_status === 1 ? 'succeeded' : 'failed') : null,
    lastRunAt: last ? agentDateTime(last.run_date, last.run_time) : null,
    lastMessage: last?.message ?? null,
  };
}

/** The SQL Server Agent service's state (Running, Stopped, ...), or null where no Agent is installed. */
async function agentServiceStatus(deps: ActivityDependencies, instance: Instance): Promise<string | null> {
  const row = await deps.sql.firstRow<{ status_desc: string }>(
    instance,
    `SELECT status_desc FROM sys.dm_server_services WHERE servicename LIKE N'SQL Server Agent%'`,
  );
  return row?.status_desc ?? null;
}

/**
 * Whether the Agent runs the job now. Only a running Agent's current session counts: a job the Agent was running when
 * it stopped keeps its sysjobactivity row with no stop date for ever (each start of the Agent is a new session,
 * msdb.dbo.syssessions, with rows of its own).
 */
async function isRunningNow(deps: ActivityDependencies, instance: Instance, id: TypedParameter): Promise<boolean> {
  if ((await agentServiceStatus(deps, instance)) !== 'Running') return false;
  const current = await deps.sql.firstRow<{ session: number | null }>(
    instance,
    'SELECT MAX(session_id) AS session FROM msdb.dbo.syssessions',
  );
  if (current?.session == null) return false;
  const row = await deps.sql.firstRow<{ runs: number }>(
    instance,
    `SELECT COUNT(*) AS runs FROM msdb.dbo.sysjobactivity
      WHERE job_id = @id AND session_id = @session AND start_execution_date IS NOT NULL AND stop_execution_date IS NULL`,
    { id, session: current.session },
  );
  return (row?.runs ?? 0) > 0;
}

/** msdb's integer date (yyyymmdd) and time (hhmmss) as an ISO string (the simulator and this tool use UTC). */
function agentDateTime(date: number, time: number): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${Math.floor(date / 10000)}-${pad(Math.floor(date / 100) % 100)}-${pad(date % 100)}T${pad(Math.floor(time / 10000))}:${pad(Math.floor(time / 100) % 100)}:${pad(time % 100)}.000Z`;
}

/** Waits (heartbeating) until none of the jobs is running. */
export async function waitForJobsToFinish(
  deps: ActivityDependencies,
  instance: Instance,
  jobIds: string[],
  timeoutSeconds: number,
): Promise<number> {
  const started = Date.now();
  const context = Context.current();
  for (;;) {
    const jobs = await Promise.all(jobIds.map((id) => readJob(deps, instance, id)));
    const running = jobs.filter((job): job is JobInfo => job?.running === true);
    if (running.length === 0) return Date.now() - started;
    if (Date.now() - started > timeoutSeconds * 1000) {
      throw stepFailure(
        'JobFailed',
        `${running.map((job) => job.name).join(', ')} still running on ${instance.name} after ${timeoutSeconds} s`,
        { instance: instance.name },
      );
    }
    heartbeat({ waitingFor: running.map((job) => job.name) });
    await context.sleep(500);
  }
}

export function agentJobActivities(deps: ActivityDependencies) {
  return {
    /** Runbook 2 step 1: SQL Server Agent must run where log-shipping jobs will run. */
    async readAgentStatus(input: {
      instance: Instance;
    }): Promise<StepResult<{ running: boolean; status: string | null }>> {
      const clock = new StepClock(deps.clock);
      const status = await agentServiceStatus(deps, input.instance);
      return clock.observed(`SQL Server Agent on ${input.instance.name}: ${status ?? 'not installed'}`, {
        running: status === 'Running',
        status,
      });
    },

    /** Runbook 2 step 5: runs an Agent job (or joins the run in progress) and waits for its outcome. */
    async runAgentJob(input: {
      instance: Instance;
      jobName: string;
      timeoutSeconds: number;
    }): Promise<StepResult<JobInfo, { durationMs: number; message: string }>> {
      const clock = new StepClock(deps.clock);
      const started = Date.now();
      const row = await deps.sql.firstRow<{ job_id: string }>(
        input.instance,
        'SELECT job_id FROM msdb.dbo.sysjobs WHERE name = @name',
        { name: input.jobName },
      );
      if (!row)
        throw stepFailure('JobFailed', `there is no job named ${input.jobName} on ${input.instance.name}`, {
          instance: input.instance.name,
        });
      const id = uniqueIdentifier(row.job_id);
      const before = (await readJob(deps, input.instance, row.job_id))!;
      const lastBefore =
        (
          await deps.sql.firstRow<{ last: number | null }>(
            input.instance,
            'SELECT MAX(instance_id) AS last FROM msdb.dbo.sysjobhistory WHERE job_id = @id AND step_id = 0',
            { id },
          )
        )?.last ?? 0;
      if (!before.running) {
        try {
          await deps.sql.execute(input.instance, startJob(row.job_id), 'change');
        } catch (error) {
          // Started by its schedule a moment ago: wait for that run instead.
          if (!/already running/.test((error as Error).message)) throw error;
        }
      }
      const context = Context.current();
      for (;;) {
        const outcome = await deps.sql.firstRow<{ run_status: number; message: string }>(
          input.instance,
          'SELECT TOP 1 run_status, message FROM msdb.dbo.sysjobhistory WHERE job_id = @id AND step_id = 0 AND instance_id > @last ORDER BY instance_id',
          { id, last: lastBefore },
        );
        if (outcome) {
          const durationMs = Date.now() - started;
          if (outcome.run_status !== 1) {
            const steps = await deps.sql.firstRow<{ message: string }>(
              input.instance,
              'SELECT TOP 1 message FROM msdb.dbo.sysjobhistory WHERE job_id = @id AND step_id = 1 ORDER BY instance_id DESC',
              { id },
            );
            throw stepFailure(
              'JobFailed',
              `${input.jobName} on ${input.instance.name} failed: ${steps?.message ?? outcome.message}`,
              { instance: input.instance.name, job: input.jobName },
            );
          }
          return clock.acted(`${input.jobName} on ${input.instance.name} succeeded`, before, {
            durationMs,
            message: outcome.message,
          });
        }
        if (Date.now() - started > input.timeoutSeconds * 1000) {
          throw stepFailure(
            'JobFailed',
            `${input.jobName} on ${input.instance.name} did not finish within ${input.timeoutSeconds} s`,
            { instance: input.instance.name, job: input.jobName },
          );
        }
        heartbeat({ job: input.jobName });
        await context.sleep(250);
      }
    },
  };
}
