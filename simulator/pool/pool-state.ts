/**
 * The simulated Persistent Chat pool's state, kept in one JSON file: the simulator creates it at start, the stand-in
 * management shell changes it (one process per cmdlet line, as pwsh would be), and the simulator's chat load reads it
 * to decide which servers take connections and which databases they use. A file rather than memory because those
 * are separate processes, and because an operator can look at it during a rehearsal.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Topology } from '../../topology/schema';

/** Normal: the pool uses the primary databases; FailedOver: the backup databases of the topology. */
export const POOL_STATES = ['Normal', 'FailedOver'] as const;
export type PersistentChatPoolState = (typeof POOL_STATES)[number];

export interface PoolState {
  fqdn: string;
  /** How the runbooks name the pool to Set-CsPersistentChatState, e.g. service:pchat.sim.local. */
  identity: string;
  poolState: PersistentChatPoolState;
  /** The pool's Persistent Chat servers per datacenter, as the topology lists them. */
  servers: { dc1: string[]; dc2: string[] };
  /** The servers that accept new client connections (Set-CsPersistentChatActiveServer). */
  activeServers: string[];
  /** Absolute path of the topology file: the SQL cmdlets find the database instances there. */
  topologyFile: string;
}

const poolStateSchema = z.strictObject({
  fqdn: z.string().min(1),
  identity: z.string().min(1),
  poolState: z.enum(POOL_STATES),
  servers: z.strictObject({ dc1: z.array(z.string().min(1)), dc2: z.array(z.string().min(1)) }),
  activeServers: z.array(z.string().min(1)),
  topologyFile: z.string().min(1),
});

/** A pool as it is after deployment: Normal, with the DC1 servers active. */
export function initialPoolState(topologyFile: string, topology: Topology): PoolState {
  return {
    fqdn: topology.pool.fqdn,
    identity: topology.pool.identity ?? `service:${topology.pool.fqdn}`,
    poolState: 'Normal',
    servers: { dc1: [...topology.pool.servers.dc1], dc2: [...topology.pool.servers.dc2] },
    activeServers: [...topology.pool.servers.dc1],
    topologyFile: path.resolve(topologyFile),
  };
}

export class PoolStateFileError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`pool state file ${file} ${reason}`);
    this.name = 'PoolStateFileError';
  }
}

export function readPoolState(file: string): PoolState {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PoolStateFileError(
      file,
      code === 'ENOENT'
        ? 'does not exist (the simulator creates it when it starts)'
        : `cannot be read: ${(err as Error).message}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new PoolStateFileError(file, `is not valid JSON: ${(err as Error).message}`);
  }
  const result = poolStateSchema.safeParse(data);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`);
    throw new PoolStateFileError(file, `is not a pool state: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Readers (the chat load, a concurrent shell) see the old state or the new one, never half a file. */
export function writePoolState(file: string, state: PoolState): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(temporary, file);
}
