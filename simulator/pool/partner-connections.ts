/**
 * The stand-in management shell's connections to the SQL Server partners of a store: through mssql and TDS like
 * every other client of the simulated estate, one named pool per instance, an unreachable partner reported as such
 * (evidence, not an error), a SQL Server error turned into the cmdlet's error, and what a partner says about a
 * database.
 */
import type { ConnectionPool, RequestError } from 'mssql';
import type { Instance } from '../../topology/schema';
import { driverEncryption } from '../../topology/encryption';
import { resolveSecret } from '../../topology/secrets';
import { CmdletError } from './error-records';

/** What one partner says about the database; an unreachable partner is evidence, not an error. */
export type PartnerState =
  | { reachable: false; reason: string }
  | { reachable: true; exists: boolean; role: string | null; state: string | null };

/** An instance as the cmdlets name it: dc1-sql-a (host\\instance:port). */
export function describeInstance(instance: Instance): string {
  const where = `${instance.host}${instance.instanceName ? `\\${instance.instanceName}` : ''}${instance.port ? `:${instance.port}` : ''}`;
  return `${instance.name} (${where})`;
}

/** Database names come from the validated topology (plain identifiers); quoting still doubles a `]`. */
export function bracketQuote(name: string): string {
  return `[${name.replace(/]/g, ']]')}]`;
}

type SqlDriver = typeof import('mssql');
export type OpenConnection = { reachable: true; instance: Instance; driver: SqlDriver; pool: ConnectionPool };
type Connection = OpenConnection | { reachable: false; instance: Instance; reason: string };

/** One named pool per instance (never mssql's global connection); a failure to connect means unreachable. */
export async function connect(instance: Instance): Promise<Connection> {
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

export async function closeAll(connections: Connection[]): Promise<void> {
  await Promise.all(connections.map((connection) => (connection.reachable ? connection.pool.close() : undefined)));
}

/** Runs one statement in master; a SQL Server error becomes the cmdlet's error, with its number and text. */
export async function execute(
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

export async function readPartnerState(connection: Connection, database: string): Promise<PartnerState> {
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
export async function readDatabaseState(connection: OpenConnection, database: string): Promise<string | null> {
  const rows = await execute(connection, 'SELECT state_desc FROM sys.databases WHERE name = @db', { db: database });
  return rows[0] ? (rows[0].state_desc as string) : null;
}
