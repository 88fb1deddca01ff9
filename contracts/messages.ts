/**
 * The messages every runbook answers, defined once and shared with the client (CLI, Temporal UI users).
 *
 * People act through signals (fire and forget: they work from the Temporal UI and `temporal workflow signal`, even
 * with no worker up) or through updates (the CLI uses these: the caller learns at once whether the message counted
 * and, if not, why). Both go through the same validation; a refused update leaves no trace in history, a refused
 * signal is recorded in the run's log with the reason.
 *
 * Anyone with access to the namespace can send any payload, so every message is parsed against its schema before
 * anything reads it (docs/runbooks.md rule 8): a malformed one is refused with what is wrong, never thrown.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { NAME_LIMIT, optionalText, personName, TEXT_LIMIT } from './fields';
import type { PendingGate, Progress, RunbookReport } from './run-record';
import { signaturePart } from './statements';

const gateId = z
  .string({ error: 'must be text (a gate name or id)' })
  .trim()
  .min(1, 'must name a gate')
  .max(NAME_LIMIT, `must be at most ${NAME_LIMIT} characters`);
const text = (what: string) =>
  z
    .string({ error: `must be text (${what})` })
    .max(TEXT_LIMIT, `must be at most ${TEXT_LIMIT} characters`)
    .refine((value) => value.trim().length > 0, `must not be empty (${what})`);

export const approveMessage = z.strictObject({
  /** Gate name (declare-disaster) or id (declare-disaster#2). */
  gate: gateId,
  by: personName,
  comment: optionalText.optional(),
  /** The evidence version the person looked at (pchat-dr status shows it): an approval names what it approves. */
  evidenceVersion: z
    .string({ error: 'is required: the evidence version this approval is for (pchat-dr status RUN shows it)' })
    .trim()
    .min(1, 'is required: the evidence version this approval is for (pchat-dr status RUN shows it)')
    .max(NAME_LIMIT, `must be at most ${NAME_LIMIT} characters`),
  /** The statement the person signed and their SSH signature of it (contracts/statements.ts). */
  signature: signaturePart.optional(),
});

export const rejectMessage = z.strictObject({
  gate: gateId,
  by: personName,
  reason: text('why'),
  signature: signaturePart.optional(),
});

export const decideMessage = z.strictObject({
  choice: z.enum(['retry', 'skip', 'abort'], { error: 'must be retry, skip or abort' }),
  by: personName,
  reason: text('why'),
  /** The decision gate; when omitted, the one that is open. */
  gate: gateId.optional(),
  signature: signaturePart.optional(),
});

export const abortMessage = z.strictObject({
  by: personName,
  reason: text('why'),
  signature: signaturePart.optional(),
});

export type ApproveMessage = z.infer<typeof approveMessage>;
export type RejectMessage = z.infer<typeof rejectMessage>;
export type DecideMessage = z.infer<typeof decideMessage>;
export type AbortMessage = z.infer<typeof abortMessage>;

/**
 * What an update answers: whether the message counted, and where the gate stands. A message its validator accepted
 * may still not count (counted: false, with why): a signature is verified on the worker after the validator, and a
 * refusal then is recorded in the run.
 */
export interface MessageOutcome {
  counted: boolean;
  gate?: string;
  /** approved / rejected / decided / aborted / open (more approvals needed). */
  gateStatus?: string;
  approvals?: number;
  required?: number;
  message: string;
}

export const approveSignal = defineSignal<[ApproveMessage]>('approve');
export const rejectSignal = defineSignal<[RejectMessage]>('reject');
export const decideSignal = defineSignal<[DecideMessage]>('decide');
export const abortSignal = defineSignal<[AbortMessage]>('abort');

export const approveUpdate = defineUpdate<MessageOutcome, [ApproveMessage]>('approveGate');
export const rejectUpdate = defineUpdate<MessageOutcome, [RejectMessage]>('rejectGate');
export const decideUpdate = defineUpdate<MessageOutcome, [DecideMessage]>('decideStep');
export const abortUpdate = defineUpdate<MessageOutcome, [AbortMessage]>('abortRun');

export const progressQuery = defineQuery<Progress>('progress');
export const pendingGatesQuery = defineQuery<PendingGate[]>('pendingGates');
export const reportQuery = defineQuery<RunbookReport>('report');

/** What went wrong with a payload, in one short line: the first problems zod found, with their fields. */
export function describeIssues(error: z.ZodError, limit = 3): string {
  // An unknown field says most about a forged payload: it comes first.
  const ordered = [...error.issues].sort(
    (a, b) => Number(b.code === 'unrecognized_keys') - Number(a.code === 'unrecognized_keys'),
  );
  const issues = ordered.slice(0, limit).map((issue) => {
    const field = issue.path.map(String).join('.');
    const message = issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message;
    return field ? `${field} ${message}` : message;
  });
  const more = error.issues.length > limit ? ` (and ${error.issues.length - limit} more)` : '';
  return `${issues.join('; ')}${more}`;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; refusal: string };

/** Parses a payload nobody vouches for: its value, or why it does not count. */
export function parsePayload<T>(schema: z.ZodType<T>, payload: unknown): Parsed<T> {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    const got = payload === null ? 'null' : Array.isArray(payload) ? 'a list' : typeof payload;
    return { ok: false, refusal: `the payload must be an object (got ${got})` };
  }
  const result = schema.safeParse(payload);
  return result.success ? { ok: true, value: result.data } : { ok: false, refusal: describeIssues(result.error) };
}
