/**
 * Verifying a signed statement against an allowed_signers file, as the worker does before a signed message counts
 * and as `pchat-dr report --verify` does again offline: the signature is for pchat-dr, it verifies, its key is one
 * of the signer's keys in the file, allowed in that namespace and valid at the time. Each failure says which.
 */
import { SIGNATURE_NAMESPACE } from '../contracts/statements';
import type { AllowedSigners } from './allowed-signers';
import { parseSshSignature, userPresent, verifySshSignature } from './sshsig';

export type VerificationFailure =
  'malformed' | 'wrong-namespace' | 'bad-signature' | 'unknown-signer' | 'key-not-allowed' | 'key-expired';

export type Verification =
  | { ok: true; key: { type: string; fingerprint: string }; line: number }
  | { ok: false; failure: VerificationFailure; reason: string; key?: { type: string; fingerprint: string } };

/** Verifies `sshsig` over `statement` as `signer`'s, at `at` (for the keys' valid-after / valid-before). */
export function verifyStatementSignature(input: {
  statement: string;
  sshsig: string;
  signer: string;
  signers: AllowedSigners;
  at: Date;
}): Verification {
  const { signer, signers } = input;
  let signature;
  try {
    signature = parseSshSignature(input.sshsig);
  } catch (error) {
    return { ok: false, failure: 'malformed', reason: `the signature cannot be read: ${(error as Error).message}` };
  }
  const key = { type: signature.publicKey.label, fingerprint: signature.publicKey.fingerprint };
  const keyText = `${key.type} key ${key.fingerprint}`;
  if (signature.namespace !== SIGNATURE_NAMESPACE)
    return {
      ok: false,
      failure: 'wrong-namespace',
      key,
      reason: `the signature is for namespace "${signature.namespace}", not "${SIGNATURE_NAMESPACE}" (sign with ssh-keygen -Y sign -n ${SIGNATURE_NAMESPACE})`,
    };
  if (!userPresent(signature))
    return {
      ok: false,
      failure: 'bad-signature',
      key,
      reason: `the ${keyText} is a security key whose signature says nobody touched it (no user presence): sign again and touch the key`,
    };
  if (!verifySshSignature(signature, input.statement, SIGNATURE_NAMESPACE))
    return {
      ok: false,
      failure: 'bad-signature',
      key,
      reason: `bad signature: it does not verify over this statement with the ${keyText} it names (signed something else, or altered)`,
    };
  const lines = signers.signers.filter((entry) => entry.principals.includes(signer));
  const holders = signers.signers
    .filter((entry) => entry.key.blob.equals(signature.publicKey.blob))
    .flatMap((entry) => entry.principals);
  if (lines.length === 0)
    return {
      ok: false,
      failure: 'unknown-signer',
      key,
      reason: `unknown signer: ${signer} has no key in ${signers.file}${holders.length > 0 ? ` (the ${keyText} is ${[...new Set(holders)].join(', ')}'s)` : ''}`,
    };
  const own = lines.filter((entry) => entry.key.blob.equals(signature.publicKey.blob));
  if (own.length === 0)
    return {
      ok: false,
      failure: 'key-not-allowed',
      key,
      reason: `the ${keyText} is not one of ${signer}'s keys in ${signers.file} (${holders.length > 0 ? `it is ${[...new Set(holders)].join(', ')}'s` : 'nobody there has it'})`,
    };
  const inNamespace = own.filter((entry) => !entry.namespaces || entry.namespaces.includes(SIGNATURE_NAMESPACE));
  if (inNamespace.length === 0)
    return {
      ok: false,
      failure: 'wrong-namespace',
      key,
      reason: `${signer}'s ${keyText} may not sign in namespace ${SIGNATURE_NAMESPACE} (${signers.file} line ${own[0].line}: namespaces="${own[0].namespaces?.join(',')}")`,
    };
  const valid = inNamespace.find(
    (entry) =>
      (!entry.validAfter || entry.validAfter <= input.at) && (!entry.validBefore || input.at < entry.validBefore),
  );
  if (!valid) {
    const entry = inNamespace[0];
    const when =
      entry.validBefore && input.at >= entry.validBefore
        ? `past its valid-before (${entry.validBefore.toISOString()})`
        : `not valid yet (valid-after ${entry.validAfter?.toISOString()})`;
    return {
      ok: false,
      failure: 'key-expired',
      key,
      reason: `${signer}'s ${keyText} is ${when} (${signers.file} line ${entry.line})`,
    };
  }
  return { ok: true, key, line: valid.line };
}
