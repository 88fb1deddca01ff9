/**
 * Secret references (docs/runbooks.md rule 6): the topology and every workflow input carry `env:NAME` or `file:/path`,
 * never the secret itself; the process that needs the value (worker, simulator) resolves it locally.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const SECRET_REF_PATTERN = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/;

export function isSecretRef(value: string): boolean {
  return SECRET_REF_PATTERN.test(value);
}

/** Makes a relative `file:` reference absolute against the topology file's folder; other references are unchanged. */
export function anchorSecretRef(ref: string, baseDir: string): string {
  if (!ref.startsWith('file:')) return ref;
  return `file:${path.resolve(baseDir, ref.slice('file:'.length))}`;
}

export class SecretNotFound extends Error {
  constructor(
    readonly ref: string,
    reason: string,
  ) {
    super(`secret ${ref} cannot be resolved: ${reason}`);
    this.name = 'SecretNotFound';
  }
}

/** The secret's value; a file's trailing newline is not part of it. */
export function resolveSecret(ref: string): string {
  if (ref.startsWith('env:')) {
    const value = process.env[ref.slice(4)];
    if (value === undefined || value === '') throw new SecretNotFound(ref, 'the environment variable is not set');
    return value;
  }
  if (ref.startsWith('file:')) {
    try {
      return readFileSync(ref.slice(5), 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new SecretNotFound(ref, (err as Error).message);
    }
  }
  throw new SecretNotFound(ref, 'not a secret reference (expected env:NAME or file:/path)');
}
