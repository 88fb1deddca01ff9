/**
 * The SQL Server side of the stand-in's Invoke-CsDatabaseFailover and Install-CsMirrorDatabase: which instances hold
 * the pool's current store (the topology's roles, read through the pool state: Normal uses primary + mirror,
 * FailedOver backup + backupMirror), what to run on which partner, and the T-SQL itself — through mssql and TDS
 * like every other client of the simulated estate, so the SQL engine sees what a real management shell would make
 * it do. Deciding is kept apart from acting: the pure functions here are unit-tested without a SQL Server.
 */
import type { ConnectionPool, RequestError } from 'mssql';
import { ROLES, type DatabaseKind, type Instance, type Role, type Topology } from '../../topology/schema';
import { driverEncryption } from '../../topology/encryption';
import { resolveSecret } from '../../topology/secrets';
import { serverIdentity, ServerIdentityUnknown } from '../server-identity';
import { CmdletError } from './error-records';
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

function describeInstance(instance: Instance): string {
  const where = `${instance.host}${instance.instanceName ? `\\${instance.instanceName}` : ''}${instance.port ? `:${instance.port}` : ''}`;
  return `${instance.name} (${where})`;
}

/** What one partner says about the database; an unreachable partner is evidence, not an error. */
export type PartnerState =
  | { reachable: false; reason: string }
  | { reachable: true; exists: boolean; role: string | null; state: string | null };

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

export interface MirrorSeedFiles {
  full: string;
  log: string;
}

/** Files on the share (as SQL Server sees it) that seed the mirror; a UNC share gets backslashes. */
export function mirrorSeedFiles(fileShare: string, database: string, at: Date): MirrorSeedFiles {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const separator = fileShare.includes('\\') && !fileShare.includes('/') ? '\\' : '/';
  const base = `${fileShare.replace(/[\\/]+$/, '')}${separator}${database}_mirror_${stamp}`;
  return { full: `${base}.bak`, log: `${base}.trn` };
}

const PARTNER_ADDRESS = /^TCP:\/\/[A-Za-z0-9_.-]+:\d+$/;
/** The simulator's instances listen for mirroring on the default endpoint port. */
const MIRRORING_PORT = 5022;

/** SET PARTNER takes the address as a T-SQL string literal, so it must be a plain address before it is written in. */
export function mirroringEndpoint(dnsName: string): string {
  const address = `TCP://${dnsName}:${MIRRORING_PORT}`;
  if (!PARTNER_ADDRESS.test(address)) {
    throw new CmdletError(
      `The SQL Server's DNS name ${JSON.stringify(dnsName)} does not make a mirroring endpoint address of the form TCP://host:port.`,
      'InvalidData',
      'InvalidMirroringEndpoint',
    );
  }
  return address;
}

export interface InstallMirrorOptions {
  fileShare: string;
  dropExistingDatabasesOnMirror: boolean;
  now: Date;
}

/**
 * Install-CsMirrorDatabase for one database: back up the principal (full, then log) to the share, restore both on
 * the mirror WITH NORECOVERY, then SET PARTNER on the mirror first and the principal second, the order SQL Server
 * requires. Everything is checked before the first backup, so a refusal leaves nothing half done.
 */
export async function installMirror(
  pair: MirrorPair,
  options: InstallMirrorOptions,
  progress: Progress,
): Promise<void> {
  const connections = await Promise.all([connect(pair.principal.instance), connect(pair.mirror.instance)]);
  try {
    const [principal, mirror] = connections.map((connection, index) => {
      if (!connection.reachable) {
        const which = index === 0 ? 'principal' : 'mirror';
        throw new CmdletError(
          `Cannot reach the ${which} ${describeInstance(connection.instance)}: ${connection.reason}`,
          'ConnectionError',
          'SqlServerUnreachable',
        );
      }
      return connection;
    });
    const database = bracketQuote(pair.database);
    const principalName = describeInstance(principal.instance);
    const mirrorName = describeInstance(mirror.instance);

    const principalState = await readDatabaseState(principal, pair.database);
    if (principalState !== 'ONLINE') {
      throw new CmdletError(
        `${pair.database} on ${principalName} is ${principalState ?? 'missing'}; it must be ONLINE to be mirrored.`,
        'InvalidOperation',
        'PrincipalNotOnline',
      );
    }
    const mirrorState = await readDatabaseState(mirror, pair.database);
    if (mirrorState !== null && !options.dropExistingDatabasesOnMirror) {
      throw new CmdletError(
        `${pair.database} already exists on the mirror ${mirrorName} (${mirrorState}). Run again with -DropExistingDatabasesOnMirror to replace it.`,
        'InvalidOperation',
        'DatabaseExistsOnMirror',
      );
    }
    const principalEndpoint = mirroringEndpoint(pair.principal.fqdn);
    const mirrorEndpoint = mirroringEndpoint(pair.mirror.fqdn);
    const files = mirrorSeedFiles(options.fileShare, pair.database, options.now);

    progress.verbose(`Backing up ${pair.database} on ${principalName} to ${files.full} and ${files.log}.`);
    await execute(principal, `BACKUP DATABASE ${database} TO DISK = @path WITH INIT`, { path: files.full });
    await execute(principal, `BACKUP LOG ${database} TO DISK = @path WITH INIT`, { path: files.log });
    progress.verbose(`Restoring ${pair.database} on ${mirrorName} WITH NORECOVERY.`);
    await execute(mirror, `RESTORE DATABASE ${database} FROM DISK = @path WITH NORECOVERY, REPLACE`, {
      path: files.full,
    });
    await execute(mirror, `RESTORE LOG ${database} FROM DISK = @path WITH NORECOVERY`, { path: files.log });
    progress.verbose(
      `Starting the mirroring session: ${mirrorEndpoint} (mirror) with ${principalEndpoint} (principal).`,
    );
    await execute(mirror, `ALTER DATABASE ${database} SET PARTNER = '${principalEndpoint}'`);
    await execute(principal, `ALTER DATABASE ${database} SET PARTNER = '${mirrorEndpoint}'`);
  } finally {
    await closeAll(connections);
  }
}

/** Database names come from the validated topology (plain identifiers); quoting still doubles a `]`. */
function bracketQuote(name: string): string {
  return `[${name.replace(/]/g, ']]')}]`;
}

type SqlDriver = typeof import('mssql');
type OpenConnection = { reachable: true; instance: Instance; driver: SqlDriver; pool: ConnectionPool };
type Connection = OpenConnection | { reachable: false; instance: Instance; reason: string };

/** One named pool per instance (never mssql's global connection); a failure to connect means unreachable. */
async function connect(instance: Instance): Promise<Connection> {
  // mssql takes longer to load than the rest of the shell together: only the two SQL cmdlets pay for it. Its ESM
  // view carries the CommonJS exports on `default` only.
  const driver = (await import('mssql')).default;
  try {
    const pool = new driver.ConnectionPool({
      server: instance.host,
      port: instance.port,
      user: instance.login,
      password: resolveSecret(instance.password),
      database: 'master',
      // An unreachable partner must be reported within the pool-control timeout, not after a long TCP wait.
      connectionTimeout: 10_000,
      options: { ...driverEncryption(instance), instanceName: instance.instanceName },
      pool: { max: 1 },
    });
    await pool.connect();
    return { reachable: true, instance, driver, pool };
  } catch (err) {
    return { reachable: false, instance, reason: (err as Error).message };
  }
}

async function closeAll(connections: Connection[]): Promise<void> {
  await Promise.all(connections.map((connection) => (connection.reachable ? connection.pool.close() : undefined)));
}

/** Runs one statement in master; a SQL Server error becomes the cmdlet's error, with its number and text. */
async function execute(
  connection: OpenConnection,
  statement: string,
  parameters: Record<string, string> = {},
): Promise<Record<string, unknown>[]> {
  const request = connection.pool.request();
  for (const [name, value] of Object.entries(parameters)) request.input(name, connection.driver.NVarChar(4000), value);
  try {
    const result = await request.query(statement);
    return result.recordset ?? [];
  } catch (err) {
    const number = (err as RequestError).number;
    const source = describeInstance(connection.instance);
    const message =
      number === undefined
        ? `${source} failed: ${(err as Error).message}`
        : `SQL Server error ${number} on ${source}: ${(err as Error).message}`;
    throw new CmdletError(message, 'InvalidOperation', 'SqlServerError', 'SqlException');
  }
}

async function readPartnerState(connection: Connection, database: string): Promise<PartnerState> {
  if (!connection.reachable) return { reachable: false, reason: connection.reason };
  const rows = await execute(
    connection,
    'SELECT mirroring_role_desc, mirroring_state_desc FROM sys.database_mirroring m JOIN sys.databases d ON d.database_id = m.database_id WHERE d.name = @db',
    { db: database },
  );
  const row = rows[0];
  if (!row) return { reachable: true, exists: false, role: null, state: null };
  return {
    reachable: true,
    exists: true,
    role: (row.mirroring_role_desc as string | null) ?? null,
    state: (row.mirroring_state_desc as string | null) ?? null,
  };
}

/** sys.databases.state_desc, or null when the database does not exist there. */
async function readDatabaseState(connection: OpenConnection, database: string): Promise<string | null> {
  const rows = await execute(connection, 'SELECT state_desc FROM sys.databases WHERE name = @db', { db: database });
  return rows[0] ? (rows[0].state_desc as string) : null;
}
