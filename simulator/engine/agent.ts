/**
 * SQL Server Agent of one instance: jobs (msdb.sysjobs / sysjobsteps), schedules (sysschedules), runs on schedule
 * and through sp_start_job, with sysjobhistory kept as the real Agent keeps it. Job steps are CmdExec command lines;
 * the simulator runs the ones log shipping creates (sqllogship.exe -Backup/-Copy/-Restore). The msdb procedures
 * that manage jobs and schedules are in agent-procedures.ts.
 *
 * Like the real Agent, each start of the service is a session (msdb.dbo.syssessions) with one sysjobactivity row
 * per job. Stopping the service kills the jobs that are running: their activity rows keep a start date and no stop
 * date for ever, so "is this job running?" must look at the current session only, as on a real server.
 */
import { randomUUID } from 'node:crypto';
import { errors, SqlError } from './errors';
import type { SqlInstance } from './instance';
import { runLogShippingCommand } from './log-shipping-jobs';
import { sameText, type Row } from './msdb';
import { sleep } from './sleep';

/** SPIDs of the Agent's own connections while it runs (sp_who2 shows them, as on a real server). */
const AGENT_SPIDS = [51, 52];
const TICK_MS = 200;

export interface JobRun {
  succeeded: boolean;
  message: string;
}

/** Why a run was stopped before its end: sp_stop_job cancels it (recorded), the service stopping kills it (not). */
type StopReason = 'stopped-by-user' | 'agent-stopped';

/** sysjobhistory.run_status. */
const RunStatus = { failed: 0, succeeded: 1, canceled: 3 } as const;

interface RunningJob {
  done: Promise<void>;
  stop: AbortController;
}

export class Agent {
  serviceRunning = true;
  private timer?: NodeJS.Timeout;
  /** The Agent's current session (syssessions), from the service's start to its stop. */
  private session: { id: number; startedAt: Date } | null = null;
  /** Job id → the run in progress and how to stop it. */
  private readonly running = new Map<string, RunningJob>();
  /** Schedule id → next time it fires (ms). */
  private readonly nextRun = new Map<number, number>();

  constructor(private readonly instance: SqlInstance) {}

  /** When the current session began: sys.dm_server_services' last_startup_time for the Agent. */
  get startedAt(): Date | null {
    return this.session?.startedAt ?? null;
  }

  instanceStarted(): void {
    if (this.serviceRunning) this.beginSession();
  }

  instanceStopped(): void {
    this.endSession();
  }

  startService(): void {
    this.serviceRunning = true;
    if (this.instance.running) this.beginSession();
    this.instance.changed();
  }

  stopService(): void {
    this.serviceRunning = false;
    this.endSession();
    this.instance.changed();
  }

  isAgentSession(spid: number): boolean {
    return this.sessionSpids().includes(spid);
  }

  sessionSpids(): number[] {
    return this.session && this.instance.running ? AGENT_SPIDS : [];
  }

  isRunning(jobId: string): boolean {
    return this.running.has(jobId.toUpperCase());
  }

  /** Resolves when every job run in progress has finished. */
  async idle(): Promise<void> {
    await Promise.all([...this.running.values()].map((run) => run.done));
  }

  /** Creates a disabled one-step CmdExec job, as the log-shipping procedures do. Returns its id. */
  createJob(job: { name: string; description: string; stepName: string; command: string }): string {
    const msdb = this.instance.msdb;
    if (msdb.find('sysjobs', (row) => sameText(row.name, job.name))) {
      throw new SqlError(14261, `The specified @name ('${job.name}') already exists.`, 16, 1);
    }
    const jobId = randomUUID().toUpperCase();
    const now = new Date();
    msdb.insert('sysjobs', {
      job_id: jobId,
      originating_server_id: 0,
      name: job.name,
      enabled: 0,
      description: job.description,
      category_id: 0,
      date_created: now,
      date_modified: now,
      version_number: 1,
    });
    msdb.insert('sysjobsteps', {
      job_id: jobId,
      step_id: 1,
      step_name: job.stepName,
      subsystem: 'CmdExec',
      command: job.command,
      database_name: 'master',
      last_run_outcome: 0,
      last_run_date: 0,
      last_run_time: 0,
      last_run_duration: 0,
    });
    if (this.session) msdb.insert('sysjobactivity', { session_id: this.session.id, job_id: jobId });
    this.instance.changed();
    return jobId;
  }

  deleteJob(jobId: string): void {
    const msdb = this.instance.msdb;
    const id = jobId.toUpperCase();
    this.running.get(id)?.stop.abort('stopped-by-user' satisfies StopReason);
    msdb.delete('sysjobs', (row) => row.job_id === id);
    msdb.delete('sysjobsteps', (row) => row.job_id === id);
    msdb.delete('sysjobschedules', (row) => row.job_id === id);
    msdb.delete('sysjobactivity', (row) => row.job_id === id);
    this.instance.changed();
  }

  /** The job named or identified (14262 when there is none). */
  findJob(jobName: string | null, jobId: string | null): Row {
    const msdb = this.instance.msdb;
    const job = jobId
      ? msdb.find('sysjobs', (row) => row.job_id === jobId.toUpperCase())
      : msdb.find('sysjobs', (row) => sameText(row.name, jobName));
    if (!job)
      throw jobId ? errors.jobDoesNotExist('@job_id', jobId) : errors.jobDoesNotExist('@job_name', jobName ?? '');
    return job;
  }

  /** sp_start_job: queues the job and returns at once. */
  startJob(job: Row, requestedBy: string): void {
    if (!this.session) throw errors.agentNotRunning();
    const jobId = String(job.job_id);
    if (this.running.has(jobId)) throw errors.jobAlreadyRunning(String(job.name));
    this.launch(job, `User ${requestedBy}`);
  }

  stopJob(job: Row): void {
    const run = this.running.get(String(job.job_id));
    if (!run)
      throw new SqlError(
        22022,
        `SQLServerAgent Error: Request to stop job ${String(job.name)} (from User sa) refused because the job is not currently running.`,
        16,
        1,
      );
    run.stop.abort('stopped-by-user' satisfies StopReason);
  }

  /** The service starts: a new session, a fresh activity row for every job, schedules running. */
  private beginSession(): void {
    if (this.session) return;
    const msdb = this.instance.msdb;
    const session = { id: msdb.nextId('agent_session'), startedAt: new Date() };
    msdb.insert('syssessions', { session_id: session.id, agent_start_date: session.startedAt });
    for (const job of msdb.rows('sysjobs'))
      msdb.insert('sysjobactivity', { session_id: session.id, job_id: job.job_id });
    this.session = session;
    this.nextRun.clear();
    this.timer = setInterval(() => this.runDueJobs(), TICK_MS);
    this.timer.unref();
    this.instance.changed();
  }

  /** The service (or its computer) stops: no schedule fires, and the jobs still running are killed where they are. */
  private endSession(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.session = null;
    for (const run of this.running.values()) run.stop.abort('agent-stopped' satisfies StopReason);
  }

  /** Starts every enabled job whose enabled schedule is due (a job already running skips that occurrence). */
  private runDueJobs(): void {
    const msdb = this.instance.msdb;
    const now = Date.now();
    for (const link of msdb.rows('sysjobschedules')) {
      const schedule = msdb.find('sysschedules', (row) => row.schedule_id === link.schedule_id);
      const job = msdb.find('sysjobs', (row) => row.job_id === link.job_id);
      if (!schedule || !job || schedule.enabled !== 1 || job.enabled !== 1) continue;
      const interval = intervalMs(schedule);
      if (interval === null) continue;
      const scheduleId = Number(schedule.schedule_id);
      const due = this.nextRun.get(scheduleId) ?? alignedAfter(now - 1, interval, schedule);
      if (due > now) {
        this.nextRun.set(scheduleId, due);
        continue;
      }
      const next = alignedAfter(now, interval, schedule);
      this.nextRun.set(scheduleId, next);
      const nextDate = new Date(next);
      link.next_run_date = agentDate(nextDate);
      link.next_run_time = agentTime(nextDate);
      if (!this.running.has(String(job.job_id))) this.launch(job, `Schedule ${scheduleId} (${String(schedule.name)})`);
    }
  }

  private launch(job: Row, invokedBy: string): void {
    const jobId = String(job.job_id);
    const stop = new AbortController();
    const entry: RunningJob = {
      stop,
      done: this.run(job, invokedBy, stop.signal).finally(() => {
        if (this.running.get(jobId) === entry) this.running.delete(jobId);
      }),
    };
    this.running.set(jobId, entry);
  }

  /** This session's activity row of the job, reset for a new run. */
  private activityFor(jobId: string, requested: Date, invokedBy: string): Row {
    const msdb = this.instance.msdb;
    const sessionId = this.session!.id;
    const row =
      msdb.find('sysjobactivity', (candidate) => candidate.session_id === sessionId && candidate.job_id === jobId) ??
      msdb.insert('sysjobactivity', { session_id: sessionId, job_id: jobId });
    return Object.assign(row, {
      run_requested_date: requested,
      // SOURCE_USER (4) for sp_start_job, SOURCE_SCHEDULER (1) for a schedule.
      run_requested_source: invokedBy.startsWith('User') ? '4' : '1',
      queued_date: requested,
      start_execution_date: requested,
      last_executed_step_id: null,
      last_executed_step_date: null,
      stop_execution_date: null,
      job_history_id: null,
    });
  }

  private async run(job: Row, invokedBy: string, signal: AbortSignal): Promise<void> {
    const msdb = this.instance.msdb;
    const jobId = String(job.job_id);
    const started = new Date();
    const activity = this.activityFor(jobId, started, invokedBy);
    this.instance.changed();
    const steps = msdb
      .rows('sysjobsteps')
      .filter((row) => row.job_id === jobId)
      .sort((a, b) => Number(a.step_id) - Number(b.step_id));
    let outcome: JobRun = { succeeded: true, message: '' };
    let lastStep: Row | undefined;
    for (const step of steps) {
      lastStep = step;
      const stepStarted = new Date();
      outcome = await this.runStep(String(step.command), signal);
      // A killed job writes nothing more: its activity row stays as it was, without a stop date.
      if (signal.reason === ('agent-stopped' satisfies StopReason)) return;
      const stepMessage = `Executed as user: NT SERVICE\\SQLSERVERAGENT. ${outcome.message}  Process Exit Code ${outcome.succeeded ? 0 : 1}.  The step ${outcome.succeeded ? 'succeeded' : 'failed'}.`;
      this.history(
        jobId,
        Number(step.step_id),
        String(step.step_name),
        statusOf(outcome, signal),
        stepMessage,
        stepStarted,
      );
      Object.assign(step, {
        last_run_outcome: outcome.succeeded ? 1 : 0,
        last_run_date: agentDate(stepStarted),
        last_run_time: agentTime(stepStarted),
        last_run_duration: agentDuration(Date.now() - stepStarted.getTime()),
      });
      Object.assign(activity, { last_executed_step_id: step.step_id, last_executed_step_date: stepStarted });
      if (!outcome.succeeded) break;
    }
    const status = statusOf(outcome, signal);
    const summary =
      status === RunStatus.canceled
        ? `The job was stopped prior to completion by User sa.  The Job was invoked by ${invokedBy}.  The last step to run was step ${lastStep?.step_id ?? 0} (${lastStep?.step_name ?? ''}).`
        : `The job ${outcome.succeeded ? 'succeeded' : 'failed'}.  The Job was invoked by ${invokedBy}.  The last step to run was step ${lastStep?.step_id ?? 0} (${lastStep?.step_name ?? ''}).`;
    const historyId = this.history(jobId, 0, '(Job outcome)', status, summary, started);
    Object.assign(activity, { stop_execution_date: new Date(), job_history_id: historyId });
    this.instance.changed();
  }

  private async runStep(command: string, signal: AbortSignal): Promise<JobRun> {
    if (!this.instance.running) return { succeeded: false, message: 'The instance is not running.' };
    // sqllogship.exe is a client of the instance: injected latency delays its statements like anyone's; a slow share
    // or disk makes the step itself longer.
    const { latencyMs, jobStepDelayMs } = this.instance.faults;
    if (latencyMs + jobStepDelayMs > 0) await sleep(latencyMs + jobStepDelayMs, signal);
    if (signal.aborted) return { succeeded: false, message: 'The job was stopped prior to completion by User sa.' };
    try {
      return await runLogShippingCommand(this.instance, command);
    } catch (err) {
      return { succeeded: false, message: `pchat-dr simulator error: ${(err as Error).message}` };
    }
  }

  private history(
    jobId: string,
    stepId: number,
    stepName: string,
    runStatus: number,
    message: string,
    started: Date,
  ): number {
    const id = this.instance.msdb.nextId('jobhistory');
    this.instance.msdb.insert('sysjobhistory', {
      instance_id: id,
      job_id: jobId,
      step_id: stepId,
      step_name: stepName,
      sql_message_id: 0,
      sql_severity: 0,
      message: message.slice(0, 4000),
      run_status: runStatus,
      run_date: agentDate(started),
      run_time: agentTime(started),
      run_duration: agentDuration(Date.now() - started.getTime()),
      server: this.instance.serverName,
    });
    return id;
  }
}

function statusOf(outcome: JobRun, signal: AbortSignal): number {
  if (signal.reason === ('stopped-by-user' satisfies StopReason)) return RunStatus.canceled;
  return outcome.succeeded ? RunStatus.succeeded : RunStatus.failed;
}

/** How often a schedule fires: freq_subday_type 2 seconds, 4 minutes, 8 hours; 1 = once a day. */
function intervalMs(schedule: Row): number | null {
  const every = Number(schedule.freq_subday_interval ?? 0);
  switch (Number(schedule.freq_subday_type ?? 0)) {
    case 1:
      return 86_400_000;
    case 2:
      return every > 0 ? every * 1_000 : null;
    case 4:
      return every > 0 ? every * 60_000 : null;
    case 8:
      return every > 0 ? every * 3_600_000 : null;
    default:
      return null;
  }
}

/** The first firing time after `after`, aligned on the schedule's active_start_time (UTC) plus whole intervals. */
function alignedAfter(after: number, interval: number, schedule: Row): number {
  const start = Number(schedule.active_start_time ?? 0);
  const day = new Date(after);
  const origin = Date.UTC(
    day.getUTCFullYear(),
    day.getUTCMonth(),
    day.getUTCDate(),
    Math.floor(start / 10000),
    Math.floor(start / 100) % 100,
    start % 100,
  );
  const steps = Math.floor((after - origin) / interval) + 1;
  return origin + steps * interval;
}

/** Agent's integer dates and times: yyyymmdd, hhmmss. */
export function agentDate(date: Date): number {
  return date.getUTCFullYear() * 10000 + (date.getUTCMonth() + 1) * 100 + date.getUTCDate();
}
export function agentTime(date: Date): number {
  return date.getUTCHours() * 10000 + date.getUTCMinutes() * 100 + date.getUTCSeconds();
}
function agentDuration(ms: number): number {
  const seconds = Math.round(ms / 1000);
  return Math.floor(seconds / 3600) * 10000 + (Math.floor(seconds / 60) % 60) * 100 + (seconds % 60);
}
