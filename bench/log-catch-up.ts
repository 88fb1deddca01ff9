/**
 * Catching up a backup database: N pending log backups applied by the applyPendingLogs activity (sorting, skip
 * checks, heartbeats, classification) versus a plain loop of RESTORE LOG calls on one mssql connection — with
 * mssql's defaults (a SELECT 1 validates every acquired connection), and with the socket-only validation the
 * activities use, which isolates the activity's own overhead. All run against copies of the same RESTORING database
 * in the same process, twice, in rotating order (the simulator's state grows as it goes, so later runs pay a little
 * more); ratios compare the totals. Target: the activity within 1.2x of the plain loop.
 *
 *   npm run build && node dist/bench/log-catch-up.js [N]
 */
import type sql from 'mssql';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createActivities } from '../activities';
import { realDependencies } from '../activities/dependencies';
import { EstateRegistry } from '../activities/estates';
import type { PendingLog } from '../contracts/log-shipping';
import { resolveSecret } from '../topology/secrets';
import { startTestEstate, type TestEstate } from '../test/helpers/estate';
import { seedLogChain } from '../test/helpers/log-chain';

async function plainLoop(
  env: TestEstate,
  instance: string,
  logs: PendingLog[],
  validation: true | 'socket',
): Promise<number> {
  const pool = await env.connect(instance, {
    pool: { min: 1, max: 1 },
    validateConnection: validation,
  } as Partial<sql.config>);
  const started = process.hrtime.bigint();
  for (const log of logs)
    await pool.request().input('file', log.file).query('RESTORE LOG [mgc] FROM DISK = @file WITH NORECOVERY');
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await pool.close();
  return seconds;
}

async function activity(env: TestEstate, instance: string, logs: PendingLog[]): Promise<number> {
  const deps = realDependencies({ estates: EstateRegistry.open([env.topologyFile]), resolveSecret });
  const { applyPendingLogs } = createActivities(deps);
  const target = env.topology.instances.find((candidate) => candidate.name === instance)!;
  const environment = new MockActivityEnvironment(
    { heartbeatTimeoutMs: 60_000 },
    { logger: new DefaultLogger('ERROR') },
  );
  const started = process.hrtime.bigint();
  await environment.run(applyPendingLogs, { instance: target, database: 'mgc', logs });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await deps.sql.closeAll();
  return seconds;
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 1000);
  const env = await startTestEstate();
  try {
    process.stdout.write(`seeding ${count} log backups ...\n`);
    const { logs, full } = await seedLogChain(env, count);
    const reseed = (instance: string) =>
      env.query(instance, 'RESTORE DATABASE [mgc] FROM DISK = @full WITH REPLACE, NORECOVERY', { full });
    await env.query('dc2-sql-b', 'RESTORE DATABASE [mgc] FROM DISK = @full WITH NORECOVERY', { full });
    await env.query('dc1-sql-b', 'ALTER DATABASE [mgc] SET PARTNER OFF');
    await reseed('dc1-sql-b');

    // Three targets, one per method; each round rotates who goes first.
    const methods = [
      {
        name: 'plain loop, mssql defaults',
        instance: 'dc2-sql-b',
        run: (instance: string) => plainLoop(env, instance, logs, true),
      },
      {
        name: 'plain loop, socket validation',
        instance: 'dc1-sql-b',
        run: (instance: string) => plainLoop(env, instance, logs, 'socket'),
      },
      {
        name: 'applyPendingLogs activity',
        instance: 'dc2-sql-a',
        run: (instance: string) => activity(env, instance, logs),
      },
    ];
    const totals = new Map(methods.map((method) => [method.name, 0]));
    for (let round = 0; round < methods.length; round++) {
      if (round > 0) for (const method of methods) await reseed(method.instance);
      for (let index = 0; index < methods.length; index++) {
        const method = methods[(index + round) % methods.length];
        totals.set(method.name, totals.get(method.name)! + (await method.run(method.instance)));
      }
    }

    const activitySeconds = totals.get('applyPendingLogs activity')!;
    console.log(`applying ${count} pending log backups, ${methods.length} rounds in rotating order`);
    for (const [name, seconds] of totals) {
      console.log(
        `  ${name.padEnd(31)} ${seconds.toFixed(2)} s  ${((methods.length * count) / seconds).toFixed(0).padStart(5)} logs/s`,
      );
    }
    console.log(
      `  ratio activity / plain loop (mssql defaults):    ${(activitySeconds / totals.get('plain loop, mssql defaults')!).toFixed(2)}x (target ≤ 1.2x)`,
    );
    console.log(
      `  ratio activity / plain loop (socket validation): ${(activitySeconds / totals.get('plain loop, socket validation')!).toFixed(2)}x (the activity's own overhead)`,
    );
  } finally {
    await env.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
