/**
 * A client session on a simulated instance (a SPID): it runs SQL batches and RPC calls statement by statement, with
 * SQL Server's error behaviour: a failing statement sends its ERROR (plus the trailing 3013 after BACKUP/RESTORE
 * and 5069 after ALTER DATABASE) and the batch goes on with the next statement.
 */
import type {
  ConnectionInfo,
  LoginRequest,
  ResponseWriter,
  RpcCall,
  SessionControl,
  SqlSession,
  SqlValue,
} from '../tds/session';
import { PACKAGE_VERSION } from '../../runtime/package';
import type { Statement } from '../tsql/ast';
import { parseBatch } from '../tsql/parser';
import { errors, SqlError } from './errors';
import { evaluate, Variables, type SessionFacts } from './expressions';
import type { SqlInstance } from './instance';
import { callProcedure, type ProcedureArgument } from './procedures';
import { sleep } from './sleep';
import { runStatement } from './statements';
import { castValue, type Typed } from './values';

/** SERVERPROPERTY('PchatDrSimulator'): how the product tells a rehearsal estate from a real one. */
const SIMULATOR_MARKER = 'pchatdrsimulator';

/** Errors after which SQL Server abandons the rest of the batch. */
const BATCH_ABORTING = new Set([208, 207, 209]);

export class Session implements SqlSession, SessionFacts {
  readonly spid: number;
  readonly instance: SqlInstance;
  readonly login: string;
  readonly hostName: string;
  readonly appName: string;
  readonly clientProcessId: number;
  readonly remoteAddress: string;
  /** Its TCP connection: addresses, ports and how it is encrypted (sys.dm_exec_connections). */
  readonly connection: ConnectionInfo;
  readonly loginTime = new Date();
  database: string;
  status: 'sleeping' | 'runnable' = 'sleeping';
  /** The text of the request running now (null between requests), for sp_who2's Command. */
  private runningText: string | null = null;
  lastBatch = new Date();
  lastRowCount = 0;
  lastError = 0;
  private readonly control: SessionControl;
  private closed = false;

  constructor(options: {
    instance: SqlInstance;
    spid: number;
    request: LoginRequest;
    connection: ConnectionInfo;
    control: SessionControl;
    database: string;
  }) {
    this.instance = options.instance;
    this.spid = options.spid;
    this.login = options.request.userName;
    this.hostName = options.request.hostName;
    this.appName = options.request.appName;
    this.clientProcessId = options.request.clientProcessId;
    this.remoteAddress = options.connection.remoteAddress;
    this.connection = options.connection;
    this.control = options.control;
    this.database = options.database;
  }

  // SessionFacts, for expressions
  get databaseName(): string {
    return this.database;
  }
  get serverName(): string {
    return this.instance.serverName;
  }
  get version(): string {
    const { major, minor, build } = this.instance.version;
    return `Microsoft SQL Server 2022 (RTM-CU${build % 100}) - ${major}.${minor}.${build}.1 (X64) (pchat-dr simulator)`;
  }
  databaseIdOf(name: string): number | null {
    return this.instance.database(name)?.id ?? null;
  }
  databaseNameOf(id: number): string | null {
    return [...this.instance.databases.values()].find((database) => database.id === id)?.name ?? null;
  }
  databaseProperty(name: string, property: string): SqlValue {
    const database = this.instance.database(name);
    if (!database) return null;
    switch (property.toLowerCase()) {
      case 'status':
        return database.state;
      case 'recovery':
        return database.recoveryModel;
      case 'updateability':
        return database.isReadOnly ? 'READ_ONLY' : 'READ_WRITE';
      case 'useraccess':
        return database.userAccess;
      case 'isinstandby':
        return database.isInStandby ? '1' : '0';
      default:
        return null;
    }
  }
  serverProperty(property: string): SqlValue {
    const { major, minor, build } = this.instance.version;
    switch (property.toLowerCase()) {
      case 'servername':
        return this.instance.serverName;
      case 'machinename':
      case 'computernamephysicalnetbios':
        return this.instance.machineName;
      case 'instancename':
        return this.instance.instanceName;
      case SIMULATOR_MARKER:
        // SQL Server answers NULL for a property it does not know: only a rehearsal estate answers this one.
        return this.instance.identifiesAsSimulator ? `pchat-dr simulator ${PACKAGE_VERSION}` : null;
      case 'productversion':
        return `${major}.${minor}.${build}.1`;
      case 'edition':
        return 'Enterprise Edition (64-bit)';
      case 'engineedition':
        return '3';
      case 'ishadrenabled':
        return '0';
      default:
        return null;
    }
  }

  async executeBatch(sql: string, out: ResponseWriter, signal: AbortSignal): Promise<void> {
    await this.request(sql, signal, async () => {
      let statements: readonly Statement[];
      try {
        statements = parseBatch(sql);
      } catch (err) {
        if (!(err instanceof SqlError)) throw err;
        this.report(out, err);
        return;
      }
      await new Execution(this, out, signal, new Variables()).run(statements);
    });
  }

  async executeRpc(call: RpcCall, out: ResponseWriter, signal: AbortSignal): Promise<void> {
    await this.request(call.procedure, signal, async () => {
      const execution = new Execution(this, out, signal, new Variables());
      const args: ProcedureArgument[] = call.parameters.map((parameter) => ({
        name: parameter.name || undefined,
        value: { value: parameter.value, type: parameter.type },
        output: parameter.output,
      }));
      try {
        const result = await callProcedure(execution, call.procedure, args);
        out.returnStatus(result.returnStatus);
        for (const output of result.outputs) out.outputParameter(output.name, output.value.type, output.value.value);
      } catch (err) {
        if (!(err instanceof SqlError)) throw err;
        this.report(out, err);
        out.returnStatus(1);
      }
    });
  }

  /** sp_who2's Command: the first word of what runs now (worked out when asked: requests run far more often). */
  get command(): string {
    if (this.runningText === null) return 'AWAITING COMMAND';
    return this.runningText.trim().split(/\s+/)[0]?.toUpperCase().slice(0, 16) || 'SELECT';
  }

  /** One request: the instance's injected latency first, then the work, with sp_who2's status kept current. */
  private async request(text: string, signal: AbortSignal, work: () => Promise<void>): Promise<void> {
    this.status = 'runnable';
    this.runningText = text;
    this.lastBatch = new Date();
    try {
      if (this.instance.faults.latencyMs > 0) await sleep(this.instance.faults.latencyMs, signal);
      if (!signal.aborted) await work();
    } finally {
      this.status = 'sleeping';
      this.runningText = null;
    }
  }

  /** Sends an error as SQL Server does: ERROR, then the statement's DONE. */
  report(out: ResponseWriter, error: SqlError, trailer?: SqlError, line?: number): void {
    out.error({
      number: error.number,
      state: error.state,
      class: error.severity,
      message: error.message,
      procName: error.procName ?? '',
      lineNumber: error.lineNumber ?? line ?? 1,
    });
    if (trailer)
      out.error({
        number: trailer.number,
        state: trailer.state,
        class: trailer.severity,
        message: trailer.message,
        procName: '',
        lineNumber: line ?? 1,
      });
    out.done();
    this.lastError = (trailer ?? error).number;
  }

  /** Ends the connection (KILL, a role change of its database, the instance stopping). */
  terminate(): void {
    this.control.terminate();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.instance.sessionClosed(this);
  }
}

/** One batch (or one sp_executesql call) being run: its variables, its output, its cancellation. */
export class Execution {
  constructor(
    readonly session: Session,
    readonly out: ResponseWriter,
    readonly signal: AbortSignal,
    readonly variables: Variables,
  ) {}

  get instance(): SqlInstance {
    return this.session.instance;
  }

  evaluate(expression: Parameters<typeof evaluate>[0]): Typed {
    return evaluate(expression, { variables: this.variables, session: this.session, tables: [] });
  }

  /** An expression's value as text (paths, names): NULL is refused where SQL Server needs a value. */
  text(expression: Parameters<typeof evaluate>[0]): string {
    const value = this.evaluate(expression);
    if (value.value === null) throw errors.incorrectSyntax('NULL', 1);
    return String(castValue(value, { kind: 'nvarchar', length: 'max' }));
  }

  private observe(statement: Statement, error: number | null): void {
    const observer = this.instance.statementObserver;
    if (observer)
      observer({
        instance: this.instance.label,
        appName: this.session.appName,
        text: statement.text,
        parameters: this.variables.snapshot(),
        error,
        at: new Date(),
      });
  }

  async run(statements: readonly Statement[]): Promise<void> {
    for (const statement of statements) {
      if (this.signal.aborted) return;
      try {
        this.instance.checkStatementFault(statement.text);
        await runStatement(statement, this);
        this.session.lastError = 0;
        this.observe(statement, null);
      } catch (err) {
        if (!(err instanceof SqlError)) throw err;
        this.observe(statement, err.number);
        this.session.report(this.out, err, trailerFor(statement, err), statement.line);
        if (BATCH_ABORTING.has(err.number)) return;
      }
    }
  }
}

/** BACKUP and RESTORE failures end with 3013, ALTER DATABASE failures with 5069, as SQL Server sends them. */
function trailerFor(statement: Statement, error: SqlError): SqlError | undefined {
  if (error.number === 3013 || error.number === 5069) return undefined;
  switch (statement.kind) {
    case 'backup':
      return errors.terminatingAbnormally(`BACKUP ${statement.target}`);
    case 'restore':
      return errors.terminatingAbnormally(`RESTORE ${statement.target}`);
    case 'restoreInfo':
      return errors.terminatingAbnormally(
        { HEADERONLY: 'RESTORE HEADERONLY', FILELISTONLY: 'RESTORE FILELIST', VERIFYONLY: 'VERIFY DATABASE' }[
          statement.what
        ],
      );
    case 'alterDatabase':
      return errors.alterDatabaseFailed();
    default:
      return undefined;
  }
}
