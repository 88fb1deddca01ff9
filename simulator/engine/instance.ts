/**
 * One simulated SQL Server instance: its databases, msdb, SQL Server Agent, sessions and faults, served over TDS
 * on its port while running. Stopping it closes the port (clients get "connection refused") but keeps its state,
 * like a server that is powered off.
 */
import {
  LoginRefused,
  type ConnectionInfo,
  type LoginRequest,
  type SessionControl,
  type SqlServerModel,
} from '../tds/session';
import type { TlsCredentials } from '../tds/encryption';
import { startTdsServer, type TdsServer } from '../tds/server';
import type { ServerIdentity } from '../server-identity';
import { Agent } from './agent';
import { Database, type DatabaseData } from './database';
import { errors, LOGIN_REFUSALS, SqlError } from './errors';
import { Msdb, type MsdbData } from './msdb';
import type { Network } from './network';
import { Session } from './session';

export interface InstanceOptions {
  /** The topology's name for it (dc1-sql-a): how the estate, its faults and its saved state refer to it. */
  label: string;
  /** What it answers to: @@SERVERNAME, its computer's names, the DNS name of its mirroring endpoint. */
  identity: ServerIdentity;
  host: string;
  port: number;
  /** SQL logins: name → password. */
  logins: Record<string, string>;
  /** Its certificate: connections are encrypted as SQL Server encrypts them. Without one, none are. */
  tls?: TlsCredentials;
  network: Network;
  /** Called after every change that should survive a restart of the simulator. */
  onChange?: () => void;
}

/** A fault: the next statements whose text matches `pattern` fail with this error. */
export interface StatementFault {
  pattern: RegExp;
  error: { number: number; message: string; severity: number };
  remaining: number;
}

/** What a bad night does to an instance that is still up (`sim fault ...`); a restart of the simulator clears it. */
export interface InstanceFaults {
  /** Every request is answered this late. */
  latencyMs: number;
  /** Every Agent job step runs this much longer (a slow share or disk). */
  jobStepDelayMs: number;
  /** The next statements matching a pattern fail. */
  statements: StatementFault[];
  /** Logins fail with this error (a key of LOGIN_REFUSALS) while the port answers; null: they succeed. */
  refusedLogins: number | null;
}

/** A statement as it ran: the fault campaign's statement log (test/campaign/) compares what a run did with the estate. */
export interface ObservedStatement {
  /** The instance's label. */
  instance: string;
  /** The application that sent it, as its login named itself (the worker says pchat-dr, chat servers say so). */
  appName: string;
  text: string;
  /** The batch's variables (sp_executesql parameters among them) when the statement ran. */
  parameters: Record<string, unknown>;
  /** The SQL Server error it failed with, or null. */
  error: number | null;
  at: Date;
}

export function noFaults(): InstanceFaults {
  return { latencyMs: 0, jobStepDelayMs: 0, statements: [], refusedLogins: null };
}

const VERSION = { major: 16, minor: 0, build: 4205 };
const SYSTEM_DATABASES = ['master', 'tempdb', 'model', 'msdb'];
/** User sessions start here; lower SPIDs are system and Agent sessions, as on a real server. */
const FIRST_USER_SPID = 55;

export class SqlInstance implements SqlServerModel {
  readonly label: string;
  /** @@SERVERNAME: COMPUTER or COMPUTER\INSTANCE. */
  readonly serverName: string;
  /** SERVERPROPERTY('PchatDrSimulator') answers; off, the instance answers NULL there as SQL Server does. */
  identifiesAsSimulator = true;
  readonly machineName: string;
  /** null for the default instance (MSSQLSERVER). */
  readonly instanceName: string | null;
  /** The computer's DNS name; partners reach its mirroring endpoint at TCP://<fqdn>:5022. */
  readonly fqdn: string;
  readonly version = VERSION;
  readonly host: string;
  readonly port: number;
  readonly network: Network;
  /** Notional folder of data files, for physical file names (RESTORE ... WITH MOVE clashes). */
  readonly dataFolder = '/var/opt/mssql/data';
  readonly databases = new Map<string, Database>();
  readonly sessions = new Map<number, Session>();
  readonly agent: Agent;
  msdb = new Msdb();
  faults: InstanceFaults = noFaults();
  /** Told of every statement a session runs (null: nobody listens, the usual case). */
  statementObserver: ((statement: ObservedStatement) => void) | null = null;
  running = false;
  startedAt = new Date();
  private logins: Record<string, string>;
  private readonly tls?: TlsCredentials;
  private server?: TdsServer;
  private nextSpid = FIRST_USER_SPID;
  private nextDatabaseId = 5;
  private readonly onChange: () => void;

  constructor(options: InstanceOptions) {
    this.label = options.label;
    ({
      serverName: this.serverName,
      machineName: this.machineName,
      instanceName: this.instanceName,
      fqdn: this.fqdn,
    } = options.identity);
    this.host = options.host;
    this.port = options.port;
    this.logins = options.logins;
    this.tls = options.tls;
    this.network = options.network;
    this.onChange = options.onChange ?? (() => {});
    SYSTEM_DATABASES.forEach((name, index) => {
      const database = new Database({
        id: index + 1,
        name,
        dataFolder: this.dataFolder,
        createDate: new Date('2003-04-08T09:13:36Z'),
      });
      database.recoveryModel = name === 'model' ? 'FULL' : 'SIMPLE';
      this.databases.set(name, database);
    });
    this.agent = new Agent(this);
  }

  /** Opens the TDS port; the Agent runs its schedules while the instance runs. */
  async start(): Promise<void> {
    if (this.running) return;
    this.server = await startTdsServer(this, { host: this.host, port: this.port, tls: this.tls });
    this.running = true;
    this.startedAt = new Date();
    this.agent.instanceStarted();
    this.network.changed();
  }

  /** Closes the port and every connection: the instance is down. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.agent.instanceStopped();
    for (const session of [...this.sessions.values()]) session.terminate();
    await this.server?.close();
    this.server = undefined;
    this.network.changed();
  }

  changed(): void {
    this.onChange();
  }

  async login(request: LoginRequest, connection: ConnectionInfo, control: SessionControl): Promise<Session> {
    const password = Object.entries(this.logins).find(
      ([name]) => name.toLowerCase() === request.userName.toLowerCase(),
    )?.[1];
    if (password === undefined || password !== request.password)
      throw new LoginRefused([errors.loginFailed(request.userName)]);
    if (this.faults.refusedLogins !== null)
      throw new LoginRefused(LOGIN_REFUSALS[this.faults.refusedLogins](request.userName, request.database || 'master'));
    let database = 'master';
    if (request.database) {
      try {
        database = this.requireAvailable(request.database).name;
      } catch (err) {
        if (!(err instanceof SqlError)) throw err;
        throw new LoginRefused([
          errors.cannotOpenDatabaseAtLogin(request.database),
          errors.loginFailed(request.userName),
        ]);
      }
    }
    const session = new Session({ instance: this, spid: this.nextSpid++, request, connection, control, database });
    this.sessions.set(session.spid, session);
    return session;
  }

  database(name: string): Database | undefined {
    return this.databases.get(name.toLowerCase());
  }

  requireDatabase(name: string): Database {
    const database = this.database(name);
    if (!database) throw errors.databaseDoesNotExist(name);
    return database;
  }

  /**
   * A database a session may use: ONLINE and not a mirror (954, 927, 926, 942 otherwise), or in EMERGENCY, which
   * sysadmin members (every simulated login) may read.
   */
  requireAvailable(name: string): Database {
    const database = this.requireDatabase(name);
    if (database.isMirror) throw errors.databaseIsMirror(database.name);
    switch (database.state) {
      case 'ONLINE':
      case 'EMERGENCY':
        return database;
      case 'SUSPECT':
        throw errors.databaseSuspect(database.name);
      case 'OFFLINE':
        throw errors.databaseOffline(database.name);
      default:
        throw errors.databaseRestoring(database.name);
    }
  }

  createDatabase(name: string): Database {
    if (this.database(name)) throw errors.databaseAlreadyExists(name);
    const database = new Database({ id: this.nextDatabaseId++, name, dataFolder: this.dataFolder });
    this.databases.set(name.toLowerCase(), database);
    this.changed();
    return database;
  }

  /** Replaces (or adds) a database, keeping its id when it existed: RESTORE ... WITH REPLACE. */
  putDatabase(database: Database): void {
    const existing = this.database(database.name);
    database.id = existing ? existing.id : this.nextDatabaseId++;
    this.databases.set(database.name.toLowerCase(), database);
    this.changed();
  }

  dropDatabase(name: string): void {
    this.databases.delete(name.toLowerCase());
    this.changed();
  }

  sessionsUsing(database: Database): Session[] {
    return [...this.sessions.values()].filter(
      (session) => session.database.toLowerCase() === database.name.toLowerCase(),
    );
  }

  /** Ends every session using the database (a role change, ROLLBACK IMMEDIATE), except `keep`. */
  terminateSessionsUsing(database: Database, keep?: Session): void {
    for (const session of this.sessionsUsing(database)) if (session !== keep) session.terminate();
  }

  /** KILL spid. */
  kill(spid: number, by: Session): void {
    if (spid === by.spid) throw errors.killOwnProcess();
    if (this.agent.isAgentSession(spid)) return; // the Agent reconnects at once
    const session = this.sessions.get(spid);
    if (!session) throw errors.notActiveProcess(spid);
    session.terminate();
  }

  sessionClosed(session: Session): void {
    this.sessions.delete(session.spid);
  }

  /** Fails the statement if a fault was injected for it. */
  checkStatementFault(text: string): void {
    const fault = this.faults.statements.find((candidate) => candidate.pattern.test(text));
    if (!fault) return;
    fault.remaining--;
    if (fault.remaining <= 0) this.faults.statements.splice(this.faults.statements.indexOf(fault), 1);
    throw new SqlError(fault.error.number, fault.error.message, fault.error.severity);
  }

  /** Files of other databases on this instance, by physical name: a restore may not overwrite them. */
  physicalFileOwner(physicalName: string, except?: string): Database | undefined {
    for (const database of this.databases.values()) {
      if (except && database.name.toLowerCase() === except.toLowerCase()) continue;
      if (database.files.some((file) => file.physicalName.toLowerCase() === physicalName.toLowerCase()))
        return database;
    }
    return undefined;
  }

  toData(): InstanceData {
    return {
      name: this.label,
      nextDatabaseId: this.nextDatabaseId,
      databases: [...this.databases.values()]
        .filter((database) => database.id > 4)
        .map((database) => database.toData()),
      msdb: this.msdb.toData(),
      agentRunning: this.agent.serviceRunning,
    };
  }

  /** Restores what toData() saved (a restart of the simulator). */
  load(data: InstanceData): void {
    this.nextDatabaseId = data.nextDatabaseId;
    for (const saved of data.databases) this.databases.set(saved.name.toLowerCase(), Database.fromData(saved));
    this.msdb = new Msdb(data.msdb);
    this.agent.serviceRunning = data.agentRunning;
  }
}

export interface InstanceData {
  /** The instance's label. */
  name: string;
  nextDatabaseId: number;
  databases: DatabaseData[];
  msdb: MsdbData;
  agentRunning: boolean;
}
