/**
 * Once per test run: a real Temporal dev server (with pchat-dr's search attributes) and the real workflow bundle.
 * Tests read both through inject() (see test/helpers/temporal.ts). Files run in parallel, each vitest worker in a
 * namespace of its own (testNamespace()): runs, schedules and list queries of one file never meet another's.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { startDevServer } from '../../scripts/dev-server';
import { PROJECT_ROOT } from '../../runtime/package';
import { SimulatedEstate } from '../../simulator/estate';
import { writeSimulatedTopology } from '../../simulator/example-topology';
import { loadTopology } from '../../topology/load';
import { ensureTemporalCli } from '../../scripts/temporal-cli';
import { ESTATE_CERTIFICATES } from './estate';
import { testNamespaceOf } from './test-namespace';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    workflowBundlePath: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const scratch = path.join(PROJECT_ROOT, '.tmp', 'test');
  mkdirSync(scratch, { recursive: true });
  const cli = await ensureTemporalCli();
  const workers = Math.max(1, project.globalConfig.maxWorkers);
  // The server starts in its own process while this one bundles the workflows: the start before any test is shorter.
  const starting = startDevServer({
    cli,
    logFile: path.join(scratch, 'temporal-dev-server.log'),
    namespaces: Array.from({ length: workers }, (_, index) => testNamespaceOf(index + 1)),
  });
  starting.catch(() => undefined); // awaited below; a failure is reported there, not as an unhandled rejection
  const bundle = await bundleWorkflowCode({
    workflowsPath: path.join(PROJECT_ROOT, 'workflows', 'index.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  }).catch(async (error: unknown) => {
    await (await starting).stop();
    throw error;
  });
  const bundlePath = path.join(scratch, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  const server = await starting;
  process.stderr.write(`Temporal dev server for this test run: ${server.address}\n`);

  // Through the environment, which the test processes inherit: benchmarks start estates outside vitest.
  process.env[ESTATE_CERTIFICATES] = await estateCertificates(path.join(scratch, 'estate-certificates'));
  project.provide('temporalAddress', server.address);
  project.provide('workflowBundlePath', bundlePath);
  return () => server.stop();
}

/**
 * The CA and instance certificates of the simulated example, made once for the run: test estates start with a copy
 * (test/helpers/estate.ts), as making five RSA keys is most of an estate's start. Returns the tls/ folder.
 */
async function estateCertificates(dir: string): Promise<string> {
  rmSync(dir, { recursive: true, force: true });
  const { file, topology } = loadTopology(await writeSimulatedTopology(dir));
  const stateDir = path.join(dir, '.sim');
  const estate = await SimulatedEstate.start({ topology, topologyFile: file, stateDir });
  await estate.close();
  return path.join(stateDir, 'tls');
}
