/**
 * A worker host of the campaign: a process that runs the workers of one or more cells, each on the cell's own task
 * queue with the cell's own estate, with the real workflow bundle and the real activities, as `pchat-dr worker`
 * runs them. A cell whose fault kills the worker has a host of its own (SIGKILL ends the whole process); the others
 * share hosts, which spares each a process start. One addition to the activities: before and after every one the
 * host asks the campaign (over the IPC channel of child_process.fork) whether to go on. That pause is where a cell
 * injects its fault at a step boundary, and where a worker is killed with a step's effect done but not reported.
 *
 *   node dist/test/campaign/worker-main.js <temporal address> <workflow bundle> <namespace>
 */
import { Context } from '@temporalio/activity';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { realDependencies } from '../../activities/dependencies';
import { EstateRegistry } from '../../activities/estates';
import type { CampaignMessage, HostMessage } from './worker-protocol';

const [address, workflowBundle, namespace] = process.argv.slice(2);
const waiting = new Map<number, () => void>();
const cells = new Map<string, { worker: Worker; running: Promise<void>; close: () => Promise<void> }>();
let next = 0;

function send(message: HostMessage): void {
  process.send!(message);
}

type AnyActivity = (input: unknown) => Promise<unknown>;

function pause(cell: string, when: 'before' | 'after', activity: string): Promise<void> {
  const { info } = Context.current();
  const id = ++next;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    send({
      kind: 'pause',
      cell,
      id,
      when,
      activity,
      workflowId: info.workflowExecution?.workflowId ?? '',
      attempt: info.attempt,
    });
  });
}

function paused(cell: string, activities: Record<string, AnyActivity>): Record<string, AnyActivity> {
  return Object.fromEntries(
    Object.entries(activities).map(([name, activity]) => [
      name,
      async (input: unknown) => {
        await pause(cell, 'before', name);
        let outcome: { value: unknown } | { error: unknown };
        try {
          outcome = { value: await activity(input) };
        } catch (error) {
          outcome = { error };
        }
        await pause(cell, 'after', name);
        if ('error' in outcome) throw outcome.error;
        return outcome.value;
      },
    ]),
  );
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const connection = await NativeConnection.connect({ address });

  const start = async (cell: string, taskQueue: string, estateFile: string) => {
    const deps = realDependencies({ estates: EstateRegistry.open([estateFile]) });
    const worker = await Worker.create({
      connection,
      namespace,
      taskQueue,
      workflowBundle: { codePath: workflowBundle },
      activities: paused(cell, createActivities(deps) as unknown as Record<string, AnyActivity>),
      shutdownGraceTime: '1s',
    });
    const running = worker.run();
    cells.set(cell, {
      worker,
      running,
      close: async () => {
        await running.catch(() => undefined);
        await deps.sql.closeAll();
      },
    });
  };

  process.on('message', (message: CampaignMessage) => {
    switch (message.kind) {
      case 'go':
        waiting.get(message.id)?.();
        waiting.delete(message.id);
        return;
      case 'start':
        start(message.cell, message.taskQueue, message.estateFile).then(
          () => send({ kind: 'started', cell: message.cell }),
          (error: unknown) => send({ kind: 'failed', cell: message.cell, error: String(error) }),
        );
        return;
      case 'stop': {
        const running = cells.get(message.cell);
        cells.delete(message.cell);
        if (!running) return send({ kind: 'stopped', cell: message.cell });
        running.worker.shutdown();
        void running.close().then(() => send({ kind: 'stopped', cell: message.cell }));
        return;
      }
    }
  });
  // The campaign gone, nobody answers the pauses: end with it.
  process.on('disconnect', () => process.exit(0));
  send({ kind: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(`campaign worker host failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
