/**
 * The demo's people sign what they do (docs/operations.md "Approvals and identity"): each gets an ed25519 key made by
 * OpenSSH's ssh-keygen in the demo's folder (keys/<name>, no passphrase: a demo), and the estate an allowed_signers
 * file naming them, with signatures required for everything. erin signs the starts, the approvers their approvals.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { SIGNATURE_NAMESPACE } from '../../contracts/statements';
import { DemoFailure } from './failure';

const exec = promisify(execFile);

/** Everyone the demo's topology names (examples/simulated.yaml: dba alice, bob; incident commanders carol, dave) and erin. */
export const DEMO_PEOPLE = ['alice', 'bob', 'carol', 'dave', 'erin'];

export interface DemoSigners {
  /** The allowed_signers file the estate names. */
  file: string;
  /** Each person's private key file. */
  keys: Record<string, string>;
}

/** Makes a key per person and the allowed_signers file naming them (namespaces="pchat-dr"). */
export async function makeDemoSigners(dir: string): Promise<DemoSigners> {
  const folder = path.join(dir, 'keys');
  mkdirSync(folder, { recursive: true });
  const keys: Record<string, string> = {};
  const lines: string[] = ["# The demo's signers: who may sign what the runbooks ask (docs/operations.md)."];
  for (const person of DEMO_PEOPLE) {
    const key = path.join(folder, person);
    try {
      await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${person}@pchat-dr-demo`, '-f', key]);
    } catch (error) {
      throw new DemoFailure(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? "the demo signs its approvals with SSH keys and needs OpenSSH's ssh-keygen (Debian: apt-get install openssh-client)"
          : `ssh-keygen could not make ${person}'s key: ${(error as Error).message}`,
      );
    }
    const [type, base64] = readFileSync(`${key}.pub`, 'utf8').trim().split(' ');
    lines.push(`${person} namespaces="${SIGNATURE_NAMESPACE}" ${type} ${base64}`);
    keys[person] = key;
  }
  const file = path.join(dir, 'allowed_signers');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return { file, keys };
}

/** The topology's signatures section for them. */
export function signaturesSection(signers: DemoSigners, console?: { url: string; passkeys: string }): string {
  const passkeys = console ? `  passkeys: ${console.passkeys}\n` : '';
  const link = console
    ? `\n# The approval console the demo runs: passkeys sign for its address; notifications link to it.\nconsole:\n  url: ${console.url}\n`
    : '';
  return `\n# Every start, approval, rejection, decision and abort is signed (pchat-dr ... --sign, or a passkey in the console).\nsignatures:\n  allowedSigners: ${signers.file}\n${passkeys}  policy: required\n${link}`;
}
