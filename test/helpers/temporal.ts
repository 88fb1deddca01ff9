/**
 * Test access to the run's real Temporal dev server: clients, unique task queues, and real workers running the
 * real workflow bundle (or a test workflow module).
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { inject } from 'vitest';
import { testNamespace } from './test-namespace';

export { testNamespace };

let runtimeInstalled = false;
function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  // Tests provoke failures on purpose: the worker's warnings about them would bury the test output.
  Runtime.install({ logger: new DefaultLogger(process.env.TEST_LOG_LEVEL === 'DEBUG' ? 'DEBUG' : 'ERROR') });
}

export function temporalAddress(): string {
  return inject('temporalAddress');
}

/** A task queue no other test uses, named after what it is for. */
export function uniqueTaskQueue(label: string): string {
  return `test-${label.replace(/[^A-Za-z0-9-]+/g, '-')}-${randomUUID().slice(0, 8)}`;
}

/**
 * A client of the run's dev server in this file's namespace, or of the server at `address` (a server of the test's
 * own, which has only the default namespace).
 */
export async function connectClient(address?: string): Promise<{ client: Client; close: () => Promise<void> }> {
  // Tests read whole histories, some of them flooded with megabyte payloads on purpose: past gRPC's 4 MB default.
  const connection = await Connection.connect({
    address: address ?? temporalAddress(),
    channelArgs: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 },
  });
  const namespace = address ? 'default' : testNamespace();
  return { client: new Client({ connection, namespace }), close: () => connection.close() };
}

export interface TestWorkerOptions {
  taskQueue: string;
  activities?: WorkerOptions['activities'];
  /** A test workflow module instead of the real bundle of workflows/index.ts. */
  workflowsPath?: string;
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
}

/** Runs a real worker on the dev server while `body` runs, then shuts it down. */
export async function withWorker<T>(options: TestWorkerOptions, body: (worker: Worker) => Promise<T>): Promise<T> {
  quietRuntime();
  const connection = await NativeConnection.connect({ address: temporalAddress() });
  try {
    const worker = await Worker.create({
      connection,
      namespace: testNamespace(),
      taskQueue: options.taskQueue,
      activities: options.activities,
      ...(options.workflowsPath
        ? { workflowsPath: options.workflowsPath }
        : { workflowBundle: { codePath: inject('workflowBundlePath') } }),
      shutdownGraceTime: options.shutdownGraceTime ?? '5s',
    });
    return await worker.runUntil(body(worker));
  } finally {
    await connection.close();
  }
}
