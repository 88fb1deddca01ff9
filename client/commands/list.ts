/**
 * `pchat-dr list`: runbook runs, from Temporal's visibility store (the PchatPool / PchatRunbook / PchatPhase /
 * PchatAwaitingGate search attributes), newest first. The pools' lock workflows are never listed.
 */
import { Command, Option } from 'commander';
import { RUNBOOK_NAMES, WORKFLOW_TYPES } from '../../contracts/runbooks';
import { AWAITING_GATE, PHASE, POOL, RUNBOOK } from '../../contracts/search-attributes';
import { CliError, EXIT } from '../../runtime/exit';
import { formatTable, outputOption, printJson, printLine, type OutputFormat } from '../output';
import { stampOf } from '../report-view';
import { firstLine, withClient, withTemporalOptions, type TemporalFlags } from '../run-access';
import { wholeNumber } from '../flag-values';

interface ListFlags extends TemporalFlags {
  pool?: string;
  open?: boolean;
  limit: number;
  output: OutputFormat;
}

export interface ListedRun {
  workflowId: string;
  runId: string;
  runbook: string | null;
  pool: string | null;
  status: string;
  phase: string | null;
  awaitingGate: string | null;
  startedAt: string;
  closedAt: string | null;
}

/** The visibility query: runbook workflow types only (never the poolLock workflows), optionally one pool, open runs. */
export function listQuery(flags: Pick<ListFlags, 'pool' | 'open'>): string {
  const types = [...new Set(RUNBOOK_NAMES.map((runbook) => WORKFLOW_TYPES[runbook]))]
    .map((type) => `'${type}'`)
    .join(', ');
  const clauses = [`WorkflowType IN (${types})`];
  if (flags.pool !== undefined) {
    if (!/^[A-Za-z0-9.-]+$/.test(flags.pool))
      throw new CliError(`--pool ${flags.pool}: give the pool's FQDN (letters, digits, - and .)`);
    clauses.push(`${POOL.name} = '${flags.pool}'`);
  }
  if (flags.open) clauses.push(`ExecutionStatus = 'Running'`);
  return clauses.join(' AND ');
}

export function listCommand(): Command {
  const command = new Command('list')
    .description('list runbook runs (newest first)')
    .option('--pool <fqdn>', 'only runs on this pool')
    .option('--open', 'only runs still running')
    .addOption(
      new Option('--limit <n>', 'at most this many runs')
        .default(50)
        .argParser(wholeNumber('--limit', 'give a whole number of runs, e.g. 20')),
    )
    .addOption(outputOption());
  return withTemporalOptions(command).action((flags: ListFlags) =>
    withClient(flags, async (client) => {
      const runs: ListedRun[] = [];
      try {
        for await (const execution of client.workflow.list({ query: listQuery(flags) })) {
          const attributes = execution.typedSearchAttributes;
          runs.push({
            workflowId: execution.workflowId,
            runId: execution.runId,
            runbook: attributes.get(RUNBOOK) ?? null,
            pool: attributes.get(POOL) ?? null,
            status: execution.status.name.toLowerCase(),
            phase: attributes.get(PHASE) ?? null,
            awaitingGate: attributes.get(AWAITING_GATE) ?? null,
            startedAt: execution.startTime.toISOString(),
            closedAt: execution.closeTime?.toISOString() ?? null,
          });
          if (runs.length >= flags.limit) break;
        }
      } catch (error) {
        if (error instanceof CliError) throw error;
        throw new CliError(
          `cannot list runs: ${firstLine(error)} (are pchat-dr's search attributes registered? see docs/deployment.md)`,
          EXIT.failed,
        );
      }
      if (flags.output === 'json') {
        printJson(runs);
        return;
      }
      if (runs.length === 0) {
        printLine(`no ${flags.open ? 'open ' : ''}runs${flags.pool ? ` on ${flags.pool}` : ''}`);
        return;
      }
      const rows = [['ID', 'RUNBOOK', 'POOL', 'STATUS', 'PHASE', 'AWAITING', 'STARTED']];
      for (const run of runs)
        rows.push([
          run.workflowId,
          run.runbook ?? '-',
          run.pool ?? '-',
          run.status,
          run.phase ?? '-',
          run.awaitingGate ?? '-',
          stampOf(run.startedAt),
        ]);
      formatTable(rows).forEach((line) => printLine(line));
    }),
  );
}
