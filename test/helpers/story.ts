/**
 * Steps of the DR story that several runbook tests share: log shipping set up by runbook 2, log backups taken on the
 * primary with chat traffic in between, DC1 lost, and what an operator counts afterwards (messages lost, when they
 * were posted).
 */
import path from 'node:path';
import { expect } from 'vitest';
import { logBackupName } from '../../contracts/log-shipping';
import { nextLogBackupTime } from './log-chain';
import { eventually, type TestEstate } from './estate';
import { result, type RunbookHarness } from './runbooks';

export async function setUpLogShipping(harness: RunbookHarness): Promise<void> {
  const report = await result(await harness.start('setup-log-shipping'));
  expect(report.outcome, report.outcomeReason).toBe('succeeded');
}

/**
 * Log backups of mgc on the primary, named as log shipping names them. The primary's own backup job is paused (and
 * any run of it finished) first, and each name is one second after the newest file on the share (or now), so no
 * file of the same name ever replaces another and many can be taken quickly.
 */
export async function takeLogBackups(
  env: TestEstate,
  count: number,
  messagesBetween = 3,
  instance = 'dc1-sql-a',
  /** The stamp of the first file's name (the SQL Server host's clock); by default the next free second from now. */
  stampedFrom?: number,
): Promise<string[]> {
  const job = () =>
    env.estate
      .snapshot()
      .instances.find((candidate) => candidate.name === instance)!
      .jobs.find((candidate) => candidate.name === 'LSBackup_mgc');
  if (job()) {
    env.estate.setJobEnabled(instance, 'LSBackup_mgc', false);
    await eventually(() => !job()!.running, 15_000, 'the backup job to finish');
  }
  let at = stampedFrom ?? nextLogBackupTime(env.topology.backupShare.workerPath);
  const files: string[] = [];
  const connection = await env.connect(instance);
  try {
    for (let index = 0; index < count; index++, at += 1_000) {
      for (let message = 0; message < messagesBetween; message++) await env.estate.chat.postOne();
      const file = path.join(env.topology.backupShare.sqlPath, logBackupName('mgc', new Date(at)));
      await connection.request().input('file', file).query('BACKUP LOG [mgc] TO DISK = @file WITH INIT');
      files.push(file);
    }
  } finally {
    await connection.close();
  }
  return files;
}

/** The Agent jobs on these instances stop running on their schedules (any run in progress finishes first). */
export async function pauseJobs(env: TestEstate, instances: string[]): Promise<void> {
  const jobsOf = (name: string) => env.estate.snapshot().instances.find((instance) => instance.name === name)!.jobs;
  for (const name of instances) for (const job of jobsOf(name)) env.estate.setJobEnabled(name, job.name, false);
  await eventually(
    () => instances.every((name) => jobsOf(name).every((job) => !job.running)),
    15_000,
    `the jobs on ${instances.join(', ')} to finish`,
  );
}

/** DC1 is lost: both its SQL Server instances stop (chat clients then fail to post). */
export async function loseDc1(env: TestEstate): Promise<void> {
  await Promise.all(['dc1-sql-a', 'dc1-sql-b'].map((name) => env.estate.stopInstance(name)));
}

/** Acknowledged messages the database on `instance` lacks, with the time each was posted on DC1. */
export function lostMessages(env: TestEstate, instance = 'dc2-sql-a'): { clientId: string; postedAt: Date }[] {
  const posted = new Map<string, Date>();
  for (const name of ['dc1-sql-a', 'dc1-sql-b']) {
    for (const message of env.estate.instance(name).database('mgc')?.messages ?? [])
      if (!posted.has(message.clientId)) posted.set(message.clientId, message.postedAt);
  }
  return env.estate.lostMessages(instance).map((clientId) => ({ clientId, postedAt: posted.get(clientId)! }));
}

export function mgcOn(env: TestEstate, instance: string) {
  return env.estate
    .snapshot()
    .instances.find((candidate) => candidate.name === instance)!
    .databases.find((database) => database.name === 'mgc');
}
