/**
 * Answering a run as a person: approve, reject, decide, abort, each through its update (workflows/messages.ts), so
 * the answer says at once whether it counted and, if not, the run's own reason (its validator's), exit 3.
 */
import type { UpdateDefinition } from '@temporalio/client';
import { Option } from 'commander';
import type { MessageOutcome } from '../contracts/messages';
import type { RunbookReport } from '../contracts/run-record';
import { CliError, EXIT } from '../runtime/exit';
import { outputOption, printJson, printLine, type OutputFormat } from './output';
import {
  answerTimeoutMs,
  firstLine,
  findRun,
  innermostMessage,
  temporalClient,
  withClient,
  withTemporalOptions,
  type RunHandle,
  type TemporalFlags,
} from './run-access';

export interface AnswerFlags extends TemporalFlags {
  as?: string;
  output: OutputFormat;
}

/** --as, -o and the Temporal options every answering command takes. */
export function answerOptions<C extends import('commander').Command>(command: C): C {
  command
    .addOption(new Option('--as <person>', 'who answers (default: your OS user name; a claim, see docs/cli.md)'))
    .addOption(outputOption());
  withTemporalOptions(command);
  return command;
}

export function personOf(flags: AnswerFlags): string {
  return flags.as ?? (require('./runs') as typeof import('./runs')).defaultInitiator();
}

/**
 * Sends an answer through its update and says whether it counted. `message` may need the run (an approval names the
 * evidence version of the open gate): it is built once the run is found, within the same wait for a worker.
 * `explain` adds lines to a counted answer (what an approval approved).
 */
export async function sendAnswer<M>(
  flags: AnswerFlags,
  workflowId: string,
  update: UpdateDefinition<MessageOutcome, [M]>,
  message: M | ((run: RunHandle) => Promise<M>),
  what: string,
  explain: () => string[] = () => [],
): Promise<void> {
  await withClient(flags, async (client) => {
    const run = await findRun(client, workflowId);
    if (run.status !== 'RUNNING') {
      const outcome =
        run.status === 'COMPLETED' ? ((await run.handle.result()) as RunbookReport).outcome : run.status.toLowerCase();
      refuse(flags, `${what} did not count: run ${workflowId} has already ended (${outcome})`);
    }
    let outcome: MessageOutcome;
    try {
      const send = async () => {
        const payload =
          typeof message === 'function' ? await (message as (run: RunHandle) => Promise<M>)(run) : message;
        return run.handle.executeUpdate(update, { args: [payload] });
      };
      outcome = await withinWorkerAnswer(send(), workflowId);
    } catch (error) {
      if (error instanceof CliError) throw error;
      if (error instanceof temporalClient().WorkflowUpdateFailedError)
        refuse(flags, `${what} did not count: ${innermostMessage(error)}`);
      refuse(flags, `${what} did not count: ${firstLine(error)}`);
    }
    if (flags.output === 'json') {
      printJson(outcome);
      return;
    }
    printLine(`${what} counted: ${outcome.message.replace(/^approval counted: /, '')}`);
    for (const line of explain()) printLine(line);
    printLine(
      outcome.gateStatus === 'open'
        ? `the gate stays open until enough people approve: pchat-dr status ${workflowId}`
        : `follow the run: pchat-dr watch ${workflowId}`,
    );
  });
}

/** An update is answered by a worker: without one it would wait for ever, so say what to check instead. */
async function withinWorkerAnswer<T>(answer: Promise<T>, workflowId: string): Promise<T> {
  const WORKER_ANSWER_MS = answerTimeoutMs();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CliError(
            `no worker answered within ${Math.round(WORKER_ANSWER_MS / 1000)} s: is a pchat-dr worker running for this task queue? The answer may still be applied when one starts: check with pchat-dr status ${workflowId}`,
            EXIT.timedOut,
          ),
        ),
      WORKER_ANSWER_MS,
    );
  });
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function refuse(flags: AnswerFlags, reason: string): never {
  if (flags.output === 'json') {
    printJson({ counted: false, reason });
    throw new CliError('', EXIT.refused);
  }
  throw new CliError(reason, EXIT.refused);
}
