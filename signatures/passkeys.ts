/**
 * The estate's passkeys file (topology `signatures.passkeys`): each person's WebAuthn credentials, beside the SSH
 * keys of allowed_signers and written the same way, one line per credential:
 *
 *     person passkey CREDENTIAL-ID PUBLIC-KEY [comment]
 *
 * CREDENTIAL-ID is the credential's id and PUBLIC-KEY its COSE public key, both base64url, as the console's
 * enrolment page prints them. A line names one person (a passkey belongs to one device of one person). A file of its
 * own, not lines in allowed_signers: `ssh-keygen -Y verify` would complain about every line it cannot read.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeCredentialPublicKey, cose } from '@simplewebauthn/server/helpers';
import { CREDENTIAL_ID_LIMIT } from '../contracts/statements';

/** The word after the person that marks a passkey line (and its format's version). */
export const PASSKEY_LINE_TYPE = 'passkey';

export interface Passkey {
  /** 1-based line in the file. */
  line: number;
  person: string;
  /** base64url */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** SHA256:... of the COSE public key (base64, unpadded, as ssh-keygen writes fingerprints). */
  fingerprint: string;
  /** The COSE algorithm: ES256 (-7), RS256 (-257), EdDSA (-8). */
  algorithm: string;
  comment?: string;
}

export interface Passkeys {
  file: string;
  /** SHA-256 (hex) of the file's bytes: the report names the version of the file a signature was verified against. */
  digest: string;
  passkeys: Passkey[];
}

export class PasskeysError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.map((problem) => `${file}: ${problem}`).join('\n'));
    this.name = 'PasskeysError';
  }
}

const ALGORITHMS: Record<number, string> = {
  [cose.COSEALG.ES256]: 'ES256',
  [cose.COSEALG.RS256]: 'RS256',
  [cose.COSEALG.EdDSA]: 'EdDSA',
};

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The fingerprint of a COSE public key, as the report and the console show it. */
export function passkeyFingerprint(publicKey: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(publicKey).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm of a COSE public key, or why it cannot be used. */
export function passkeyAlgorithm(publicKey: Uint8Array<ArrayBuffer>): string {
  let decoded;
  try {
    decoded = decodeCredentialPublicKey(publicKey);
  } catch (error) {
    throw new Error(`the public key is not a COSE key: ${(error as Error).message}`);
  }
  if (!(decoded instanceof Map)) throw new Error('the public key is not a COSE key (not a CBOR map)');
  const alg = decoded.get(cose.COSEKEYS.alg) as number | undefined;
  const name = alg === undefined ? undefined : ALGORITHMS[alg];
  if (!name) throw new Error(`the public key's algorithm ${alg ?? '(none)'} is not ES256, RS256 or EdDSA`);
  return name;
}

/** The line an administrator adds for a credential (what the console's enrolment page prints). */
export function passkeyLine(person: string, credentialId: string, publicKey: string, comment?: string): string {
  return `${person} ${PASSKEY_LINE_TYPE} ${credentialId} ${publicKey}${comment ? ` ${comment}` : ''}`;
}

/** Reads passkeys text; every problem is named with its line, all at once. */
export function parsePasskeys(text: string, file: string, digest: string): Passkeys {
  const passkeys: Passkey[] = [];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const [person, type, credentialId, publicKey, ...comment] = trimmed.split(/\s+/);
    const problem = (() => {
      if (!type || !credentialId || !publicKey)
        return `expected: person ${PASSKEY_LINE_TYPE} CREDENTIAL-ID PUBLIC-KEY [comment] (the console's enrolment page prints the line)`;
      if (/[,*?!]/.test(person)) return `one person per line, by name (${person}): a passkey belongs to one person`;
      if (type !== PASSKEY_LINE_TYPE) return `the second word must be "${PASSKEY_LINE_TYPE}", not "${type}"`;
      if (!BASE64URL.test(credentialId) || credentialId.length > CREDENTIAL_ID_LIMIT)
        return `the credential id is not base64url (at most ${CREDENTIAL_ID_LIMIT} characters)`;
      if (!BASE64URL.test(publicKey)) return 'the public key is not base64url';
      const other = seen.get(credentialId);
      if (other) return `the credential id is already listed on line ${other}: one line per credential`;
      return null;
    })();
    if (problem) {
      problems.push(`line ${line}: ${problem}`);
      return;
    }
    const key = Buffer.from(publicKey, 'base64url');
    try {
      passkeys.push({
        line,
        person,
        credentialId,
        publicKey,
        fingerprint: passkeyFingerprint(key),
        algorithm: passkeyAlgorithm(new Uint8Array(key)),
        ...(comment.length > 0 ? { comment: comment.join(' ') } : {}),
      });
      seen.set(credentialId, line);
    } catch (error) {
      problems.push(`line ${line}: ${(error as Error).message}`);
    }
  });
  if (problems.length > 0) throw new PasskeysError(file, problems);
  return { file, digest, passkeys };
}

/** Reads a passkeys file. */
export function loadPasskeys(file: string): Passkeys {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new PasskeysError(file, [
      `cannot read the passkeys file: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    ]);
  }
  return parsePasskeys(bytes.toString('utf8'), file, createHash('sha256').update(bytes).digest('hex'));
}
