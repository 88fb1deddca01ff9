/**
 * `topology check --connect`: whether every SQL Server instance of a topology and its pool shell answer, read-only.
 * Each instance gets `SELECT @@SERVERNAME` and the state of the databases it holds a role for (through the real mssql
 * driver and the secret references, as the worker connects); the pool shell runs Get-CsPersistentChatState. Nothing
 * is changed anywhere, and no secret is printed (errors name the reference, never the value).
 */
import { type ActivityDependencies, processRunner } from '../activities/dependencies';
import { readMirroring, type MirroringState } from '../activities/mirroring';
import { SqlConnections } from '../activities/sql/connections';
import { getPersistentChatState } from '../activities/statements';
import { durationMs } from '../topology/durations';
import { ROLES, type Instance, type Topology } from '../topology/schema';
import { resolveSecret } from '../topology/secrets';

export interface Reach {
  kind: 'instance' | 'pool';
  /** The instance name, or "pool shell". */
  name: string;
  /** host[\instance][:port], or the pool-control program. */
  address: string;
  answered: boolean;
  /** @@SERVERNAME, or the pool state. */
  identity: string | null;
  /** What it said (database states), or why it did not answer. */
  detail: string;
}

export function addressOf(instance: Instance): string {
  return `${instance.host}${instance.instanceName ? `\\${instance.instanceName}` : ''}${instance.port ? `:${instance.port}` : ''}`;
}

/** The databases (by SQL name) the topology gives this instance a role for. */
function databasesOf(topology: Topology, instance: string): string[] {
  return (['mgc', 'mgccomp'] as const)
    .filter((kind) => ROLES.some((role) => topology.databases[kind]?.[role] === instance))
    .map((kind) => topology.databases[kind]!.name ?? kind);
}

function describeDatabase(state: MirroringState): string {
  if (!state.exists) return `${state.database} absent`;
  return `${state.database} ${state.state}${state.role ? ` ${state.role} ${state.mirroringState ?? ''}`.trimEnd() : ''}`;
}

async function probeInstance(sql: SqlConnections, topology: Topology, instance: Instance): Promise<Reach> {
  const base = { kind: 'instance' as const, name: instance.name, address: addressOf(instance) };
  // readMirroring needs only the SQL access of the activities' dependencies.
  const deps = { sql } as Pick<ActivityDependencies, 'sql'> as ActivityDependencies;
  try {
    const databases = databasesOf(topology, instance.name);
    const states: MirroringState[] = [];
    for (const database of databases.length > 0 ? databases : ['master']) {
      const state = await readMirroring(deps, instance, database);
      if (!state.reachable)
        return { ...base, answered: false, identity: null, detail: state.unreachableReason ?? 'does not answer' };
      states.push(state);
    }
    return {
      ...base,
      answered: true,
      identity: states[0]?.serverName ?? null,
      detail: states.map(describeDatabase).join('; '),
    };
  } catch (error) {
    return {
      ...base,
      answered: false,
      identity: null,
      detail: String((error as Error).message ?? error).split('\n')[0],
    };
  }
}

async function probePool(topology: Topology): Promise<Reach> {
  const command = topology.poolControl.command;
  const base = { kind: 'pool' as const, name: 'pool shell', address: command.join(' ') };
  const line = getPersistentChatState(topology.pool.identity ?? `service:${topology.pool.fqdn}`);
  try {
    const result = await processRunner.run(command, line.text, {
      timeoutMs: Math.min(durationMs(topology.poolControl.timeout), 120_000),
    });
    if (result.timedOut)
      return { ...base, answered: false, identity: null, detail: `no answer within ${topology.poolControl.timeout}` };
    if (result.exitCode !== 0)
      return {
        ...base,
        answered: false,
        identity: null,
        detail: `${line.cmdlet} failed: ${result.stderr.trim().split('\n')[0] || `exit code ${result.exitCode}`}`,
      };
    const parsed = JSON.parse(result.stdout) as { PoolState?: string } | { PoolState?: string }[];
    const state = (Array.isArray(parsed) ? parsed[0] : parsed)?.PoolState;
    if (!state) return { ...base, answered: false, identity: null, detail: `${line.cmdlet} printed no PoolState` };
    return {
      ...base,
      answered: true,
      identity: state,
      detail: `${line.cmdlet}: pool ${topology.pool.fqdn} is ${state}`,
    };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      ...base,
      answered: false,
      identity: null,
      detail:
        code === 'ENOENT'
          ? `${command[0]}: not found (check poolControl.command)`
          : String((error as Error).message).split('\n')[0],
    };
  }
}

/** Every instance and the pool shell, in parallel; what answered and what did not. */
export async function probeEstate(
  topology: Topology,
  options: { connectionTimeoutMs?: number } = {},
): Promise<Reach[]> {
  const sql = new SqlConnections(resolveSecret, {
    appName: 'pchat-dr topology check',
    connectionTimeoutMs: options.connectionTimeoutMs ?? 5_000,
    onPoolError: () => undefined,
  });
  try {
    return await Promise.all([
      ...topology.instances.map((instance) => probeInstance(sql, topology, instance)),
      probePool(topology),
    ]);
  } finally {
    await sql.closeAll();
  }
}
