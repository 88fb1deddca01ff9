/**
 * People with SSH keys made by OpenSSH's ssh-keygen (Debian's openssh-client, which .ci/run installs), an
 * allowed_signers file naming them, and signatures made by `ssh-keygen -Y sign`: what the signature tests use.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SIGNATURE_NAMESPACE } from '../../contracts/statements';

const exec = promisify(execFile);

export const SSH_KEYGEN = process.env.SSH_KEYGEN ?? 'ssh-keygen';

export interface SshPerson {
  name: string;
  /** The private key file (its .pub beside it). */
  key: string;
  publicKey: string;
}

/** A key made by ssh-keygen: ed25519 by default, or `-t ecdsa -b 384`, `-t rsa -b 3072` ... */
export async function makeKey(dir: string, name: string, type: string[] = ['-t', 'ed25519']): Promise<SshPerson> {
  mkdirSync(dir, { recursive: true });
  const key = path.join(dir, name);
  await exec(SSH_KEYGEN, ['-q', ...type, '-N', '', '-C', `${name}@pchat-dr-test`, '-f', key]);
  return { name, key, publicKey: readFileSync(`${key}.pub`, 'utf8').trim() };
}

/** A folder with one ed25519 key per person and an allowed_signers file naming each with namespaces="pchat-dr". */
export async function makeSigners(
  names: string[],
  dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-signers-')),
): Promise<{ dir: string; file: string; people: Record<string, SshPerson> }> {
  const people: Record<string, SshPerson> = {};
  for (const name of names) people[name] = await makeKey(dir, name);
  const file = path.join(dir, 'allowed_signers');
  writeFileSync(file, names.map((name) => signerLine(people[name])).join(''));
  return { dir, file, people };
}

/** An allowed_signers line for a person's key. */
export function signerLine(person: SshPerson, options = `namespaces="${SIGNATURE_NAMESPACE}"`): string {
  const [type, base64] = person.publicKey.split(' ');
  return `${person.name} ${options ? `${options} ` : ''}${type} ${base64}\n`;
}

/** `ssh-keygen -Y sign -f KEY -n NAMESPACE` over `text` (on stdin): the armored signature. */
export function sshSign(key: string, text: string, namespace = SIGNATURE_NAMESPACE): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(SSH_KEYGEN, ['-Y', 'sign', '-f', key, '-n', namespace], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`ssh-keygen -Y sign failed (${code}): ${stderr}`)),
    );
    child.stdin.end(text);
  });
}

/** `ssh-keygen -Y verify`: exit code and output, as an auditor would run it. */
export function sshVerify(options: {
  allowedSigners: string;
  principal: string;
  statementFile: string;
  signatureFile: string;
  extra?: string[];
}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      SSH_KEYGEN,
      [
        '-Y',
        'verify',
        '-f',
        options.allowedSigners,
        '-I',
        options.principal,
        '-n',
        SIGNATURE_NAMESPACE,
        ...(options.extra ?? []),
        '-s',
        options.signatureFile,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(readFileSync(options.statementFile));
  });
}

/**
 * A security key's signature (OpenSSH's PROTOCOL.u2f), made in software: no FIDO token is at hand in a test, and
 * ssh-keygen signs with sk keys only through one. The key pair is node:crypto's, the SSHSIG blob is built as
 * ssh-keygen builds it, and the tests check it with `ssh-keygen -Y verify` too, so the format is OpenSSH's own.
 */
export function securityKeySign(
  kind: 'ed25519' | 'ecdsa',
  text: string,
  options: { flags?: number; counter?: number; application?: string; namespace?: string } = {},
): { publicKey: string; sshsig: string } {
  const { flags = 0x01, counter = 7, application = 'ssh:', namespace = SIGNATURE_NAMESPACE } = options;
  const wire = (value: Buffer | string) => {
    const bytes = typeof value === 'string' ? Buffer.from(value) : value;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return Buffer.concat([length, bytes]);
  };
  const u32 = (value: number) => {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32BE(value);
    return bytes;
  };
  const mpint = (value: Buffer) => {
    let start = 0;
    while (start < value.length - 1 && value[start] === 0) start++;
    const trimmed = value.subarray(start);
    return wire(trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
  };
  const type = kind === 'ed25519' ? 'sk-ssh-ed25519@openssh.com' : 'sk-ecdsa-sha2-nistp256@openssh.com';
  const pair = kind === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  const point =
    kind === 'ed25519'
      ? wire(Buffer.from(jwk.x!, 'base64url'))
      : Buffer.concat([
          wire('nistp256'),
          wire(Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')])),
        ]);
  const keyBlob = Buffer.concat([wire(type), point, wire(application)]);
  const magic = Buffer.from('SSHSIG');
  const signed = Buffer.concat([
    magic,
    wire(namespace),
    wire(''),
    wire('sha512'),
    wire(createHash('sha512').update(text).digest()),
  ]);
  const data = Buffer.concat([
    createHash('sha256').update(application).digest(),
    Buffer.from([flags]),
    u32(counter),
    createHash('sha256').update(signed).digest(),
  ]);
  const raw =
    kind === 'ed25519'
      ? wire(sign(null, data, pair.privateKey))
      : (() => {
          const rs = sign('sha256', data, { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
          return wire(Buffer.concat([mpint(rs.subarray(0, 32)), mpint(rs.subarray(32))]));
        })();
  const signatureBlob = Buffer.concat([wire(type), raw, Buffer.from([flags]), u32(counter)]);
  const blob = Buffer.concat([
    magic,
    u32(1),
    wire(keyBlob),
    wire(namespace),
    wire(''),
    wire('sha512'),
    wire(signatureBlob),
  ]);
  const body = blob
    .toString('base64')
    .match(/.{1,70}/g)!
    .join('\n');
  return {
    publicKey: `${type} ${keyBlob.toString('base64')}`,
    sshsig: `-----BEGIN SSH SIGNATURE-----\n${body}\n-----END SSH SIGNATURE-----\n`,
  };
}
