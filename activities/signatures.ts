/**
 * Signed messages verified on the worker (docs/operations.md "Approvals and identity"): the signature over the
 * statement, against the allowed_signers file the pool's estate names (read now, so a key removed from the file
 * stops counting at once). A workflow cannot do this itself (no crypto, no files in its sandbox), and an update's
 * validator cannot call an activity: the run's update and signal handlers call this one, then apply the message.
 *
 * A passkey's signature (the approval console) is verified the same way, against the estate's passkeys file and the
 * console's origin and relying-party id (console.url).
 *
 * A start's statement has no run id to bind to (none exists before the start): it binds to the workflow id and
 * its time, and this activity checks that no other run of that workflow id started since it was signed.
 */
import { Context } from '@temporalio/activity';
import { SIGNATURE_NAMESPACE, type PasskeyAssertion, type PasskeySigner } from '../contracts/statements';
import type { Topology } from '../topology/schema';
import { loadAllowedSigners } from '../signatures/allowed-signers';
import { relyingPartyOf, verifyPasskeySignature } from '../signatures/passkey-verify';
import { loadPasskeys } from '../signatures/passkeys';
import { verifyStatementSignature, type Verification, type VerificationFailure } from '../signatures/verify';
import type { ActivityDependencies } from './dependencies';
import { stepFailure } from './failures';
import { StepClock, type StepResult } from './step-result';

export interface SignatureCheck {
  pool: string;
  statement: string;
  /** An SSH signature, or a passkey's assertion (exactly one). */
  sshsig?: string;
  webauthn?: PasskeyAssertion;
  /** Who the message says signed it (the statement's signer, the message's `by`). */
  signer: string;
  /** A start: the statement counts for the first run of this workflow id since it was signed only. */
  firstRunOf?: { workflowId: string; runId: string; since: string };
}

export type SignatureVerdict =
  | {
      verified: true;
      key: { type: string; fingerprint: string };
      allowedSigners: { file: string; digest: string; line: number };
      /** A passkey's: what report --verify checks it with again. */
      passkey?: PasskeySigner;
    }
  | {
      verified: false;
      failure: VerificationFailure | 'already-used';
      reason: string;
      key?: { type: string; fingerprint: string };
    };

export function signatureActivities(deps: ActivityDependencies) {
  return {
    /** Verifies a signed message against the pool's signers; a failure is a verdict, not an error. */
    async verifySignature(input: SignatureCheck): Promise<StepResult<SignatureVerdict>> {
      const clock = new StepClock(deps.clock);
      const { topology } = deps.estates.load(input.pool);
      if (!topology.signatures)
        throw stepFailure('SignersUnavailable', `the estate of ${input.pool} names no allowed_signers file`, {
          pool: input.pool,
        });
      const checked = input.webauthn
        ? await verifyPasskey(topology, input, input.webauthn)
        : verifySsh(topology, input, deps.clock());
      const { verification, file, digest, passkey } = checked;
      if (!verification.ok) {
        const { ok: _ok, ...refused } = verification;
        return clock.observed(`signature of ${input.signer} refused: ${refused.reason}`, {
          verified: false,
          ...refused,
        });
      }
      const earlier = input.firstRunOf ? await earlierRuns(input.firstRunOf) : [];
      if (earlier.length > 0)
        return clock.observed(`signature of ${input.signer} refused: already used`, {
          verified: false,
          failure: 'already-used',
          key: verification.key,
          reason: `the signed start was already used: run ${earlier[0].runId} of ${input.firstRunOf!.workflowId} started ${earlier[0].startedAt}, after it was signed (sign a new start)`,
        });
      return clock.observed(
        `${SIGNATURE_NAMESPACE} signature of ${input.signer} verified: ${verification.key.type} key ${verification.key.fingerprint} (${file} line ${verification.line})`,
        {
          verified: true,
          key: verification.key,
          allowedSigners: { file, digest, line: verification.line },
          ...(passkey ? { passkey } : {}),
        },
      );
    },
  };
}

interface Checked {
  verification: Verification;
  file: string;
  digest: string;
  passkey?: PasskeySigner;
}

/** An SSH signature against the estate's allowed_signers file, read now. */
function verifySsh(topology: Topology, input: SignatureCheck, at: Date): Checked {
  const file = topology.signatures!.allowedSigners;
  let signers;
  try {
    signers = loadAllowedSigners(file);
  } catch (error) {
    throw stepFailure('SignersUnavailable', (error as Error).message, { pool: input.pool, file });
  }
  const verification = verifyStatementSignature({ ...input, sshsig: input.sshsig ?? '', signers, at });
  return { verification, file: signers.file, digest: signers.digest };
}

/** A passkey's assertion against the estate's passkeys file, read now, for the console at console.url. */
async function verifyPasskey(topology: Topology, input: SignatureCheck, assertion: PasskeyAssertion): Promise<Checked> {
  const file = topology.signatures!.passkeys;
  if (!file || !topology.console)
    return {
      verification: {
        ok: false,
        failure: 'unknown-signer',
        reason: `${input.pool} accepts no passkeys (its topology names no signatures.passkeys file and console.url): sign with your SSH key instead`,
      },
      file: file ?? '',
      digest: '',
    };
  let passkeys;
  try {
    passkeys = loadPasskeys(file);
  } catch (error) {
    throw stepFailure('SignersUnavailable', (error as Error).message, { pool: input.pool, file });
  }
  const relyingParty = relyingPartyOf(topology.console.url);
  const verification = await verifyPasskeySignature({
    statement: input.statement,
    assertion,
    signer: input.signer,
    relyingParty,
    passkeys,
  });
  const entry = passkeys.passkeys.find((candidate) => candidate.credentialId === assertion.credentialId);
  return {
    verification,
    file: passkeys.file,
    digest: passkeys.digest,
    ...(entry ? { passkey: { publicKey: entry.publicKey, ...relyingParty } } : {}),
  };
}

/** Other runs of the workflow id started since the statement was signed (Temporal's visibility store). */
async function earlierRuns(of: {
  workflowId: string;
  runId: string;
  since: string;
}): Promise<{ runId: string; startedAt: string }[]> {
  const client = Context.current().client;
  const quoted = of.workflowId.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  const found: { runId: string; startedAt: string }[] = [];
  for await (const execution of client.workflow.list({
    query: `WorkflowId = '${quoted}' AND StartTime >= '${of.since}'`,
  })) {
    if (execution.runId !== of.runId)
      found.push({ runId: execution.runId, startedAt: execution.startTime.toISOString() });
  }
  return found;
}
