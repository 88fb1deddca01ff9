/**
 * `pchat-dr list`: runbook runs, from Temporal's visibility store (the PchatPool / PchatRunbook / PchatPhase /
 * PchatAwaitingGate search attributes), newest first. The pools' lock workflows are never listed. With a Web UI
 * address (--ui, PCHAT_DR_UI_URL) each run comes with its page in the UI, and the list with the UI's view of the same
 * query: runbooks only, no lock workflows (docs/operations.md#the-temporal-web-ui).
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
  ui?: string;
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
  /** The run's page in the Temporal Web UI; null when no UI address is configured. */
  uiUrl: string | null;
}

/** The Web UI's address: --ui, else PCHAT_DR_UI_URL; undefined when neither is set. Anything but http(s) is bad input. */
export function uiBaseOf(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const [given, source] = flag !== undefined ? [flag, '--ui'] : [env.PCHAT_DR_UI_URL, 'PCHAT_DR_UI_URL'];
  if (!given) return undefined;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    url = new URL('invalid:');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`${source} ${given}: give the Temporal Web UI's address, e.g. http://127.0.0.1:8233`);
  return url.href.replace(/\/+$/, '');
}

/** A run's page in the Web UI (its history), as the UI's own links name it. */
export function runUiUrl(ui: string, namespace: string, workflowId: string, runId: string): string {
  return `${ui}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

/** The Web UI's list of workflows filtered by a visibility query (what a saved view stores). */
export function listUiUrl(ui: string, namespace: string, query: string): string {
  return `${ui}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
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
    .option('--ui <url>', "the Temporal Web UI's address, to print each run's link (default: PCHAT_DR_UI_URL)")
    .addOption(
      new Option('--limit <n>', 'at most this many runs')
        .default(50)
        .argParser(wholeNumber('--limit', 'give a whole number of runs, e.g. 20')),
    )
    .addOption(outputOption());
  return withTemporalOptions(command).action((flags: ListFlags) => {
    const ui = uiBaseOf(flags.ui);
    const query = listQuery(flags);
    return withClient(flags, async (client) => {
      const { namespace } = client.options;
      const runs: ListedRun[] = [];
      try {
        for await (const execution of client.workflow.list({ query })) {
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
            uiUrl: ui ? runUiUrl(ui, namespace, execution.workflowId, execution.runId) : null,
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
      } else {
        const rows = [['ID', 'RUNBOOK', 'POOL', 'STATUS', 'PHASE', 'AWAITING', 'STARTED', ...(ui ? ['WEB UI'] : [])]];
        for (const run of runs)
          rows.push([
            run.workflowId,
            run.runbook ?? '-',
            run.pool ?? '-',
            run.status,
            run.phase ?? '-',
            run.awaitingGate ?? '-',
            stampOf(run.startedAt),
            ...(run.uiUrl ? [run.uiUrl] : []),
          ]);
        formatTable(rows).forEach((line) => printLine(line));
      }
      if (ui) printLine(`In the Web UI (runbooks only, no lock workflows): ${listUiUrl(ui, namespace, query)}`);
    });
  });
}
