/**
 * `pchat-dr drill ...`: scheduled DR drills (runbook 6) as Temporal Schedules. `schedule` creates or updates a
 * schedule whose action starts the drill workflow on the pool of a topology file (each drill loads the pool's
 * estate from the worker's own file, docs/runbooks.md rule 8); `list` shows every drill
 * schedule with its state and its last drill; `pause`, `resume`, `trigger` and `delete` act on one; `history` reads
 * the drills of a pool (their pass/fail, RPO and estimated RTO).
 *
 * The policies are fixed, because they are what makes a drill safe to leave unattended: overlap SKIP (never two
 * drills of one pool at once, also when triggered by hand), an explicit catch-up window (a drill missed while
 * Temporal was down runs late only within it: a missed 03:00 drill does not run at noon), and pause on failure (a
 * drill that fails, or whose workflow fails, stops the schedule until a person looks; the drill pauses it itself
 * when a check fails, through its options.scheduleId).
 */
import path from 'node:path';
import type { ScheduleOptions } from '@temporalio/client';
import { Command, Option } from 'commander';
import type { DrillOptions, RunbookInput } from '../../contracts/runbooks';
import { POOL, RUNBOOK } from '../../contracts/search-attributes';
import { CliError } from '../../runtime/exit';
import { DURATION_PATTERN, durationMs, formatDuration, formatSeconds } from '../../topology/durations';
import {
  DEFAULT_CATCHUP_WINDOW,
  defaultScheduleId,
  DRILL_TIMEOUT,
  DRILL_TYPE,
  drillHistory,
  drillSchedules,
  findDrillSchedule,
  MIN_CATCHUP_WINDOW_MS,
  saveDrillSchedule,
  triggerDrill,
  type DrillMemo,
} from '../drill-schedules';
import { personOf } from '../gate-answers';
import { formatTable, outputOption, printJson, printLine, type OutputFormat } from '../output';
import { stampOf } from '../report-view';
import { taskQueueOf, withClient, withTemporalOptions, type TemporalFlags } from '../run-access';
import { loadRunTopology } from './run';
import { wholeNumber } from '../flag-values';

// ------------------------------------------------------------------------------------------------ flags

/** --every: a duration in whole seconds (Temporal rounds intervals to the second), at least 1s. */
export function parseEvery(value: string): number {
  if (!DURATION_PATTERN.test(value)) throw new CliError(`--every ${value}: give a duration such as 30s, 15m, 6h or 7d`);
  const ms = durationMs(value);
  if (ms < 1_000 || ms % 1_000 !== 0) throw new CliError(`--every ${value}: give whole seconds, at least 1s`);
  return ms;
}

/** --catchup-window: a duration of at least 10s (Temporal's minimum). */
export function parseCatchupWindow(value: string): number {
  if (!DURATION_PATTERN.test(value)) throw new CliError(`--catchup-window ${value}: give a duration such as 10m or 1h`);
  const ms = durationMs(value);
  if (ms < MIN_CATCHUP_WINDOW_MS) throw new CliError(`--catchup-window ${value}: at least 10s (Temporal's minimum)`);
  return ms;
}

/** --timezone: an IANA name the runtime knows (Europe/Berlin, America/New_York, UTC). */
export function checkTimezone(value: string): string {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return value;
  } catch {
    throw new CliError(`--timezone ${value}: not a time zone (give an IANA name such as Europe/Berlin or UTC)`);
  }
}

function checkPool(pool: string): string {
  if (!/^[A-Za-z0-9.-]+$/.test(pool)) throw new CliError(`${pool}: give the pool's FQDN (letters, digits, - and .)`);
  return pool;
}

// ------------------------------------------------------------------------------------------------ drill schedule

interface ScheduleFlags extends TemporalFlags {
  file: string;
  cron?: string;
  every?: number;
  timezone?: string;
  note?: string;
  id?: string;
  rehearse?: boolean;
  catchupWindow: number;
  reason?: string;
  as?: string;
  output: OutputFormat;
}

function scheduleCommand(): Command {
  const command = new Command('schedule')
    .description('create (or update) the Temporal Schedule that runs drills of the estate of a topology file')
    .requiredOption(
      '-f, --file <topology>',
      "topology file (YAML): the pool it names is drilled; each drill runs on the worker's estate file of that pool",
    )
    .option(
      '--cron <expr>',
      'when, as a cron expression (5 fields: minute hour day-of-month month day-of-week), e.g. "0 3 * * TUE"',
    )
    .addOption(
      new Option(
        '--every <duration>',
        'or every so long, e.g. 30s, 6h, 7d (counted from the Unix epoch, in UTC)',
      ).argParser(parseEvery),
    )
    .addOption(
      new Option('--timezone <tz>', 'with --cron: the IANA time zone its times are in (default UTC)').argParser(
        checkTimezone,
      ),
    )
    .option('--note <text>', "the schedule's note (shown by drill list)")
    .option('--id <schedule-id>', 'the schedule id (default: drill-<pool fqdn>)')
    .option(
      '--rehearse',
      'also run the real failover and failback in each drill (rehearsal estates only: simulated: true)',
    )
    .addOption(
      new Option(
        '--catchup-window <duration>',
        'a drill missed while Temporal was unavailable still runs if at most this late (at least 10s)',
      )
        .default(parseCatchupWindow(DEFAULT_CATCHUP_WINDOW), DEFAULT_CATCHUP_WINDOW)
        .argParser(parseCatchupWindow),
    )
    .option('--reason <text>', "why the drills run (kept in each drill's report)")
    .option('--as <person>', "the drills' initiator (default: schedule:<schedule id>)")
    .addOption(outputOption());
  return withTemporalOptions(command).action((flags: ScheduleFlags) => scheduleDrills(flags));
}

async function scheduleDrills(flags: ScheduleFlags): Promise<void> {
  if (flags.cron === undefined && flags.every === undefined)
    throw new CliError('give --cron EXPR or --every DURATION: when the drills run');
  if (flags.cron !== undefined && flags.every !== undefined) throw new CliError('give --cron or --every, not both');
  if (flags.cron !== undefined && !flags.cron.trim())
    throw new CliError('--cron: give a cron expression, e.g. "0 3 * * TUE"');
  if (flags.every !== undefined && flags.timezone !== undefined)
    throw new CliError('--timezone applies to --cron only (--every counts from the Unix epoch, in no time zone)');
  const { topology } = loadRunTopology(flags.file);
  if (flags.rehearse && !topology.simulated) {
    throw new CliError(
      `--rehearse: ${flags.file} is not a rehearsal estate (simulated: false): drills of a production estate only read, they never fail it over`,
    );
  }
  const pool = topology.pool.fqdn;
  const scheduleId = flags.id ?? defaultScheduleId(pool);
  const taskQueue = taskQueueOf(flags);
  const timezone = flags.cron !== undefined ? (flags.timezone ?? 'UTC') : undefined;
  const specWords =
    flags.cron !== undefined ? `cron "${flags.cron.trim()}" (${timezone})` : `every ${formatDuration(flags.every!)}`;
  const options: DrillOptions = { scheduleId, ...(flags.rehearse ? { rehearse: true } : {}) };
  const input: RunbookInput<DrillOptions> = {
    pool,
    initiator: flags.as ?? `schedule:${scheduleId}`,
    reason: flags.reason ?? `scheduled drill (schedule ${scheduleId}, ${specWords})`,
    options,
  };
  const memo: DrillMemo = { spec: specWords, createdFrom: path.resolve(flags.file), savedAt: new Date().toISOString() };
  const definition: Omit<ScheduleOptions, 'scheduleId'> = {
    spec:
      flags.cron !== undefined
        ? { cronExpressions: [flags.cron.trim()], timezone }
        : { intervals: [{ every: flags.every! }] },
    action: {
      type: 'startWorkflow',
      workflowType: DRILL_TYPE,
      taskQueue,
      // Temporal appends the time of each drill: drill-<pool>-2025-05-01T03:00:00Z.
      workflowId: `drill-${pool.toLowerCase()}`,
      args: [input],
      // A drill that hangs (no worker, a stuck instance) would hold back every later one (overlap SKIP): it ends,
      // as failed (the schedule then pauses), after half a day.
      workflowExecutionTimeout: DRILL_TIMEOUT,
      memo: memo as Record<string, unknown>,
      typedSearchAttributes: [
        { key: POOL, value: pool },
        { key: RUNBOOK, value: 'drill' },
      ],
    },
    policies: { overlap: 'SKIP', catchupWindow: flags.catchupWindow, pauseOnFailure: true },
    typedSearchAttributes: [
      { key: POOL, value: pool },
      { key: RUNBOOK, value: 'drill' },
    ],
  };

  await withClient(flags, async (client) => {
    const when = flags.cron !== undefined ? `--cron ${flags.cron}` : '--every';
    const { created, stillPaused, view } = await saveDrillSchedule(client, scheduleId, definition, flags.note, when);
    if (flags.output === 'json') {
      printJson({ action: created ? 'created' : 'updated', ...view });
      return;
    }
    printLine(`${created ? 'created' : 'updated'} drill schedule ${scheduleId} for pool ${pool}`);
    printLine(`  when:       ${specWords}`);
    printLine(
      `  policies:   overlap SKIP (never two drills at once), catch-up window ${formatDuration(flags.catchupWindow)}, pause on failure`,
    );
    printLine(
      `  each drill: workflow drill-${pool.toLowerCase()}-<time> on task queue ${taskQueue}, initiator ${input.initiator}${flags.rehearse ? ', with the real failover and failback (rehearsal estate)' : ', read-only'}`,
    );
    printLine(
      `  estate:     each drill loads pool ${pool} from the worker's estate file (a worker serving it must run)`,
    );
    if (stillPaused !== null)
      printLine(`  paused:     ${stillPaused || 'yes'} (it stays paused: pchat-dr drill resume ${scheduleId})`);
    printLine(
      `  next runs:  ${view.paused ? 'none while paused' : view.nextRuns.slice(0, 3).map(stampOf).join(', ') || 'none'}`,
    );
  });
}

// ------------------------------------------------------------------------------------------------ drill list

function listSchedulesCommand(): Command {
  const command = new Command('list')
    .description('every drill schedule: pool, spec, paused and its note, next run, last drill')
    .addOption(outputOption());
  return withTemporalOptions(command).action((flags: TemporalFlags & { output: OutputFormat }) =>
    withClient(flags, async (client) => {
      const views = await drillSchedules(client);
      if (flags.output === 'json') {
        printJson(views);
        return;
      }
      if (views.length === 0) {
        printLine('no drill schedules (create one with pchat-dr drill schedule -f TOPOLOGY --cron EXPR)');
        return;
      }
      const rows = [['ID', 'POOL', 'WHEN', 'STATE', 'NEXT RUN', 'LAST DRILL']];
      for (const view of views) {
        const state = view.paused ? `paused${view.note ? `: ${view.note}` : ''}` : 'active';
        const last = view.lastRun
          ? `${view.lastRun.workflowId} (${view.lastRun.outcome ?? view.lastRun.status})`
          : 'none yet';
        rows.push([
          view.scheduleId,
          view.pool ?? '-',
          view.spec,
          state,
          view.paused ? '-' : stampOf(view.nextRuns[0]),
          last,
        ]);
      }
      formatTable(rows).forEach((line) => printLine(line));
    }),
  );
}

// ------------------------------------------------------------------------------------------------ pause, resume, trigger, delete

interface ActFlags extends TemporalFlags {
  as?: string;
  output: OutputFormat;
}

type FoundSchedule = Awaited<ReturnType<typeof findDrillSchedule>>;

/**
 * A subcommand that acts on one drill schedule: `<id>`, its own options, -o and the Temporal options; `noteFor`
 * (pause, resume) adds --note, required or not, and --as.
 */
function onSchedule<F extends object>(
  name: string,
  description: string,
  noteFor: { verb: string; required: boolean } | null,
  act: (schedule: FoundSchedule, id: string, flags: F & ActFlags) => Promise<void>,
): Command {
  const command = new Command(name).description(description).argument('<id>', 'the schedule id');
  if (noteFor) {
    if (noteFor.required) command.requiredOption('--note <text>', 'why (the schedule shows it)');
    else command.option('--note <text>', 'why (the schedule shows it)');
    command.option('--as <person>', `who ${noteFor.verb} it (default: your OS user name)`);
  }
  return withTemporalOptions(command.addOption(outputOption())).action((id: string, flags: F & ActFlags) =>
    withClient(flags, async (client) => act(await findDrillSchedule(client, id), id, flags)),
  );
}

const PAUSE = 'pause a drill schedule: no drill starts until it is resumed (a drill already running goes on)';

async function pauseSchedule(
  { handle, description }: FoundSchedule,
  id: string,
  flags: ActFlags & { note: string },
): Promise<void> {
  const note = `paused by ${personOf(flags)}: ${flags.note}`;
  await handle.pause(note);
  if (flags.output === 'json')
    return printJson({ scheduleId: id, paused: true, note, wasPaused: description.state.paused });
  printLine(`paused drill schedule ${id}${description.state.paused ? ' (it was already paused)' : ''}: ${note}`);
  printLine(`  resume it: pchat-dr drill resume ${id}`);
}

const RESUME = 'resume a paused drill schedule (drills missed while it was paused are not run)';

async function resumeSchedule(
  { handle, description }: FoundSchedule,
  id: string,
  flags: ActFlags & { note?: string },
): Promise<void> {
  const note = `resumed by ${personOf(flags)}${flags.note ? `: ${flags.note}` : ''}`;
  await handle.unpause(note);
  const next = (await handle.describe()).info.nextActionTimes[0]?.toISOString() ?? null;
  const wasPaused = description.state.paused;
  if (flags.output === 'json') return printJson({ scheduleId: id, paused: false, note, wasPaused, nextRun: next });
  printLine(`resumed drill schedule ${id}${wasPaused ? '' : ' (it was not paused)'}: next drill ${stampOf(next)}`);
}

const TRIGGER = 'run a drill of the schedule now (overlap SKIP: not while one of its drills runs)';

async function triggerSchedule({ handle, description }: FoundSchedule, id: string, flags: ActFlags): Promise<void> {
  const started = await triggerDrill(handle, description);
  if (flags.output === 'json') return printJson({ scheduleId: id, triggered: true, workflowId: started });
  if (!started) return printLine(`triggered drill schedule ${id}; its drill is not recorded yet: pchat-dr drill list`);
  printLine(`triggered drill schedule ${id}: drill ${started} started`);
  printLine(`  follow it: pchat-dr watch ${started}`);
  printLine(`  report:    pchat-dr report ${started}`);
}

const DELETE = 'delete a drill schedule (its past drills stay, and a drill still running goes on)';

async function deleteSchedule({ handle, description }: FoundSchedule, id: string, flags: ActFlags): Promise<void> {
  const pool = (description.action.args?.[0] as RunbookInput | undefined)?.pool;
  await handle.delete();
  const running = description.info.runningActions.map((action) => action.workflow.workflowId);
  if (flags.output === 'json') return printJson({ scheduleId: id, deleted: true, pool: pool ?? null, running });
  printLine(`deleted drill schedule ${id}; its past drills stay${pool ? ` (pchat-dr drill history ${pool})` : ''}`);
  if (running.length > 0) printLine(`  still running, and left to finish: ${running.join(', ')}`);
}

// ------------------------------------------------------------------------------------------------ drill history

function historyCommand(): Command {
  const command = new Command('history')
    .description("a pool's last drills, newest first: pass/fail, failed checks, RPO, estimated RTO")
    .argument('<pool>', 'the pool FQDN', checkPool)
    .addOption(
      new Option('--limit <n>', 'at most this many drills')
        .default(10)
        .argParser(wholeNumber('--limit', 'give a whole number of drills, e.g. 10')),
    )
    .addOption(outputOption());
  return withTemporalOptions(command).action(
    (pool: string, flags: TemporalFlags & { limit: number; output: OutputFormat }) =>
      withClient(flags, async (client) => {
        const entries = await drillHistory(client, pool, flags.limit);
        if (flags.output === 'json') return printJson(entries);
        if (entries.length === 0) return printLine(`no drills of ${pool} yet`);
        const seconds = (value: number | null) => (value === null ? '-' : formatSeconds(value));
        const rows = [['DRILL', 'STARTED', 'RESULT', 'FAILED', 'RPO', 'EST. RTO']];
        for (const entry of entries) {
          const result = entry.skipped
            ? 'skipped'
            : entry.passed === null
              ? entry.outcome
              : entry.passed
                ? 'passed'
                : 'FAILED';
          rows.push([
            entry.workflowId,
            stampOf(entry.startedAt),
            result,
            entry.skipped ? '-' : String(entry.failedChecks),
            seconds(entry.rpoSeconds),
            seconds(entry.estimatedRtoSeconds),
          ]);
        }
        formatTable(rows).forEach((line) => printLine(line));
        for (const entry of entries.filter((candidate) => candidate.skipped || candidate.failed.length > 0)) {
          printLine();
          printLine(`${entry.workflowId}: ${entry.skipped ? `skipped: ${entry.skipped}` : 'failed'}`);
          entry.failed.forEach((line) => printLine(`  - ${line}`));
        }
      }),
  );
}

// ------------------------------------------------------------------------------------------------ the group

export function drillCommand(): Command {
  const drill = new Command('drill')
    .description('scheduled DR drills (runbook 6): schedule, list, pause, resume, trigger, delete, history')
    .addCommand(scheduleCommand())
    .addCommand(listSchedulesCommand());
  for (const command of [
    onSchedule('pause', PAUSE, { verb: 'pauses', required: true }, pauseSchedule),
    onSchedule('resume', RESUME, { verb: 'resumes', required: false }, resumeSchedule),
    onSchedule('trigger', TRIGGER, null, triggerSchedule),
    onSchedule('delete', DELETE, null, deleteSchedule),
    historyCommand(),
  ])
    drill.addCommand(command);
  return drill;
}
