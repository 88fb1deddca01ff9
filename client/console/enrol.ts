/**
 * Enrolling a passkey: the console asks the browser to create a WebAuthn credential for the console's relying party
 * (@simplewebauthn/server's registration options and verification), and prints the passkeys-file line an
 * administrator adds to the estate. Nothing is stored and nothing is granted: the line counts once it is in the
 * estate's file, which only the administrator of the worker's estate can change.
 */
import { generateRegistrationOptions, verifyRegistrationResponse } from '@simplewebauthn/server';
import { z } from 'zod';
import { personName } from '../../contracts/fields';
import { describeIssues } from '../../contracts/messages';
import { passkeyLine } from '../../signatures/passkeys';
import type { RelyingParty } from '../../signatures/passkey-verify';
import { AnswerRefused } from './answers';

const CHALLENGE_LIFETIME_MS = 5 * 60_000;
/** ES256, EdDSA, RS256: what the passkeys file accepts (every passkey and security key offers one of them). */
const PASSKEY_ALGORITHMS = [-7, -8, -257];

const optionsFields = z.strictObject({ csrf: z.string().max(200), person: personName });
const verifyFields = z.strictObject({
  csrf: z.string().max(200),
  person: personName,
  /** The browser's PublicKeyCredential as JSON (its binary fields base64url). */
  credential: z.string().max(20_000),
});

const credentialJson = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]+$/),
  rawId: z.string().regex(/^[A-Za-z0-9_-]+$/),
  type: z.literal('public-key'),
  response: z.object({
    clientDataJSON: z.string().regex(/^[A-Za-z0-9_-]+$/),
    attestationObject: z.string().regex(/^[A-Za-z0-9_-]+$/),
    transports: z.array(z.string().max(32)).max(8).optional(),
  }),
});

function parse<T>(schema: z.ZodType<T>, body: Record<string, unknown>): T {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new AnswerRefused(`the form is not one the console sent: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

export class Enrolment {
  /** Challenges handed out, each for one person, good once for a few minutes. */
  private readonly pending = new Map<string, { person: string; expires: number }>();

  constructor(private readonly relyingParty: RelyingParty) {}

  /** The options the browser's navigator.credentials.create takes (JSON, binary fields base64url). */
  async options(body: Record<string, unknown>) {
    const { person } = parse(optionsFields, body);
    const options = await generateRegistrationOptions({
      rpName: 'pchat-dr approval console',
      rpID: this.relyingParty.rpId,
      userName: person,
      userDisplayName: person,
      attestationType: 'none',
      // A discoverable credential: at the gate the browser offers the person's passkeys without being told which.
      authenticatorSelection: { residentKey: 'required', userVerification: 'preferred' },
      timeout: 120_000,
      supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
    });
    const now = Date.now();
    for (const [key, entry] of this.pending) if (entry.expires < now) this.pending.delete(key);
    this.pending.set(options.challenge, { person, expires: now + CHALLENGE_LIFETIME_MS });
    return options;
  }

  /** Verifies the new credential and returns the line for the estate's passkeys file. */
  async verify(body: Record<string, unknown>): Promise<{ line: string; person: string }> {
    const { person, credential } = parse(verifyFields, body);
    let response;
    try {
      response = credentialJson.parse(JSON.parse(credential));
    } catch {
      throw new AnswerRefused('the new passkey could not be read: create it again');
    }
    let verification;
    try {
      verification = await verifyRegistrationResponse({
        response: { ...response, clientExtensionResults: {} },
        expectedChallenge: (challenge) => {
          const entry = this.pending.get(challenge);
          this.pending.delete(challenge);
          return entry !== undefined && entry.person === person && entry.expires >= Date.now();
        },
        expectedOrigin: this.relyingParty.origin,
        expectedRPID: this.relyingParty.rpId,
        requireUserVerification: false,
        supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
      });
    } catch (error) {
      throw new AnswerRefused(
        `the new passkey does not verify (${(error as Error).message}): start again from the enrolment page`,
      );
    }
    if (!verification.verified)
      throw new AnswerRefused('the new passkey does not verify: start again from the enrolment page');
    const { id, publicKey } = verification.registrationInfo.credential;
    const when = new Date().toISOString().slice(0, 10);
    return { person, line: passkeyLine(person, id, Buffer.from(publicKey).toString('base64url'), `enrolled-${when}`) };
  }
}
