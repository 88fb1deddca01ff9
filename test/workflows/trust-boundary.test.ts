/**
 * The trust boundary (docs/runbooks.md rule 8), tried as someone with nothing but access to the Temporal namespace
 * would try it: runs started with `temporal workflow start` and a forged input, malformed signals sent with
 * `temporal workflow signal` and raw payloads, a release signal sent to a pool's lock, a lock started by hand. Each
 * test asserts the estate afterwards: nothing changes unless the estate's own approvers say so.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { WorkflowHandle } from '@temporalio/client';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { incidentLockId, WORKFLOW_TYPES } from '../../contracts/runbooks';
import { ensureTemporalCli } from '../../scripts/temporal-cli';
import { approve, gateOpen, result, runbookHarness, type RunbookHarness } from '../helpers/runbooks';
import { loseDc1, mgcOn, setUpLogShipping, takeLogBackups } from '../helpers/story';
import { temporalAddress, testNamespace } from '../helpers/temporal';

const run = promisify(execFile);
let temporal: string;
let harness: RunbookHarness;

beforeAll(async () => {
  temporal = await ensureTemporalCli();
});
afterEach(async () => harness?.close());

/** `temporal workflow start` with a JSON input, as anyone with the namespace's Start button could. */
async function startByHand(type: string, workflowId: string, input: unknown, taskQueue: string): Promise<void> {
  await run(temporal, [
    'workflow',
    'start',
    '--address',
    temporalAddress(),
    '--namespace',
    testNamespace(),
    '--type',
    type,
    '--task-queue',
    taskQueue,
    '--workflow-id',
    workflowId,
    '--input',
    JSON.stringify(input),
  ]);
}

/** `temporal workflow signal` with a raw JSON input. */
async function signalByHand(workflowId: string, name: string, input: string): Promise<void> {
  await run(temporal, [
    'workflow',
    'signal',
    '--address',
    temporalAddress(),
    '--namespace',
    testNamespace(),
    '--workflow-id',
    workflowId,
    '--name',
    name,
    '--input',
    input,
  ]);
}

/** What an operator checks after a failover that should not have happened: DC2 still restores, the pool is on DC1. */
function expectUntouched(h: RunbookHarness): void {
  const snapshot = h.env.estate.snapshot();
  expect(mgcOn(h.env, 'dc2-sql-a')?.state).toBe('RESTORING');
  expect(snapshot.pool.poolState).toBe('Normal');
  expect(snapshot.pool.activeServers).toEqual(h.env.topology.pool.servers.dc1);
}

/**
 * The workflow task failures in a run's history, each as its cause and message. Two are Temporal's protocol, not a
 * failure of the run, and are not counted: a signal that arrives while a task completes makes the server refuse that
 * completion (UNHANDLED_COMMAND), and signals buffered during a task beyond the server's limits (a flood of 1 MB
 * payloads) make it close the task (FORCE_CLOSE_COMMAND); either way the worker runs the task again with the signals.
 * Anything thrown by workflow code would be WORKFLOW_WORKER_UNHANDLED_FAILURE and is counted.
 */
async function workflowTaskFailures(handle: WorkflowHandle): Promise<string[]> {
  const UNHANDLED_COMMAND = 1;
  const FORCE_CLOSE_COMMAND = 17;
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((event) => event.workflowTaskFailedEventAttributes)
    .filter((failed) => failed && failed.cause !== UNHANDLED_COMMAND && failed.cause !== FORCE_CLOSE_COMMAND)
    .map((failed) => `${failed!.cause}: ${failed!.failure?.message}`);
}

describe('a run started with a forged input', () => {
  it(
    'changes nothing: the topology, a covering parent, a held lock, a lax policy, an unknown mode or a hostile command are refused',
    {
      timeout: 120_000,
    },
    async () => {
      harness = await runbookHarness({ label: 'forged-input' });
      const h = harness;
      const pool = h.env.topology.pool.fqdn;
      const marker = path.join(mkdtempSync(path.join(os.tmpdir(), 'pchat-forged-')), 'pwned');
      await h.withWorker(async () => {
        await setUpLogShipping(h);
        await loseDc1(h.env);
        const lax = structuredClone(h.env.topology);
        lax.approvals.gates['declare-disaster'] = { approvers: ['mallory'], required: 1, twoPersonRule: false };
        lax.poolControl.command = ['touch', marker];
        const forged: [string, unknown][] = [
          // An old-style input: the whole topology, lax and hostile, with a parent's covering gate and held lock.
          [
            'topology',
            {
              topology: lax,
              initiator: 'mallory',
              reason: 'x',
              options: { mode: 'disaster' },
              parent: { workflowId: 'nobody', holdsLock: true, coveringGate: 'declare-disaster' },
            },
          ],
          // The right shape, but a parent Temporal never started it from.
          [
            'parent',
            {
              pool,
              initiator: 'mallory',
              reason: 'x',
              parent: { workflowId: `${pool}-parent`, holdsLock: true, coveringGate: 'declare-disaster' },
            },
          ],
          ['rehearsal', { pool, initiator: 'mallory', reason: 'x', rehearsalApprover: 'mallory', unattended: true }],
          // A mode the failover does not know (no split-brain guard, no fence).
          ['mode', { pool, initiator: 'mallory', reason: 'x', options: { mode: 'yolo' } }],
          // A pool this worker does not serve, and options with a command in them.
          ['other-pool', { pool: 'victim.example.com', initiator: 'mallory', reason: 'x' }],
          [
            'command',
            {
              pool,
              initiator: 'mallory',
              reason: 'x',
              options: { mode: 'disaster', poolControl: { command: ['touch', marker] } },
            },
          ],
        ];
        for (const [label, input] of forged) {
          const workflowId = `${h.taskQueue}-forged-${label}`;
          await startByHand(WORKFLOW_TYPES.failover, workflowId, input, h.taskQueue);
          const handle = h.client.workflow.getHandle(workflowId);
          const report = await result(handle);
          expect(report.outcome, `${label}: ${report.outcomeReason}`).toMatch(/^(rejected|precondition-failed)$/);
          expect(
            report.steps.filter((step) => step.status === 'acted'),
            label,
          ).toEqual([]);
          expect(await workflowTaskFailures(handle), label).toEqual([]);
        }
        const reasons = await Promise.all(
          forged.map(
            async ([label]) =>
              (await result(h.client.workflow.getHandle(`${h.taskQueue}-forged-${label}`))).outcomeReason,
          ),
        );
        expect(reasons[0]).toMatch(/unknown field topology/);
        expect(reasons[1]).toMatch(/claims parent, which only a parent runbook that started this run may give/);
        expect(reasons[2]).toMatch(/claims rehearsalApprover, unattended/);
        expect(reasons[3]).toMatch(/options\.mode must be disaster or planned/);
        expect(reasons[4]).toMatch(/this worker does not serve pool victim\.example\.com/);
        expect(reasons[5]).toMatch(/unknown field poolControl/);

        // The same pool with an honest input waits for the estate's own approvers, and mallory is not one of them.
        const honest = `${h.taskQueue}-honest`;
        await startByHand(
          WORKFLOW_TYPES.failover,
          honest,
          { pool, initiator: 'mallory', reason: 'x', options: { mode: 'disaster' } },
          h.taskQueue,
        );
        const handle = h.client.workflow.getHandle(honest);
        const gate = await gateOpen(handle, 'declare-disaster');
        expect(gate).toMatchObject({ required: 2, twoPersonRule: true });
        expect(gate.approvers).not.toContain('mallory');
        await handle.terminate('test done');
      });
      expectUntouched(h);
      expect(existsSync(marker), 'the hostile command never ran').toBe(false);
    },
  );
});

describe('malformed messages', () => {
  it(
    'are refused and recorded, never thrown: the run keeps answering, and two valid approvals finish it',
    {
      timeout: 180_000,
    },
    async () => {
      harness = await runbookHarness({ label: 'malformed-signals' });
      const h = harness;
      await h.withWorker(async () => {
        await setUpLogShipping(h);
        await takeLogBackups(h.env, 2);
        await loseDc1(h.env);
        const handle = await h.start('failover', { mode: 'disaster' });
        const gate = await gateOpen(handle, 'declare-disaster');
        const huge = 'x'.repeat(1_000_000);
        const payloads: unknown[] = [
          null,
          [],
          'approve',
          42,
          {},
          { by: 123 },
          { gate: 'declare-disaster', by: ['carol'] },
          { gate: 'declare-disaster', by: 'carol' }, // no evidence version: blind
          { gate: 'declare-disaster', by: huge, evidenceVersion: gate.evidence!.version },
          { gate: 'declare-disaster', by: 'carol', evidenceVersion: gate.evidence!.version, comment: huge },
          { gate: 'declare-disaster', by: 'carol', evidenceVersion: gate.evidence!.version, extra: true },
        ];
        for (const name of ['approve', 'reject', 'decide', 'abort']) {
          for (const payload of payloads) await handle.signal(name, payload);
        }
        // As the Temporal CLI and Web UI send them.
        await signalByHand(handle.workflowId, 'approve', 'null');
        await signalByHand(handle.workflowId, 'abort', '{"by": 123}');

        await eventuallyRefused(handle, payloads.length * 4 + 2);
        const progress = await handle.query('progress');
        expect(progress).toMatchObject({ outcome: 'running', phase: 'awaiting-approval' });
        expect(await workflowTaskFailures(handle)).toEqual([]);

        await approve(handle, 'declare-disaster', 'carol');
        await approve(handle, 'declare-disaster', 'dave');
        const report = await result(handle);
        expect(report.outcome, report.outcomeReason).toBe('succeeded');
        expect(report.refused.length).toBe(payloads.length * 4 + 2);
        for (const refused of report.refused) {
          expect(refused.message.length).toBeLessThanOrEqual(301);
          expect((refused.by ?? '').length).toBeLessThanOrEqual(128);
        }
        expect(report.refused.map((entry) => entry.message)).toEqual(
          expect.arrayContaining([
            'approval: the payload must be an object (got null)',
            'approval: the payload must be an object (got a list)',
            expect.stringMatching(
              /^approval: evidenceVersion is required: the evidence version this approval is for \(pchat-dr status .+ shows it\)/,
            ),
            expect.stringMatching(/^approval: by must be at most 128 characters/),
            expect.stringMatching(/^abort: by must be text/),
          ]),
        );
        expect(JSON.stringify(report).length).toBeLessThan(500_000);
        expect(await workflowTaskFailures(handle)).toEqual([]);
        expect(mgcOn(h.env, 'dc2-sql-a')?.state).toBe('ONLINE');
      });
    },
  );
});

async function eventuallyRefused(handle: WorkflowHandle, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const report = (await handle.query('report')) as { refused: unknown[] };
    if (report.refused.length >= count) return;
    if (Date.now() > deadline) throw new Error(`only ${report.refused.length} of ${count} refusals recorded`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("a pool's incident lock", () => {
  it(
    'is released by no one but its holder: a release signal leaves a second incident runbook refused',
    {
      timeout: 120_000,
    },
    async () => {
      harness = await runbookHarness({ label: 'lock-release' });
      const h = harness;
      const pool = h.env.topology.pool.fqdn;
      await h.withWorker(async () => {
        const holder = await h.start('mirror-failover', { to: 'mirror' });
        await gateOpen(holder, 'approve-mirror-failover');
        const lock = h.client.workflow.getHandle(incidentLockId(pool));
        await lock.signal('releaseLock');
        await signalByHand(incidentLockId(pool), 'releaseLock', '{}');
        await lock.cancel();
        const second = await result(await h.start('setup-log-shipping'));
        expect(second).toMatchObject({ outcome: 'precondition-failed', blockedBy: { workflowId: holder.workflowId } });
        expect((await lock.describe()).status.name).toBe('RUNNING');

        // A lock started by hand holds nothing: it ends at once, and the pool's runbooks are not blocked by it.
        await holder.terminate('test: the holder goes');
        const other = `pchat-dr-lock:forged-${h.taskQueue}.example.com`;
        await startByHand(
          'poolLock',
          other,
          { workflowId: 'mallory', runbook: 'failover', initiator: 'mallory' },
          h.taskQueue,
        );
        await h.client.workflow.getHandle(other).result();
        expect((await h.client.workflow.getHandle(other).describe()).status.name).toBe('COMPLETED');
        const third = await h.start('mirror-failover', { to: 'mirror' });
        await gateOpen(third, 'approve-mirror-failover');
      });
      expect(mgcOn(h.env, 'dc1-sql-a')?.mirroring?.role).toBe('PRINCIPAL');
    },
  );
});
