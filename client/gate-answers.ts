/**
 * Answering a run as a person: approve, reject, decide, abort, each through its update (workflows/messages.ts), so
 * the answer says at once whether it counted and, if not, the run's own reason (its validator's), exit 3.
 */
import type { UpdateDefinition } from '@temporalio/client';
import { Option } from 'commander';
import { pendingGatesQuery, type MessageOutcome } from '../contracts/messages';
import { openGatesText, type PendingGate, type RunbookReport } from '../contracts/run-record';
import type { SignedAction, Statement } from '../contracts/statements';
import { CliError, EXIT } from '../runtime/exit';
import { outputOption, printJson, printLine, type OutputFormat } from './output';
import { signingOptions, type SignFlags } from './signing';
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

export interface AnswerFlags extends TemporalFlags, SignFlags {
  as?: string;
  output: OutputFormat;
}

/** --as, --sign / --signature, -o and the Temporal options every answering command takes. */
export function answerOptions<C extends import('commander').Command>(command: C): C {
  command.addOption(
    new Option('--as <person>', 'who answers (default: your OS user name; signed answers prove it, see docs/cli.md)'),
  );
  signingOptions(command);
  command.addOption(outputOption());
  withTemporalOptions(command);
  return command;
}

/** What a person answers, for the statement they sign. */
export type Answer =
  | { action: 'approve'; gate: string; by: string; comment?: string; evidence: string }
  | { action: 'reject'; gate: string; by: string; reason: string }
  | { action: 'decide'; gate?: string; by: string; choice: string; reason: string }
  | { action: 'abort'; by: string; reason: string };

/** The open gate an answer names (its name, or its id once it opened again), or a refusal (exit 3). */
export async function openGateOf(
  run: RunHandle,
  kind: PendingGate['kind'],
  name: string | undefined,
  what: string,
): Promise<PendingGate> {
  const open = await run.handle.query(pendingGatesQuery);
  const candidates = open.filter((gate) => gate.kind === kind);
  const gate = name
    ? (candidates.find((candidate) => candidate.id === name) ??
      candidates.findLast((candidate) => candidate.gate === name))
    : candidates[candidates.length - 1];
  if (!gate)
    throw new CliError(
      kind === 'decision'
        ? `${what} did not count: no decision is pending${name ? ` for ${name}` : ''} (${openGatesText(open)})`
        : `${what} did not count: gate ${name} is not open (${openGatesText(open)})`,
      EXIT.refused,
    );
  return gate;
}

/**
 * The statement an answer needs but for its time (contracts/statements.ts): this namespace, workflow and run, the
 * open gate's id, the evidence approved, the choice or reason, the person.
 */
export async function answerStatement(run: RunHandle, answer: Answer, what: string): Promise<Omit<Statement, 'time'>> {
  const base = {
    action: answer.action as SignedAction,
    temporalNamespace: run.namespace,
    workflowId: run.workflowId,
    runId: run.runId,
    signer: answer.by,
  };
  switch (answer.action) {
    case 'approve': {
      const gate = await openGateOf(run, 'approval', answer.gate, what);
      return {
        ...base,
        gate: gate.id,
        evidence: answer.evidence,
        ...(answer.comment ? { comment: answer.comment } : {}),
      };
    }
    case 'reject':
      return { ...base, gate: (await openGateOf(run, 'approval', answer.gate, what)).id, reason: answer.reason };
    case 'decide':
      return {
        ...base,
        gate: (await openGateOf(run, 'decision', answer.gate, what)).id,
        choice: answer.choice,
        reason: answer.reason,
      };
    case 'abort':
      return { ...base, reason: answer.reason };
  }
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
    // Accepted by the run's rules, but its signature did not count: the run recorded why.
    if (!outcome.counted) refuse(flags, `${what} did not count: ${outcome.message}`);
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
  // Once the wait is over the connection closes, and the update still in flight fails with "Channel has been shut
  // down": that later failure is expected and already reported as the timeout, never an unhandled rejection.
  answer.catch(() => undefined);
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
