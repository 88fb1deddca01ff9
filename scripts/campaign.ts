/**
 * `npm run campaign`: the fault campaign (docs/reliability.md). Starts a Temporal dev server (or uses
 * --address), runs every cell (runbook × step × fault) and prints the matrix and the totals; exits 1 when a cell
 * is violated.
 *
 *   npm run campaign -- [--scenario failover-planned] [--fault partition] [--step apply-logs] [--cell s/step/fault]
 *                       [--concurrency 4] [--cell-timeout 420] [--address host:port] [--keep] [--json file]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Command } from 'commander';
import { PROJECT_ROOT } from '../runtime/package';
import { FAULT_KINDS, type FaultKind } from '../test/campaign/faults';
import { formatMatrix } from '../test/campaign/results';
import { runCampaign } from '../test/campaign/runner';
import { SCENARIO_NAMES, type ScenarioName } from '../test/campaign/scenarios';
import { startDevServer, type DevServer } from './dev-server';
import { ensureTemporalCli } from './temporal-cli';

const list = (value: string, previous: string[] = []) => [...previous, ...value.split(',')];

async function main(): Promise<number> {
  const program = new Command('campaign')
    .option('--scenario <name>', `only these scenarios (${SCENARIO_NAMES.join(', ')})`, list)
    .option('--fault <kind>', `only these faults (${FAULT_KINDS.join(', ')})`, list)
    .option('--step <name>', 'only these steps', list)
    .option('--cell <scenario/step/fault>', 'only these cells', list)
    .option('--concurrency <n>', 'cells at a time', '4')
    .option('--cell-timeout <seconds>', 'how long a run may take before it counts as not ending', '420')
    .option('--address <host:port>', 'a Temporal server with the search attributes (default: start a dev server)')
    .option('--keep', 'keep the estates in the work folder')
    .option('--json <file>', 'also write every cell as JSON')
    .parse();
  const options = program.opts<{
    scenario?: string[];
    fault?: string[];
    step?: string[];
    cell?: string[];
    concurrency: string;
    cellTimeout: string;
    address?: string;
    keep?: boolean;
    json?: string;
  }>();
  for (const name of options.scenario ?? [])
    if (!SCENARIO_NAMES.includes(name as ScenarioName)) throw new Error(`no scenario ${name}`);
  for (const kind of options.fault ?? [])
    if (!FAULT_KINDS.includes(kind as FaultKind)) throw new Error(`no fault kind ${kind}`);

  let server: DevServer | undefined;
  let address = options.address;
  if (!address) {
    server = await startDevServer({
      cli: await ensureTemporalCli(),
      logFile: path.join(PROJECT_ROOT, '.tmp', 'campaign', 'temporal-dev-server.log'),
    });
    address = server.address;
  }
  // Interrupted, the dev server it started and the estates go too.
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'pchat-campaign-'));
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      if (!options.keep) rmSync(workDir, { recursive: true, force: true });
      void (server?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
    });
  const connection = await Connection.connect({
    address,
    channelArgs: { 'grpc.max_receive_message_length': 64 * 1024 * 1024 },
  });
  try {
    const say = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
    say(`Temporal at ${address}`);
    const result = await runCampaign({
      client: new Client({ connection }),
      address,
      workflowBundle: path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js'),
      scenarios: options.scenario as ScenarioName[] | undefined,
      faults: options.fault as FaultKind[] | undefined,
      steps: options.step,
      cells: options.cell,
      concurrency: Number(options.concurrency),
      cellTimeoutMs: Number(options.cellTimeout) * 1000,
      workDir,
      keep: options.keep,
      log: say,
    });
    process.stdout.write(`${formatMatrix(result)}\n`);
    if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
    return result.cells.some((cell) => cell.status === 'violated') ? 1 : 0;
  } finally {
    await connection.close();
    await server?.stop();
    if (!options.keep) rmSync(workDir, { recursive: true, force: true });
    else process.stdout.write(`estates kept in ${workDir}\n`);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`campaign: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
