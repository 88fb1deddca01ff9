/**
 * Simulator throughput: round trips per second of a parameterised SELECT 1 (`SELECT @one AS one` through
 * sp_executesql, as mssql sends every query) on one connection, next to a bare TDS responder on the same machine
 * that answers the same request with tokens encoded once in advance: what the protocol, the socket and the driver
 * cost here, with no SQL Server behind them. Both run in this process, as a test's estate runs in the test's. Then
 * the simulator on ten connections, and over TLS (encrypt: true, as the simulated example connects).
 *
 * Every figure comes from this one run; the machine is shared and noisy, so the ratios are what mean something.
 *
 *   npm run build && node dist/bench/simulator.js [queries-per-connection]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sql from 'mssql';
import { driverEncryption } from '../topology/encryption';
import { loadTopology } from '../topology/load';
import type { Instance } from '../topology/schema';
import { resolveSecret } from '../topology/secrets';
import { SimulatedEstate } from '../simulator/estate';
import { writeSimulatedTopology } from '../simulator/example-topology';
import { TdsVersion } from '../simulator/tds/data-types';
import { answerPrelogin, loginResponse } from '../simulator/tds/login';
import { DEFAULT_PACKET_SIZE, frameMessage, PacketType } from '../simulator/tds/packets';
import { TokenResponse } from '../simulator/tds/tokens';

const QUERY = 'SELECT @one AS one';

/** One pool of one connection; `validateConnection: 'socket'` so that a query is one round trip, as the worker's. */
async function connect(server: string, port: number, credentials: Partial<sql.config>): Promise<sql.ConnectionPool> {
  return new sql.ConnectionPool({
    server,
    port,
    user: 'sa',
    password: 'unused',
    ...credentials,
    validateConnection: 'socket',
    pool: { min: 1, max: 1 },
  } as sql.config).connect();
}

async function roundTrips(pools: sql.ConnectionPool[], perConnection: number): Promise<number> {
  const started = process.hrtime.bigint();
  await Promise.all(
    pools.map(async (pool) => {
      for (let index = 0; index < perConnection; index++) await pool.request().input('one', sql.Int, 1).query(QUERY);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return (pools.length * perConnection) / seconds;
}

/**
 * The bare responder: PRELOGIN, LOGIN7 and every request answered with bytes encoded once, by the simulator's own
 * encoders (so both send the same tokens); it only finds where each client message ends.
 */
async function startBareResponder(): Promise<net.Server> {
  const context = { tdsVersion: TdsVersion.v7_4, serverName: 'BARE' };
  const version = { major: 16, minor: 0, build: 4205 };
  const framed = (tokens: Buffer) => frameMessage(tokens, { packetSize: DEFAULT_PACKET_SIZE, spid: 55 });
  const login = framed(
    loginResponse(context, { database: 'master', packetSize: DEFAULT_PACKET_SIZE, serverVersion: version }),
  );
  const selectOne = new TokenResponse(context, []);
  selectOne.resultSet([{ name: 'one', type: { kind: 'int' } }], [[1]]);
  selectOne.returnStatus(0);
  const rpcAnswer = framed(selectOne.finish());
  const batchAnswer = framed(new TokenResponse(context).finish());

  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    let unread: Buffer = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      unread = unread.length === 0 ? chunk : Buffer.concat([unread, chunk]);
      while (unread.length >= 8 && unread.length >= unread.readUInt16BE(2)) {
        const length = unread.readUInt16BE(2);
        const [type, status] = [unread[0], unread[1]];
        const payload = unread.subarray(8, length);
        unread = unread.subarray(length);
        if (!(status & 0x01)) continue; // not the last packet of its message
        if (type === PacketType.prelogin) socket.write(framed(answerPrelogin(payload, version, false).response));
        else if (type === PacketType.login7) socket.write(login);
        else if (type === PacketType.sqlBatch) socket.write(batchAnswer);
        else socket.write(rpcAnswer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

function credentialsOf(instance: Instance, encrypted: boolean): Partial<sql.config> {
  return {
    user: instance.login,
    password: resolveSecret(instance.password),
    options: encrypted ? driverEncryption(instance) : { encrypt: false },
  };
}

async function main(): Promise<void> {
  const perConnection = Number(process.argv[2] ?? 5000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-bench-'));
  const { file, topology } = loadTopology(await writeSimulatedTopology(dir));
  const estate = await SimulatedEstate.start({ topology, topologyFile: file, stateDir: path.join(dir, '.sim') });
  const bare = await startBareResponder();
  const instance = topology.instances[0];
  try {
    const simulator = await connect(instance.host, instance.port!, credentialsOf(instance, false));
    const responder = await connect('127.0.0.1', (bare.address() as net.AddressInfo).port, {
      options: { encrypt: false },
    });
    const encrypted = await connect(instance.host, instance.port!, credentialsOf(instance, true));
    const ten = await Promise.all(
      Array.from({ length: 10 }, () => connect(instance.host, instance.port!, credentialsOf(instance, false))),
    );
    // Warm-up (JIT, pools filled), then each measurement in turn, alternating so that a noisy neighbour hits both.
    for (const pool of [simulator, responder, encrypted]) await roundTrips([pool], 500);
    const rates = { simulator: [] as number[], responder: [] as number[] };
    for (let round = 0; round < 3; round++) {
      rates.responder.push(await roundTrips([responder], Math.ceil(perConnection / 3)));
      rates.simulator.push(await roundTrips([simulator], Math.ceil(perConnection / 3)));
    }
    const best = (values: number[]) => Math.max(...values);
    const simulatorRate = best(rates.simulator);
    const responderRate = best(rates.responder);
    const encryptedRate = await roundTrips([encrypted], perConnection);
    const tenRate = await roundTrips(ten, Math.ceil(perConnection / 5));

    const row = (label: string, rate: number, note = '') =>
      console.log(`  ${label.padEnd(34)} ${rate.toFixed(0).padStart(6)} round trips/s${note}`);
    console.log(`${QUERY} with @one = 1 (sp_executesql through mssql), one round trip per query, best of 3 runs`);
    row('bare TDS responder, 1 connection', responderRate, '   (the protocol and the driver alone)');
    row('simulator, 1 connection', simulatorRate);
    console.log(`  ratio bare / simulator:            ${(responderRate / simulatorRate).toFixed(2)}x`);
    row('simulator over TLS, 1 connection', encryptedRate, '   (encrypt: true, the certificate checked)');
    row('simulator, 10 connections', tenRate, `   (${(tenRate / simulatorRate).toFixed(2)}x one)`);
    await Promise.all([simulator, responder, encrypted, ...ten].map((pool) => pool.close()));
  } finally {
    bare.close();
    await estate.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
