/**
 * SQL Server access for activities: one named mssql ConnectionPool per instance (never the global pool), built from
 * the instance descriptor an activity receives and the worker's secret resolver; a timeout per kind of statement;
 * pools evicted after connection errors (a failed-over partner must get fresh connections); errors classified.
 */
import sql from 'mssql';
import { driverEncryption } from '../../topology/encryption';
import type { Instance } from '../../topology/schema';
import { classifySqlError } from '../failures';

export type StatementKind = 'read' | 'change' | 'backupRestore';

/** Reads are quick; ALTER DATABASE may wait for a partner; BACKUP/RESTORE of a large database takes hours. */
export const STATEMENT_TIMEOUT_MS: Record<StatementKind, number> = {
  read: 30_000,
  change: 120_000,
  backupRestore: 6 * 3_600_000,
};

export type SecretResolver = (reference: string) => string;

/**
 * A query parameter with an explicit type, where mssql's inference (strings → nvarchar, numbers → int) is not enough.
 * The type is named, not an mssql object, so the statement builders (and the CLI's dry runs) do not load the driver.
 */
export interface TypedParameter {
  sqlType: keyof typeof SQL_TYPES;
  value: unknown;
}

/** The explicit parameter types statements use, as mssql knows them. */
const SQL_TYPES = {
  uniqueidentifier: sql.UniqueIdentifier,
  // mssql sends a Date as datetime, rounded to 1/300 s: a comparison with it could move by up to 1.7 ms.
  datetime2: sql.DateTime2(3),
};
export type Parameter = string | number | boolean | Date | null | TypedParameter;

/** A T-SQL batch, run in master, and its parameters (activities/statements.ts builds them). */
export interface Statement {
  text: string;
  parameters: Record<string, Parameter>;
}

function isTyped(parameter: Parameter): parameter is TypedParameter {
  return parameter !== null && typeof parameter === 'object' && 'sqlType' in parameter;
}

/** mssql ≥ 12.7 takes a per-request timeout as a constructor override; its type definitions lag behind. */
const RequestWithOverrides = sql.Request as unknown as new (
  pool: sql.ConnectionPool,
  overrides: { requestTimeout: number },
) => sql.Request;

const CONNECTION_CODES = new Set([
  'ESOCKET',
  'ETIMEOUT',
  'ECONNCLOSED',
  'ECONNRESET',
  'ENOTOPEN',
  'ENOCONN',
  'EINSTLOOKUP',
]);

export class SqlConnections {
  private readonly pools = new Map<string, Promise<sql.ConnectionPool>>();

  constructor(
    private readonly resolveSecret: SecretResolver,
    private readonly options: {
      appName?: string;
      connectionTimeoutMs?: number;
      onPoolError?: (instance: string, error: Error) => void;
    } = {},
  ) {}

  /** Same server and the same credentials (by their reference, never the secret): the same pool. */
  private key(instance: Instance): string {
    return [
      instance.name,
      instance.host,
      instance.port ?? '',
      instance.instanceName ?? '',
      instance.login,
      instance.password,
    ].join('|');
  }

  /** The instance's pool, connected (a connection failure is classified, and nothing is cached for it). */
  async pool(instance: Instance): Promise<sql.ConnectionPool> {
    const key = this.key(instance);
    let pending = this.pools.get(key);
    if (!pending) {
      const pool = new sql.ConnectionPool(<sql.config>{
        server: instance.host,
        ...(instance.port ? { port: instance.port } : {}),
        user: instance.login,
        password: this.resolveSecret(instance.password),
        database: 'master',
        connectionTimeout: this.options.connectionTimeoutMs ?? 15_000,
        requestTimeout: STATEMENT_TIMEOUT_MS.read,
        pool: { min: 0, max: 4, idleTimeoutMillis: 30_000 },
        // mssql's default checks every acquired connection with a SELECT 1 round trip; the socket check is enough,
        // since a connection that fails anyway is evicted (and the step retried).
        validateConnection: 'socket',
        options: {
          ...driverEncryption(instance),
          appName: this.options.appName ?? 'pchat-dr',
          ...(instance.instanceName ? { instanceName: instance.instanceName } : {}),
        },
      });
      // Without a listener a dropped connection crashes the worker (mssql emits it on the pool).
      pool.on('error', (error: Error) => this.options.onPoolError?.(instance.name, error));
      pending = pool.connect();
      this.pools.set(key, pending);
    }
    try {
      return await pending;
    } catch (error) {
      this.pools.delete(key);
      throw classifySqlError(error, instance.name);
    }
  }

  /** Forgets an instance's pool: after a connection error or a role change, the next use connects afresh. */
  async evict(instance: Instance): Promise<void> {
    const key = this.key(instance);
    const pending = this.pools.get(key);
    this.pools.delete(key);
    await pending?.then((pool) => pool.close()).catch(() => undefined);
  }

  /**
   * Runs T-SQL on an instance (in master) with parameters, under the timeout of its kind. An AbortSignal cancels the
   * running request (the activity was cancelled). Errors come back classified as step failures.
   */
  async query<T = Record<string, unknown>>(
    instance: Instance,
    text: string,
    parameters: Record<string, Parameter> = {},
    kind: StatementKind = 'read',
    signal?: AbortSignal,
  ): Promise<sql.IResult<T>> {
    const pool = await this.pool(instance);
    const request = new RequestWithOverrides(pool, { requestTimeout: STATEMENT_TIMEOUT_MS[kind] });
    for (const [name, parameter] of Object.entries(parameters)) {
      if (isTyped(parameter)) request.input(name, SQL_TYPES[parameter.sqlType], parameter.value);
      else request.input(name, parameter);
    }
    const cancel = () => request.cancel();
    signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await request.query<T>(text);
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      if (CONNECTION_CODES.has(code)) await this.evict(instance);
      throw classifySqlError(error, instance.name);
    } finally {
      signal?.removeEventListener('abort', cancel);
    }
  }

  /** The rows of a read. */
  async rows<T = Record<string, unknown>>(
    instance: Instance,
    text: string,
    parameters: Record<string, Parameter> = {},
    kind: StatementKind = 'read',
  ): Promise<T[]> {
    return (await this.query<T>(instance, text, parameters, kind)).recordset;
  }

  /** The first row of a read, or undefined when there is none. */
  async firstRow<T = Record<string, unknown>>(
    instance: Instance,
    text: string,
    parameters: Record<string, Parameter> = {},
  ): Promise<T | undefined> {
    return (await this.rows<T>(instance, text, parameters))[0];
  }

  /** Runs a statement that changes the instance, under the timeout of its kind. */
  execute(
    instance: Instance,
    statement: Statement,
    kind: StatementKind,
    signal?: AbortSignal,
  ): Promise<sql.IResult<unknown>> {
    return this.query(instance, statement.text, statement.parameters, kind, signal);
  }

  async closeAll(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pending) => pending.then((pool) => pool.close()).catch(() => undefined)));
  }
}
