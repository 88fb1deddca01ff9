/**
 * SSH signatures (OpenSSH's PROTOCOL.sshsig: what `ssh-keygen -Y sign` writes), read and verified with Node's
 * crypto (OpenSSL): this file only takes the SSH wire format apart and imports the public key as a JWK; every hash
 * and signature check is `node:crypto`'s. Keys: ssh-ed25519, ecdsa-sha2-nistp256/384/521 and ssh-rsa (signatures
 * rsa-sha2-256 or rsa-sha2-512; SHA-1 `ssh-rsa` signatures are refused, as OpenSSH refuses them for SSHSIG), and the
 * security keys' sk-ssh-ed25519@openssh.com and sk-ecdsa-sha2-nistp256@openssh.com (OpenSSH's PROTOCOL.u2f: the
 * token signs SHA-256(application), its flags and counter, and SHA-256 of the data; a signature must show that a
 * person touched the token, the "user present" flag).
 */
import { createHash, createPublicKey, verify as verifySignature, type KeyObject } from 'node:crypto';

const MAGIC = Buffer.from('SSHSIG');
const ARMOR_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const ARMOR_END = '-----END SSH SIGNATURE-----';

/** A malformed signature, key or key line: what is wrong, in one line. */
export class SshFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshFormatError';
  }
}

/** Reads RFC 4253 `string`s (uint32 length, then the bytes) one after another. */
class WireReader {
  private offset = 0;
  constructor(
    private readonly bytes: Buffer,
    private readonly what: string,
  ) {}

  string(): Buffer {
    if (this.offset + 4 > this.bytes.length) throw new SshFormatError(`${this.what} is cut short`);
    const length = this.bytes.readUInt32BE(this.offset);
    const start = this.offset + 4;
    if (start + length > this.bytes.length) throw new SshFormatError(`${this.what} is cut short`);
    this.offset = start + length;
    return this.bytes.subarray(start, start + length);
  }

  text(): string {
    return this.string().toString('latin1');
  }

  uint32(): number {
    if (this.offset + 4 > this.bytes.length) throw new SshFormatError(`${this.what} is cut short`);
    const value = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  fixed(length: number): Buffer {
    if (this.offset + length > this.bytes.length) throw new SshFormatError(`${this.what} is cut short`);
    const value = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  end(): void {
    if (this.offset !== this.bytes.length) throw new SshFormatError(`${this.what} has trailing bytes`);
  }
}

function wireString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'latin1') : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');
/** An mpint as an unsigned big-endian integer: the sign byte OpenSSH adds when the top bit is set removed. */
const unsigned = (bytes: Buffer) => {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  return bytes.subarray(start);
};

const CURVES = {
  nistp256: { jwk: 'P-256', hash: 'sha256', size: 32, label: 'ECDSA-P256' },
  nistp384: { jwk: 'P-384', hash: 'sha384', size: 48, label: 'ECDSA-P384' },
  nistp521: { jwk: 'P-521', hash: 'sha512', size: 66, label: 'ECDSA-P521' },
} as const;

/** A public key from its SSH blob: its type, how ssh-keygen names it, its fingerprint, and the key for node:crypto. */
export interface SshPublicKey {
  /** ssh-ed25519, ecdsa-sha2-nistp256, ssh-rsa ... */
  type: string;
  /** ED25519, ECDSA-P256, RSA ... (what `ssh-keygen -Y verify` prints). */
  label: string;
  /** SHA256:... (what `ssh-keygen -l` prints). */
  fingerprint: string;
  blob: Buffer;
  key: KeyObject;
  /** ECDSA: the curve's hash and the size of r and s. */
  curve?: (typeof CURVES)[keyof typeof CURVES];
  /** A security key's (sk-...@openssh.com) application, "ssh:" unless made otherwise. */
  application?: string;
}

/** A security key's signature says a person touched it (PROTOCOL.u2f, SSH_SK_USER_PRESENCE_REQD). */
const SK_USER_PRESENT = 0x01;
const SK_ED25519 = 'sk-ssh-ed25519@openssh.com';
const SK_ECDSA = 'sk-ecdsa-sha2-nistp256@openssh.com';

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key types this verifier knows (the keys an allowed_signers line may name). */
export const KEY_TYPES = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
  SK_ED25519,
  SK_ECDSA,
];

export function parsePublicKey(blob: Buffer): SshPublicKey {
  const reader = new WireReader(blob, 'the public key');
  const type = reader.text();
  const described = (label: string, key: KeyObject, curve?: SshPublicKey['curve']): SshPublicKey => {
    // A security key's public key ends with its application.
    const application = type === SK_ED25519 || type === SK_ECDSA ? reader.text() : undefined;
    reader.end();
    return {
      type,
      label,
      fingerprint: fingerprintOf(blob),
      blob,
      key,
      ...(curve ? { curve } : {}),
      ...(application !== undefined ? { application } : {}),
    };
  };
  try {
    if (type === 'ssh-ed25519' || type === SK_ED25519) {
      const point = reader.string();
      if (point.length !== 32) throw new SshFormatError('an Ed25519 key must be 32 bytes');
      return described(
        type === SK_ED25519 ? 'ED25519-SK' : 'ED25519',
        createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64url(point) }, format: 'jwk' }),
      );
    }
    if (type.startsWith('ecdsa-sha2-') || type === SK_ECDSA) {
      const name = reader.text();
      const point = reader.string();
      const curve = CURVES[name as keyof typeof CURVES];
      if (!curve || (type !== `ecdsa-sha2-${name}` && !(type === SK_ECDSA && name === 'nistp256')))
        throw new SshFormatError(`unknown ECDSA curve ${name}`);
      if (point.length !== 1 + 2 * curve.size || point[0] !== 4)
        throw new SshFormatError(`the ${name} point is not an uncompressed point of that curve`);
      const x = base64url(point.subarray(1, 1 + curve.size));
      const y = base64url(point.subarray(1 + curve.size));
      return described(
        type === SK_ECDSA ? 'ECDSA-SK' : curve.label,
        createPublicKey({ key: { kty: 'EC', crv: curve.jwk, x, y }, format: 'jwk' }),
        curve,
      );
    }
    if (type === 'ssh-rsa') {
      // e comes first in an SSH RSA key.
      const e = unsigned(reader.string());
      const n = unsigned(reader.string());
      return described(
        'RSA',
        createPublicKey({ key: { kty: 'RSA', n: base64url(n), e: base64url(e) }, format: 'jwk' }),
      );
    }
  } catch (error) {
    if (error instanceof SshFormatError) throw error;
    throw new SshFormatError(`the ${type} key does not load: ${(error as Error).message}`);
  }
  throw new SshFormatError(`key type ${type} is not supported (use ${KEY_TYPES.join(', ')})`);
}

/** An SSH signature taken apart (PROTOCOL.sshsig). */
export interface SshSignature {
  publicKey: SshPublicKey;
  namespace: string;
  hashAlgorithm: 'sha256' | 'sha512';
  /** The signature blob: its algorithm name and the signature proper. */
  algorithm: string;
  signature: Buffer;
  /** A security key's signature: its flags (user present, verified) and counter, which it signed too. */
  sk?: { flags: number; counter: number };
}

/** Reads the armored signature `ssh-keygen -Y sign` writes. */
export function parseSshSignature(armored: string): SshSignature {
  const text = armored.trim();
  if (!text.startsWith(ARMOR_BEGIN) || !text.endsWith(ARMOR_END))
    throw new SshFormatError(`not an SSH signature (it must start with ${ARMOR_BEGIN})`);
  const body = text.slice(ARMOR_BEGIN.length, -ARMOR_END.length).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw new SshFormatError('the SSH signature is not base64');
  const blob = Buffer.from(body, 'base64');
  if (blob.length < 10 || !blob.subarray(0, 6).equals(MAGIC)) throw new SshFormatError('not an SSHSIG blob');
  const reader = new WireReader(blob.subarray(6), 'the SSH signature');
  const version = reader.uint32();
  if (version !== 1) throw new SshFormatError(`SSHSIG version ${version} is not supported (1 is)`);
  const publicKey = parsePublicKey(Buffer.from(reader.string()));
  const namespace = reader.text();
  reader.string(); // reserved
  const hashAlgorithm = reader.text();
  const signatureBlob = reader.string();
  reader.end();
  if (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha512')
    throw new SshFormatError(`hash algorithm ${hashAlgorithm} is not one SSHSIG allows (sha256, sha512)`);
  const inner = new WireReader(Buffer.from(signatureBlob), 'the signature blob');
  const algorithm = inner.text();
  const signature = Buffer.from(inner.string());
  const sk = publicKey.application !== undefined ? { flags: inner.fixed(1)[0], counter: inner.uint32() } : undefined;
  inner.end();
  return { publicKey, namespace, hashAlgorithm, algorithm, signature, ...(sk ? { sk } : {}) };
}

/** Whether a security key's signature says a person touched the token (true for any other key). */
export function userPresent(signature: SshSignature): boolean {
  return !signature.sk || (signature.sk.flags & SK_USER_PRESENT) !== 0;
}

/**
 * Whether `signature` signs `message` in `namespace`. The signed data is rebuilt from the namespace expected (not
 * the one the signature declares) with an empty reserved field, as OpenSSH does.
 */
export function verifySshSignature(signature: SshSignature, message: Buffer | string, namespace: string): boolean {
  const digest = createHash(signature.hashAlgorithm).update(message).digest();
  const signed = Buffer.concat([
    MAGIC,
    wireString(namespace),
    wireString(''),
    wireString(signature.hashAlgorithm),
    wireString(digest),
  ]);
  const { publicKey, algorithm } = signature;
  try {
    if (publicKey.application !== undefined) return verifySecurityKey(signature, signed);
    switch (publicKey.type) {
      case 'ssh-ed25519':
        return algorithm === 'ssh-ed25519' && verifySignature(null, signed, publicKey.key, signature.signature);
      case 'ssh-rsa': {
        const hash = algorithm === 'rsa-sha2-256' ? 'sha256' : algorithm === 'rsa-sha2-512' ? 'sha512' : null;
        if (!hash) return false;
        // OpenSSH pads a signature shorter than the modulus with leading zeros.
        const size = Math.ceil((publicKey.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
        const value =
          signature.signature.length < size
            ? Buffer.concat([Buffer.alloc(size - signature.signature.length), signature.signature])
            : signature.signature;
        return verifySignature(hash, signed, publicKey.key, value);
      }
      default: {
        const curve = publicKey.curve;
        if (!curve || algorithm !== publicKey.type) return false;
        return verifyEcdsa(publicKey, curve, signature.signature, signed);
      }
    }
  } catch {
    return false;
  }
}

/** An SSH ECDSA signature (mpint r, mpint s) over `data`, with the curve's hash. */
function verifyEcdsa(
  publicKey: SshPublicKey,
  curve: NonNullable<SshPublicKey['curve']>,
  signature: Buffer,
  data: Buffer,
): boolean {
  const parts = new WireReader(signature, 'the ECDSA signature');
  const r = unsigned(parts.string());
  const s = unsigned(parts.string());
  parts.end();
  if (r.length > curve.size || s.length > curve.size) return false;
  const pad = (value: Buffer) => Buffer.concat([Buffer.alloc(curve.size - value.length), value]);
  return verifySignature(
    curve.hash,
    data,
    { key: publicKey.key, dsaEncoding: 'ieee-p1363' },
    Buffer.concat([pad(r), pad(s)]),
  );
}

/**
 * A security key's signature (PROTOCOL.u2f): over SHA-256(application), the flags byte, the counter and SHA-256 of
 * the signed data; Ed25519 signs those bytes, ECDSA P-256 their SHA-256. Without "user present" it does not count.
 */
function verifySecurityKey(signature: SshSignature, signed: Buffer): boolean {
  const { publicKey, sk } = signature;
  if (!sk || signature.algorithm !== publicKey.type || !userPresent(signature)) return false;
  const counter = Buffer.alloc(4);
  counter.writeUInt32BE(sk.counter);
  const data = Buffer.concat([
    createHash('sha256').update(publicKey.application!, 'utf8').digest(),
    Buffer.from([sk.flags]),
    counter,
    createHash('sha256').update(signed).digest(),
  ]);
  if (publicKey.type === SK_ED25519) return verifySignature(null, data, publicKey.key, signature.signature);
  return verifyEcdsa(publicKey, publicKey.curve!, signature.signature, data);
}
