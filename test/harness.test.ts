import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../runtime/package';
import { connectClient, testNamespace, uniqueTaskQueue, withWorker } from './helpers/temporal';
import { createProbeActivities } from './workflows/harness-probe-activities';
import { harnessProbe, probeState, release, type ProbeState } from './workflows/harness-probe';
import { SEARCH_ATTRIBUTES } from '../contracts/search-attributes';

describe('test harness on a real Temporal dev server', () => {
  it('runs a workflow whose activity executes on a real worker, and reads its state through a query', async () => {
    const { client, close } = await connectClient();
    const taskQueue = uniqueTaskQueue('harness');
    try {
      await withWorker(
        {
          taskQueue,
          activities: createProbeActivities(),
          workflowsPath: path.join(__dirname, 'workflows', 'harness-probe.ts'),
        },
        async () => {
          const handle = await client.workflow.start(harnessProbe, {
            taskQueue,
            workflowId: taskQueue,
            args: ['hello'],
          });
          let state: ProbeState = { phase: 'started' };
          for (let attempt = 0; attempt < 100 && state.phase !== 'activity-done'; attempt++) {
            state = await handle.query(probeState);
            if (state.phase !== 'activity-done') await new Promise((resolve) => setTimeout(resolve, 100));
          }
          // The activity ran in this process (the worker's), on the dev server's task queue.
          expect(state).toEqual({ phase: 'activity-done', workerPid: process.pid, echoed: 'HELLO' });

          await handle.signal(release);
          expect(await handle.result()).toEqual({ phase: 'released', workerPid: process.pid, echoed: 'HELLO' });
          const description = await handle.describe();
          expect(description.status.name).toBe('COMPLETED');
          expect(description.taskQueue).toBe(taskQueue);
        },
      );
    } finally {
      await close();
    }
  });

  it("has the project search attributes registered on the server: the default namespace and this file's", async () => {
    const { client, close } = await connectClient();
    try {
      for (const namespace of ['default', testNamespace()]) {
        const response = await client.connection.operatorService.listSearchAttributes({ namespace });
        const custom = response.customAttributes ?? {};
        for (const key of SEARCH_ATTRIBUTES) expect(Object.keys(custom), namespace).toContain(key.name);
      }
    } finally {
      await close();
    }
  });
});

describe('the benchmarks', () => {
  it('load the test helpers they use without vitest (bench/ runs them with plain node)', async () => {
    const helpers = ['test/helpers/estate', 'test/helpers/log-chain', 'bench/rig'].map((name) =>
      path.join(PROJECT_ROOT, 'dist', `${name}.js`),
    );
    const script = helpers.map((file) => `require(${JSON.stringify(file)});`).join('');
    await expect(promisify(execFile)(process.execPath, ['-e', script])).resolves.toBeDefined();
  });
});
