/**
 * `pchat-dr run RUNBOOK -f TOPOLOGY`: starts a runbook on the estate a topology file describes, with the flags
 * that runbook takes mapped to its options. `--follow` follows it to its first gate or its end; `--dry-run` runs it
 * reading the estate only, waits for it and prints the plan: every step with the server it runs on and the exact
 * T-SQL or cmdlet line it would execute, every gate with its policy.
 */
import { Command, Option } from 'commander';
import { loadTopology, TopologyError, formatProblem, type LoadedTopology } from '../../topology/load';
import type { DatabaseKind } from '../../topology/schema';
import {
  type FailoverOptions,
  RUNBOOK_NAMES,
  type MirrorFailoverOptions,
  type RunbookName,
  type SetupLogShippingOptions,
} from '../../contracts/runbooks';
import type { RunbookReport } from '../../contracts/run-record';
import { followRun } from '../follow';
import { CliError, EXIT } from '../../runtime/exit';
import { runnableTopologyFile } from '../../runtime/state-dirs';
import { exitCodeOf, outputOption, printJson, printLine, type OutputFormat } from '../output';
import { planJson, planLines } from '../plan-view';
import { stampOf } from '../report-view';
import { answerTimeoutMs, taskQueueOf, withClient, withTemporalOptions, type TemporalFlags } from '../run-access';
import { signNow } from '../signing';

type RunbookFlag = 'mode' | 'database' | 'to';

/** The flags each runbook takes (its Options); any other is bad input. */
const RUNBOOK_FLAGS: Record<RunbookName, RunbookFlag[]> = {
  'mirror-failover': ['database', 'to'],
  'setup-log-shipping': ['database'],
  'setup-mirror-log-shipping': ['database'],
  failover: ['mode'],
  failback: [],
  drill: [],
};

interface RunFlags extends TemporalFlags {
  file: string;
  useWorkerEstate?: boolean;
  mode?: 'disaster' | 'planned';
  database?: DatabaseKind;
  to?: 'mirror' | 'primary';
  reason?: string;
  as?: string;
  id?: string;
  follow?: boolean;
  dryRun?: boolean;
  plain?: boolean;
  sign?: string | true;
  output: OutputFormat;
}

export function runCommand(): Command {
  const command = new Command('run')
    .description('start a runbook on the estate of a topology file')
    .argument('<runbook>', RUNBOOK_NAMES.join(', '))
    .requiredOption('-f, --file <topology>', 'topology file (YAML)')
    .addOption(
      new Option(
        '--mode <mode>',
        'failover: disaster (DC1 is lost; default) or planned (a switchover, no data loss)',
      ).choices(['disaster', 'planned']),
    )
    .addOption(
      new Option(
        '--database <database>',
        'mirror-failover, setup-log-shipping, setup-mirror-log-shipping: mgc (default) or mgccomp',
      ).choices(['mgc', 'mgccomp']),
    )
    .addOption(
      new Option(
        '--to <partner>',
        'mirror-failover: the partner that becomes principal, mirror (default) or primary',
      ).choices(['mirror', 'primary']),
    )
    .option('--reason <text>', 'why it runs (kept in the report)')
    .option('--as <person>', 'who starts it (default: your OS user name; a claim, see docs/cli.md)')
    .option('--id <workflow-id>', 'the run id (default: <runbook>-<pool>-<UTC time>)')
    .option('--follow', 'follow the run until it waits on a gate or ends')
    .option('--dry-run', 'read the estate, change nothing, and print what the run would execute')
    .option('--plain', 'with --follow: plain lines even on a terminal')
    .addOption(
      new Option(
        '--sign [key]',
        "sign the start with your SSH key (ssh-keygen -Y sign): a key file, key::<public key> held by ssh-agent; default PCHAT_DR_SIGNING_KEY, git's user.signingkey, else ssh-agent's first key",
      ),
    )
    .option(
      '--use-worker-estate',
      "run on the worker's estate file even when it differs from --file (both digests go into the report)",
    )
    .addOption(outputOption());
  return withTemporalOptions(command).action((runbook: string, flags: RunFlags) => startRun(runbook, flags));
}

function runbookOf(name: string): RunbookName {
  if (!(RUNBOOK_NAMES as string[]).includes(name))
    throw new CliError(`unknown runbook ${name} (use one of: ${RUNBOOK_NAMES.join(', ')})`);
  return name as RunbookName;
}

/** The runbook's Options from the flags it takes; a flag it does not take is refused, naming the ones it does. */
export function optionsOf(runbook: RunbookName, flags: Pick<RunFlags, RunbookFlag>): object {
  const takes = RUNBOOK_FLAGS[runbook];
  const given = (['mode', 'database', 'to'] as const).filter((flag) => flags[flag] !== undefined);
  const foreign = given.filter((flag) => !takes.includes(flag));
  if (foreign.length > 0) {
    const accepted =
      takes.length > 0
        ? `it takes ${takes.map((flag) => `--${flag}`).join(', ')}`
        : 'it takes none of --mode, --database, --to';
    throw new CliError(`${foreign.map((flag) => `--${flag}`).join(', ')} does not apply to ${runbook} (${accepted})`);
  }
  switch (runbook) {
    case 'mirror-failover':
      return {
        ...(flags.database ? { database: flags.database } : {}),
        ...(flags.to ? { to: flags.to } : {}),
      } satisfies MirrorFailoverOptions;
    case 'setup-log-shipping':
    case 'setup-mirror-log-shipping':
      return { ...(flags.database ? { database: flags.database } : {}) } satisfies SetupLogShippingOptions;
    case 'failover':
      return { ...(flags.mode ? { mode: flags.mode } : {}) } satisfies FailoverOptions;
    default:
      return {};
  }
}

/** A topology file the run can use, or one line naming what to fix (exit 2). */
export function loadRunTopology(file: string): LoadedTopology {
  try {
    // The installed package's simulated example is run as a copy (runtime/state-dirs.ts): the worker serves that one.
    return loadTopology(runnableTopologyFile(file));
  } catch (error) {
    if (!(error instanceof TopologyError)) throw error;
    const [first, ...more] = error.problems;
    const rest =
      more.length > 0
        ? ` (and ${more.length} more problem${more.length === 1 ? '' : 's'}: pchat-dr topology check -f ${file} lists them)`
        : '';
    throw new CliError(`${formatProblem(file, first)}${rest}`);
  }
}

async function startRun(name: string, flags: RunFlags): Promise<void> {
  const runbook = runbookOf(name);
  const options = optionsOf(runbook, flags);
  const estate = loadRunTopology(flags.file);
  const { topology } = estate;
  const database = (options as { database?: DatabaseKind }).database;
  if (database && !topology.databases[database])
    throw new CliError(`--database ${database}: ${flags.file} describes no ${database} database`);
  // Loaded on use, like the Temporal client it needs.
  const { startRunbook, defaultInitiator, estateCheck } = require('../runs') as typeof import('../runs');
  const taskQueue = taskQueueOf(flags);
  const initiator = flags.as ?? defaultInitiator();

  const code = await withClient(flags, async (client) => {
    const outcome = await startRunbook(client, {
      runbook,
      estate,
      useWorkerEstate: flags.useWorkerEstate,
      options,
      initiator,
      reason: flags.reason,
      workflowId: flags.id,
      dryRun: flags.dryRun,
      taskQueue,
      ...(flags.sign !== undefined ? { sign: (statement) => signNow(statement, flags.sign!) } : {}),
    });
    if (!outcome.started) {
      const open = outcome.open;
      if (flags.output === 'json') printJson({ started: false, open });
      throw new CliError(
        `an incident runbook is already open on ${topology.pool.fqdn}: ${open.runbook ?? 'runbook'} ${open.workflowId} (started ${stampOf(open.startedAt)}); one at a time per pool. Follow it with: pchat-dr watch ${open.workflowId}`,
        EXIT.refused,
      );
    }
    const { workflowId } = outcome;
    if (flags.dryRun) {
      process.stderr.write(`dry run ${workflowId} started on task queue ${taskQueue}: reading the estate...\n`);
      const report = (await client.workflow.getHandle(workflowId).result()) as RunbookReport;
      if (flags.output === 'json') printJson(planJson(report));
      else planLines(report).forEach((line) => printLine(line));
      return exitCodeOf(report.outcome);
    }
    // The worker runs on its own estate file: a different one is refused at the run's first step, said here.
    const check = await estateCheck(client, workflowId, answerTimeoutMs());
    if (check.kind === 'refused') {
      if (flags.output === 'json') printJson({ started: true, workflowId, refused: check.reason });
      throw new CliError(`run ${workflowId} refused: ${check.reason}`, EXIT.refused);
    }
    if (flags.output === 'json' && !flags.follow) {
      printJson({
        started: true,
        workflowId,
        runId: outcome.runId,
        runbook,
        pool: topology.pool.fqdn,
        initiator,
        taskQueue,
      });
      return EXIT.ok;
    }
    if (flags.output === 'text') {
      printLine(`started ${runbook} ${workflowId} on pool ${topology.pool.fqdn} as ${initiator}`);
      if (check.kind === 'no-worker')
        printLine(`  no worker has taken it yet (is a pchat-dr worker running for task queue ${taskQueue}?)`);
      if (!flags.follow) {
        printLine(`  follow it: pchat-dr watch ${workflowId}`);
        printLine(`  status:    pchat-dr status ${workflowId}`);
        return EXIT.ok;
      }
      printLine();
    }
    return followRun(client, workflowId, {
      tty: process.stdout.isTTY === true && !flags.plain,
      json: flags.output === 'json',
      columns: process.stdout.columns,
    });
  });
  if (code !== EXIT.ok) throw new CliError('', code);
}
