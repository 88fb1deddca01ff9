/**
 * Versioning (DESIGN: changing a workflow that may be running): recorded histories of every runbook replay against
 * today's workflow bundle, so a change that would break runs in flight fails the build; and the mechanism is shown
 * to bite: reordering two steps without patched() fails the replay of a run recorded before, with patched() it passes.
 *
 * Re-record the histories (npm run record-histories) only for a change no running workflow can meet, and say so.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../activities';
import { realDependencies } from '../../activities/dependencies';
import { EstateRegistry } from '../../activities/estates';
import { PROJECT_ROOT } from '../../runtime/package';
import { loadTopology } from '../../topology/load';
import { RUNBOOK_NAMES } from '../../contracts/runbooks';
import { HISTORIES, recordedWorkflowIds, WORKFLOW_IDS } from '../helpers/histories';
import { connectClient, uniqueTaskQueue, withWorker } from '../helpers/temporal';

const recorded = readdirSync(HISTORIES)
  .filter((name) => name.endsWith('.json') && name !== path.basename(WORKFLOW_IDS))
  .sort();
const workflowIds = recordedWorkflowIds();

describe('recorded runbook histories', () => {
  it('cover every runbook', () => {
    const runbooks = new Set(
      recorded.map(
        (name) =>
          JSON.parse(readFileSync(path.join(HISTORIES, name), 'utf8')).events[0].workflowExecutionStartedEventAttributes
            .workflowType.name as string,
      ),
    );
    expect([...runbooks].sort()).toEqual(
      [
        'failback',
        'failover',
        'mirrorFailover',
        'setupLogShipping',
        'setupMirrorLogShipping',
        ...(RUNBOOK_NAMES.includes('drill') ? ['drill'] : []),
      ].sort(),
    );
  });

  it.each(recorded)('%s replays against the current workflows', async (name) => {
    const history = historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES, name), 'utf8')));
    expect(workflowIds[name], `${name} has no workflow id in ${path.basename(WORKFLOW_IDS)}`).toBeTruthy();
    await Worker.runReplayHistory(
      { workflowBundle: { codePath: inject('workflowBundlePath') } },
      history,
      workflowIds[name],
    );
  });
});

const EXAMPLE = path.join(PROJECT_ROOT, 'examples', 'simulated.yaml');

describe('changing a step order', () => {
  it('fails the replay of an earlier run without patched(), and passes with it', async () => {
    const fixture = (file: string) => path.join(__dirname, 'fixtures', file);
    const { topology } = loadTopology(EXAMPLE);
    const taskQueue = uniqueTaskQueue('step-order');
    const { client, close } = await connectClient();
    const deps = realDependencies({ estates: EstateRegistry.open([EXAMPLE]) });
    let history;
    try {
      history = await withWorker(
        { taskQueue, activities: createActivities(deps), workflowsPath: fixture('step-order-v1.ts') },
        async () => {
          const handle = await client.workflow.start('stepOrderProbe', {
            taskQueue,
            workflowId: taskQueue,
            args: [{ pool: topology.pool.fqdn, initiator: 'erin', reason: 'versioning test' }],
          });
          expect((await handle.result()).outcome).toBe('succeeded');
          return handle.fetchHistory();
        },
      );
    } finally {
      await deps.sql.closeAll();
      await close();
    }
    const bundle = async (file: string) => ({
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: fixture(file),
        logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} },
      }),
    });
    await expect(Worker.runReplayHistory(await bundle('step-order-v2-reordered.ts'), history)).rejects.toBeInstanceOf(
      DeterminismViolationError,
    );
    await Worker.runReplayHistory(await bundle('step-order-v3-patched.ts'), history);
  });
});
