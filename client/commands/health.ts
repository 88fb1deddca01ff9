/**
 * `pchat-dr health [--this-host]`: whether a worker polls the task queue, as Temporal sees it (the task queue's
 * pollers and when each last polled). With --this-host, only a worker of this host counts (the SDK's default worker
 * identity is pid@hostname): the image's HEALTHCHECK, where the host is the container. Exit 0 healthy, 1 not (one
 * line saying why); a live process whose worker cannot reach Temporal, or stopped polling, is not healthy.
 */
import os from 'node:os';
import { Command } from 'commander';
import { CliError, EXIT } from '../../runtime/exit';
import { printJson, printLine, outputOption, type OutputFormat } from '../output';
import { firstLine, taskQueueOf, withClient, withTemporalOptions, type TemporalFlags } from '../run-access';

// temporal.api.enums.v1 values (the proto package is the client's, not ours to import): NORMAL, WORKFLOW.
const TASK_QUEUE_KIND_NORMAL = 1;
const TASK_QUEUE_TYPE_WORKFLOW = 1;

/** A poll older than this is no sign of life: a worker long-polls about once a minute, and the server says when. */
export const FRESH_POLL_MS = 150_000;

interface HealthFlags extends TemporalFlags {
  thisHost?: boolean;
  output: OutputFormat;
}

export interface Poller {
  identity: string;
  lastPolledAt: string | null;
}

export function healthCommand(): Command {
  const command = new Command('health')
    .description('check that a worker polls the task queue (exit 0), as Temporal sees it; the image health check')
    .option('--this-host', `only a worker on this host counts (identity pid@${os.hostname()})`)
    .addOption(outputOption());
  return withTemporalOptions(command).action((flags: HealthFlags) => {
    const taskQueue = taskQueueOf(flags);
    return withClient(flags, async (client) => {
      let pollers: Poller[];
      try {
        const described = await client.workflowService.describeTaskQueue({
          namespace: client.options.namespace,
          taskQueue: { name: taskQueue, kind: TASK_QUEUE_KIND_NORMAL },
          taskQueueType: TASK_QUEUE_TYPE_WORKFLOW,
        });
        pollers = (described.pollers ?? []).map((poller) => ({
          identity: poller.identity ?? '',
          lastPolledAt: poller.lastAccessTime?.seconds
            ? new Date(Number(poller.lastAccessTime.seconds) * 1000).toISOString()
            : null,
        }));
      } catch (error) {
        throw new CliError(`cannot ask Temporal about task queue ${taskQueue}: ${firstLine(error)}`, EXIT.failed);
      }
      const host = os.hostname();
      const now = Date.now();
      const counted = pollers.filter((poller) => !flags.thisHost || poller.identity.endsWith(`@${host}`));
      const fresh = counted.filter(
        (poller) => poller.lastPolledAt !== null && now - Date.parse(poller.lastPolledAt) < FRESH_POLL_MS,
      );
      const healthy = fresh.length > 0;
      const where = flags.thisHost ? ` on this host (${host})` : '';
      if (flags.output === 'json') printJson({ healthy, taskQueue, thisHost: flags.thisHost === true, pollers });
      else if (healthy)
        printLine(
          `healthy: ${fresh.map((poller) => poller.identity).join(', ')} polling task queue ${taskQueue}${where}`,
        );
      if (healthy) return;
      const seen =
        counted.length > 0
          ? `; last poll ${counted.map((poller) => `${poller.identity} at ${poller.lastPolledAt ?? 'unknown'}`).join(', ')}`
          : '';
      throw new CliError(`unhealthy: no worker${where} polls task queue ${taskQueue}${seen}`, EXIT.failed);
    });
  });
}
