/**
 * `pchat-dr health`, the image's HEALTHCHECK: healthy (exit 0) while Temporal sees a worker poll the task queue;
 * with --this-host only a worker of this host counts (the SDK's identity pid@hostname). No worker: exit 1, one line.
 */
import os from 'node:os';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { runCli } from '../helpers/cli';
import { eventually } from '../helpers/estate';
import { temporalAddress, testNamespace, uniqueTaskQueue } from '../helpers/temporal';
import { isReady, startWorker, stopStartedWorkers, workerEnv } from '../helpers/worker-process';
import { expectOneLineError } from './cli-env';

afterEach(() => stopStartedWorkers());
// The in-process worker below is another host's: its state changes are no news here.
Runtime.install({ logger: new DefaultLogger('ERROR') });

const env = (taskQueue: string) => ({
  TEMPORAL_ADDRESS: temporalAddress(),
  TEMPORAL_NAMESPACE: testNamespace(),
  PCHAT_DR_TASK_QUEUE: taskQueue,
});

describe('pchat-dr health', () => {
  it('is unhealthy (exit 1, one line) while no worker polls the task queue', async () => {
    const taskQueue = uniqueTaskQueue('health-none');
    const result = await runCli(['health', '--this-host'], { env: env(taskQueue) });
    expectOneLineError(
      result,
      1,
      new RegExp(`^unhealthy: no worker on this host \\(${os.hostname()}\\) polls task queue ${taskQueue}$`),
    );
  });

  it('is healthy once the worker of this host polls, as Temporal sees it', { timeout: 90_000 }, async () => {
    const taskQueue = uniqueTaskQueue('health-worker');
    const worker = startWorker(['--metrics', 'off'], workerEnv({ PCHAT_DR_TASK_QUEUE: taskQueue }));
    await worker.waitForLog(isReady, 'worker ready');
    const result = await eventually(
      async () => {
        const attempt = await runCli(['health', '--this-host'], { env: env(taskQueue) });
        return attempt.code === 0 ? attempt : null;
      },
      30_000,
      'the worker to be seen polling',
    );
    expect(result.stdout.trim()).toBe(
      `healthy: ${worker.child.pid}@${os.hostname()} polling task queue ${taskQueue} on this host (${os.hostname()})`,
    );
    const json = await runCli(['health', '-o', 'json'], { env: env(taskQueue) });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      healthy: true,
      taskQueue,
      thisHost: false,
      pollers: [{ identity: `${worker.child.pid}@${os.hostname()}`, lastPolledAt: expect.any(String) }],
    });
  });

  it("with --this-host, does not count another host's worker", { timeout: 90_000 }, async () => {
    const taskQueue = uniqueTaskQueue('health-elsewhere');
    const connection = await NativeConnection.connect({ address: temporalAddress() });
    try {
      const elsewhere = await Worker.create({
        connection,
        namespace: testNamespace(),
        taskQueue,
        identity: '4242@another-host',
        workflowBundle: { codePath: inject('workflowBundlePath') },
      });
      await elsewhere.runUntil(async () => {
        const anyHost = await eventually(
          async () => {
            const attempt = await runCli(['health'], { env: env(taskQueue) });
            return attempt.code === 0 ? attempt : null;
          },
          30_000,
          'the other host to be seen polling',
        );
        expect(anyHost.stdout).toContain('healthy: 4242@another-host polling');
        const here = await runCli(['health', '--this-host'], { env: env(taskQueue) });
        expectOneLineError(here, 1, new RegExp(`^unhealthy: no worker on this host .* polls task queue ${taskQueue}$`));
      });
    } finally {
      await connection.close();
    }
  });
});
