/**
 * Runbooks in the Temporal Web UI without the pool-lock workflows: `pchat-dr list` prints each run's UI link and the
 * UI's list of the same runs when a UI address is configured (--ui, PCHAT_DR_UI_URL), and the visibility query that
 * docs/operations.md gives for a saved view is the one `list` uses and, run by Temporal, leaves the locks out.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listQuery } from '../../client/commands/list';
import { POOL, RUNBOOK } from '../../contracts/search-attributes';
import { PROJECT_ROOT } from '../../runtime/package';
import { runCli } from '../helpers/cli';
import { eventually } from '../helpers/estate';
import { connectClient, temporalAddress, testNamespace, uniqueTaskQueue } from '../helpers/temporal';
import { expectOneLineError } from './cli-env';

const pool = `pchat-ui-${randomUUID().slice(0, 8)}.test.local`;
const taskQueue = uniqueTaskQueue('web-ui');
const namespace = testNamespace();
const env = { TEMPORAL_ADDRESS: temporalAddress(), TEMPORAL_NAMESPACE: namespace, PCHAT_DR_UI_URL: '' };
let client: Client;
let close: () => Promise<void>;
let runbook: WorkflowHandleWithFirstExecutionRunId;
let lock: WorkflowHandleWithFirstExecutionRunId;

beforeAll(async () => {
  ({ client, close } = await connectClient());
  // No worker serves this task queue: the runs stay open with the search attributes they started with, enough for
  // visibility. The lock carries the same attributes as its runbook, the worst case for a filter.
  const attributes = [
    { key: POOL, value: pool },
    { key: RUNBOOK, value: 'failover' },
  ];
  runbook = await client.workflow.start('failover', {
    taskQueue,
    workflowId: `failover-${pool}-ui`,
    args: [{}],
    typedSearchAttributes: attributes,
  });
  lock = await client.workflow.start('poolLock', {
    taskQueue,
    workflowId: `pchat-dr-lock:${pool}`,
    args: [{}],
    typedSearchAttributes: attributes,
  });
  await eventually(
    async () => {
      let seen = 0;
      for await (const execution of client.workflow.list({ query: `PchatPool = '${pool}'` })) seen += execution ? 1 : 0;
      return seen === 2 ? seen : null;
    },
    15_000,
    'both runs in the visibility store',
  );
});

afterAll(async () => {
  for (const handle of [runbook, lock]) await handle?.terminate('test over').catch(() => undefined);
  await close?.();
});

describe('the Web UI and pchat-dr list', () => {
  it("prints each run's UI link and the UI's runbooks-only list with --ui; none without a UI address", async () => {
    const runId = runbook.firstExecutionRunId;
    const withUi = await runCli(['list', '--pool', pool, '--ui', 'http://127.0.0.1:8233/'], { env });
    expect(withUi.code, withUi.stderr).toBe(0);
    const lines = withUi.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+RUNBOOK\s+POOL\s+STATUS\s+PHASE\s+AWAITING\s+STARTED\s+WEB UI$/);
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(
      new RegExp(
        `^failover-${pool.replace(/\./g, '\\.')}-ui\\s+failover\\s.*\\shttp://127\\.0\\.0\\.1:8233/namespaces/${namespace}/workflows/failover-${pool.replace(/\./g, '\\.')}-ui/${runId}/history$`,
      ),
    );
    const footer = /^In the Web UI \(runbooks only, no lock workflows\): (\S+)$/.exec(lines[2]);
    expect(footer, lines[2]).not.toBeNull();
    const link = new URL(footer![1]);
    expect(`${link.origin}${link.pathname}`).toBe(`http://127.0.0.1:8233/namespaces/${namespace}/workflows`);
    expect(link.searchParams.get('query')).toBe(listQuery({ pool }));

    // The same from PCHAT_DR_UI_URL, and in JSON; the lock is never listed.
    const json = await runCli(['list', '--pool', pool, '-o', 'json'], {
      env: { ...env, PCHAT_DR_UI_URL: 'https://temporal-ui.example.net/ui' },
    });
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({
        workflowId: runbook.workflowId,
        uiUrl: `https://temporal-ui.example.net/ui/namespaces/${namespace}/workflows/${encodeURIComponent(runbook.workflowId)}/${runId}/history`,
      }),
    ]);

    const plain = await runCli(['list', '--pool', pool], { env });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toMatch(/WEB UI|In the Web UI|http/);
    expect(JSON.parse((await runCli(['list', '--pool', pool, '-o', 'json'], { env })).stdout)).toEqual([
      expect.objectContaining({ workflowId: runbook.workflowId, uiUrl: null }),
    ]);
  });

  it('refuses a UI address that is not http(s), in one line, exit 2', async () => {
    expectOneLineError(
      await runCli(['list', '--ui', 'temporal-ui:8080'], { env }),
      2,
      /^--ui temporal-ui:8080: give the Temporal Web UI's address, e\.g\. http:\/\/127\.0\.0\.1:8233$/,
    );
  });

  it("documents the saved view's query as the one list uses, and Temporal answers it without the locks", async () => {
    const documented = readFileSync(path.join(PROJECT_ROOT, 'docs', 'operations.md'), 'utf8');
    expect(documented).toContain(`\n${listQuery({})}\n`);
    const found: string[] = [];
    for await (const execution of client.workflow.list({ query: `${listQuery({})} AND PchatPool = '${pool}'` }))
      found.push(execution.workflowId);
    expect(found).toEqual([runbook.workflowId]);
  });
});
