/**
 * The SQL Server side of the stand-in's Invoke-CsDatabaseFailover and Install-CsMirrorDatabase: which instances hold
 * the pool's current store (the topology's roles, read through the pool state: Normal uses primary + mirror,
 * FailedOver backup + backupMirror), what to run on which partner, and the T-SQL itself — through mssql and TDS
 * like every other client of the simulated estate, so the SQL engine sees what a real management shell would make
 * it do (partner-connections.ts); Install-CsMirrorDatabase's steps are in install-mirror.ts. Deciding is kept apart
 * from acting: the pure functions here are unit-tested without a SQL Server.
 */
import { ROLES, type DatabaseKind, type Instance, type Role, type Topology } from '../../topology/schema';
import { serverIdentity, ServerIdentityUnknown } from '../server-identity';
import { CmdletError } from './error-records';
import {
  bracketQuote,
  closeAll,
  connect,
  describeInstance,
  execute,
  readPartnerState,
  type OpenConnection,
  type PartnerState,
} from './partner-connections';
import type { PersistentChatPoolState } from './pool-state';

/** DatabaseNameType, as documented for Skype for Business Server 2015; the stand-in hosts the last two. */
export const DATABASE_NAME_TYPES = [
  'ActiveMonitoring',
  'Application',
  'Archiving',
  'CentralMgmt',
  'Edge',
  'Lyss',
  'Monitoring',
  'Provision',
  'Registrar',
  'SigninTelemetry',
  'User',
  'PersistentChat',
  'PersistentChatCompliance',
] as const;
export type DatabaseNameType = (typeof DATABASE_NAME_TYPES)[number];

/** MirrorRole: which partner of the store should be principal. */
export const MIRROR_ROLES = ['Primary', 'Mirror'] as const;
export type MirrorRole = (typeof MIRROR_ROLES)[number];

/** Where a cmdlet tells the operator what it does (-Verbose) or what it did not do (warnings). */
export interface Progress {
  verbose(message: string): void;
  warning(message: string): void;
}

export interface RoleInstance {
  role: Role;
  instance: Instance;
  /** The SQL Server computer's DNS name, as Topology Builder knows it: mirroring endpoints are TCP://<it>:5022. */
  fqdn: string;
}

/** A database and the two instances of one mirroring pair. */
export interface MirrorPair {
  database: string;
  /** The primary-role partner (primary, or backup after a failover to DC2). */
  principal: RoleInstance;
  /** The mirror-role partner (mirror, or backupMirror). */
  mirror: RoleInstance;
}

export function databaseKind(type: DatabaseNameType): DatabaseKind {
  if (type === 'PersistentChat') return 'mgc';
  if (type === 'PersistentChatCompliance') return 'mgccomp';
  throw new CmdletError(
    `The Persistent Chat pool has no ${type} database: the stand-in management shell hosts PersistentChat and PersistentChatCompliance only.`,
    'ObjectNotFound',
    'DatabaseTypeNotInPool',
  );
}

function databaseRoles(topology: Topology, kind: DatabaseKind) {
  const roles = topology.databases[kind];
  if (!roles) {
    throw new CmdletError(
      `The topology configures no ${kind} database (compliance is off), so there is nothing to act on.`,
      'ObjectNotFound',
      'DatabaseNotConfigured',
    );
  }
  const instance = (name: string) => topology.instances.find((candidate) => candidate.name === name) as Instance;
  const roleInstance = (role: Role, name: string): RoleInstance => {
    const described = instance(name);
    return { role, instance: described, fqdn: dnsNameOf(described, topology) };
  };
  return { database: roles.name ?? kind, roles, instance, roleInstance };
}

/** The computer's DNS name as the simulator names it (its address, when the topology does not say which computer). */
function dnsNameOf(instance: Instance, topology: Topology): string {
  try {
    return serverIdentity(instance, topology.pool.fqdn).fqdn;
  } catch (err) {
    if (err instanceof ServerIdentityUnknown) return instance.host;
    throw err;
  }
}

/** The pair the pool uses now (Set-CsPersistentChatState): Normal → primary + mirror, FailedOver → backup + backupMirror. */
export function currentStore(topology: Topology, kind: DatabaseKind, poolState: PersistentChatPoolState): MirrorPair {
  const { database, roles, roleInstance } = databaseRoles(topology, kind);
  const [principalRole, mirrorRole] =
    poolState === 'Normal' ? (['primary', 'mirror'] as const) : (['backup', 'backupMirror'] as const);
  const mirrorName = roles[mirrorRole];
  if (mirrorName === undefined) {
    // Microsoft: the cmdlet fails if no primary and mirror are configured for that database.
    throw new CmdletError(
      `The pool is ${poolState}, so ${database} is served by its ${principalRole} instance, and the topology configures no ${mirrorRole} for it: there is no mirror to fail over to.`,
      'InvalidOperation',
      'MirrorNotConfigured',
    );
  }
  return {
    database,
    principal: roleInstance(principalRole, roles[principalRole]),
    mirror: roleInstance(mirrorRole, mirrorName),
  };
}

const PARTNER_ROLE: Partial<Record<Role, Role>> = { primary: 'mirror', backup: 'backupMirror' };

/**
 * Install-CsMirrorDatabase -SqlServerFqdn names the principal by its DNS name or its host (and instance name: none
 * means the default instance, as documented). When instances share one address (a simulated estate on 127.0.0.1),
 * several roles may match: the one the pool uses now wins (backup when FailedOver, primary when Normal).
 */
export function resolveMirrorPair(
  topology: Topology,
  kind: DatabaseKind,
  poolState: PersistentChatPoolState,
  sqlServerFqdn: string,
  sqlInstanceName: string | undefined,
): MirrorPair {
  const { database, roles, instance, roleInstance } = databaseRoles(topology, kind);
  const wantedInstance = instanceNameKey(sqlInstanceName);
  const wantedServer = sqlServerFqdn.toLowerCase();
  const candidates = ROLES.flatMap((role) => {
    const name = roles[role];
    return name === undefined ? [] : [roleInstance(role, name)];
  }).filter(
    (candidate) =>
      (candidate.instance.host.toLowerCase() === wantedServer || candidate.fqdn === wantedServer) &&
      instanceNameKey(candidate.instance.instanceName) === wantedInstance,
  );
  const server = sqlInstanceName ? `${sqlServerFqdn}\\${sqlInstanceName}` : sqlServerFqdn;
  if (candidates.length === 0) {
    const holders = ROLES.flatMap((role) =>
      roles[role] === undefined ? [] : [`${role} ${describeInstance(instance(roles[role] as string))}`],
    );
    throw new CmdletError(
      `No SQL Server instance ${server} holds ${database} in the topology (${holders.join('; ')}).`,
      'ObjectNotFound',
      'SqlServerNotInTopology',
    );
  }
  const preferred: Role = poolState === 'FailedOver' ? 'backup' : 'primary';
  const principal =
    candidates.length === 1 ? candidates[0] : candidates.find((candidate) => candidate.role === preferred);
  if (!principal) {
    throw new CmdletError(
      `${server} plays ${candidates.map((candidate) => candidate.role).join(' and ')} for ${database}; give -SqlInstanceName to say which instance holds the principal copy.`,
      'InvalidArgument',
      'AmbiguousSqlServer',
    );
  }
  const partnerRole = PARTNER_ROLE[principal.role];
  if (partnerRole === undefined) {
    throw new CmdletError(
      `${server} plays the ${principal.role} role for ${database}; give the SQL Server that holds the principal copy (its primary or backup instance).`,
      'InvalidArgument',
      'NotAPrincipalInstance',
    );
  }
  const mirrorName = roles[partnerRole];
  if (mirrorName === undefined) {
    throw new CmdletError(
      `The topology configures no ${partnerRole} instance for ${database}: there is nowhere to install the mirror.`,
      'InvalidOperation',
      'MirrorNotConfigured',
    );
  }
  return { database, principal, mirror: roleInstance(partnerRole, mirrorName) };
}

/** SQL Server calls its default instance MSSQLSERVER. */
function instanceNameKey(name: string | undefined): string {
  const key = (name ?? '').toLowerCase();
  return key === 'mssqlserver' ? '' : key;
}

export type FailoverPlan =
  | { action: 'none'; reason: string }
  /** ALTER DATABASE … SET PARTNER FAILOVER on the current principal. */
  | { action: 'failover' }
  /** ALTER DATABASE … SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS on the new principal. */
  | { action: 'force-service' };

/** What Invoke-CsDatabaseFailover does given both partners' states; impossible requests are errors that say why. */
export function planFailover(
  database: string,
  target: { name: string; state: PartnerState },
  current: { name: string; state: PartnerState },
  force: boolean,
): FailoverPlan {
  if (!target.state.reachable) {
    throw new CmdletError(
      `Cannot make ${target.name} the principal of ${database}: it cannot be reached (${target.state.reason}).`,
      'ConnectionError',
      'NewPrincipalUnreachable',
    );
  }
  if (!target.state.exists)
    throw new CmdletError(
      `Database ${database} does not exist on ${target.name}.`,
      'ObjectNotFound',
      'DatabaseNotFound',
    );
  if (target.state.role === 'PRINCIPAL')
    return { action: 'none', reason: `${database} is already principal on ${target.name}; nothing to do.` };
  if (target.state.role !== 'MIRROR') {
    throw new CmdletError(
      `${database} on ${target.name} is not in a database mirroring session (Install-CsMirrorDatabase sets one up).`,
      'InvalidOperation',
      'DatabaseNotMirrored',
    );
  }
  if (current.state.reachable && current.state.role === 'PRINCIPAL') return { action: 'failover' };
  // Microsoft: -Force "is also used if the current database is not accessible".
  if (force) return { action: 'force-service' };
  const why = current.state.reachable
    ? `reports ${database} as ${current.state.exists ? (current.state.role ?? 'not mirrored') : 'missing'}, not principal`
    : `cannot be reached (${current.state.reason})`;
  throw new CmdletError(
    `The current principal ${current.name} ${why}. Run again with -Force to force service on ${target.name}, accepting the loss of transactions it has not received.`,
    current.state.reachable ? 'InvalidOperation' : 'ConnectionError',
    'PrincipalNotAvailable',
  );
}

/** Invoke-CsDatabaseFailover on one store: NewPrincipal Mirror makes the mirror-role partner principal, Primary the other. */
export async function failOverDatabase(
  store: MirrorPair,
  newPrincipal: MirrorRole,
  force: boolean,
  progress: Progress,
): Promise<void> {
  const [target, current] =
    newPrincipal === 'Mirror' ? [store.mirror, store.principal] : [store.principal, store.mirror];
  const connections = await Promise.all([connect(target.instance), connect(current.instance)]);
  try {
    const [targetConnection, currentConnection] = connections;
    const [targetState, currentState] = await Promise.all([
      readPartnerState(targetConnection, store.database),
      readPartnerState(currentConnection, store.database),
    ]);
    const targetName = describeInstance(target.instance);
    const currentName = describeInstance(current.instance);
    progress.verbose(`${targetName}: ${summarise(targetState)}; ${currentName}: ${summarise(currentState)}.`);
    const plan = planFailover(
      store.database,
      { name: targetName, state: targetState },
      { name: currentName, state: currentState },
      force,
    );
    const database = bracketQuote(store.database);
    // The plan only fails over through a partner it found reachable and PRINCIPAL, and only forces service on a
    // target it found reachable: the casts below restate that.
    switch (plan.action) {
      case 'none':
        progress.warning(plan.reason);
        return;
      case 'failover':
        progress.verbose(`Failing ${store.database} over from ${currentName} to ${targetName}.`);
        await execute(currentConnection as OpenConnection, `ALTER DATABASE ${database} SET PARTNER FAILOVER`);
        return;
      case 'force-service':
        progress.verbose(`Forcing service for ${store.database} on ${targetName} (possible data loss).`);
        await execute(
          targetConnection as OpenConnection,
          `ALTER DATABASE ${database} SET PARTNER FORCE_SERVICE_ALLOW_DATA_LOSS`,
        );
        return;
    }
  } finally {
    await closeAll(connections);
  }
}

function summarise(state: PartnerState): string {
  if (!state.reachable) return `unreachable (${state.reason})`;
  if (!state.exists) return 'database missing';
  return state.role ? `${state.role}, ${state.state ?? 'state unknown'}` : 'not mirrored';
}
