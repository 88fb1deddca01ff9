/**
 * Signing as a person (docs/cli.md "Signed messages"): the statement a message needs (contracts/statements.ts),
 * signed with OpenSSH's `ssh-keygen -Y sign -n pchat-dr`, so a key in ssh-agent or on a security key works as it
 * does for git. Which key, like git's user.signingkey: --sign KEY, else PCHAT_DR_SIGNING_KEY, else git's
 * user.signingkey when git signs with SSH, else the first key ssh-agent holds. Or a statement signed elsewhere:
 * --signature FILE (and the statement beside it, FILE without .sig, as ssh-keygen names it).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Option, type Command } from 'commander';
import {
  parseStatement,
  SIGNATURE_NAMESPACE,
  statementText,
  statementTime,
  type SignaturePart,
  type Statement,
} from '../contracts/statements';
import { CliError, EXIT } from '../runtime/exit';

const exec = promisify(execFile);

export interface SignFlags {
  /** --sign (true) or --sign KEY. */
  sign?: string | true;
  /** --signature FILE: a signature made elsewhere. */
  signature?: string;
  /** --statement FILE: the statement it signs (default: the signature file without .sig). */
  statement?: string;
}

/** --sign [KEY], --signature FILE and --statement FILE. */
export function signingOptions<C extends Command>(command: C): C {
  command
    .addOption(
      new Option(
        '--sign [key]',
        "sign with your SSH key (ssh-keygen -Y sign): a key file, key::<public key> held by ssh-agent; default PCHAT_DR_SIGNING_KEY, git's user.signingkey, else ssh-agent's first key",
      ),
    )
    .addOption(
      new Option(
        '--signature <file>',
        'a signature made elsewhere (ssh-keygen -Y sign -n pchat-dr of what pchat-dr statement printed)',
      ).conflicts('sign'),
    )
    .addOption(
      new Option('--statement <file>', 'with --signature: the statement it signs (default: FILE without .sig)'),
    );
  return command;
}

export function signs(flags: SignFlags): boolean {
  return flags.sign !== undefined || flags.signature !== undefined;
}

/** A key given as text: a path (~ allowed) or a public key literal (key::ssh-ed25519 AAAA..., or ssh-ed25519 AAAA...). */
function keyOf(value: string): { file?: string; literal?: string } {
  const text = value.trim();
  if (text.startsWith('key::')) return { literal: text.slice(5).trim() };
  if (/^(ssh-|ecdsa-|sk-)\S+ \S+/.test(text)) return { literal: text };
  return { file: text.startsWith('~/') ? path.join(os.homedir(), text.slice(2)) : text };
}

async function firstLineOf(program: string, args: string[]): Promise<string | null> {
  try {
    const { stdout } = await exec(program, args);
    return stdout.split('\n')[0].trim() || null;
  } catch {
    return null;
  }
}

/** The key to sign with, as a file ssh-keygen takes (a .pub whose private half ssh-agent holds, for a literal). */
async function signingKey(flag: string | true): Promise<{ file: string; cleanup: () => void; from: string }> {
  let value: string | null = typeof flag === 'string' ? flag : null;
  let from = '--sign';
  if (value === null && process.env.PCHAT_DR_SIGNING_KEY) {
    value = process.env.PCHAT_DR_SIGNING_KEY;
    from = 'PCHAT_DR_SIGNING_KEY';
  }
  if (value === null && (await firstLineOf('git', ['config', '--get', 'gpg.format'])) === 'ssh') {
    value = await firstLineOf('git', ['config', '--get', 'user.signingkey']);
    from = "git's user.signingkey";
  }
  if (value === null) {
    const agent = await firstLineOf('ssh-add', ['-L']);
    if (agent && !agent.startsWith('The agent has no identities')) {
      value = `key::${agent}`;
      from = "ssh-agent's first key";
    }
  }
  if (value === null)
    throw new CliError(
      '--sign: no key to sign with: give --sign KEYFILE, set PCHAT_DR_SIGNING_KEY, or add your key to ssh-agent (ssh-add)',
    );
  const key = keyOf(value);
  if (key.file) {
    if (!existsSync(key.file)) throw new CliError(`--sign: no key file ${key.file} (from ${from})`);
    return { file: key.file, cleanup: () => {}, from };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-dr-key-'));
  const file = path.join(dir, 'key.pub');
  writeFileSync(file, `${key.literal}\n`, { mode: 0o600 });
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }), from };
}

/** `ssh-keygen -Y sign -n pchat-dr` over the text: the armored signature. Its prompts (touch your key) reach stderr. */
export async function sshSign(text: string, flag: string | true): Promise<string> {
  const key = await signingKey(flag);
  try {
    return await new Promise<string>((resolve, reject) => {
      const child = spawn('ssh-keygen', ['-Y', 'sign', '-f', key.file, '-n', SIGNATURE_NAMESPACE]);
      let stdout = '';
      /** What ssh-keygen said on stderr, less the "Signing data on standard input" it always says. */
      let said = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
      child.stderr.setEncoding('utf8').on('data', (text: string) => {
        const lines = text.split('\n').filter((line) => line && !/^Signing data on standard input$/.test(line));
        said += lines.map((line) => `${line}\n`).join('');
        // A security key's "Confirm user presence" must reach the person.
        if (lines.some((line) => /presence|PIN|touch/i.test(line))) process.stderr.write(`${lines.join('\n')}\n`);
      });
      child.on('error', (error: NodeJS.ErrnoException) =>
        reject(
          new CliError(
            error.code === 'ENOENT'
              ? '--sign needs OpenSSH (ssh-keygen 8.2 or newer) on PATH'
              : `--sign: ssh-keygen failed: ${error.message}`,
          ),
        ),
      );
      child.on('close', (code) => {
        if (code === 0 && stdout.includes('BEGIN SSH SIGNATURE')) resolve(stdout);
        else
          reject(
            new CliError(
              `--sign: ssh-keygen -Y sign with ${key.file} (${key.from}) failed: ${said.trim() || `exit ${code}`}`,
            ),
          );
      });
      child.stdin.end(text);
    });
  } finally {
    key.cleanup();
  }
}

/** Signs the statement now (its time: now) with --sign's key. */
export async function signNow(statement: Omit<Statement, 'time'>, flag: string | true): Promise<SignaturePart> {
  const text = statementText({ ...statement, time: statementTime(new Date()) } as Statement);
  return { statement: text, sshsig: await sshSign(text, flag) };
}

/** --signature FILE and its statement (--statement FILE, or FILE without .sig): read, the statement parsed. */
export function signatureFromFiles(flags: SignFlags): { part: SignaturePart; statement: Statement } {
  const signatureFile = flags.signature!;
  const statementFile = flags.statement ?? signatureFile.replace(/\.sig$/, '');
  if (statementFile === signatureFile)
    throw new CliError(`--signature ${signatureFile}: name the statement it signs with --statement FILE`);
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw new CliError(`${flag} ${file}: cannot read it (${(error as Error).message})`);
    }
  };
  const sshsig = read(signatureFile, '--signature');
  const text = read(statementFile, '--statement');
  const parsed = parseStatement(text);
  if (!parsed.ok) throw new CliError(`--statement ${statementFile}: ${parsed.problem}`, EXIT.badInput);
  return { part: { statement: text, sshsig }, statement: parsed.statement };
}

/** --reason, which an answer needs unless a statement signed elsewhere (--signature) brings it. */
export function reasonOf(flags: { reason?: string }): string {
  if (flags.reason === undefined) throw new CliError("error: required option '--reason <text>' not specified");
  return flags.reason;
}
