/**
 * SQL Server Agent of one instance: jobs (msdb.sysjobs / sysjobsteps), schedules (sysschedules), runs on schedule
 * and through sp_start_job, with sysjobhistory and sysjobactivity kept as the real Agent keeps them. Job steps are
 * CmdExec command lines; the simulator runs the ones log shipping creates (sqllogship.exe -Backup/-Copy/-Restore).
 */
import { randomUUID } from 'node:crypto';
import type { SqlValue } from '../tds/session';
import { errors, infos, SqlError } from './errors';
import type { SqlInstance } from './instance';
import { runLogShippingCommand } from './log-shipping';
import type { Row } from './msdb';
import type { ProcedureCall, ProcedureDefinition } from './procedures';
import { GUID, INT, nvarchar, NVARCHAR_128 } from './values';

/** SPIDs of the Agent's own connections while it runs (sp_who2 shows them, as on a real server). */
const AGENT_SPIDS = [51, 52];
const TICK_MS = 200;

export interface JobRun {
  succeeded: boolean;
  message: string;
}

export class Agent {
  serviceRunning = true;
  private timer?: NodeJS.Timeout;
  /** Job id → the run in progress and how to stop it. */
  private readonly running = new Map<string, { done: Promise<void>; abort: AbortController }>();
  /** Schedule id → next time it fires (ms). */
  private readonly nextRun = new Map<number, number>();

  constructor(private readonly instance: SqlInstance) {}

  instanceStarted(): void {
    if (this.serviceRunning) this.startTimer();
  }

  instanceStopped(): void {
    this.stopTimer();
    for (const run of this.running.values()) run.abort.abort();
  }

  startService(): void {
    this.serviceRunning = true;
    if (this.instance.running) this.startTimer();
    this.instance.changed();
  }

  stopService(): void {
    this.serviceRunning = false;
    this.stopTimer();
    this.instance.changed();
  }

  isAgentSession(spid: number): boolean {
    return this.sessionSpids().includes(spid);
  }

  sessionSpids(): number[] {
    return this.serviceRunning && this.instance.running ? AGENT_SPIDS : [];
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
    this.instance.changed();
    return jobId;
  }

  deleteJob(jobId: string): void {
    const msdb = this.instance.msdb;
    const id = jobId.toUpperCase();
    this.running.get(id)?.abort.abort();
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
    if (!this.serviceRunning) throw errors.agentNotRunning();
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
    run.abort.abort();
  }

  private startTimer(): void {
    if (this.timer) return;
    this.nextRun.clear();
    this.timer = setInterval(() => this.runDueJobs(), TICK_MS);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
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
    const abort = new AbortController();
    const done = this.run(job, invokedBy, abort.signal).finally(() => this.running.delete(jobId));
    this.running.set(jobId, { done, abort });
  }

  private async run(job: Row, invokedBy: string, signal: AbortSignal): Promise<void> {
    const msdb = this.instance.msdb;
    const jobId = String(job.job_id);
    const started = new Date();
    msdb.delete('sysjobactivity', (row) => row.job_id === jobId);
    const activity = msdb.insert('sysjobactivity', {
      session_id: 1,
      job_id: jobId,
      run_requested_date: started,
      run_requested_source: invokedBy.startsWith('User') ? '4' : '1',
      queued_date: started,
      start_execution_date: started,
    });
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
      const stepMessage = `Executed as user: NT SERVICE\\SQLSERVERAGENT. ${outcome.message}  Process Exit Code ${outcome.succeeded ? 0 : 1}.  The step ${outcome.succeeded ? 'succeeded' : 'failed'}.`;
      this.history(jobId, Number(step.step_id), String(step.step_name), outcome.succeeded, stepMessage, stepStarted);
      Object.assign(step, {
        last_run_outcome: outcome.succeeded ? 1 : 0,
        last_run_date: agentDate(stepStarted),
        last_run_time: agentTime(stepStarted),
        last_run_duration: agentDuration(Date.now() - stepStarted.getTime()),
      });
      Object.assign(activity, { last_executed_step_id: step.step_id, last_executed_step_date: stepStarted });
      if (!outcome.succeeded) break;
    }
    const summary = `The job ${outcome.succeeded ? 'succeeded' : 'failed'}.  The Job was invoked by ${invokedBy}.  The last step to run was step ${lastStep?.step_id ?? 0} (${lastStep?.step_name ?? ''}).`;
    const historyId = this.history(jobId, 0, '(Job outcome)', outcome.succeeded, summary, started);
    Object.assign(activity, { stop_execution_date: new Date(), job_history_id: historyId });
    this.instance.changed();
  }

  private async runStep(command: string, signal: AbortSignal): Promise<JobRun> {
    if (!this.instance.running) return { succeeded: false, message: 'The instance is not running.' };
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
    succeeded: boolean,
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
      run_status: succeeded ? 1 : 0,
      run_date: agentDate(started),
      run_time: agentTime(started),
      run_duration: agentDuration(Date.now() - started.getTime()),
      server: this.instance.serverName,
    });
    return id;
  }
}

function sameText(value: SqlValue, text: string | null): boolean {
  return text !== null && typeof value === 'string' && value.toLowerCase() === text.toLowerCase();
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

// ------------------------------------------------------------------------------------------------ procedures

const jobParameters = [
  { name: '@job_name', type: NVARCHAR_128 },
  { name: '@job_id', type: GUID },
];

function jobOf(call: ProcedureCall): Row {
  const name = call.text('@job_name');
  const id = call.text('@job_id');
  if (!name && !id) throw new SqlError(14294, 'Supply either @job_id or @job_name to identify the job.', 16, 1);
  return call.execution.instance.agent.findJob(name, id);
}

const scheduleParameters = [
  { name: '@enabled', type: { kind: 'tinyint' } as const, default: 1 },
  { name: '@freq_type', type: INT, default: 4 },
  { name: '@freq_interval', type: INT, default: 1 },
  { name: '@freq_subday_type', type: INT, default: 0 },
  { name: '@freq_subday_interval', type: INT, default: 0 },
  { name: '@freq_relative_interval', type: INT, default: 0 },
  { name: '@freq_recurrence_factor', type: INT, default: 0 },
  { name: '@active_start_date', type: INT },
  { name: '@active_end_date', type: INT, default: 99991231 },
  { name: '@active_start_time', type: INT, default: 0 },
  { name: '@active_end_time', type: INT, default: 235959 },
];

function addSchedule(call: ProcedureCall, name: string): number {
  const msdb = call.execution.instance.msdb;
  const id = msdb.nextId('schedule_id');
  const uid = randomUUID().toUpperCase();
  msdb.insert('sysschedules', {
    schedule_id: id,
    schedule_uid: uid,
    name,
    enabled: call.number('@enabled'),
    freq_type: call.number('@freq_type'),
    freq_interval: call.number('@freq_interval'),
    freq_subday_type: call.number('@freq_subday_type'),
    freq_subday_interval: call.number('@freq_subday_interval'),
    freq_relative_interval: call.number('@freq_relative_interval'),
    freq_recurrence_factor: call.number('@freq_recurrence_factor'),
    active_start_date: call.number('@active_start_date') ?? agentDate(new Date()),
    active_end_date: call.number('@active_end_date'),
    active_start_time: call.number('@active_start_time'),
    active_end_time: call.number('@active_end_time'),
    date_created: new Date(),
  });
  call.setOutput('@schedule_id', id);
  call.setOutput('@schedule_uid', uid);
  call.execution.instance.changed();
  return id;
}

function attachSchedule(call: ProcedureCall, job: Row, scheduleId: number): void {
  const msdb = call.execution.instance.msdb;
  if (!msdb.find('sysjobschedules', (row) => row.job_id === job.job_id && row.schedule_id === scheduleId)) {
    msdb.insert('sysjobschedules', { schedule_id: scheduleId, job_id: job.job_id, next_run_date: 0, next_run_time: 0 });
  }
  call.execution.instance.changed();
}

export const AGENT_PROCEDURES: ProcedureDefinition[] = [
  {
    name: 'sp_start_job',
    home: 'msdb',
    parameters: [
      ...jobParameters,
      { name: '@error_flag', type: INT },
      { name: '@server_name', type: NVARCHAR_128 },
      { name: '@step_name', type: NVARCHAR_128 },
      { name: '@output_flag', type: INT },
    ],
    run(call) {
      const job = jobOf(call);
      call.execution.instance.agent.startJob(job, call.execution.session.login);
      call.execution.out.info(infos.jobStarted(String(job.name)));
    },
  },
  {
    name: 'sp_stop_job',
    home: 'msdb',
    parameters: [
      ...jobParameters,
      { name: '@originating_server', type: NVARCHAR_128 },
      { name: '@server_name', type: NVARCHAR_128 },
    ],
    run(call) {
      const job = jobOf(call);
      call.execution.instance.agent.stopJob(job);
      call.execution.out.info({
        number: 14253,
        state: 1,
        class: 0,
        message: `Job '${String(job.name)}' stopped successfully.`,
      });
    },
  },
  {
    name: 'sp_update_job',
    home: 'msdb',
    parameters: [
      ...jobParameters,
      { name: '@new_name', type: NVARCHAR_128 },
      { name: '@enabled', type: { kind: 'tinyint' } },
      { name: '@description', type: nvarchar(512) },
    ],
    run(call) {
      const job = jobOf(call);
      if (call.given('@new_name')) job.name = call.text('@new_name');
      if (call.given('@enabled')) job.enabled = call.number('@enabled');
      if (call.given('@description')) job.description = call.text('@description');
      job.date_modified = new Date();
      call.execution.instance.changed();
    },
  },
  {
    name: 'sp_add_schedule',
    home: 'msdb',
    parameters: [
      { name: '@schedule_name', type: NVARCHAR_128, required: true },
      ...scheduleParameters,
      { name: '@owner_login_name', type: NVARCHAR_128 },
      { name: '@schedule_uid', type: GUID, output: true },
      { name: '@schedule_id', type: INT, output: true },
      { name: '@originating_server', type: NVARCHAR_128 },
    ],
    run(call) {
      addSchedule(call, call.requiredText('@schedule_name'));
    },
  },
  {
    name: 'sp_attach_schedule',
    home: 'msdb',
    parameters: [
      ...jobParameters,
      { name: '@schedule_id', type: INT },
      { name: '@schedule_name', type: NVARCHAR_128 },
      { name: '@automatic_post', type: { kind: 'bit' } },
    ],
    run(call) {
      const job = jobOf(call);
      const msdb = call.execution.instance.msdb;
      const id = call.number('@schedule_id');
      const name = call.text('@schedule_name');
      const schedule =
        id !== null
          ? msdb.find('sysschedules', (row) => row.schedule_id === id)
          : msdb.find('sysschedules', (row) => sameText(row.name, name));
      if (!schedule) throw errors.jobDoesNotExist(id !== null ? '@schedule_id' : '@schedule_name', String(id ?? name));
      attachSchedule(call, job, Number(schedule.schedule_id));
    },
  },
  {
    name: 'sp_add_jobschedule',
    home: 'msdb',
    parameters: [
      ...jobParameters,
      { name: '@name', type: NVARCHAR_128, required: true },
      ...scheduleParameters,
      { name: '@schedule_id', type: INT, output: true },
      { name: '@automatic_post', type: { kind: 'bit' } },
      { name: '@schedule_uid', type: GUID, output: true },
    ],
    run(call) {
      const job = jobOf(call);
      attachSchedule(call, job, addSchedule(call, call.requiredText('@name')));
    },
  },
];
