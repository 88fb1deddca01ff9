/**
 * A simulated estate for one test: examples/simulated.yaml copied into a fresh folder (so its share, copy folder,
 * state and pool file are the test's own), on free loopback ports, with real mssql connections to its instances.
 * Its CA and certificates are a copy of the run's (made once by global-setup) unless the test asks for its own.
 * Benchmarks use it outside vitest too: it reads the run's certificates from the environment, not through vitest.
 */
import { cpSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sql from 'mssql';
import { loadTopology } from '../../topology/load';
import { driverEncryption } from '../../topology/encryption';
import type { Topology } from '../../topology/schema';
import { resolveSecret } from '../../topology/secrets';
import { SimulatedEstate } from '../../simulator/estate';
import { writeSimulatedTopology } from '../../simulator/example-topology';

/** The simulated example in a folder of the test's own (simulator/example-topology.ts). */
export { writeSimulatedTopology };

export interface TestEstate {
  estate: SimulatedEstate;
  topology: Topology;
  topologyFile: string;
  dir: string;
  /** A pool to an instance, as the activities open them: encrypted as the topology says (closed by close()). */
  connect(instance: string, options?: Partial<sql.config>): Promise<sql.ConnectionPool>;
  /** Runs one query on an instance and returns its result. */
  query<T extends object = Record<string, unknown>>(
    instance: string,
    text: string,
    inputs?: Record<string, unknown>,
  ): Promise<sql.IResult<T>>;
  close(): Promise<void>;
}

/** The folder of the run's certificates, set by global-setup; without it (a benchmark) each estate makes its own. */
export const ESTATE_CERTIFICATES = 'PCHAT_DR_TEST_ESTATE_CERTIFICATES';

export async function startTestEstate(
  options: {
    edit?: (yaml: string) => string;
    synchronizeAfterMs?: number;
    /** A CA and certificates of its own, as a separate estate has (otherwise the run's shared ones). */
    ownCertificates?: boolean;
  } = {},
): Promise<TestEstate> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pchat-estate-'));
  const { file, topology } = loadTopology(await writeSimulatedTopology(dir, options.edit));
  const stateDir = path.join(dir, '.sim');
  // The simulator reuses certificates it finds in its state folder (and issues anew any whose names differ).
  const shared = process.env[ESTATE_CERTIFICATES];
  if (shared && !options.ownCertificates) cpSync(shared, path.join(stateDir, 'tls'), { recursive: true });
  const estate = await SimulatedEstate.start({
    topology,
    topologyFile: file,
    stateDir,
    synchronizeAfterMs: options.synchronizeAfterMs ?? 300,
  });
  const pools: sql.ConnectionPool[] = [];
  const connect = async (name: string, { options, ...overrides }: Partial<sql.config> = {}) => {
    const instance = topology.instances.find((candidate) => candidate.name === name)!;
    const pool = new sql.ConnectionPool({
      server: instance.host,
      port: instance.port,
      user: instance.login,
      password: resolveSecret(instance.password),
      database: 'master',
      options: { ...driverEncryption(instance), ...options },
      ...overrides,
    });
    pool.on('error', () => {});
    pools.push(pool);
    return pool.connect();
  };
  const query = async <T extends object>(
    name: string,
    text: string,
    inputs: Record<string, unknown> = {},
  ): Promise<sql.IResult<T>> => {
    const pool = await connect(name);
    try {
      const request = pool.request();
      for (const [key, value] of Object.entries(inputs)) request.input(key, value);
      return await request.query<T>(text);
    } finally {
      await pool.close();
    }
  };
  return {
    estate,
    topology,
    topologyFile: file,
    dir,
    connect,
    query,
    async close() {
      await Promise.all(pools.map((pool) => pool.close().catch(() => {})));
      await estate.close();
    },
  };
}

/** Waits until `check` returns a truthy value (polling), or fails with what it last saw. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The SQL Server error numbers an mssql failure carries, preceding ones first (4305 then 3013 ...). */
export function errorNumbers(err: unknown): number[] {
  const error = err as { number?: number; precedingErrors?: { number: number }[] };
  return [
    ...(error.precedingErrors ?? []).map((preceding) => preceding.number),
    ...(error.number !== undefined ? [error.number] : []),
  ];
}

/**
 * What a run could change in an estate, as text to compare: databases, jobs, log shipping, which instances run. Not
 * the count of open sessions, which a worker's idle SQL connections change as they close on their own timer.
 */
export function estateState(env: Pick<TestEstate, 'estate'>): string {
  return JSON.stringify(env.estate.snapshot().instances.map((instance) => ({ ...instance, sessions: undefined })));
}
