/**
 * Log-shipping activities against the simulator, in runbook 2 and 3 order: each step acts once and is skipped
 * the second time (state compared), different settings are refused unless replaced, jobs run to an outcome.
 */
import { ApplicationFailure } from '@temporalio/common';
import { afterEach, describe, expect, it } from 'vitest';
import type { PrimarySettings, SecondarySettings } from '../../contracts/log-shipping';
import { activityHarness, simulatedPassword, type ActivityHarness } from '../helpers/activities';
import { startTestEstate, type TestEstate } from '../helpers/estate';

let env: TestEstate;
let harness: ActivityHarness;

afterEach(async () => {
  if (harness) expect(harness.recorded()).not.toContain(simulatedPassword(env));
  await harness?.close();
  await env?.close();
});

function primarySettings(): PrimarySettings {
  return {
    backupDirectory: env.topology.backupShare.sqlPath,
    backupShare: env.topology.backupShare.sqlPath,
    retentionMinutes: 1440,
    backupThresholdMinutes: 2,
    compression: 'default',
    jobName: 'LSBackup_mgc',
    scheduleSeconds: 3600,
  };
}

function secondarySettings(): SecondarySettings {
  return {
    primaryServer: 'dc1-sql-a',
    primaryDatabase: 'mgc',
    sourceDirectory: env.topology.backupShare.sqlPath,
    destinationDirectory: env.topology.copyFolder.sqlPath,
    retentionMinutes: 1440,
    copyJobName: 'LSCopy_dc1-sql-a_mgc',
    restoreJobName: 'LSRestore_dc1-sql-a_mgc',
    copyScheduleSeconds: 3600,
    restoreScheduleSeconds: 3600,
    restoreDelayMinutes: 0,
    restoreThresholdMinutes: 45,
  };
}

/** Everything about log shipping an operator could compare: configuration rows and jobs on every instance. */
function logShippingState(): string {
  return JSON.stringify(
    env.estate.snapshot().instances.map((instance) => ({
      name: instance.name,
      jobs: instance.jobs.map((job) => [job.name, job.enabled]),
      primaries: instance.logShipping.primaries.map((row) => [
        row.primary_database,
        row.backup_directory,
        row.backup_retention_period,
      ]),
      secondaries: instance.logShipping.secondaries.map((row) => [row.secondary_database, row.restore_delay]),
      databases: instance.databases.map((database) => [database.name, database.state]),
    })),
  );
}

async function twice<K extends keyof ActivityHarness['activities']>(
  name: K,
  input: Parameters<ActivityHarness['activities'][K]>[0],
) {
  const first = await harness.run(name, input);
  const after = logShippingState();
  const second = await harness.run(name, input);
  expect(second.outcome, `${String(name)} the second time`).toBe('skipped');
  expect(logShippingState(), `${String(name)} the second time changed the estate`).toBe(after);
  return first;
}

describe('log-shipping activities', () => {
  it('set up log shipping primary → backup step by step, each step acting once, then run the jobs', async () => {
    env = await startTestEstate();
    harness = activityHarness(env);
    const primary = harness.instance('dc1-sql-a');
    const backup = harness.instance('dc2-sql-a');
    env.estate.chat.start(20);

    expect((await harness.run('readLogShippingPrimary', { instance: primary, database: 'mgc' })).found).toBeNull();
    expect(
      (await twice('addLogShippingPrimary', { instance: primary, database: 'mgc', settings: primarySettings() }))
        .outcome,
    ).toBe('acted');
    expect(
      (
        await twice('addLogShippingPrimarySecondary', {
          instance: primary,
          database: 'mgc',
          secondaryServer: 'dc2-sql-a',
          secondaryDatabase: 'mgc',
        })
      ).outcome,
    ).toBe('acted');

    const seed = { sqlPath: env.topology.backupShare.sqlPath, workerPath: env.topology.backupShare.workerPath };
    const full = await twice('backupFullDatabase', {
      instance: primary,
      database: 'mgc',
      folder: seed,
      fileName: 'mgc_seed.bak',
    });
    expect(full.figures).toMatchObject({ type: 'Database', database: 'mgc' });
    expect(BigInt(full.figures.lastLsn)).toBeGreaterThan(2n ** 53n);
    const restored = await twice('restoreFullDatabase', {
      instance: backup,
      database: 'mgc',
      file: full.figures.file,
      move: [],
      replace: false,
      recovery: 'NORECOVERY',
    });
    expect(restored.outcome).toBe('acted');

    expect(
      (await twice('addLogShippingSecondary', { instance: backup, database: 'mgc', settings: secondarySettings() }))
        .outcome,
    ).toBe('acted');

    for (const [instance, job] of [
      [primary, 'LSBackup_mgc'],
      [backup, 'LSCopy_dc1-sql-a_mgc'],
      [backup, 'LSRestore_dc1-sql-a_mgc'],
    ] as const) {
      const run = await harness.run('runAgentJob', { instance, jobName: job, timeoutSeconds: 30 });
      expect(run).toMatchObject({ outcome: 'acted', summary: `${job} on ${instance.name} succeeded` });
    }
    const secondary = await harness.run('readLogShippingSecondary', { instance: backup, database: 'mgc' });
    expect(secondary.found).toMatchObject({
      primaryServer: 'dc1-sql-a',
      restoreMode: 'NORECOVERY',
      restoreDelayMinutes: 0,
    });
    expect(secondary.found?.lastRestoredFile).toMatch(/mgc_\d{14}\.trn$/);
    expect(secondary.found?.copyJob).toMatchObject({ enabled: true, scheduleSeconds: 3600, lastOutcome: 'succeeded' });
    const primaryConfiguration = await harness.run('readLogShippingPrimary', { instance: primary, database: 'mgc' });
    expect(primaryConfiguration.found).toMatchObject({
      secondaries: [{ server: 'dc2-sql-a', database: 'mgc' }],
      backupJob: { enabled: true, lastOutcome: 'succeeded' },
    });
  });

  it('refuses to overwrite a different primary configuration unless asked to replace it', async () => {
    env = await startTestEstate();
    harness = activityHarness(env);
    const primary = harness.instance('dc1-sql-a');
    await harness.run('addLogShippingPrimary', { instance: primary, database: 'mgc', settings: primarySettings() });
    const different = { ...primarySettings(), retentionMinutes: 4320, scheduleSeconds: 900 };
    const refused = await harness
      .run('addLogShippingPrimary', { instance: primary, database: 'mgc', settings: different })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(refused).toBeInstanceOf(ApplicationFailure);
    expect(refused).toMatchObject({ type: 'ConfigurationDiffers', nonRetryable: true });
    expect((refused as ApplicationFailure).message).toContain('retentionMinutes: 1440 → 4320');
    const replaced = await harness.run('addLogShippingPrimary', {
      instance: primary,
      database: 'mgc',
      settings: different,
      replace: true,
    });
    expect(replaced.outcome).toBe('acted');
    expect((await harness.run('readLogShippingPrimary', { instance: primary, database: 'mgc' })).found).toMatchObject({
      retentionMinutes: 4320,
      backupJob: { scheduleSeconds: 900 },
    });
  });

  it('copies the primary settings to the mirror once it is principal (runbook 3), whose backup job then skips while it is the mirror', async () => {
    env = await startTestEstate();
    harness = activityHarness(env);
    const primary = harness.instance('dc1-sql-a');
    const mirror = harness.instance('dc1-sql-b');
    await harness.run('addLogShippingPrimary', { instance: primary, database: 'mgc', settings: primarySettings() });
    await harness.run('addLogShippingPrimarySecondary', {
      instance: primary,
      database: 'mgc',
      secondaryServer: 'dc2-sql-a',
      secondaryDatabase: 'mgc',
    });
    await harness.run('plannedMirrorFailover', { database: 'mgc', target: mirror, partner: primary });

    const copied = await twice('copyLogShippingPrimarySettings', {
      from: primary,
      to: mirror,
      database: 'mgc',
      secondaryServer: 'dc2-sql-a',
      secondaryDatabase: 'mgc',
    });
    expect(copied.figures.settings).toEqual(primarySettings());
    const onMirror = await harness.run('readLogShippingPrimary', { instance: mirror, database: 'mgc' });
    expect(onMirror.found).toMatchObject({
      backupDirectory: primarySettings().backupDirectory,
      retentionMinutes: 1440,
      secondaries: [{ server: 'dc2-sql-a' }],
    });

    // Back to the original principal: the mirror's backup job reports success without backing up.
    await env.estate.chat.postOne();
    await harness.run('waitUntilSynchronized', { database: 'mgc', principal: mirror, timeoutSeconds: 10, pollMs: 100 });
    await harness.run('plannedMirrorFailover', { database: 'mgc', target: primary, partner: mirror });
    const run = await harness.run('runAgentJob', { instance: mirror, jobName: 'LSBackup_mgc', timeoutSeconds: 30 });
    expect(run.outcome).toBe('acted');
    expect(run.figures.message).toContain('The job succeeded');
  });

  it('removes the secondary configuration (and its jobs) once, after any running restore job', async () => {
    env = await startTestEstate();
    harness = activityHarness(env);
    const backup = harness.instance('dc2-sql-a');
    const primary = harness.instance('dc1-sql-a');
    const full = await harness.run('backupFullDatabase', {
      instance: primary,
      database: 'mgc',
      folder: env.topology.backupShare,
      fileName: 'mgc_seed.bak',
    });
    await harness.run('restoreFullDatabase', {
      instance: backup,
      database: 'mgc',
      file: full.figures.file,
      move: [],
      replace: false,
      recovery: 'NORECOVERY',
    });
    await harness.run('addLogShippingSecondary', { instance: backup, database: 'mgc', settings: secondarySettings() });
    const removed = await twice('removeLogShippingSecondary', { instance: backup, database: 'mgc', waitSeconds: 30 });
    expect(removed.outcome).toBe('acted');
    expect(env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-a')!.jobs).toEqual([]);
    // The database itself is untouched: still RESTORING, ready for the remaining logs.
    expect(
      env.estate.snapshot().instances.find((instance) => instance.name === 'dc2-sql-a')!.databases[0],
    ).toMatchObject({ name: 'mgc', state: 'RESTORING' });
  });

  it('removes stale primary metadata (and its backup job) once', async () => {
    env = await startTestEstate();
    harness = activityHarness(env);
    const primary = harness.instance('dc1-sql-a');
    await harness.run('addLogShippingPrimary', { instance: primary, database: 'mgc', settings: primarySettings() });
    await harness.run('addLogShippingPrimarySecondary', {
      instance: primary,
      database: 'mgc',
      secondaryServer: 'dc2-sql-a',
      secondaryDatabase: 'mgc',
    });
    expect((await twice('removeLogShippingPrimary', { instance: primary, database: 'mgc' })).outcome).toBe('acted');
    expect(env.estate.snapshot().instances[0]).toMatchObject({ jobs: [], logShipping: { primaries: [] } });
  });

  it('reports a failing job with its message (JobFailed), and an unknown job', async () => {
    env = await startTestEstate();
    harness = activityHarness(env);
    const primary = harness.instance('dc1-sql-a');
    await harness.run('addLogShippingPrimary', { instance: primary, database: 'mgc', settings: primarySettings() });
    const unknown = await harness
      .run('runAgentJob', { instance: primary, jobName: 'LSBackup_nope', timeoutSeconds: 5 })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(unknown).toMatchObject({ type: 'JobFailed', message: 'there is no job named LSBackup_nope on dc1-sql-a' });
    // Remove the share: the backup job cannot write its file.
    env.estate.instance('dc1-sql-a').msdb.rows('log_shipping_primary_databases')[0].backup_directory =
      '/nonexistent/share';
    const failed = await harness
      .run('runAgentJob', { instance: primary, jobName: 'LSBackup_mgc', timeoutSeconds: 30 })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failed).toMatchObject({ type: 'JobFailed', nonRetryable: true });
    expect((failed as Error).message).toContain('Error 3201');
  });
});
