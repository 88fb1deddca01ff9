/**
 * What activities need from the world, injected so the worker wires the real things (mssql, the file system, a
 * PowerShell process, HTTP) and nothing else reaches out on its own.
 */
import { spawn } from 'node:child_process';
import { copyFile, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { resolveSecret } from '../topology/secrets';
import type { EstateRegistry } from './estates';
import { ManagementShells } from './management-shell-sessions';
import { SqlConnections, type SecretResolver } from './sql/connections';

export interface FileInfo {
  name: string;
  size: number;
  modified: Date;
}

export interface FileAccess {
  /** Files (not folders) in a folder. */
  list(folder: string): Promise<FileInfo[]>;
  /** A file's size, or null when it does not exist. */
  size(file: string): Promise<number | null>;
  /** Copies beside the target and renames, so a reader never sees half a file. */
  copy(from: string, to: string): Promise<void>;
  /** Renames within a folder (atomic on one file system: a reader sees the old name or the whole new file). */
  rename(from: string, to: string): Promise<void>;
  remove(file: string): Promise<void>;
}

export interface ProcessResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface PoolControlRunner {
  /**
   * Runs the pool-control program with its arguments and the script as one last argument, without a shell; with
   * `keepOpenMs`, in the pool's shell kept open between scripts for that long (management-shell-sessions.ts). The
   * signal (the step's cancellation) kills the shell.
   */
  run(
    command: string[],
    script: string,
    options: { timeoutMs: number; keepOpenMs?: number; pool?: string; signal?: AbortSignal },
  ): Promise<ProcessResult>;
  /** Ends the shells kept open (the worker's shutdown). */
  closeAll?(): void;
}

export interface Notifier {
  /** POSTs JSON; resolves to the HTTP status. */
  post(url: string, body: unknown, timeoutMs: number): Promise<number>;
}

export interface ActivityDependencies {
  /** The estates this worker serves: the only source of a run's topology (docs/runbooks.md rule 8). */
  estates: EstateRegistry;
  /** Turns a secret reference (env:NAME, file:/path) into its value, on the worker only. */
  resolveSecret: SecretResolver;
  sql: SqlConnections;
  files: FileAccess;
  poolControl: PoolControlRunner;
  notifier: Notifier;
  clock: () => Date;
}

export const nodeFiles: FileAccess = {
  async list(folder) {
    const entries = await readdir(folder, { withFileTypes: true });
    const files = await Promise.all(
      entries
        .filter((entry) => entry.isFile())
        .map(async (entry) => {
          const info = await stat(path.join(folder, entry.name));
          return { name: entry.name, size: info.size, modified: info.mtime };
        }),
    );
    return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  },
  async size(file) {
    try {
      return (await stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  },
  async copy(from, to) {
    const partial = `${to}.partial`;
    await copyFile(from, partial);
    await rename(partial, to);
  },
  async rename(from, to) {
    await rename(from, to);
  },
  async remove(file) {
    await rm(file, { force: true });
  },
};

export const processRunner: PoolControlRunner = {
  run(command, script, { timeoutMs, signal }) {
    return new Promise((resolve, reject) => {
      const [program, ...args] = command;
      // No shell: the script reaches the program as one argument, exactly as built (see pool-control.ts quoting).
      const child = spawn(program, [...args, script], { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      const abort = () => child.kill('SIGKILL');
      signal?.addEventListener('abort', abort, { once: true });
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (exitCode) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        resolve({ exitCode, stdout, stderr, timedOut });
      });
    });
  },
};

export const fetchNotifier: Notifier = {
  async post(url, body, timeoutMs) {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return response.status;
  },
};

/** The real world, as the worker uses it, serving these estates. */
export function realDependencies(options: {
  estates: EstateRegistry;
  resolveSecret?: SecretResolver;
  onPoolError?: (instance: string, error: Error) => void;
}): ActivityDependencies {
  const secrets = options.resolveSecret ?? resolveSecret;
  return {
    estates: options.estates,
    resolveSecret: secrets,
    sql: new SqlConnections(secrets, { onPoolError: options.onPoolError }),
    files: nodeFiles,
    poolControl: new ManagementShells(processRunner),
    notifier: fetchNotifier,
    clock: () => new Date(),
  };
}
