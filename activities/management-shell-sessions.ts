/**
 * Management Shells kept open between scripts (`poolControl.keepOpen`): a Management Shell takes seconds to start (it
 * loads the Lync module), so a runbook that reads the pool before and after each change spent most of its pool time
 * starting shells. Kept open, a script costs only its cmdlets.
 *
 * A session is the pool-control command with `-` as its script: `pwsh ... -Command -` reads its script from standard
 * input and runs each line as it comes. After each script the runner writes two literal statements holding a marker
 * of random hex, one printing it on stdout, one on stderr; the answer to the script is what each stream carried
 * before its marker. The marker is new for every script, so nothing a script prints can end its answer early. As
 * with one process per script, an error record on stderr fails the script.
 *
 * One script at a time per session; a session whose script outlives the timeout, or whose activity is cancelled, is
 * killed (the next script starts a new one), and one that dies answers its script with a failure rather than a retry
 * here: whether the script's change happened is for the activity's read-back to find out. A script with a line break
 * in it (a value that holds one) runs in a process of its own, as without keepOpen: a line is a script to the shell.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { PoolControlRunner, ProcessResult } from './dependencies';

/** Open sessions one worker keeps at most (each a shell process): the least recently used idle one makes room. */
export const MAX_OPEN_SESSIONS = 8;

interface PendingScript {
  marker: string;
  settle(result: ProcessResult): void;
}

class ShellSession {
  private readonly child: ChildProcessWithoutNullStreams;
  private stdout = '';
  private stderr = '';
  private pending?: PendingScript;
  private queue: Promise<unknown> = Promise.resolve();
  private idleTimer?: NodeJS.Timeout;
  ended = false;
  lastUsed = Date.now();
  /** Scripts running or waiting on this session: one with any is not closed to make room. */
  scripts = 0;
  /** Rejects when the program cannot be started at all (ENOENT): as a process run would. */
  readonly started: Promise<void>;

  constructor(command: string[], onEnd: (session: ShellSession) => void) {
    const [program, ...args] = command;
    // No shell: `-` is the script argument; the scripts come on stdin, each value quoted by pool-control.ts.
    this.child = spawn(program, [...args, '-'], { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    this.started = new Promise((resolve, reject) => {
      this.child.once('spawn', () => resolve());
      this.child.once('error', (error) => {
        this.end();
        onEnd(this);
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
    this.child.stdin.on('error', () => undefined); // a dead shell's stdin: its 'close' below answers the script
    this.child.once('close', (code, signal) => {
      this.ended = true;
      onEnd(this);
      const pending = this.pending;
      if (!pending) return;
      this.pending = undefined;
      const stderr = this.stderr.trim();
      pending.settle({
        exitCode: code || 1, // even a shell that exits 0 has not answered its script
        stdout: this.stdout,
        stderr: `${stderr ? `${stderr}\n` : ''}the Management Shell ended (${code ?? signal}) before its script's end`,
        timedOut: false,
      });
    });
    // An idle session does not keep the worker's process alive.
    this.unref();
  }

  /**
   * Runs one script after those already queued on this session; undefined when the session had ended before the
   * script was sent (nothing of it ran: it may go to another shell).
   */
  run(
    script: string,
    options: { timeoutMs: number; keepOpenMs: number; signal?: AbortSignal },
  ): Promise<ProcessResult | undefined> {
    this.scripts++;
    const result = this.queue.then(() => this.runNow(script, options)).finally(() => this.scripts--);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runNow(
    script: string,
    { timeoutMs, keepOpenMs, signal }: { timeoutMs: number; keepOpenMs: number; signal?: AbortSignal },
  ): Promise<ProcessResult | undefined> {
    await this.started;
    if (this.ended) return undefined;
    // A step cancelled while its script waited for the shell: the script is not sent.
    if (signal?.aborted) return { exitCode: null, stdout: '', stderr: 'cancelled', timedOut: false };
    clearTimeout(this.idleTimer);
    this.lastUsed = Date.now();
    this.ref();
    const marker = `pchat-dr-end-${randomBytes(12).toString('hex')}`;
    // Whatever the shell printed between scripts (a late warning) is no part of this script's answer.
    this.stdout = '';
    this.stderr = '';
    try {
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
      this.lastUsed = Date.now();
      if (!this.ended) {
        this.idleTimer = setTimeout(() => this.close(), keepOpenMs);
        this.idleTimer.unref();
        this.unref();
      }
    }
  }

  private answerIfComplete(): void {
    const pending = this.pending;
    if (!pending) return;
    const out = lineIndex(this.stdout, pending.marker);
    const err = lineIndex(this.stderr, pending.marker);
    if (out === undefined || err === undefined) return;
    const stdout = this.stdout.slice(0, out.start);
    const stderr = this.stderr.slice(0, err.start);
    this.stdout = this.stdout.slice(out.end);
    this.stderr = this.stderr.slice(err.end);
    this.pending = undefined;
    pending.settle({ exitCode: stderr.trim() ? 1 : 0, stdout, stderr, timedOut: false });
  }

  /** Ends the session: the shell exits at the end of its input. */
  close(): void {
    if (this.ended) return;
    clearTimeout(this.idleTimer);
    this.end(); // no script is sent to a shell that is closing: the next one starts a new shell
    this.child.stdin.end();
    const timer = setTimeout(() => this.kill(), 10_000);
    timer.unref();
  }

  kill(): void {
    clearTimeout(this.idleTimer);
    this.end();
    this.child.kill('SIGKILL');
  }

  private end(): void {
    this.ended = true;
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

/** Where the line holding only `marker` is (PowerShell may end it with \r\n), if it has come yet. */
function lineIndex(text: string, marker: string): { start: number; end: number } | undefined {
  const at = text.search(new RegExp(`(^|\\n)${marker}\\r?\\n`));
  if (at < 0) return undefined;
  const start = text[at] === '\n' ? at + 1 : at;
  const newline = text.indexOf('\n', start);
  return { start, end: newline + 1 };
}

/**
 * The pool-control runner of a worker: one process per script, or, where the topology keeps the shell open, a
 * session per pool-control command.
 */
export class ManagementShells implements PoolControlRunner {
  private readonly sessions = new Map<string, ShellSession>();

  constructor(private readonly runProcess: PoolControlRunner) {}

  async run(
    command: string[],
    script: string,
    options: { timeoutMs: number; keepOpenMs?: number; signal?: AbortSignal },
  ): Promise<ProcessResult> {
    const keepOpenMs = options.keepOpenMs ?? 0;
    if (keepOpenMs <= 0 || /[\r\n]/.test(script)) return this.runProcess.run(command, script, options);
    const key = JSON.stringify(command);
    for (let attempt = 1; ; attempt++) {
      let session = this.sessions.get(key);
      if (session?.ended) this.sessions.delete(key);
      if (!session || session.ended) {
        if (!this.makeRoom()) return this.runProcess.run(command, script, options);
        session = new ShellSession(command, (ended) => {
          if (this.sessions.get(key) === ended) this.sessions.delete(key);
        });
        this.sessions.set(key, session);
      }
      const result = await session.run(script, { timeoutMs: options.timeoutMs, keepOpenMs, signal: options.signal });
      if (result) return result;
      // The shell had ended before the script was sent (it died, or was closed): a new one gets the script, once; a
      // shell that ends as soon as it starts is not started again and again.
      if (attempt === 2)
        return { exitCode: 1, stdout: '', stderr: 'the Management Shell ended as soon as it started', timedOut: false };
    }
  }

  /** Closes the least recently used idle session when the worker has as many as it keeps; false when all are busy. */
  private makeRoom(): boolean {
    if (this.sessions.size < MAX_OPEN_SESSIONS) return true;
    const idle = [...this.sessions.entries()]
      .filter(([, session]) => session.scripts === 0)
      .sort(([, a], [, b]) => a.lastUsed - b.lastUsed)[0];
    if (!idle) return false;
    this.sessions.delete(idle[0]);
    idle[1].close();
    return true;
  }

  /** How many shells are open: for tests and the worker's shutdown. */
  get openSessions(): number {
    return this.sessions.size;
  }

  /** Ends every session (the worker's shutdown). */
  closeAll(): void {
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }
}
