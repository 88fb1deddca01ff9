/**
 * What only a DR drill does (runbook 6): find the newest full backup on the share and the files it holds, count the
 * rows of the rehearsal copy, drop that scratch copy (and nothing else), write the drill's report where the
 * topology says, read earlier drills of the pool, and pause the drill's schedule when it fails.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Instance } from '../topology/schema';
import { drillMarkdown, summariseDrill, type DrillSummary } from '../contracts/drill-report';
import { SCRATCH_MARKER } from '../contracts/runbooks';
import type { RunbookReport } from '../contracts/run-record';
import { POOL, RUNBOOK } from '../contracts/search-attributes';
import type { ActivityDependencies } from './dependencies';
import { heartbeat } from './heartbeat';
import { stepFailure } from './failures';
import { sqlPathIn, type Folder } from './files';
import { dropDatabase } from './statements';
import { readBackupHeader, type BackupHeaderFacts } from './restore';
import { quoteIdentifier } from './sql/identifiers';
import { StepClock, type StepResult } from './step-result';

export interface BackupFileRow {
  logicalName: string;
  physicalName: string;
  type: 'D' | 'L';
}

/** Earlier drills of a pool, newest first (closed runs of the drill workflow, their reports summarised). */
export async function drillHistoryOf(
  client: Client,
  pool: string,
  limit: number,
  except?: string,
): Promise<DrillSummary[]> {
  const summaries: DrillSummary[] = [];
  const query = `${RUNBOOK.name} = 'drill' AND ${POOL.name} = '${pool.replace(/'/g, "''")}' AND ExecutionStatus != 'Running'`;
  for await (const execution of client.workflow.list({ query })) {
    if (execution.workflowId === except) continue;
    try {
      const report = (await client.workflow.getHandle(execution.workflowId, execution.runId).result()) as RunbookReport;
      summaries.push(summariseDrill(report));
    } catch {
      // A drill that failed or was terminated has no report: it still counts in the trend, as such.
      summaries.push({
        workflowId: execution.workflowId,
        startedAt: execution.startTime.toISOString(),
        outcome: execution.status.name.toLowerCase(),
        passed: false,
        failedChecks: 0,
        rpoSeconds: null,
        estimatedRtoSeconds: null,
      });
    }
    if (summaries.length >= limit) break;
  }
  return summaries.sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1));
}

export function drillActivities(deps: ActivityDependencies) {
  return {
    /** Runbook 6 step 5: the newest full backup of `database` in a folder (read and verified on `instance`). */
    async findLatestFullBackup(input: {
      instance: Instance;
      folder: Folder;
      database: string;
    }): Promise<StepResult<BackupHeaderFacts | null>> {
      const clock = new StepClock(deps.clock);
      const pattern = new RegExp(`^${input.database}_.*\\.bak$`, 'i');
      const candidates = (await deps.files.list(input.folder.workerPath)).filter((file) => pattern.test(file.name));
      let newest: BackupHeaderFacts | null = null;
      for (const file of candidates) {
        const header = await readBackupHeader(deps, input.instance, sqlPathIn(input.folder.sqlPath, file.name));
        heartbeat({ read: file.name });
        if (
          header.type === 'Database' &&
          header.database.toLowerCase() === input.database.toLowerCase() &&
          (!newest || header.backupFinish > newest.backupFinish)
        )
          newest = header;
      }
      return clock.observed(
        newest
          ? `newest full backup of ${input.database}: ${newest.file} (${newest.backupFinish})`
          : `no full backup of ${input.database} in ${input.folder.workerPath}`,
        newest,
      );
    },

    /** RESTORE FILELISTONLY: the logical files a restore of `file` creates (the rehearsal moves them to scratch names). */
    async readBackupFileList(input: { instance: Instance; file: string }): Promise<StepResult<BackupFileRow[]>> {
      const clock = new StepClock(deps.clock);
      const rows = await deps.sql.rows<{ LogicalName: string; PhysicalName: string; Type: 'D' | 'L' }>(
        input.instance,
        'RESTORE FILELISTONLY FROM DISK = @file',
        { file: input.file },
        'backupRestore',
      );
      const files = rows.map((row) => ({
        logicalName: row.LogicalName,
        physicalName: row.PhysicalName,
        type: row.Type,
      }));
      return clock.observed(`${input.file} holds ${files.map((file) => file.logicalName).join(', ')}`, files);
    },

    /** The rehearsal's row check: how many rows the restored copy holds in the topology's table. */
    async countRows(input: {
      instance: Instance;
      database: string;
      table: string;
    }): Promise<StepResult<{ rows: number }>> {
      const clock = new StepClock(deps.clock);
      const row = await deps.sql.firstRow<{ n: number }>(
        input.instance,
        `SELECT COUNT(*) AS n FROM ${quoteIdentifier(input.database)}.dbo.${quoteIdentifier(input.table)}`,
      );
      const rows = Number(row?.n ?? 0);
      return clock.observed(`${input.database}.dbo.${input.table} holds ${rows} row(s) on ${input.instance.name}`, {
        rows,
      });
    },

    /** Drops a drill's scratch copy; refuses any database not named as one, so a drill can never drop mgc. */
    async dropScratchDatabase(input: {
      instance: Instance;
      database: string;
    }): Promise<StepResult<{ existed: boolean }>> {
      const clock = new StepClock(deps.clock);
      if (!input.database.toLowerCase().includes(SCRATCH_MARKER)) {
        throw stepFailure(
          'InvalidIdentifier',
          `${input.database} is not a drill's scratch database (*${SCRATCH_MARKER}*): refusing to drop it`,
          { instance: input.instance.name },
        );
      }
      const existed =
        ((
          await deps.sql.firstRow<{ n: number }>(
            input.instance,
            'SELECT COUNT(*) AS n FROM sys.databases WHERE name = @database',
            { database: input.database },
          )
        )?.n ?? 0) > 0;
      if (!existed) return clock.skipped(`${input.database} does not exist on ${input.instance.name}`, { existed });
      const drop = dropDatabase(input.database);
      await deps.sql.execute(input.instance, drop, 'change');
      return clock.acted(`dropped the scratch database ${input.database} on ${input.instance.name}`, { existed });
    },

    /** Runbook 6 step 6: `<id>.json` and `<id>.md` in the topology's report folder (written beside, then renamed). */
    async writeDrillReport(input: { folder: string; report: RunbookReport }): Promise<StepResult<{ files: string[] }>> {
      const clock = new StepClock(deps.clock);
      await mkdir(input.folder, { recursive: true });
      const base = path.join(input.folder, input.report.workflowId.replace(/[^A-Za-z0-9._-]+/g, '_'));
      const files: string[] = [];
      for (const [file, text] of [
        [`${base}.json`, `${JSON.stringify(input.report, null, 2)}\n`],
        [`${base}.md`, drillMarkdown(input.report)],
      ] as const) {
        await writeFile(`${file}.partial`, text);
        await rename(`${file}.partial`, file);
        files.push(file);
      }
      return clock.acted(`wrote ${files.map((file) => path.basename(file)).join(' and ')} to ${input.folder}`, {
        files,
      });
    },

    /** The trend: earlier drills of the pool, from Temporal (the drill's own run excluded). */
    async readDrillHistory(input: {
      pool: string;
      limit: number;
      except?: string;
    }): Promise<StepResult<DrillSummary[]>> {
      const clock = new StepClock(deps.clock);
      const history =
        input.limit > 0 ? await drillHistoryOf(Context.current().client, input.pool, input.limit, input.except) : [];
      return clock.observed(`${history.length} earlier drill(s) of ${input.pool}`, history);
    },

    /** Schedules pause on failure: a failed drill pauses the schedule that started it, saying why. */
    async pauseDrillSchedule(input: { scheduleId: string; note: string }): Promise<StepResult<{ scheduleId: string }>> {
      const clock = new StepClock(deps.clock);
      const handle = Context.current().client.schedule.getHandle(input.scheduleId);
      const described = await handle.describe();
      if (described.state.paused)
        return clock.skipped(`schedule ${input.scheduleId} is already paused`, { scheduleId: input.scheduleId });
      await handle.pause(input.note);
      return clock.acted(`paused schedule ${input.scheduleId}: ${input.note}`, { scheduleId: input.scheduleId });
    },
  };
}
