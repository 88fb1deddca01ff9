/**
 * What a run's step costs in the Temporal server alone: a chain of 20 trivial activities and a chain of 20 timers
 * of 1 ms, on a dev server with its own defaults and on one with the settings pchat-dr runs it with
 * (scripts/dev-server.ts, docs/operations.md): the queue reads of its one history shard uncapped, eager activities,
 * a short timer shift. Servers alternate round by round; medians of this one run.
 *
 *   npm run build && node dist/bench/step-latency.js [rounds, default 3]
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../scripts/dev-server';
import { ensureTemporalCli } from '../scripts/temporal-cli';
import { median } from './rig';

const STEPS = 20;

async function perStep(server: DevServer, workflow: 'activityChain' | 'timerChain', id: string): Promise<number> {
  const connection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  try {
    const worker = await Worker.create({
      connection,
      taskQueue: id,
      workflowsPath: require.resolve('./step-latency-workflows'),
      activities: { echo: async (value: number) => value },
    });
    return await worker.runUntil(async () => {
      await client.workflow.execute(workflow, { taskQueue: id, workflowId: `${id}-warm-up`, args: [2] });
      const started = performance.now();
      await client.workflow.execute(workflow, { taskQueue: id, workflowId: id, args: [STEPS] });
      return (performance.now() - started) / STEPS;
    });
  } finally {
    await client.connection.close();
    await connection.close();
  }
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const rounds = Number(process.argv[2] ?? 3);
  const cli = await ensureTemporalCli();
  const results = {
    defaults: { activity: [] as number[], timer: [] as number[] },
    pchatDr: { activity: [] as number[], timer: [] as number[] },
  };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? (['defaults', 'pchatDr'] as const) : (['pchatDr', 'defaults'] as const);
    for (const settings of order) {
      const server = await startDevServer({ cli, serverDefaults: settings === 'defaults' });
      try {
        results[settings].activity.push(await perStep(server, 'activityChain', `activities-${round}`));
        results[settings].timer.push(await perStep(server, 'timerChain', `timers-${round}`));
      } finally {
        await server.stop();
      }
      process.stderr.write(
        `  round ${round + 1}, ${settings}: ${results[settings].activity.at(-1)!.toFixed(1)} ms an activity, ${results[settings].timer.at(-1)!.toFixed(1)} ms a 1 ms timer\n`,
      );
    }
  }
  const ms = (values: number[]) => `${median(values).toFixed(1)} ms`;
  console.log(`\nA step of a chain of ${STEPS}, medians of ${rounds} rounds:`);
  console.log(
    `  server defaults:   activity ${ms(results.defaults.activity)}, 1 ms timer ${ms(results.defaults.timer)}`,
  );
  console.log(`  pchat-dr settings: activity ${ms(results.pchatDr.activity)}, 1 ms timer ${ms(results.pchatDr.timer)}`);
  console.log(
    `  defaults / pchat-dr settings: activity ${(median(results.defaults.activity) / median(results.pchatDr.activity)).toFixed(2)}x, timer ${(median(results.defaults.timer) / median(results.pchatDr.timer)).toFixed(2)}x`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
