/**
 * Log-shipping steps (runbooks 2 and 3; runbook 4 step 5; runbook 5 step 9), with SQL Server's msdb log-shipping
 * procedures (docs/activities.md). Each step converges: it reads the configuration, adds what is missing, skips
 * what is already there with the same settings, and refuses (ConfigurationDiffers) to overwrite different settings
 * unless asked to replace them.
 */
import type { Instance } from '../topology/schema';
import type { ActivityDependencies } from './dependencies';
import {
  primaryDifferences,
  secondaryDifferences,
  type JobInfo,
  type PrimaryConfiguration,
  type PrimarySettings,
  type SecondaryConfiguration,
  type SecondarySettings,
} from '../contracts/log-shipping';
import { stepFailure } from './failures';
import {
  addJobSchedule,
  addLogShippingPrimaryDatabase,
  addLogShippingPrimarySecondary,
  addLogShippingSecondaryDatabase,
  addLogShippingSecondaryPrimary,
  deleteLogShippingPrimaryDatabase,
  deleteLogShippingPrimarySecondary,
  deleteLogShippingSecondaryDatabase,
  enableJob,
  uniqueIdentifier,
} from './statements';
import { readJob, waitForJobsToFinish } from './agent-jobs';
import { StepClock, type StepResult } from './step-result';

const COMPRESSION_NAMES = ['off', 'on', 'default'] as const;

const iso = (value: unknown): string | null => (value instanceof Date ? value.toISOString() : null);

/** Reads one half of a log-shipping configuration from msdb; null when the database is not configured so. */
type ConfigurationReader<C> = (deps: ActivityDependencies, instance: Instance, database: string) => Promise<C | null>;

export const readPrimaryConfiguration: ConfigurationReader<PrimaryConfiguration> = async (deps, instance, database) => {
  const row = await deps.sql.firstRow<Record<string, unknown>>(
    instance,
    `SELECT p.primary_id, p.primary_database, p.backup_directory, p.backup_share, p.backup_retention_period, p.backup_job_id,
              p.backup_compression, p.last_backup_file, p.last_backup_date, m.backup_threshold
         FROM msdb.dbo.log_shipping_primary_databases p
         LEFT JOIN msdb.dbo.log_shipping_monitor_primary m ON m.primary_id = p.primary_id
        WHERE p.primary_database = @database`,
    { database },
  );
  if (!row) return null;
  const secondaries = await deps.sql.rows<{ secondary_server: string; secondary_database: string }>(
    instance,
    'SELECT secondary_server, secondary_database FROM msdb.dbo.log_shipping_primary_secondaries WHERE primary_id = @id',
    { id: uniqueIdentifier(String(row.primary_id)) },
  );
  return {
    primaryId: String(row.primary_id),
    database: String(row.primary_database),
    backupDirectory: String(row.backup_directory),
    backupShare: String(row.backup_share),
    retentionMinutes: Number(row.backup_retention_period),
    backupThresholdMinutes: Number(row.backup_threshold ?? 60),
    compression: COMPRESSION_NAMES[Number(row.backup_compression ?? 2)] ?? 'default',
    lastBackupFile: (row.last_backup_file as string | null) ?? null,
    lastBackupDate: iso(row.last_backup_date),
    secondaries: secondaries.map((secondary) => ({
      server: secondary.secondary_server,
      database: secondary.secondary_database,
    })),
    backupJob: await readJob(deps, instance, (row.backup_job_id as string | null) ?? null),
  };
};

export const readSecondaryConfiguration: ConfigurationReader<SecondaryConfiguration> = async (
  deps,
  instance,
  database,
) => {
  const row = await deps.sql.firstRow<Record<string, unknown>>(
    instance,
    `SELECT s.secondary_id, s.primary_server, s.primary_database, s.backup_source_directory, s.backup_destination_directory,
              s.file_retention_period, s.copy_job_id, s.restore_job_id, s.last_copied_file, s.last_copied_date,
              d.secondary_database, d.restore_delay, d.restore_mode, d.last_restored_file, d.last_restored_date,
              m.restore_threshold, m.last_restored_latency
         FROM msdb.dbo.log_shipping_secondary_databases d
         JOIN msdb.dbo.log_shipping_secondary s ON s.secondary_id = d.secondary_id
         LEFT JOIN msdb.dbo.log_shipping_monitor_secondary m ON m.secondary_database = d.secondary_database
        WHERE d.secondary_database = @database`,
    { database },
  );
  if (!row) return null;
  return {
    secondaryId: String(row.secondary_id),
    database: String(row.secondary_database),
    primaryServer: String(row.primary_server),
    primaryDatabase: String(row.primary_database),
    sourceDirectory: String(row.backup_source_directory),
    destinationDirectory: String(row.backup_destination_directory),
    retentionMinutes: Number(row.file_retention_period),
    restoreDelayMinutes: Number(row.restore_delay ?? 0),
    restoreMode: row.restore_mode ? 'STANDBY' : 'NORECOVERY',
    restoreThresholdMinutes: row.restore_threshold === null ? null : Number(row.restore_threshold),
    lastCopiedFile: (row.last_copied_file as string | null) ?? null,
    lastCopiedDate: iso(row.last_copied_date),
    lastRestoredFile: (row.last_restored_file as string | null) ?? null,
    lastRestoredDate: iso(row.last_restored_date),
    lastRestoredLatencyMinutes: row.last_restored_latency === null ? null : Number(row.last_restored_latency),
    copyJob: await readJob(deps, instance, (row.copy_job_id as string | null) ?? null),
    restoreJob: await readJob(deps, instance, (row.restore_job_id as string | null) ?? null),
  };
};

/** Gives a job an enabled schedule of `seconds` (when it has none) and enables the job. Returns what it did. */
async function scheduleAndEnable(
  deps: ActivityDependencies,
  instance: Instance,
  job: JobInfo,
  seconds: number,
): Promise<string[]> {
  const done: string[] = [];
  if (job.scheduleSeconds === null) {
    await deps.sql.execute(instance, addJobSchedule(job.id, `${job.name}_schedule`, seconds), 'change');
    done.push(`scheduled ${job.name} every ${seconds} s`);
  }
  if (!job.enabled) {
    await deps.sql.execute(instance, enableJob(job.id), 'change');
    done.push(`enabled ${job.name}`);
  }
  return done;
}

async function ensurePrimary(
  deps: ActivityDependencies,
  instance: Instance,
  database: string,
  settings: PrimarySettings,
  replace: boolean,
): Promise<{ before: PrimaryConfiguration | null; done: string[] }> {
  const before = await readPrimaryConfiguration(deps, instance, database);
  const done: string[] = [];
  let current = before;
  const differing = current ? primaryDifferences(current, settings) : [];
  if (differing.length > 0 && !replace) {
    throw stepFailure(
      'ConfigurationDiffers',
      `${instance.name} already ships ${database} with other settings (${differing.join('; ')})`,
      { instance: instance.name, differences: differing },
    );
  }
  if (!current || differing.length > 0) {
    await deps.sql.execute(instance, addLogShippingPrimaryDatabase(database, settings, current !== null), 'change');
    done.push(
      current
        ? `replaced the primary configuration (${differing.join('; ')})`
        : `configured ${database} as log-shipping primary`,
    );
    current = await readPrimaryConfiguration(deps, instance, database);
  }
  done.push(...(await scheduleAndEnable(deps, instance, current!.backupJob!, settings.scheduleSeconds)));
  return { before, done };
}

async function ensureSecondaryLink(
  deps: ActivityDependencies,
  instance: Instance,
  database: string,
  secondaryServer: string,
  secondaryDatabase: string,
): Promise<string[]> {
  const current = await readPrimaryConfiguration(deps, instance, database);
  if (!current)
    throw stepFailure(
      'LogShippingConfiguration',
      `${database} is not a log-shipping primary on ${instance.name}: configure the primary first`,
      { instance: instance.name },
    );
  const linked = current.secondaries.some(
    (secondary) =>
      secondary.server.toLowerCase() === secondaryServer.toLowerCase() &&
      secondary.database.toLowerCase() === secondaryDatabase.toLowerCase(),
  );
  if (linked) return [];
  await deps.sql.execute(
    instance,
    addLogShippingPrimarySecondary(database, secondaryServer, secondaryDatabase),
    'change',
  );
  return [`linked ${database} to secondary ${secondaryServer}.${secondaryDatabase}`];
}

/** One half of log shipping to configure on an instance; a different configuration is replaced only when asked. */
interface Configure<Settings> {
  instance: Instance;
  database: string;
  settings: Settings;
  replace?: boolean;
}

export function logShippingActivities(deps: ActivityDependencies) {
  /** A read of one half of the configuration, as a step: what it found, or that the database is not configured so. */
  const readConfiguration =
    <C>(
      read: ConfigurationReader<C>,
      half: 'primary' | 'secondary',
      describe: (configuration: C, instance: Instance, database: string) => string,
    ) =>
    async (input: { instance: Instance; database: string }): Promise<StepResult<C | null>> => {
      const clock = new StepClock(deps.clock);
      const configuration = await read(deps, input.instance, input.database);
      const summary = configuration
        ? describe(configuration, input.instance, input.database)
        : `${input.database} is not a log-shipping ${half} on ${input.instance.name}`;
      return clock.observed(summary, configuration);
    };
  return {
    readLogShippingPrimary: readConfiguration(
      readPrimaryConfiguration,
      'primary',
      (configuration, instance, database) => {
        const to = configuration.secondaries.map((secondary) => secondary.server).join(', ') || 'no secondary';
        return `${instance.name} ships ${database} to ${to}`;
      },
    ),

    readLogShippingSecondary: readConfiguration(
      readSecondaryConfiguration,
      'secondary',
      (configuration, instance, database) =>
        `${instance.name} restores ${database} from ${configuration.primaryServer}; last restored ${configuration.lastRestoredFile ?? 'nothing yet'}`,
    ),

    /** Runbook 2 step 2: the primary configuration, its backup job schedule, enabled. */
    async addLogShippingPrimary(
      input: Configure<PrimarySettings>,
    ): Promise<StepResult<PrimaryConfiguration | null, { actions: string[] }>> {
      const clock = new StepClock(deps.clock);
      const { before, done } = await ensurePrimary(
        deps,
        input.instance,
        input.database,
        input.settings,
        input.replace ?? false,
      );
      if (done.length === 0)
        return clock.skipped(`${input.instance.name} already ships ${input.database} with these settings`, before, {
          actions: done,
        });
      return clock.acted(done.join('; '), before, { actions: done });
    },

    /** Runbook 2 step 2: the primary's record of its secondary. */
    async addLogShippingPrimarySecondary(input: {
      instance: Instance;
      database: string;
      secondaryServer: string;
      secondaryDatabase: string;
    }): Promise<StepResult<null, { actions: string[] }>> {
      const clock = new StepClock(deps.clock);
      const done = await ensureSecondaryLink(
        deps,
        input.instance,
        input.database,
        input.secondaryServer,
        input.secondaryDatabase,
      );
      if (done.length === 0)
        return clock.skipped(
          `${input.instance.name} already knows secondary ${input.secondaryServer}.${input.secondaryDatabase}`,
          null,
          { actions: done },
        );
      return clock.acted(done.join('; '), null, { actions: done });
    },

    /** Runbook 2 step 4: the secondary's copy and restore jobs (NORECOVERY, restore delay as given), scheduled and enabled. */
    async addLogShippingSecondary(
      input: Configure<SecondarySettings>,
    ): Promise<StepResult<SecondaryConfiguration | null, { actions: string[] }>> {
      const clock = new StepClock(deps.clock);
      const { instance, database, settings } = input;
      const before = await readSecondaryConfiguration(deps, instance, database);
      const done: string[] = [];
      if (before) {
        const differing = secondaryDifferences(before, settings);
        if (differing.length > 0) {
          if (!input.replace)
            throw stepFailure(
              'ConfigurationDiffers',
              `${instance.name} already restores ${database} with other settings (${differing.join('; ')})`,
              { instance: instance.name, differences: differing },
            );
          await deps.sql.execute(instance, deleteLogShippingSecondaryDatabase(database), 'change');
          done.push(`removed the previous secondary configuration (${differing.join('; ')})`);
        }
      }
      if (!before || done.length > 0) {
        const registered =
          ((
            await deps.sql.firstRow<{ n: number }>(
              instance,
              'SELECT COUNT(*) AS n FROM msdb.dbo.log_shipping_secondary WHERE primary_server = @server AND primary_database = @database',
              { server: settings.primaryServer, database: settings.primaryDatabase },
            )
          )?.n ?? 0) > 0;
        if (!registered) {
          await deps.sql.execute(instance, addLogShippingSecondaryPrimary(settings), 'change');
          done.push(
            `registered primary ${settings.primaryServer}.${settings.primaryDatabase} with copy and restore jobs`,
          );
        }
        await deps.sql.execute(instance, addLogShippingSecondaryDatabase(database, settings), 'change');
        done.push(
          `configured ${database} as log-shipping secondary (NORECOVERY, restore delay ${settings.restoreDelayMinutes} min)`,
        );
      }
      const current = (await readSecondaryConfiguration(deps, instance, database))!;
      for (const [job, seconds] of [
        [current.copyJob!, settings.copyScheduleSeconds],
        [current.restoreJob!, settings.restoreScheduleSeconds],
      ] as const) {
        done.push(...(await scheduleAndEnable(deps, instance, job, seconds)));
      }
      if (done.length === 0)
        return clock.skipped(`${instance.name} already restores ${database} from ${settings.primaryServer}`, before, {
          actions: done,
        });
      return clock.acted(done.join('; '), before, { actions: done });
    },

    /**
     * Runbook 4 step 5: sp_delete_log_shipping_secondary_database, after any running copy or restore job finished (it
     * also deletes those jobs, so from here the runbook copies and restores by itself).
     */
    async removeLogShippingSecondary(input: {
      instance: Instance;
      database: string;
      waitSeconds: number;
    }): Promise<StepResult<SecondaryConfiguration | null, { waitedMs: number }>> {
      const clock = new StepClock(deps.clock);
      const before = await readSecondaryConfiguration(deps, input.instance, input.database);
      if (!before)
        return clock.skipped(`${input.database} is not a log-shipping secondary on ${input.instance.name}`, before, {
          waitedMs: 0,
        });
      const waitedMs = await waitForJobsToFinish(
        deps,
        input.instance,
        [before.copyJob?.id, before.restoreJob?.id].filter((id): id is string => Boolean(id)),
        input.waitSeconds,
      );
      await deps.sql.execute(input.instance, deleteLogShippingSecondaryDatabase(input.database), 'change');
      return clock.acted(
        `removed log shipping of ${input.database} on ${input.instance.name} (copy and restore jobs deleted)`,
        before,
        { waitedMs },
      );
    },

    /** Runbook 5 step 9 [beyond]: stale primary metadata left on a rebuilt or former primary. */
    async removeLogShippingPrimary(input: {
      instance: Instance;
      database: string;
    }): Promise<StepResult<PrimaryConfiguration | null>> {
      const clock = new StepClock(deps.clock);
      const before = await readPrimaryConfiguration(deps, input.instance, input.database);
      if (!before)
        return clock.skipped(`${input.database} is not a log-shipping primary on ${input.instance.name}`, before);
      for (const secondary of before.secondaries) {
        await deps.sql.execute(
          input.instance,
          deleteLogShippingPrimarySecondary(input.database, secondary.server, secondary.database),
          'change',
        );
      }
      await deps.sql.execute(input.instance, deleteLogShippingPrimaryDatabase(input.database), 'change');
      return clock.acted(
        `removed the log-shipping primary configuration of ${input.database} on ${input.instance.name} and its backup job`,
        before,
      );
    },

    /** Runbook 3 step 3: the mirror gets the primary half with the primary's own settings, read from its msdb. */
    async copyLogShippingPrimarySettings(input: {
      from: Instance;
      to: Instance;
      database: string;
      secondaryServer: string;
      secondaryDatabase: string;
    }): Promise<StepResult<PrimaryConfiguration | null, { actions: string[]; settings: PrimarySettings }>> {
      const clock = new StepClock(deps.clock);
      const source = await readPrimaryConfiguration(deps, input.from, input.database);
      if (!source?.backupJob)
        throw stepFailure(
          'LogShippingConfiguration',
          `${input.database} is not a log-shipping primary on ${input.from.name}: there are no settings to copy (run setup-log-shipping first)`,
          { instance: input.from.name },
        );
      const settings: PrimarySettings = {
        backupDirectory: source.backupDirectory,
        backupShare: source.backupShare,
        retentionMinutes: source.retentionMinutes,
        backupThresholdMinutes: source.backupThresholdMinutes,
        compression: source.compression,
        jobName: source.backupJob.name,
        scheduleSeconds: source.backupJob.scheduleSeconds ?? 900,
      };
      const { before, done } = await ensurePrimary(deps, input.to, input.database, settings, false);
      done.push(
        ...(await ensureSecondaryLink(deps, input.to, input.database, input.secondaryServer, input.secondaryDatabase)),
      );
      if (done.length === 0)
        return clock.skipped(
          `${input.to.name} already ships ${input.database} with ${input.from.name}'s settings`,
          before,
          { actions: done, settings },
        );
      return clock.acted(`${input.to.name}: ${done.join('; ')} (settings copied from ${input.from.name})`, before, {
        actions: done,
        settings,
      });
    },
  };
}
