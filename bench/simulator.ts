/**
 * Simulator throughput: round trips per second of a trivial query (SELECT 1 through sp_executesql, as mssql sends
 * every query) on one connection, and on 10 connections at once, measured in the same run. Prints figures and their
 * ratio; the machine is shared and noisy, so only the ratio within one run means much.
 *
 *   npm run build && node dist/bench/simulator.js [queries-per-connection]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sql from 'mssql';
import { loadTopology } from '../topology/load';
import { resolveSecret } from '../topology/secrets';
import { SimulatedEstate } from '../simulator/estate';
import { writeSimulatedTopology } from '../test/helpers/estate';

async function roundTrips(
  pools: sql.ConnectionPool[],
  perConnection: number,
): Promise<{ queries: number; seconds: number }> {
  const started = process.hrtime.bigint();
  await Promise.all(
    pools.map(async (pool) => {
      for (let index = 0; index < perConnection; index++) await pool.request().query('SELECT 1 AS one');
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { queries: pools.length * perConnection, seconds };
}

async function main(): Promise<void> {
  const perConnection = Number(process.argv[2] ?? 2000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-bench-'));
  const { file, topology } = loadTopology(await writeSimulatedTopology(dir));
  const estate = await SimulatedEstate.start({ topology, topologyFile: file, stateDir: path.join(dir, '.sim') });
  const instance = topology.instances[0];
  const connect = () =>
    new sql.ConnectionPool({
      server: instance.host,
      port: instance.port,
      user: instance.login,
      password: resolveSecret(instance.password),
      options: { encrypt: false },
      pool: { min: 1, max: 1 },
    }).connect();
  try {
    const pools = await Promise.all(Array.from({ length: 10 }, connect));
    await roundTrips(pools, 50); // warm-up: JIT, pools filled
    const one = await roundTrips(pools.slice(0, 1), perConnection);
    const ten = await roundTrips(pools, perConnection);
    const rate = (run: { queries: number; seconds: number }) => run.queries / run.seconds;
    console.log(`simulator round trips (SELECT 1 via sp_executesql, ${perConnection} per connection)`);
    console.log(
      `  1 connection:   ${one.queries} queries in ${one.seconds.toFixed(2)} s = ${rate(one).toFixed(0)} round trips/s`,
    );
    console.log(
      `  10 connections: ${ten.queries} queries in ${ten.seconds.toFixed(2)} s = ${rate(ten).toFixed(0)} round trips/s`,
    );
    console.log(`  ratio 10 / 1:   ${(rate(ten) / rate(one)).toFixed(2)}x`);
    await Promise.all(pools.map((pool) => pool.close()));
  } finally {
    await estate.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
