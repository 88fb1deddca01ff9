/**
 * The built worker process (`pchat-dr worker`) against the run's real Temporal dev
 * server: it says when it is ready, polls its task queue, serves Prometheus metrics, lets a running step finish
 * on SIGTERM and exits 0, and refuses bad settings with exit 2 and one line.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../runtime/free-port';
import { PROJECT_ROOT } from '../../runtime/package';
import { runCli } from '../helpers/cli';
import { isReady, startWorker, stopStartedWorkers, workerEnv, type LogLine } from '../helpers/worker-process';
import { connectClient, temporalAddress, testNamespace, uniqueTaskQueue, withWorker } from '../helpers/temporal';
import { runWorker, type WorkerReady } from '../../worker/main';
import type { notifyProbe } from './notify-probe-workflow';

const PROBE_WORKFLOWS = path.join(__dirname, 'notify-probe-workflow.ts');
const PROBE_BUNDLE = path.join(PROJECT_ROOT, '.tmp', 'test', 'worker-notify-probe-bundle.js');
/** temporal.api.enums.v1.TaskQueueType */
const TASK_QUEUE_TYPE = { workflow: 1, activity: 2 } as const;

const isShuttingDown = (line: LogLine) => line.msg.startsWith('shutting down');

/** A webhook that holds every POST open until the test releases it: a step that is running for as long as we like. */
async function heldWebhook(): Promise<{
  url: string;
  /** A file: secret reference to the URL, as a topology names a webhook. */
  reference: string;
  received: Promise<unknown>;
  count: () => number;
  release: () => void;
  close: () => Promise<void>;
}> {
  const held: ServerResponse[] = [];
  let onRequest!: (body: unknown) => void;
  const received = new Promise<unknown>((resolve) => (onRequest = resolve));
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      held.push(res);
      onRequest(JSON.parse(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const release = () => held.splice(0).forEach((res) => res.writeHead(204).end());
  const url = `http://127.0.0.1:${port}/hook`;
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-webhook-')), 'url');
  writeFileSync(file, url);
  return {
    url,
    reference: `file:${file}`,
    received,
    count: () => held.length,
    release,
    close: () => {
      release();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  const { code } = await bundleWorkflowCode({
    workflowsPath: PROBE_WORKFLOWS,
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  mkdirSync(path.dirname(PROBE_BUNDLE), { recursive: true });
  writeFileSync(PROBE_BUNDLE, code);
});

afterEach(() => {
  stopStartedWorkers();
});

/** A copy of the simulated example for another pool, in a folder of its own: an estate a test may hand a worker. */
function estateFileFor(pool: string, folder = mkdtempSync(path.join(os.tmpdir(), 'pchat-estate-'))): string {
  const file = path.join(folder, `${pool}.yaml`);
  const example = readFileSync(path.join(PROJECT_ROOT, 'examples', 'simulated.yaml'), 'utf8');
  writeFileSync(file, example.replace('fqdn: pchat.sim.local', `fqdn: ${pool}`));
  return file;
}

describe('the worker process (pchat-dr worker)', () => {
  it('logs a JSON ready line, polls its task queue, serves Prometheus metrics, and exits 0 on SIGTERM', async () => {
    const taskQueue = uniqueTaskQueue('worker-process');
    const metricsPort = await freePort();
    // --estate wins over PCHAT_DR_ESTATES (which workerEnv sets to the simulated example).
    const estate = estateFileFor('pchat.worker-flag.test');
    const worker = startWorker(
      ['--task-queue', taskQueue, '--metrics', `127.0.0.1:${metricsPort}`, '--shutdown-grace', '20s'],
      workerEnv(),
    );
    const flagged = startWorker(['--task-queue', taskQueue, '--metrics', 'off', '--estate', estate], workerEnv());
    expect(await flagged.waitForLog(isReady, 'the --estate worker ready')).toMatchObject({
      estates: [{ pool: 'pchat.worker-flag.test', file: estate }],
    });
    flagged.child.kill('SIGTERM');
    expect(await flagged.exited).toBe(0);

    const ready = await worker.waitForLog(isReady, 'its ready line');
    expect(ready).toMatchObject({
      level: 'info',
      taskQueue,
      namespace: testNamespace(),
      address: temporalAddress(),
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      apiKeyConfigured: false,
      estates: [{ pool: 'pchat.sim.local', file: path.join(PROJECT_ROOT, 'examples', 'simulated.yaml') }],
    });

    const { client, close } = await connectClient();
    try {
      for (const taskQueueType of [TASK_QUEUE_TYPE.workflow, TASK_QUEUE_TYPE.activity]) {
        const pollers = await until(`pollers on ${taskQueue}`, async () => {
          const described = await client.workflowService.describeTaskQueue({
            namespace: testNamespace(),
            taskQueue: { name: taskQueue },
            taskQueueType,
          });
          return described.pollers?.length ? described.pollers : undefined;
        });
        expect(pollers.length).toBeGreaterThan(0);
      }
    } finally {
      await close();
    }

    const metrics = await until('metrics for the task queue', async () => {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      const text = await response.text();
      return response.ok && text.includes(`task_queue="${taskQueue}"`)
        ? { text, type: response.headers.get('content-type') }
        : undefined;
    });
    expect(metrics.type).toMatch(/^text\/plain/);
    expect(metrics.text).toMatch(/^# TYPE temporal_\w+ \w+$/m);
    expect(metrics.text).toMatch(
      new RegExp(`^temporal_num_pollers\\{[^}]*task_queue="${taskQueue}"[^}]*\\} \\d+`, 'm'),
    );

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.logs.find(isShuttingDown)).toMatchObject({ reason: 'SIGTERM', shutdownGrace: '20s' });
    expect(worker.logs.at(-1)).toMatchObject({ msg: 'worker stopped', taskQueue });
    // Nothing but JSON on stdout, and the Temporal SDK's own messages come through the same logger.
    expect(worker.stdoutLines.filter((line) => line !== '').length).toBe(worker.logs.length);
    expect(worker.logs.some((line) => line.sdkComponent === 'worker' && line.msg === 'Worker state changed')).toBe(
      true,
    );
    expect(worker.stderr()).toBe('');
  }, 120_000);
});

describe('pchat-dr worker', () => {
  it('on SIGTERM lets the running step finish, then exits 0', async () => {
    const taskQueue = uniqueTaskQueue('worker-shutdown');
    const webhook = await heldWebhook();
    const worker = startWorker(
      ['--shutdown-grace', '1m'],
      workerEnv({
        PCHAT_DR_TASK_QUEUE: taskQueue,
        PCHAT_DR_WORKFLOW_BUNDLE: PROBE_BUNDLE,
        PCHAT_DR_METRICS_ADDRESS: 'off',
      }),
    );
    const { client, close } = await connectClient();
    try {
      expect(await worker.waitForLog(isReady, 'its ready line')).toMatchObject({ taskQueue, metricsUrl: null });
      const handle = await client.workflow.start<typeof notifyProbe>('notifyProbe', {
        taskQueue,
        workflowId: taskQueue,
        args: [webhook.reference],
      });
      await webhook.received; // the notify step is now running in the worker, waiting for the webhook's answer

      worker.child.kill('SIGTERM');
      expect(await worker.waitForLog(isShuttingDown, 'that it is shutting down')).toMatchObject({
        reason: 'SIGTERM',
        shutdownGrace: '1m',
      });
      expect(worker.child.exitCode).toBeNull(); // still up: the step is running
      expect(webhook.count()).toBe(1);

      webhook.release();
      expect(await worker.exited).toBe(0);
      expect(worker.logs.some((line) => line.msg === 'worker stopped')).toBe(true);

      // The step's result was recorded: a fresh worker finishes the workflow with it, no retry, no failure.
      await withWorker({ taskQueue, workflowsPath: PROBE_WORKFLOWS }, async () => {
        expect(await handle.result()).toEqual({ outcome: 'acted', status: 204 });
      });
      expect(webhook.count()).toBe(0);
    } finally {
      await close();
      await webhook.close();
    }
  }, 120_000);

  it('exits at once on a second signal, without waiting for the running step', async () => {
    const taskQueue = uniqueTaskQueue('worker-second-signal');
    const webhook = await heldWebhook();
    const worker = startWorker(
      ['--task-queue', taskQueue, '--metrics', 'off', '--workflow-bundle', PROBE_BUNDLE],
      workerEnv(),
    );
    const { client, close } = await connectClient();
    try {
      await worker.waitForLog(isReady, 'its ready line');
      await client.workflow.start<typeof notifyProbe>('notifyProbe', {
        taskQueue,
        workflowId: taskQueue,
        args: [webhook.reference],
      });
      await webhook.received;

      worker.child.kill('SIGINT');
      await worker.waitForLog(isShuttingDown, 'that it is shutting down');
      worker.child.kill('SIGINT');
      expect(await worker.exited).toBe(130);
      expect(worker.logs.find((line) => line.msg.startsWith('second signal'))).toMatchObject({
        level: 'warn',
        signal: 'SIGINT',
      });
      expect(webhook.count()).toBe(1); // the step was still waiting: the worker did not wait for it
    } finally {
      await close();
      await webhook.close();
    }
  }, 120_000);

  it('gives up on a step that outlasts the grace time and exits 1, saying so', async () => {
    const taskQueue = uniqueTaskQueue('worker-forced');
    const webhook = await heldWebhook();
    const worker = startWorker(
      ['--task-queue', taskQueue, '--metrics', 'off', '--shutdown-grace', '2s', '--workflow-bundle', PROBE_BUNDLE],
      workerEnv(),
    );
    const { client, close } = await connectClient();
    try {
      await worker.waitForLog(isReady, 'its ready line');
      await client.workflow.start<typeof notifyProbe>('notifyProbe', {
        taskQueue,
        workflowId: taskQueue,
        args: [webhook.reference],
      });
      await webhook.received;

      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(1);
      expect(worker.logs.find(isShuttingDown)).toMatchObject({ shutdownGrace: '2s', giveUpAfter: '4s' });
      expect(worker.logs.find((line) => line.msg.startsWith('shutdown forced'))).toMatchObject({ level: 'error' });
      expect(webhook.count()).toBe(1); // the step never got its answer: the bound, not the step, ended the wait
    } finally {
      await close();
      await webhook.close();
    }
  }, 120_000);

  it('refuses bad settings with exit 2 and one line, before connecting', async () => {
    // The dev server is not needed to refuse: point at a port nothing listens on to prove nothing connects first.
    const nowhere = `127.0.0.1:${await freePort()}`;
    const badMetrics = await runCli(['worker', '--metrics', 'localhost'], {
      env: workerEnv({ TEMPORAL_ADDRESS: nowhere }),
    });
    expect(badMetrics.code).toBe(2);
    expect(badMetrics.stderr).toMatch(/^--metrics localhost: give IP:port for the metrics endpoint .*, or off\n$/);
    expect(badMetrics.stdout).toBe('');

    const badGrace = await runCli(['worker', '--metrics', 'off'], {
      env: workerEnv({ TEMPORAL_ADDRESS: nowhere, PCHAT_DR_SHUTDOWN_GRACE: '300' }),
    });
    expect(badGrace.code).toBe(2);
    expect(badGrace.stderr).toMatch(
      /^PCHAT_DR_SHUTDOWN_GRACE 300: give a duration with its unit, e.g. 30s, 5m or 1h\n$/,
    );

    const missing = path.join(PROJECT_ROOT, '.tmp', 'test', 'no-such-bundle.js');
    const noBundle = startWorker(
      ['--metrics', 'off'],
      workerEnv({ TEMPORAL_ADDRESS: nowhere, PCHAT_DR_WORKFLOW_BUNDLE: missing }),
    );
    expect(await noBundle.exited).toBe(2);
    expect(noBundle.stderr()).toMatch(
      /^PCHAT_DR_WORKFLOW_BUNDLE .*no-such-bundle\.js: workflow bundle not found \(check the path; `npm run build` writes .*\)\n$/,
    );
    expect(noBundle.stdoutLines.join('')).toBe('');

    // Estates (docs/runbooks.md rule 8): none, missing, invalid, one pool twice, an empty folder; every problem said.
    const noEstate = await runCli(['worker', '--metrics', 'off'], {
      env: workerEnv({ TEMPORAL_ADDRESS: nowhere, PCHAT_DR_ESTATES: '' }),
    });
    expect(noEstate.code).toBe(2);
    expect(noEstate.stderr).toMatch(/^no estate to serve: give the topology files .*--estate FILE.*\n$/);
    const folder = mkdtempSync(path.join(os.tmpdir(), 'pchat-estates-'));
    const twice = estateFileFor('pchat.twice.test', folder);
    copyFileSync(twice, path.join(folder, 'again.yml'));
    const invalid = path.join(folder, 'invalid.yaml');
    writeFileSync(invalid, 'pool: [\n');
    // A signed estate whose allowed_signers file has a line pchat-dr refuses: the worker cannot verify, so it does not start.
    const signed = estateFileFor('pchat.signed.test', folder);
    writeFileSync(path.join(folder, 'allowed_signers'), 'carol cert-authority ssh-ed25519 AAAA\n');
    writeFileSync(signed, `${readFileSync(signed, 'utf8')}\nsignatures:\n  allowedSigners: allowed_signers\n`);
    const empty = mkdtempSync(path.join(os.tmpdir(), 'pchat-empty-'));
    const bad = await runCli(
      ['worker', '--metrics', 'off', '--estate', folder, '--estate', '/nonexistent/estate.yaml', '--estate', empty],
      { env: workerEnv({ TEMPORAL_ADDRESS: nowhere }) },
    );
    expect(bad.code).toBe(2);
    const lines = bad.stderr.trimEnd().split('\n');
    expect(
      lines.every((line) => line.startsWith('--estate: ')),
      bad.stderr,
    ).toBe(true);
    expect(bad.stderr).toContain(`pool pchat.twice.test is already served from ${path.join(folder, 'again.yml')}`);
    expect(bad.stderr).toContain(invalid);
    expect(bad.stderr).toContain('/nonexistent/estate.yaml: no such file or folder');
    expect(bad.stderr).toContain(`${empty}: the folder holds no topology file`);
    expect(bad.stderr).toContain(
      `${signed}: ${path.join(folder, 'allowed_signers')}: line 1: cert-authority lines are not supported`,
    );
    expect(bad.stdout).toBe('');
  });

  it('exits 1 when Temporal cannot be reached, saying where it tried', async () => {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const result = await runCli(['worker', '--metrics', 'off'], { env: workerEnv({ TEMPORAL_ADDRESS: nowhere }) });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`^cannot connect to Temporal at ${nowhere}: .+\\n$`));
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toMatchObject({
      level: 'error',
      address: nowhere,
      msg: 'cannot connect to Temporal',
    });
  });
});

describe('runWorker (in-process, as the demo uses it)', () => {
  it('serves the task queue until `stop` is aborted, then resolves', async () => {
    const taskQueue = uniqueTaskQueue('worker-in-process');
    const lines: string[] = [];
    const stop = new AbortController();
    let ready: WorkerReady | undefined;
    const { client, close } = await connectClient();
    try {
      const running = runWorker({
        ownProcess: false,
        stop: stop.signal,
        env: workerEnv({
          PCHAT_DR_TASK_QUEUE: taskQueue,
          PCHAT_DR_METRICS_ADDRESS: 'off',
          PCHAT_DR_WORKFLOW_BUNDLE: PROBE_BUNDLE,
        }),
        logDestination: { write: (line: string) => void lines.push(line) },
        onReady: (info) => (ready = info),
      });
      await until('the ready callback', async () => ready);
      expect(ready).toEqual({ taskQueue, namespace: testNamespace(), address: temporalAddress(), metricsUrl: null });
      await until(`pollers on ${taskQueue}`, async () => {
        const described = await client.workflowService.describeTaskQueue({
          namespace: testNamespace(),
          taskQueue: { name: taskQueue },
          taskQueueType: TASK_QUEUE_TYPE.workflow,
        });
        return described.pollers?.length ? true : undefined;
      });

      stop.abort();
      await running;
      const logs = lines.map((line) => JSON.parse(line) as LogLine);
      expect(logs.find(isShuttingDown)).toMatchObject({ reason: 'stop requested' });
      expect(logs.some((line) => line.msg === 'worker stopped')).toBe(true);
    } finally {
      await close();
    }
  });
});
