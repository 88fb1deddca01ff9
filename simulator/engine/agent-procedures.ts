/**
 * SQL Server Agent's msdb procedures the runbooks call: sp_start_job, sp_stop_job, sp_update_job, and the schedules
 * (sp_add_schedule, sp_attach_schedule, sp_add_jobschedule), over the Agent of the instance (agent.ts).
 */
import { randomUUID } from 'node:crypto';
import { agentDate } from './agent';
import { errors, infos, SqlError } from './errors';
import { sameText, type Row } from './msdb';
import type { ProcedureCall, ProcedureDefinition } from './procedures';
import { GUID, INT, nvarchar, NVARCHAR_128 } from './values';

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
