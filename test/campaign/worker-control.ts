/**
 * The campaign's side of the worker hosts (worker-main.ts): a cell's worker is started in a host, asked about each
 * activity it is about to run or has just run, and stopped; a cell whose fault kills the worker has a host of its
 * own, SIGKILLed and started again.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from '../../runtime/package';
import type { ActivityPause, CampaignMessage, HostMessage } from './worker-protocol';

/** The built host (npm run build): vitest runs this file from its source, the hosts run from dist/. */
export const WORKER_MAIN = path.join(PROJECT_ROOT, 'dist', 'test', 'campaign', 'worker-main.js');

/** What to do with a paused activity: go on, or kill the worker (the activity's result is never reported). */
export type OnPause = (pause: ActivityPause) => Promise<'go' | 'kill'>;

/** One host process and the cells it runs workers for. */
export class WorkerHost {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stderr = '';
  private readonly cells = new Map<string, OnPause>();
  private readonly replies = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();

  constructor(
    private readonly address: string,
    private readonly workflowBundle: string,
    private readonly namespace: string,
  ) {}

  get size(): number {
    return this.cells.size;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  private async open(): Promise<ChildProcess> {
    if (this.alive) return this.child!;
    const child = fork(WORKER_MAIN, [this.address, this.workflowBundle, this.namespace], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('exit', (code, signal) => {
      const error = new Error(`the campaign's worker host exited (${code ?? signal}): ${this.stderr}`);
      for (const reply of this.replies.values()) reply.reject(error);
      this.replies.clear();
    });
    await new Promise<void>((resolve, reject) => {
      const onExit = () => reject(new Error(`the campaign's worker host exited before it was ready: ${this.stderr}`));
      child.once('exit', onExit);
      child.on('message', (message: HostMessage) => {
        if (message.kind === 'ready') {
          child.off('exit', onExit);
          resolve();
        } else this.received(child, message);
      });
    });
    return child;
  }

  private received(child: ChildProcess, message: HostMessage): void {
    if (message.kind === 'pause') {
      const onPause = this.cells.get(message.cell);
      void (onPause ? onPause(message) : Promise.resolve('go' as const))
        .catch(() => 'go' as const)
        .then((action) => {
          // A kill ends the process: the paused activity is never answered.
          if (action === 'go' && child === this.child && this.alive)
            child.send({ kind: 'go', id: message.id } satisfies CampaignMessage, () => undefined);
        });
      return;
    }
    if (message.kind === 'ready') return;
    const reply = this.replies.get(message.cell);
    this.replies.delete(message.cell);
    if (message.kind === 'failed') reply?.reject(new Error(message.error));
    else reply?.resolve();
  }

  /** Sends a start or a stop and waits for its answer (one at a time per cell). */
  private ask(message: CampaignMessage & { cell: string }, child: ChildProcess): Promise<void> {
    return new Promise((resolve, reject) => {
      this.replies.set(message.cell, { resolve, reject });
      child.send(message, () => undefined);
    });
  }

  async start(cell: string, taskQueue: string, estateFile: string, onPause: OnPause): Promise<void> {
    const child = await this.open();
    this.cells.set(cell, onPause);
    await this.ask({ kind: 'start', cell, taskQueue, estateFile }, child);
  }

  async stop(cell: string): Promise<void> {
    const child = this.child;
    if (!this.cells.delete(cell) || !child || !this.alive) return;
    await this.ask({ kind: 'stop', cell }, child).catch(() => undefined);
  }

  /** SIGKILL: no shutdown, running activities abandoned, as when a machine dies. */
  async kill(): Promise<void> {
    this.cells.clear();
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** Ends the process (its cells stopped first). */
  async close(): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Shared hosts for the cells that never kill their worker: the least busy one takes the next cell. */
export class HostPool {
  private readonly hosts: WorkerHost[];

  constructor(address: string, workflowBundle: string, namespace: string, size: number) {
    this.hosts = Array.from({ length: size }, () => new WorkerHost(address, workflowBundle, namespace));
  }

  take(): WorkerHost {
    return [...this.hosts].sort((a, b) => a.size - b.size)[0];
  }

  async close(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host.close()));
  }
}

/** A cell's worker: in a shared host, or (when it is to be killed) in a host of its own, started again after. */
export class CellWorker {
  private host: WorkerHost | null = null;
  kills = 0;
  /** Why the worker could not be started again after a kill, if it could not. */
  restartFailure: Error | null = null;

  constructor(
    private readonly options: {
      cell: string;
      address: string;
      namespace: string;
      taskQueue: string;
      estateFile: string;
      workflowBundle: string;
      /** null: a host of its own. */
      pool: HostPool | null;
      onPause: OnPause;
    },
  ) {}

  async start(): Promise<void> {
    const { cell, address, namespace, taskQueue, estateFile, workflowBundle, pool } = this.options;
    this.host = pool ? pool.take() : new WorkerHost(address, workflowBundle, namespace);
    await this.host.start(cell, taskQueue, estateFile, async (pause) => {
      const action = await this.options.onPause(pause);
      if (action === 'kill') {
        if (this.options.pool) throw new Error('a worker in a shared host cannot be killed');
        this.kills++;
        // After the answer: the host is killed, then a new one takes over the task queue.
        void this.host!.kill()
          .then(() => this.start())
          .catch((error: unknown) => (this.restartFailure = error as Error));
      }
      return action;
    });
  }

  async stop(): Promise<void> {
    const host = this.host;
    if (!host) return;
    await host.stop(this.options.cell);
    if (!this.options.pool) await host.close();
  }
}
