/**
 * OpenSSH's allowed_signers file (ssh-keygen(1), "ALLOWED SIGNERS"): who may sign, with which keys. One line per key:
 *
 *     principals [options] keytype base64-key [comment]
 *
 * principals are comma-separated names (the names of the estate's approval policy: carol, dave); options are
 * `namespaces="pchat-dr,..."`, `valid-after="YYYYMMDD[HHMM[SS]][Z]"`, `valid-before=...`. Several lines may name one
 * person (several keys) and one line several people. What pchat-dr refuses, so that one line never lets one key
 * sign as anyone: principal patterns (`*`, `?`, `!`) and `cert-authority` (certificates are not supported).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KEY_TYPES, parsePublicKey, SshFormatError, type SshPublicKey } from './sshsig';

export interface AllowedSigner {
  /** 1-based line in the file. */
  line: number;
  principals: string[];
  /** namespaces="...": the namespaces the key may sign in; undefined: any. */
  namespaces?: string[];
  validAfter?: Date;
  validBefore?: Date;
  key: SshPublicKey;
}

export interface AllowedSigners {
  file: string;
  /** SHA-256 (hex) of the file's bytes: the report names the version of the file a signature was verified against. */
  digest: string;
  signers: AllowedSigner[];
}

export class AllowedSignersError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.map((problem) => `${file}: ${problem}`).join('\n'));
    this.name = 'AllowedSignersError';
  }
}

/** Splits a line on spaces outside double quotes. */
function tokens(line: string): string[] {
  const found: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of line) {
    if (char === '"') quoted = !quoted;
    if (!quoted && (char === ' ' || char === '\t')) {
      if (current) found.push(current);
      current = '';
    } else current += char;
  }
  if (current) found.push(current);
  return found;
}

/** Splits options on commas outside double quotes. */
function options(text: string): string[] {
  const found: string[] = [];
  let current = '';
  let quoted = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    if (!quoted && char === ',') {
      found.push(current);
      current = '';
    } else current += char;
  }
  found.push(current);
  return found;
}

/** YYYYMMDD[HHMM[SS]][Z]: UTC with Z, else local time (as OpenSSH reads it). */
export function parseSignerTime(value: string): Date | null {
  const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z)?$/i.exec(value);
  if (!match) return null;
  const [, year, month, day, hour = '0', minute = '0', second = '0', utc] = match;
  const parts = [Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second)] as const;
  const date = utc ? new Date(Date.UTC(...parts)) : new Date(...parts);
  return Number.isNaN(date.getTime()) ? null : date;
}

function unquote(value: string): string {
  return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
}

/** Reads allowed_signers text; every problem is named with its line, all at once. */
export function parseAllowedSigners(text: string, file: string, digest: string): AllowedSigners {
  const signers: AllowedSigner[] = [];
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = index + 1;
    const trimmed = raw.trim();
    if (!trimmed || trimmed.startsWith('#')) return;
    const parts = tokens(trimmed);
    const principals = parts[0].split(',');
    let at = 1;
    const entry: Omit<AllowedSigner, 'key'> = { line, principals };
    try {
      if (principals.some((principal) => !principal || /[*?!]/.test(principal)))
        throw new SshFormatError(
          `principals must be names (${parts[0]}): patterns with *, ? or ! are not allowed, each key belongs to named people`,
        );
      if (parts[at] && !KEY_TYPES.includes(parts[at]) && !parts[at].includes('@openssh.com')) {
        for (const option of options(parts[at])) {
          const [name, ...rest] = option.split('=');
          const value = unquote(rest.join('='));
          switch (name.toLowerCase()) {
            case 'namespaces':
              entry.namespaces = value.split(',').filter(Boolean);
              break;
            case 'valid-after':
            case 'valid-before': {
              const time = parseSignerTime(value);
              if (!time) throw new SshFormatError(`${name}="${value}" is not YYYYMMDD[HHMM[SS]][Z]`);
              if (name.toLowerCase() === 'valid-after') entry.validAfter = time;
              else entry.validBefore = time;
              break;
            }
            case 'cert-authority':
              throw new SshFormatError('cert-authority lines are not supported: name each person with their key');
            default:
              throw new SshFormatError(`unknown option ${name}`);
          }
        }
        at++;
      }
      const [type, base64] = [parts[at], parts[at + 1]];
      if (!type || !base64) throw new SshFormatError('expected: principals [options] keytype base64-key');
      const blob = Buffer.from(base64, 'base64');
      const key = parsePublicKey(blob);
      if (key.type !== type) throw new SshFormatError(`the key is a ${key.type} key, the line says ${type}`);
      signers.push({ ...entry, key });
    } catch (error) {
      problems.push(`line ${line}: ${(error as Error).message}`);
    }
  });
  if (problems.length > 0) throw new AllowedSignersError(file, problems);
  return { file, digest, signers };
}

/** Reads an allowed_signers file. */
export function loadAllowedSigners(file: string): AllowedSigners {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AllowedSignersError(file, [
      `cannot read the allowed_signers file: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
    ]);
  }
  return parseAllowedSigners(bytes.toString('utf8'), file, createHash('sha256').update(bytes).digest('hex'));
}

/** The people a file names, each once, in the order they first appear. */
export function signerNames(signers: AllowedSigners): string[] {
  return [...new Set(signers.signers.flatMap((signer) => signer.principals))];
}
