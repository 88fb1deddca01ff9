/**
 * Management Shells kept open between scripts (`poolControl.keepOpen`): a Management Shell takes seconds to start (it
 * loads the Lync module), so a runbook that reads the pool before and after each change spent most of its pool time
 * starting shells. Kept open, a script costs only its cmdlets.
 *
 * A session is the pool-control command with `-` as its script: `pwsh ... -Command -` reads its script from standard
 * input and runs each line as it comes. After each script the runner writes two literal statements holding a marker
 * of random hex, one printing it on stdout, one on stderr; the answer to the script is what each stream carried
 * before its marker. The marker is new for every script, so nothing a script prints can end its answer early. An
 * error record on stderr fails the script.
 *
 * One session per pool (and command), one script at a time: a script for a pool whose shell is busy runs in a process
 * of its own rather than waiting behind another step's, so the timeout bounds every script from the moment it is
 * asked for, and nothing waits in a queue to run after its step was cancelled. A script that outlives the timeout, or
 * whose step is cancelled, kills its shell; a shell that dies fails its script (whether the change happened is for the
 * step's read-back to find out, on its retry). Only printable ASCII goes through stdin: a script holding anything else
 * (a line break, which ends a script; a letter outside ASCII, which a shell decodes from stdin in its console's code
 * page, not as sent) runs in a process of its own, its text an argument as without keepOpen.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { PoolControlRunner, ProcessResult } from './dependencies';

/** Open sessions one worker keeps at most (each a shell process): the least recently used idle one makes room. */
export const MAX_OPEN_SESSIONS = 8;

/** How long a dead shell's last output may trail its exit (a child of it may hold its pipes open longer). */
const OUTPUT_GRACE_MS = 200;

/** What may be sent to a shell on stdin: one line of printable ASCII (see the file comment). */
const SENDABLE = /^[\x20-\x7e]*$/;

interface PendingScript {
  marker: string;
  settle(result: ProcessResult): void;
}

class ShellSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private stdout = '';
  private stderr = '';
  private pending?: PendingScript;
  private idleTimer?: NodeJS.Timeout;
  /** No script is sent any more: the shell died, was killed, or is closing. */
  ended = false;
  /** A script is running (or its shell is starting for it). */
  busy = false;
  lastUsed = Date.now();
  /** Rejects when the program cannot be started at all (ENOENT): as a process run would. */
  readonly started: Promise<void>;

  constructor(command: string[]) {
    const [program, ...args] = command;
    // No shell: `-` is the script argument; the scripts come on stdin, each value quoted by pool-control.ts.
    this.child = spawn(program, [...args, '-'], { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    this.started = new Promise((resolve, reject) => {
      this.child.once('spawn', () => resolve());
      this.child.once('error', (error) => {
        this.ended = true;
        reject(error);
      });
    });
    this.started.catch(() => undefined);
    this.child.stdout.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString();
      this.answerIfComplete();
    });
    this.child.stderr.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString();
      this.answerIfComplete();
    });
    this.child.stdin.on('error', () => undefined); // a dead shell's stdin: its exit below answers the script
    // 'exit', not 'close': a child of the shell may hold its pipes open long after the shell itself has died.
    this.child.once('exit', (code, signal) => {
      this.ended = true;
      clearTimeout(this.idleTimer);
      setTimeout(() => this.answerDead(code, signal), OUTPUT_GRACE_MS).unref();
    });
    // An idle session does not keep the worker's process alive.
    this.unref();
  }

  /** Runs one script; undefined when the shell had ended before the script was sent (nothing of it ran). */
  async run(
    script: string,
    { timeoutMs, keepOpenMs, signal }: { timeoutMs: number; keepOpenMs: number; signal?: AbortSignal },
  ): Promise<ProcessResult | undefined> {
    this.busy = true;
    clearTimeout(this.idleTimer);
    try {
      await this.started;
      if (this.ended) return undefined;
      // A step cancelled while its shell was starting: the script is not sent.
      if (signal?.aborted) return { exitCode: null, stdout: '', stderr: 'cancelled', timedOut: false };
      this.ref();
      const marker = `pchat-dr-end-${randomBytes(12).toString('hex')}`;
      // Whatever the shell printed between scripts (a late warning) is no part of this script's answer.
      this.stdout = '';
      this.stderr = '';
      return await new Promise<ProcessResult>((resolve) => {
        const finish = (result: ProcessResult) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', abort);
          this.pending = undefined;
          resolve(result);
        };
        const timer = setTimeout(() => {
          this.kill();
          finish({ exitCode: null, stdout: this.stdout, stderr: this.stderr, timedOut: true });
        }, timeoutMs);
        const abort = () => {
          this.kill();
          finish({ exitCode: null, stdout: this.stdout, stderr: 'cancelled', timedOut: false });
        };
        signal?.addEventListener('abort', abort, { once: true });
        this.pending = { marker, settle: finish };
        this.child.stdin.write(`${script}\n'${marker}'\n[Console]::Error.WriteLine('${marker}')\n`);
      });
    } finally {
      this.busy = false;
      this.lastUsed = Date.now();
      this.unref();
      // Closed while this script ran: its input ends now. Otherwise it closes after keepOpen idle.
      if (this.ended) this.endInput();
      else this.idleTimer = setTimeout(() => this.close(), keepOpenMs).unref();
    }
  }

  private answerIfComplete(): void {
    const pending = this.pending;
    if (!pending) return;
    const out = markerIn(this.stdout, pending.marker);
    const err = markerIn(this.stderr, pending.marker);
    if (out === undefined || err === undefined) return;
    const stdout = this.stdout.slice(0, out.start);
    const stderr = this.stderr.slice(0, err.start);
    this.stdout = this.stdout.slice(out.end);
    this.stderr = this.stderr.slice(err.end);
    pending.settle({ exitCode: stderr.trim() ? 1 : 0, stdout, stderr, timedOut: false });
  }

  /** The shell died with a script unanswered: the script fails, with what the shell said. */
  private answerDead(code: number | null, signal: NodeJS.Signals | null): void {
    const pending = this.pending;
    if (!pending) return;
    const stderr = this.stderr.trim();
    pending.settle({
      exitCode: code || 1, // even a shell that exits 0 has not answered its script
      stdout: this.stdout,
      stderr: `${stderr ? `${stderr}\n` : ''}the Management Shell ended (${code ?? signal}) before its script's end`,
      timedOut: false,
    });
  }

  /** Ends the session once it is idle: the shell exits at the end of its input; a running script is not cut short. */
  close(): void {
    if (this.ended) return;
    this.ended = true; // no script is sent to a shell that is closing: the next one starts a new shell
    clearTimeout(this.idleTimer);
    if (!this.busy) this.endInput();
  }

  private endInput(): void {
    this.child.stdin.end();
    setTimeout(() => this.kill(), 10_000).unref();
  }

  kill(): void {
    this.ended = true;
    clearTimeout(this.idleTimer);
    this.child.kill('SIGKILL');
  }

  private ref(): void {
    this.child.ref();
    for (const stream of [this.child.stdout, this.child.stderr, this.child.stdin]) refOf(stream)?.ref();
  }

  private unref(): void {
    this.child.unref();
    for (const stream of [this.child.stdout, this.child.stderr, this.child.stdin]) refOf(stream)?.unref();
  }
}

/** The socket under a child's pipe, whose handle keeps the event loop alive. */
function refOf(stream: object): { ref(): void; unref(): void } | undefined {
  const socket = stream as Partial<{ ref(): void; unref(): void }>;
  return typeof socket.ref === 'function' && typeof socket.unref === 'function'
    ? (socket as { ref(): void; unref(): void })
    : undefined;
}

/**
 * Where the marker and its line end are, if they have come yet. Anywhere in the stream, not only at a line's start:
 * output without a final line break (Write-Host -NoNewline) runs into it. The marker is random: nothing else holds it.
 */
function markerIn(text: string, marker: string): { start: number; end: number } | undefined {
  const start = text.indexOf(marker);
  if (start < 0) return undefined;
  const newline = text.indexOf('\n', start + marker.length);
  return newline < 0 ? undefined : { start, end: newline + 1 };
}

/**
 * The pool-control runner of a worker: one process per script, or, where the topology keeps the shell open, a
 * session per pool and pool-control command.
 */
export class ManagementShells implements PoolControlRunner {
  private readonly sessions = new Map<string, ShellSession>();
  /** The worker is shutting down: no shell is started or kept any more. */
  private closed = false;

  constructor(private readonly runProcess: PoolControlRunner) {}

  async run(
    command: string[],
    script: string,
    options: { timeoutMs: number; keepOpenMs?: number; pool?: string; signal?: AbortSignal },
  ): Promise<ProcessResult> {
    const keepOpenMs = options.keepOpenMs ?? 0;
    if (keepOpenMs <= 0 || this.closed || !SENDABLE.test(script)) return this.runProcess.run(command, script, options);
    const key = JSON.stringify([options.pool ?? '', ...command]);
    let session = this.sessions.get(key);
    // Another step's script is running in this pool's shell: this one does not wait behind it.
    if (session?.busy) return this.runProcess.run(command, script, options);
    if (!session || session.ended) {
      if (!this.makeRoom()) return this.runProcess.run(command, script, options);
      session = new ShellSession(command);
      this.sessions.set(key, session);
    }
    const result = await session.run(script, { timeoutMs: options.timeoutMs, keepOpenMs, signal: options.signal });
    // The shell had ended before the script was sent (it died between scripts): nothing ran; a process of its own runs it.
    return result ?? this.runProcess.run(command, script, options);
  }

  /** Closes the least recently used idle session when the worker has as many as it keeps; false when all are busy. */
  private makeRoom(): boolean {
    for (const [key, session] of this.sessions) if (session.ended) this.sessions.delete(key);
    if (this.sessions.size < MAX_OPEN_SESSIONS) return true;
    const idle = [...this.sessions.entries()]
      .filter(([, session]) => !session.busy)
      .sort(([, a], [, b]) => a.lastUsed - b.lastUsed)[0];
    if (!idle) return false;
    this.sessions.delete(idle[0]);
    idle[1].close();
    return true;
  }

  /** How many shells are open: for tests. */
  get openSessions(): number {
    return [...this.sessions.values()].filter((session) => !session.ended).length;
  }

  /** Ends every session, each once its running script is done, and starts no other (the worker's shutdown). */
  closeAll(): void {
    this.closed = true;
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}
