/**
 * Runbooks under test: a simulated estate, a real worker (the real workflow bundle, the real activities over mssql,
 * the file system and the stand-in shell) on the run's Temporal dev server, and a client to start runs and answer
 * their gates as people do (updates and signals).
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { realDependencies } from '../../activities/dependencies';
import { EstateRegistry } from '../../activities/estates';
import { resolveSecret } from '../../topology/secrets';
import { startStatementOf, WORKFLOW_TYPES, type RunbookName, type RunbookInput } from '../../contracts/runbooks';
import { approveUpdate, pendingGatesQuery, progressQuery, type ApproveMessage } from '../../contracts/messages';
import type { PendingGate, Progress, RunbookReport } from '../../contracts/run-record';
import type { SignaturePart, Statement } from '../../contracts/statements';
import { eventually, startTestEstate, type TestEstate } from './estate';
import { connectClient, uniqueTaskQueue, withWorker } from './temporal';

export interface RunbookHarness {
  env: TestEstate;
  client: Client;
  taskQueue: string;
  /** Starts a runbook on the estate's topology. */
  start<O extends object>(
    runbook: RunbookName,
    options?: O,
    extra?: Partial<RunbookInput<O>> & { workflowId?: string },
  ): Promise<WorkflowHandle>;
  /** Runs `body` while a real worker serves the task queue (in this process). */
  withWorker<T>(body: (worker: Worker) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * Every harness has a pool of its own (a unique FQDN), because the pool's incident lock lives on the shared dev
 * server: a run left open by one test must not block the next.
 */
export async function runbookHarness(
  options: {
    edit?: (yaml: string) => string;
    label?: string;
    address?: string;
    /** A signed estate: signs each start as its initiator (unless the test gives a signature of its own). */
    signStart?: (statement: Omit<Statement, 'time'>) => Promise<SignaturePart>;
  } = {},
): Promise<RunbookHarness> {
  const taskQueue = uniqueTaskQueue(options.label ?? 'runbook');
  const fqdn = `${taskQueue.toLowerCase()}.sim.local`;
  const env = await startTestEstate({
    edit: (yaml) => (options.edit ?? ((text: string) => text))(yaml.replaceAll('pchat.sim.local', fqdn)),
  });
  const { client, close } = await connectClient(options.address);
  const started: WorkflowHandle[] = [];
  // The worker serves the test's estate file: runs name only its pool (docs/runbooks.md rule 8).
  const deps = realDependencies({ estates: EstateRegistry.open([env.topologyFile]), resolveSecret });
  let runs = 0;
  return {
    env,
    client,
    taskQueue,
    start: async (runbook, runOptions, extra = {}) => {
      const { workflowId, ...rest } = extra;
      const input: RunbookInput = {
        pool: env.topology.pool.fqdn,
        initiator: 'erin',
        reason: `test ${runbook}`,
        options: runOptions ?? {},
        ...rest,
      };
      const id = workflowId ?? `${taskQueue}-${runbook}-${++runs}`;
      if (options.signStart && !input.signature)
        input.signature = await options.signStart(startStatementOf(runbook, input, client.options.namespace, id));
      const handle = await client.workflow.start(WORKFLOW_TYPES[runbook], {
        taskQueue,
        workflowId: id,
        args: [input],
      });
      started.push(handle);
      return handle;
    },
    withWorker: (body) => withWorker({ taskQueue, activities: createActivities(deps) }, body),
    close: async () => {
      // A failed test may leave a run waiting at a gate: end it, so nothing of this test lingers on the server.
      await Promise.all(started.map((handle) => handle.terminate('test finished').catch(() => undefined)));
      deps.poolControl.closeAll?.();
      await deps.sql.closeAll();
      await close();
      await env.close();
    },
  };
}

/** Waits until the run waits on a gate with this name (or id), and returns it as the CLI sees it. */
export async function gateOpen(handle: WorkflowHandle, gate: string, timeoutMs = 30_000): Promise<PendingGate> {
  try {
    return await eventually(
      async () =>
        (await handle.query(pendingGatesQuery)).find((pending) => pending.gate === gate || pending.id === gate),
      timeoutMs,
      `gate ${gate} to open on ${handle.workflowId}`,
    );
  } catch (error) {
    // Say where the run is instead: which gate it waits on, which step failed and why.
    const describe = async (run: WorkflowHandle): Promise<string> => {
      const now = await run.query(progressQuery).catch(() => null);
      const failed = now?.steps
        .filter((step) => step.failure)
        .map((step) => `${step.name}: ${step.failure!.type} ${step.failure!.message}`);
      const children = await Promise.all(
        (now?.children ?? [])
          .filter((child) => !child.outcome)
          .map((child) => describe(run.client.getHandle(child.workflowId))),
      );
      return `${run.workflowId} is ${now?.outcome} in phase ${now?.phase}, open gates: ${now?.openGates.map((open) => open.id).join(', ') || 'none'}; failed steps: ${failed?.join(' | ') || 'none'}; ${now?.outcomeReason ?? ''}${children.map((child) => `\n  child ${child}`).join('')}`;
    };
    throw new Error(`${(error as Error).message}; ${await describe(handle)}`);
  }
}

/**
 * Approves through the update (as the CLI does): naming the evidence version the gate shows now, unless the test
 * names one; the result says whether it counted.
 */
export async function approve(handle: WorkflowHandle, gate: string, by: string, extra: Partial<ApproveMessage> = {}) {
  const evidenceVersion =
    extra.evidenceVersion ??
    (await handle.query(pendingGatesQuery)).find((pending) => pending.id === gate || pending.gate === gate)?.evidence
      ?.version ??
    'none';
  return handle.executeUpdate(approveUpdate, { args: [{ gate, by, evidenceVersion, ...extra }] });
}

/** The update's refusal message, or null when it counted. */
export async function refusal(attempt: Promise<unknown>): Promise<string | null> {
  try {
    await attempt;
    return null;
  } catch (error) {
    let cause: unknown = error;
    while ((cause as { cause?: unknown }).cause) cause = (cause as { cause: unknown }).cause;
    return (cause as Error).message;
  }
}

export async function progress(handle: WorkflowHandle): Promise<Progress> {
  return handle.query(progressQuery);
}

export async function result(handle: WorkflowHandle): Promise<RunbookReport> {
  return (await handle.result()) as RunbookReport;
}

/** A step of the report by name (the first run of it). */
export function stepOf(report: { steps: RunbookReport['steps'] }, name: string) {
  const step = report.steps.find((candidate) => candidate.name === name);
  if (!step) throw new Error(`no step ${name} in ${report.steps.map((candidate) => candidate.name).join(', ')}`);
  return step;
}
