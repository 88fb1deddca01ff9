/**
 * People with SSH keys made by OpenSSH's ssh-keygen (Debian's openssh-client, which .ci/run installs), an
 * allowed_signers file naming them, and signatures made by `ssh-keygen -Y sign`: what the signature tests use.
 */
import { execFile, spawn } from 'node:child_process';
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
