/**
 * Signed messages (docs/operations.md "Approvals and identity"): what a person signs with their SSH key, in one
 * canonical text, so the worker, the CLI and an auditor with `ssh-keygen -Y verify` all check the same bytes.
 *
 * A statement is lines of `key: value`, each ended by a newline (LF), after a first line naming the format. It names
 * the action, the Temporal namespace, the workflow and (once it exists) the run, the gate, the evidence digest, the
 * choice or reason, the signer and the time: a signature therefore counts for one run, one gate and one version of
 * the evidence. A start has no run id yet, so its statement names everything the run's input says instead (workflow
 * id, runbook, pool, the digest of the estate file looked at, options, reason) and the time: the run checks the time
 * against the start time Temporal gives it, and the worker checks that no other run of that workflow id started
 * since the statement was signed (workflows/run-messages.ts, activities/signatures.ts).
 *
 * Pure and workflow-safe: the workflow builds and compares statements, the worker's activity verifies signatures.
 */
import { sha256 } from '@noble/hashes/sha2';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils';
import { z } from 'zod';

/** The SSHSIG namespace of every pchat-dr signature (`ssh-keygen -Y sign -n pchat-dr`): git's or others never pass. */
export const SIGNATURE_NAMESPACE = 'pchat-dr';
/** The first line of every statement: the format and its version. */
export const STATEMENT_HEADER = 'pchat-dr statement v1';
/** The longest statement and signature a message may carry. */
export const STATEMENT_LIMIT = 16_000;
export const SSHSIG_LIMIT = 8_000;
/** A statement dated this far after the run's clock is refused (a signer's clock may run a little fast). */
export const STATEMENT_CLOCK_SKEW_MS = 5 * 60_000;

export type SignedAction = 'start' | 'approve' | 'reject' | 'decide' | 'abort';
export const SIGNED_ACTIONS: readonly SignedAction[] = ['start', 'approve', 'reject', 'decide', 'abort'];

/**
 * Which messages an estate requires signed: `required` every start, approval, rejection, decision and abort;
 * `critical` the start and the answers to the critical gates; `off` none (a signature given is still verified).
 */
export type SignaturePolicy = 'required' | 'critical' | 'off';

/** Base64url (RFC 4648 §5, no padding), as WebAuthn writes its binary fields. */
const base64url = (what: string, limit: number) =>
  z
    .string({ error: `must be ${what} (base64url)` })
    .min(1, `must be ${what} (base64url)`)
    .max(limit, `must be at most ${limit} characters`)
    .regex(/^[A-Za-z0-9_-]+$/, `must be ${what} in base64url (A-Z a-z 0-9 - _, no padding)`);

/** The longest credential id WebAuthn allows is 1023 bytes: 1364 characters of base64url. */
export const CREDENTIAL_ID_LIMIT = 1_364;

/**
 * A passkey's answer (WebAuthn's AuthenticatorAssertionResponse, base64url): the device signed its authenticator
 * data and the hash of the client data, whose challenge is the statement's digest (passkeyChallenge).
 */
export const passkeyAssertion = z.strictObject({
  credentialId: base64url('the credential id', CREDENTIAL_ID_LIMIT),
  authenticatorData: base64url('the authenticator data', 4_000),
  clientDataJSON: base64url('the client data', 4_000),
  signature: base64url('the signature', 1_000),
  userHandle: base64url('the user handle', 100).optional(),
});
export type PasskeyAssertion = z.infer<typeof passkeyAssertion>;

/**
 * What a message carries when it is signed: the exact statement and either its SSH signature (armored, as
 * ssh-keygen writes it) or a passkey's WebAuthn assertion over its digest (the approval console).
 */
export const signaturePart = z
  .strictObject({
    statement: z
      .string({ error: 'must be the signed statement (pchat-dr statement prints it)' })
      .min(1, 'must be the signed statement (pchat-dr statement prints it)')
      .max(STATEMENT_LIMIT, `must be at most ${STATEMENT_LIMIT} characters`),
    sshsig: z
      .string({ error: 'must be the SSH signature (-----BEGIN SSH SIGNATURE----- ...)' })
      .min(1, 'must be the SSH signature (-----BEGIN SSH SIGNATURE----- ...)')
      .max(SSHSIG_LIMIT, `must be at most ${SSHSIG_LIMIT} characters`)
      .optional(),
    webauthn: passkeyAssertion.optional(),
  })
  .refine((part) => (part.sshsig === undefined) !== (part.webauthn === undefined), {
    message: 'must carry either an SSH signature (sshsig) or a passkey assertion (webauthn), exactly one',
  });
export type SignaturePart = z.infer<typeof signaturePart>;

/** The fields of a statement; which of them an action has is STATEMENT_KEYS. */
export interface Statement {
  action: SignedAction;
  temporalNamespace: string;
  workflowId: string;
  runId?: string;
  runbook?: string;
  pool?: string;
  /** start: SHA-256 of the estate file the signer looked at. */
  estate?: string;
  /** start: the runbook's options, as stable JSON. */
  options?: string;
  dryRun?: boolean;
  useWorkerEstate?: boolean;
  gate?: string;
  /** approve: the evidence digest approved. */
  evidence?: string;
  choice?: string;
  comment?: string;
  reason?: string;
  signer: string;
  /** ISO 8601, UTC, whole seconds: 2026-05-01T10:00:00Z. */
  time: string;
}

type Field = Exclude<keyof Statement, 'action'>;
type Kind = 'plain' | 'text' | 'boolean';

/** Each field: its key in the text and how its value is written (text: always a JSON string). */
const FIELDS: Record<Field, { key: string; kind: Kind }> = {
  temporalNamespace: { key: 'temporal-namespace', kind: 'plain' },
  workflowId: { key: 'workflow-id', kind: 'plain' },
  runId: { key: 'run-id', kind: 'plain' },
  runbook: { key: 'runbook', kind: 'plain' },
  pool: { key: 'pool', kind: 'plain' },
  estate: { key: 'estate-sha256', kind: 'plain' },
  options: { key: 'options', kind: 'plain' },
  dryRun: { key: 'dry-run', kind: 'boolean' },
  useWorkerEstate: { key: 'use-worker-estate', kind: 'boolean' },
  gate: { key: 'gate', kind: 'plain' },
  evidence: { key: 'evidence', kind: 'plain' },
  choice: { key: 'choice', kind: 'plain' },
  comment: { key: 'comment', kind: 'text' },
  reason: { key: 'reason', kind: 'text' },
  signer: { key: 'signer', kind: 'plain' },
  time: { key: 'time', kind: 'plain' },
};

/** The fields of each action, in order; `?` marks one that may be absent (a comment). */
const STATEMENT_KEYS: Record<SignedAction, string[]> = {
  start: [
    'temporalNamespace',
    'workflowId',
    'runbook',
    'pool',
    'estate',
    'options',
    'dryRun',
    'useWorkerEstate',
    'reason',
    'signer',
    'time',
  ],
  approve: ['temporalNamespace', 'workflowId', 'runId', 'gate', 'evidence', 'comment?', 'signer', 'time'],
  reject: ['temporalNamespace', 'workflowId', 'runId', 'gate', 'reason', 'signer', 'time'],
  decide: ['temporalNamespace', 'workflowId', 'runId', 'gate', 'choice', 'reason', 'signer', 'time'],
  abort: ['temporalNamespace', 'workflowId', 'runId', 'reason', 'signer', 'time'],
};

/** A value as written: plain when it reads unambiguously (no control characters, no surrounding space, no leading quote). */
function encode(value: string, kind: Kind): string {
  if (kind === 'text') return JSON.stringify(value);
  return /^[^\s"\p{Cc}](?:[^\p{Cc}]*[^\s\p{Cc}])?$/u.test(value) ? value : JSON.stringify(value);
}

/** The time a statement carries: ISO 8601 UTC with whole seconds. */
export function statementTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** The canonical text of a statement: what is signed, byte for byte. */
export function statementText(statement: Statement): string {
  const lines = [STATEMENT_HEADER, `action: ${statement.action}`];
  for (const entry of STATEMENT_KEYS[statement.action]) {
    const optional = entry.endsWith('?');
    const field = entry.replace('?', '') as Field;
    const value = statement[field];
    if (value === undefined) {
      if (optional) continue;
      throw new Error(`a ${statement.action} statement needs ${FIELDS[field].key}`);
    }
    const { key, kind } = FIELDS[field];
    lines.push(`${key}: ${typeof value === 'boolean' ? String(value) : encode(value, kind)}`);
  }
  return `${lines.join('\n')}\n`;
}

export type ParsedStatement = { ok: true; statement: Statement } | { ok: false; problem: string };

/** Reads a statement; anything but the canonical text of a known action is a problem, said in one line. */
export function parseStatement(text: string): ParsedStatement {
  const fail = (problem: string): ParsedStatement => ({ ok: false, problem });
  if (!text.endsWith('\n')) return fail('the statement must end with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== STATEMENT_HEADER) return fail(`the statement must start with "${STATEMENT_HEADER}"`);
  const action = /^action: (\S+)$/.exec(lines[1] ?? '')?.[1] as SignedAction | undefined;
  if (!action || !SIGNED_ACTIONS.includes(action))
    return fail(`the statement must name its action (${SIGNED_ACTIONS.join(', ')}) on its second line`);
  const statement: Record<string, unknown> = { action };
  const byKey = new Map(Object.entries(FIELDS).map(([field, spec]) => [spec.key, { field, ...spec }]));
  for (const line of lines.slice(2)) {
    const match = /^([a-z0-9-]+): (.*)$/.exec(line);
    const spec = match && byKey.get(match[1]);
    if (!match || !spec) return fail(`the statement has a line it does not know: ${line.slice(0, 60)}`);
    if (spec.field in statement) return fail(`the statement names ${spec.key} twice`);
    let value: unknown = match[2];
    if (spec.kind === 'boolean') {
      if (match[2] !== 'true' && match[2] !== 'false') return fail(`${spec.key} must be true or false`);
      value = match[2] === 'true';
    } else if (match[2].startsWith('"')) {
      try {
        value = JSON.parse(match[2]);
      } catch {
        return fail(`${spec.key} is not a valid quoted value`);
      }
      if (typeof value !== 'string') return fail(`${spec.key} is not a valid quoted value`);
    }
    statement[spec.field] = value;
  }
  const parsed = statement as unknown as Statement;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(parsed.time ?? '') || Number.isNaN(Date.parse(parsed.time)))
    return fail('time must be a UTC time such as 2026-05-01T10:00:00Z');
  let canonical: string;
  try {
    canonical = statementText(parsed);
  } catch (error) {
    return fail((error as Error).message);
  }
  if (canonical !== text)
    return fail(`the statement is not in canonical form (its fields, in order: ${keysOf(action)})`);
  return { ok: true, statement: parsed };
}

/** The keys of an action's statement, in order, as a reader sees them. */
export function keysOf(action: SignedAction): string {
  return ['action', ...STATEMENT_KEYS[action].map((entry) => FIELDS[entry.replace('?', '') as Field].key)].join(', ');
}

/** Stable JSON (keys sorted; undefined written as null): the same facts always give the same text. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value as Record<string, unknown>)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableJson((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

/**
 * The evidence digest: SHA-256 (hex) of the evidence material as stable JSON. An approval names it, a signed
 * approval signs it, and anyone holding the report can recompute it from the material the report shows.
 */
export function evidenceDigest(material: Record<string, unknown>): string {
  return bytesToHex(sha256(utf8ToBytes(stableJson(material))));
}

/**
 * The challenge a passkey signs for a statement: the SHA-256 of its canonical text, base64url. The device signs
 * client data naming this challenge, so the assertion counts for this statement and nothing else.
 */
export function passkeyChallenge(statement: string): string {
  return base64urlOf(sha256(utf8ToBytes(statement)));
}

/** Base64url without padding (no Buffer here: this file runs in the workflow sandbox too). */
export function base64urlOf(bytes: Uint8Array): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const [a, b = 0, c = 0] = [bytes[i], bytes[i + 1], bytes[i + 2]];
    const n = (a << 16) | (b << 8) | c;
    out += alphabet[(n >> 18) & 63] + alphabet[(n >> 12) & 63];
    if (i + 1 < bytes.length) out += alphabet[(n >> 6) & 63];
    if (i + 2 < bytes.length) out += alphabet[n & 63];
  }
  return out;
}

/** Whether a signature is required for this message under the estate's policy. */
export function signatureRequired(policy: SignaturePolicy, action: SignedAction, criticalGate: boolean): boolean {
  if (policy === 'required') return true;
  if (policy === 'critical')
    return action === 'start' || ((action === 'approve' || action === 'reject') && criticalGate);
  return false;
}

/** A signed message that counted, as the run's record and report keep it (every one an auditor can verify again). */
export interface SignedMessage {
  action: SignedAction;
  /** The gate it answered (approve, reject, decide). */
  gate?: string;
  by: string;
  /** When the run accepted it. */
  at: string;
  statement: string;
  /** An SSH signature: the armored SSHSIG. */
  sshsig?: string;
  /** A passkey's signature: the assertion, the credential's public key and the relying party it was made for. */
  webauthn?: PasskeyAssertion & PasskeySigner;
  /**
   * The key that signed: its type (ED25519, ECDSA-P256, RSA ..., PASSKEY) and SHA-256 fingerprint, as ssh-keygen
   * shows them (a passkey's: of its COSE public key).
   */
  key: { type: string; fingerprint: string };
  /** The file the worker verified it against (allowed_signers, or the passkeys file), and that file's SHA-256 then. */
  allowedSigners: { file: string; digest: string };
}

/** What a passkey signature is checked with again offline: the public key and the relying party (origin, RP id). */
export interface PasskeySigner {
  /** The credential's COSE public key, base64url (as the passkeys file lists it). */
  publicKey: string;
  origin: string;
  rpId: string;
}

/** How a run is signed: the estate's policy and its signers file, recorded when the estate loads. */
export interface SigningRecord {
  policy: SignaturePolicy;
  allowedSigners: string;
}
