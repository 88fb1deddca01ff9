/**
 * Signed messages as a run checks them (docs/operations.md "Approvals and identity"): whether the estate asks for a
 * signature, and whether the signed statement is the one this message needs — this namespace, this workflow and
 * run, this gate, this evidence, this choice or reason, this signer, and recent enough. Each mismatch is a refusal
 * that says which; only a statement that matches goes to the worker, where the signature itself is verified
 * (activities/signatures.ts). Pure, apart from the run's clock.
 */
import type { SignatureVerdict } from '../activities/signatures';
import {
  parseStatement,
  STATEMENT_CLOCK_SKEW_MS,
  statementTime,
  type SignaturePart,
  type SignaturePolicy,
  type SignedMessage,
  type Statement,
} from '../contracts/statements';
import { startStatementOf, type RunbookInput, type RunbookName } from '../contracts/runbooks';
import { durationMs } from '../topology/durations';
import type { Topology } from '../topology/schema';

/** The statement a message needs, but for its time (the signer's), and how old a signature may be. */
export interface Expectation {
  statement: Omit<Statement, 'time'>;
  /** The gate's timeout (or the estate's default for a start or an abort): an older signature has expired. */
  timeout: string;
}

/** The estate's policy, and whether it has signers at all (a signature cannot be verified without). */
export function signingOf(topology: Topology | undefined): { policy: SignaturePolicy; signers: string | null } {
  const signatures = topology?.signatures;
  return { policy: signatures?.policy ?? 'off', signers: signatures?.allowedSigners ?? null };
}

/** How a field a statement disagrees on is said. */
const MISMATCH: Partial<Record<keyof Statement, (given: string, wanted: string) => string>> = {
  action: (given, wanted) => `the signed statement is for a ${given}, not a ${wanted}`,
  temporalNamespace: (given, wanted) =>
    `the signed statement is for Temporal namespace ${given}, not this run's (${wanted})`,
  workflowId: (given, wanted) => `the signed statement is for another run (workflow ${given}), not ${wanted}`,
  runId: (given, wanted) =>
    `the signed statement is for another run of this workflow (run ${given}), not this run (${wanted})`,
  gate: (given, wanted) => `the signed statement is for gate ${given}, not ${wanted}`,
  evidence: (given, wanted) =>
    `the signed statement approves evidence ${given}, but the gate's evidence is ${wanted}: review it again and sign anew`,
  signer: (given, wanted) => `the statement is signed as ${given}, but the message is from ${wanted}`,
};

const shown = (value: unknown) => (value === undefined ? '(none)' : typeof value === 'string' ? value : String(value));

/**
 * Why a signed statement does not fit the message it came with, or null when it does. `now` is the run's clock: a
 * statement older than the timeout has expired, one from the future (beyond a little clock skew) is refused.
 */
export function statementMismatch(text: string, expected: Expectation, now: number): string | null {
  const parsed = parseStatement(text);
  if (!parsed.ok) return `the signed statement cannot be read: ${parsed.problem}`;
  const given = parsed.statement;
  const wanted: Statement = { ...expected.statement, time: given.time } as Statement;
  const fields = new Set([...Object.keys(wanted), ...Object.keys(given)] as (keyof Statement)[]);
  for (const field of ['action', 'temporalNamespace', 'workflowId', 'runId', 'gate', 'evidence', 'signer', ...fields]) {
    const key = field as keyof Statement;
    if (given[key] === wanted[key]) continue;
    const say = MISMATCH[key];
    return say
      ? say(shown(given[key]), shown(wanted[key]))
      : `the signed statement says ${key} ${JSON.stringify(given[key] ?? null)}, the message ${JSON.stringify(wanted[key] ?? null)}`;
  }
  const signedAt = Date.parse(given.time);
  const timeout = durationMs(expected.timeout);
  if (now - signedAt > timeout)
    return `the signature has expired: signed at ${given.time}, more than ${expected.timeout} (the timeout) before ${statementTime(new Date(now))}`;
  if (signedAt - now > STATEMENT_CLOCK_SKEW_MS)
    return `the signed statement is dated ${given.time}, in the future of this run's clock (${statementTime(new Date(now))})`;
  return null;
}

/** The statement a run's start must carry (contracts/statements.ts startStatementOf), and how old it may be. */
export function startExpectation(
  runbook: RunbookName,
  input: RunbookInput<object>,
  namespace: string,
  workflowId: string,
  timeout: string,
): Expectation {
  return { statement: startStatementOf(runbook, input, namespace, workflowId), timeout };
}

/**
 * What the run keeps of a verified signature: the statement, the SSHSIG (or the passkey's assertion and what checks
 * it again), the key and the allowed_signers file that vouched for it.
 */
export function signatureOf(
  signature: SignaturePart,
  verdict: Extract<SignatureVerdict, { verified: true }>,
): Pick<SignedMessage, 'statement' | 'sshsig' | 'webauthn' | 'key' | 'allowedSigners'> {
  const proof =
    signature.webauthn && verdict.passkey
      ? { webauthn: { ...signature.webauthn, ...verdict.passkey } }
      : { sshsig: signature.sshsig };
  return {
    statement: signature.statement,
    ...proof,
    key: verdict.key,
    allowedSigners: { file: verdict.allowedSigners.file, digest: verdict.allowedSigners.digest },
  };
}
