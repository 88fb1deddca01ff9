/**
 * Answering a gate from the console: the form's fields checked (every one; unknown ones refused), the statement a
 * passkey signs built and handed out once (contracts/statements.ts, the same one the CLI signs with SSH), and the
 * answer sent through its update, whose reply says at once whether it counted and why not. The console verifies no
 * signature itself: the worker does, as for SSH signatures, so a console that lies gains nothing.
 */
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import {
  abortUpdate,
  approveUpdate,
  decideUpdate,
  describeIssues,
  rejectUpdate,
  type MessageOutcome,
} from '../../contracts/messages';
import { NAME_LIMIT, personName, TEXT_LIMIT } from '../../contracts/fields';
import {
  passkeyAssertion,
  passkeyChallenge,
  STATEMENT_LIMIT,
  statementText,
  statementTime,
  type SignaturePart,
  type Statement,
} from '../../contracts/statements';
import { answerStatement, openGateOf, type Answer } from '../gate-answers';
import { answerTimeoutMs, findRun, innermostMessage, temporalClient, type RunHandle } from '../run-access';

/** The fields an answer form may send: the form's own, and what the page's script adds for a passkey. */
const answerFields = z.strictObject({
  csrf: z.string().max(200),
  action: z.enum(['approve', 'reject', 'decide', 'abort'], { error: 'must be approve, reject, decide or abort' }),
  as: personName,
  text: z.string({ error: 'must be text' }).max(TEXT_LIMIT, `must be at most ${TEXT_LIMIT} characters`).default(''),
  gate: z.string().trim().min(1, 'must name a gate').max(NAME_LIMIT).optional(),
  evidenceVersion: z
    .string()
    .regex(/^([0-9a-f]{64}|none)$/, 'must be the evidence version the page showed (64 hex digits)')
    .optional(),
  choice: z.enum(['retry', 'skip', 'abort'], { error: 'must be retry, skip or abort' }).optional(),
  sign: z.literal('passkey', { error: 'must be passkey or absent' }).optional(),
  statement: z.string().max(STATEMENT_LIMIT).optional(),
  ...passkeyAssertion.partial().shape,
});
export type AnswerFields = z.infer<typeof answerFields>;

export class AnswerRefused extends Error {}

/** The form's fields, or why they do not do (said as the page shows it). */
export function parseAnswerFields(body: Record<string, unknown>): AnswerFields {
  const parsed = answerFields.safeParse(body);
  if (!parsed.success) throw new AnswerRefused(`the form is not one the console sent: ${describeIssues(parsed.error)}`);
  const fields = parsed.data;
  const what = { approve: 'an approval', reject: 'a rejection', decide: 'a decision', abort: 'an abort' }[
    fields.action
  ];
  if (fields.action !== 'abort' && !fields.gate) throw new AnswerRefused(`${what} names its gate: reload the run`);
  if (fields.action === 'approve' && !fields.evidenceVersion)
    throw new AnswerRefused('an approval names the evidence version you reviewed: reload the run and answer again');
  if (fields.action === 'decide' && !fields.choice)
    throw new AnswerRefused('a decision needs a choice (retry, skip, abort)');
  if (fields.action !== 'approve' && fields.text.trim().length === 0)
    throw new AnswerRefused(`${what} needs a reason: write why in the reason field`);
  return fields;
}

function answerOf(fields: AnswerFields): Answer {
  const by = fields.as;
  const text = fields.text.trim();
  switch (fields.action) {
    case 'approve':
      return {
        action: 'approve',
        gate: fields.gate!,
        by,
        evidence: fields.evidenceVersion!,
        ...(text ? { comment: text } : {}),
      };
    case 'reject':
      return { action: 'reject', gate: fields.gate!, by, reason: text };
    case 'decide':
      return { action: 'decide', gate: fields.gate!, by, choice: fields.choice!, reason: text };
    case 'abort':
      return { action: 'abort', by, reason: text };
  }
}

/** A running run, and for an approval the gate still open with the evidence the person saw. */
async function checkedRun(client: Client, workflowId: string, fields: AnswerFields): Promise<RunHandle> {
  const run = await findRun(client, workflowId);
  if (run.status !== 'RUNNING')
    throw new AnswerRefused(`run ${workflowId} has already ended (${run.status.toLowerCase()})`);
  if (fields.action === 'abort') return run;
  const kind = fields.action === 'decide' ? 'decision' : 'approval';
  const gate = await openGateOf(run, kind, fields.gate, 'the answer').catch((error: Error) => {
    throw new AnswerRefused(error.message.replace(/^the answer did not count: /, ''));
  });
  const current = gate.evidence?.version ?? 'none';
  if (fields.action === 'approve' && fields.evidenceVersion !== current)
    throw new AnswerRefused(
      `the evidence of ${gate.id} changed since you looked (you saw ${fields.evidenceVersion!.slice(0, 12)}, it is now ${current.slice(0, 12)}): review it again and answer anew`,
    );
  return run;
}

/** Statements handed out for a passkey to sign: each is good once, for a few minutes (a replayed answer is refused). */
export class IssuedStatements {
  private readonly issued = new Map<string, number>();
  constructor(private readonly lifetimeMs = 5 * 60_000) {}

  issue(text: string): void {
    const now = Date.now();
    for (const [key, expires] of this.issued) if (expires < now) this.issued.delete(key);
    this.issued.set(text, now + this.lifetimeMs);
  }

  /** Takes a statement back; false when this console never issued it, it expired, or it was used already. */
  redeem(text: string): boolean {
    const expires = this.issued.get(text);
    this.issued.delete(text);
    return expires !== undefined && expires >= Date.now();
  }
}

/** The statement for this answer, now: what the person's passkey signs (its challenge is the statement's digest). */
export async function issueStatement(
  client: Client,
  workflowId: string,
  fields: AnswerFields,
  issued: IssuedStatements,
): Promise<{ statement: string; challenge: string }> {
  const run = await checkedRun(client, workflowId, fields);
  const unsigned = await answerStatement(run, answerOf(fields), 'the answer');
  const statement = statementText({ ...unsigned, time: statementTime(new Date()) } as Statement);
  issued.issue(statement);
  return { statement, challenge: passkeyChallenge(statement) };
}

/** Sends the answer through its update; the run's reply (or its validator's refusal) is the outcome. */
export async function sendAnswer(
  client: Client,
  workflowId: string,
  fields: AnswerFields,
  issued: IssuedStatements,
): Promise<MessageOutcome> {
  let signature: SignaturePart | undefined;
  const assertion = passkeyAssertion.safeParse({
    credentialId: fields.credentialId,
    authenticatorData: fields.authenticatorData,
    clientDataJSON: fields.clientDataJSON,
    signature: fields.signature,
    ...(fields.userHandle ? { userHandle: fields.userHandle } : {}),
  });
  if (fields.statement !== undefined || fields.credentialId !== undefined) {
    if (!fields.statement || !assertion.success)
      throw new AnswerRefused('the passkey signature is incomplete: sign again from the run page');
    if (!issued.redeem(fields.statement))
      throw new AnswerRefused(
        'this signed statement was not handed out by this console, has expired or was already sent: answer again from the run page',
      );
    signature = { statement: fields.statement, webauthn: assertion.data };
  } else if (fields.sign) {
    throw new AnswerRefused(
      'signing with a passkey needs JavaScript: turn it on, or untick "Sign with my passkey" to answer unsigned',
    );
  }
  const run = await checkedRun(client, workflowId, fields);
  const signed = signature ? { signature } : {};
  const text = fields.text.trim();
  const send = (): Promise<MessageOutcome> => {
    switch (fields.action) {
      case 'approve':
        return run.handle.executeUpdate(approveUpdate, {
          args: [
            {
              gate: fields.gate!,
              by: fields.as,
              evidenceVersion: fields.evidenceVersion!,
              ...(text ? { comment: text } : {}),
              ...signed,
            },
          ],
        });
      case 'reject':
        return run.handle.executeUpdate(rejectUpdate, {
          args: [{ gate: fields.gate!, by: fields.as, reason: text, ...signed }],
        });
      case 'decide':
        return run.handle.executeUpdate(decideUpdate, {
          args: [{ gate: fields.gate!, by: fields.as, choice: fields.choice!, reason: text, ...signed }],
        });
      case 'abort':
        return run.handle.executeUpdate(abortUpdate, { args: [{ by: fields.as, reason: text, ...signed }] });
    }
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      send(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new AnswerRefused(
                `no worker answered within ${Math.round(answerTimeoutMs() / 1000)} s: is a pchat-dr worker running? The answer may still be applied when one starts: reload the run to see`,
              ),
            ),
          answerTimeoutMs(),
        );
      }),
    ]);
  } catch (error) {
    if (error instanceof temporalClient().WorkflowUpdateFailedError) throw new AnswerRefused(innermostMessage(error));
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
