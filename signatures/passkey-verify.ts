/**
 * Verifying a passkey's signature of a statement, as the worker does before a signed message from the approval
 * console counts and as `pchat-dr report --verify` does again offline: the credential is one of the signer's in the
 * estate's passkeys file, and its WebAuthn assertion verifies with that credential's public key for this statement
 * (the challenge is the statement's digest), made at the console's origin for its relying-party id, with the person
 * present. Each failure says which, in the words of signatures/verify.ts.
 */
import { verifyAuthenticationResponse } from '@simplewebauthn/server';
import { passkeyChallenge, type PasskeyAssertion } from '../contracts/statements';
import { passkeyFingerprint, type Passkeys } from './passkeys';
import type { Verification } from './verify';

/** What a passkey signs for: the console's origin (https://host[:port]) and its relying-party id (the host). */
export interface RelyingParty {
  origin: string;
  rpId: string;
}

/** The relying party of the console at this address (the estate's console.url). */
export function relyingPartyOf(consoleUrl: string): RelyingParty {
  const url = new URL(consoleUrl);
  return { origin: url.origin, rpId: url.hostname };
}

/** The key type a passkey shows as, beside ED25519 and the other SSH key types. */
export const PASSKEY_KEY_TYPE = 'PASSKEY';

/** The library's reasons, said for people: what was signed that is not this statement, or where. */
function explain(reason: string, relyingParty: RelyingParty): string {
  if (/challenge/i.test(reason))
    return 'bad signature: the passkey signed another statement (its challenge is not the digest of this one): sign anew from the console';
  if (/origin/i.test(reason))
    return `bad signature: the passkey signed on another site, not the console at ${relyingParty.origin} (${reason})`;
  if (/RP ID/i.test(reason))
    return `bad signature: the passkey signed for another relying party, not ${relyingParty.rpId} (${reason})`;
  if (/User not present/i.test(reason))
    return 'bad signature: the passkey says nobody was present when it signed: sign again and touch or unlock the device';
  return `bad signature: it does not verify over this statement with the passkey it names (${reason})`;
}

/**
 * Verifies `assertion` over `statement` as `signer`'s. With `passkeys`, the credential must be the signer's there;
 * without (a report checked with no file), the public key the report recorded is used and only the signature checked.
 */
export async function verifyPasskeySignature(input: {
  statement: string;
  assertion: PasskeyAssertion;
  signer: string;
  relyingParty: RelyingParty;
  passkeys?: Passkeys;
  /** Offline, without a passkeys file: the credential's public key as the report recorded it (base64url). */
  publicKey?: string;
}): Promise<Verification> {
  const { assertion, signer, passkeys } = input;
  const shortId = `${assertion.credentialId.slice(0, 16)}${assertion.credentialId.length > 16 ? '…' : ''}`;
  let publicKey = input.publicKey;
  let line = 0;
  if (passkeys) {
    const entry = passkeys.passkeys.find((candidate) => candidate.credentialId === assertion.credentialId);
    const own = passkeys.passkeys.filter((candidate) => candidate.person === signer);
    if (!entry) {
      const key = { type: PASSKEY_KEY_TYPE, fingerprint: `credential ${shortId}` };
      return own.length === 0
        ? {
            ok: false,
            failure: 'unknown-signer',
            key,
            reason: `unknown signer: ${signer} has no passkey in ${passkeys.file}`,
          }
        : {
            ok: false,
            failure: 'key-not-allowed',
            key,
            reason: `the passkey ${shortId} is not one of ${signer}'s in ${passkeys.file} (nobody there has it: enrol it and add its line)`,
          };
    }
    if (entry.person !== signer)
      return {
        ok: false,
        failure: 'key-not-allowed',
        key: { type: PASSKEY_KEY_TYPE, fingerprint: entry.fingerprint },
        reason: `the passkey ${shortId} is not one of ${signer}'s in ${passkeys.file} (it is ${entry.person}'s, line ${entry.line})`,
      };
    publicKey = entry.publicKey;
    line = entry.line;
  }
  if (!publicKey)
    return { ok: false, failure: 'malformed', reason: 'no public key to verify the passkey signature with' };
  const keyBytes = new Uint8Array(Buffer.from(publicKey, 'base64url'));
  const key = { type: PASSKEY_KEY_TYPE, fingerprint: passkeyFingerprint(keyBytes) };
  try {
    const { verified } = await verifyAuthenticationResponse({
      response: {
        id: assertion.credentialId,
        rawId: assertion.credentialId,
        type: 'public-key',
        response: {
          authenticatorData: assertion.authenticatorData,
          clientDataJSON: assertion.clientDataJSON,
          signature: assertion.signature,
          ...(assertion.userHandle ? { userHandle: assertion.userHandle } : {}),
        },
        clientExtensionResults: {},
      },
      expectedChallenge: passkeyChallenge(input.statement),
      expectedOrigin: input.relyingParty.origin,
      expectedRPID: input.relyingParty.rpId,
      expectedType: 'webauthn.get',
      // Presence is required (the library checks it); verification (PIN, biometrics) is the device's policy.
      requireUserVerification: false,
      // Every signature is bound to its statement, which names the run, gate, evidence and time: a counter adds nothing.
      credential: { id: assertion.credentialId, publicKey: keyBytes, counter: 0 },
    });
    if (!verified)
      return { ok: false, failure: 'bad-signature', key, reason: explain('signature mismatch', input.relyingParty) };
  } catch (error) {
    return { ok: false, failure: 'bad-signature', key, reason: explain((error as Error).message, input.relyingParty) };
  }
  return { ok: true, key, line };
}
