/**
 * The boundary between the TDS protocol layer (simulator/tds/) and the SQL Server model (simulator/engine/).
 *
 * The TDS layer owns sockets, packets, PRELOGIN/LOGIN7 and token encoding; it knows nothing about databases.
 * The model owns logins, sessions and statement semantics; it knows nothing about bytes. A request flows as:
 * socket → TdsServer → SqlSession.executeBatch / executeRpc → ResponseWriter calls → tokens → socket.
 */

/** Column and parameter types the runbooks read and send. */
export type SqlType =
  | { kind: 'int' }
  | { kind: 'bigint' }
  | { kind: 'smallint' }
  | { kind: 'tinyint' }
  | { kind: 'bit' }
  | { kind: 'float' }
  | { kind: 'nvarchar'; length: number | 'max' }
  | { kind: 'varchar'; length: number | 'max' }
  | { kind: 'numeric'; precision: number; scale: number }
  | { kind: 'datetime' }
  | { kind: 'datetime2'; scale: number }
  | { kind: 'uniqueidentifier' }
  | { kind: 'varbinary'; length: number | 'max' };

/** A type as T-SQL writes it: nvarchar(128), numeric(25,0), datetime2(7), int. */
export function typeName(type: SqlType): string {
  switch (type.kind) {
    case 'nvarchar':
    case 'varchar':
    case 'varbinary':
      return `${type.kind}(${type.length})`;
    case 'numeric':
      return `numeric(${type.precision},${type.scale})`;
    case 'datetime2':
      return `datetime2(${type.scale})`;
    default:
      return type.kind;
  }
}

/**
 * A value as the model handles it. int/smallint/tinyint/float: number; bigint: bigint; bit: boolean;
 * nvarchar/varchar: string; numeric: string holding the exact decimal (LSNs do not fit a JS number);
 * datetime/datetime2: Date (UTC); uniqueidentifier: string, upper-case canonical 8-4-4-4-12; varbinary: Buffer.
 */
export type SqlValue = number | bigint | boolean | string | Date | Buffer | null;

export interface Column {
  name: string;
  type: SqlType;
  /** Default true: catalog columns are nullable in SQL Server. */
  nullable?: boolean;
}

/** An ERROR or INFO message as SQL Server sends it. `class` is the severity (INFO ≤ 10, ERROR ≥ 11). */
export interface SqlMessage {
  number: number;
  state: number;
  class: number;
  message: string;
  procName?: string;
  lineNumber?: number;
}

/**
 * What a statement sends back. The TDS layer turns the calls into tokens in order, buffering the whole response
 * and sending it as one message when execute* resolves.
 *
 * - A statement that returns rows calls resultSet() once per result set: COLMETADATA, ROWs, then DONE (DONEINPROC
 *   inside an RPC) with the row count.
 * - A statement without rows ends with done(): DONE (DONEINPROC inside an RPC), with DONE_COUNT when rowCount is given.
 * - error() sends an ERROR token; the next DONE/DONEINPROC, and the final DONEPROC of an RPC, carry DONE_ERROR.
 * - The TDS layer sets DONE_MORE on every DONE except the last one of the response; an empty response gets one DONE.
 */
export interface ResponseWriter {
  resultSet(columns: Column[], rows: SqlValue[][]): void;
  done(rowCount?: number): void;
  info(message: SqlMessage): void;
  error(message: SqlMessage): void;
  /** ENVCHANGE type 1 (database); the model sends INFO 5701 itself. */
  databaseChanged(newDatabase: string, oldDatabase: string): void;
  /** RPC only: RETURNSTATUS, sent before the output parameters. */
  returnStatus(status: number): void;
  /** RPC only: RETURNVALUE for an OUTPUT parameter, in the order the parameters were declared. */
  outputParameter(name: string, type: SqlType, value: SqlValue): void;
}

export interface RpcParameter {
  /** '@name', or '' for a positional parameter. */
  name: string;
  type: SqlType;
  value: SqlValue;
  output: boolean;
}

export interface RpcCall {
  /** The procedure name as sent (e.g. 'master.dbo.sp_add_log_shipping_primary_database'); ProcID 10 → 'sp_executesql'. */
  procedure: string;
  parameters: RpcParameter[];
}

export interface LoginRequest {
  userName: string;
  password: string;
  /** Initial catalog; '' for the login's default database. */
  database: string;
  appName: string;
  hostName: string;
  clientProcessId: number;
}

export interface ConnectionInfo {
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** How the connection is encrypted: not, its login only (TDS 7.x, ENCRYPT_OFF), all of it, or TDS 8.0 strict. */
  encryption: 'none' | 'login-only' | 'full' | 'strict';
}

/** Lets the model end a connection (KILL, a database changing role): the TDS layer closes the socket. */
export interface SessionControl {
  terminate(): void;
}

export interface SqlSession {
  readonly spid: number;
  /** Current database, for the login response's ENVCHANGE. */
  readonly database: string;
  /**
   * Runs a SQL batch. `signal` aborts when the client sends ATTENTION (cancel or timeout): stop promptly and resolve.
   * Errors SQL Server would report are written with out.error(); a rejected promise means a simulator bug.
   */
  executeBatch(sql: string, out: ResponseWriter, signal: AbortSignal): Promise<void>;
  executeRpc(call: RpcCall, out: ResponseWriter, signal: AbortSignal): Promise<void>;
  /** The client disconnected (or the connection was terminated). */
  close(): void;
}

/** One SQL Server instance as the TDS layer sees it. */
export interface SqlServerModel {
  /** @@SERVERNAME; sent as ServerName in ERROR/INFO tokens. */
  readonly serverName: string;
  /** Product version for PRELOGIN and LOGINACK, e.g. { major: 16, minor: 0, build: 4205 }. */
  readonly version: { major: number; minor: number; build: number };
  /**
   * Authenticates and opens a session. Throws a LoginRefused (messages to send before closing: e.g. 18456
   * "Login failed for user 'x'.") when the login must fail.
   */
  login(request: LoginRequest, connection: ConnectionInfo, control: SessionControl): Promise<SqlSession>;
}

/** Thrown by SqlServerModel.login: the TDS layer sends these ERROR tokens, a DONE with DONE_ERROR, and closes. */
export class LoginRefused extends Error {
  constructor(readonly messages: SqlMessage[]) {
    super(messages.map((message) => message.message).join(' '));
    this.name = 'LoginRefused';
  }
}
