/**
 * A simulated Persistent Chat estate: every SQL Server instance of a topology on its loopback port, the network
 * between them, the pool's state file, chat load, and the faults a rehearsal needs (stop or rebuild an instance,
 * partition two, add latency, fail the next matching statement, refuse logins, make a database SUSPECT, EMERGENCY
 * or OFFLINE, damage a backup file, pause a job, slow jobs down, stop an Agent).
 * State is kept in a folder, so a restarted simulator continues where it stopped.
 *
 * A fresh estate looks like a deployed pool before any DR work: mgc (and mgccomp) ONLINE on `primary`, mirrored
 * to `mirror` (high safety, SYNCHRONIZED), nothing yet on the DC2 instances, pool Normal with DC1 servers active.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Topology } from '../topology/schema';
import { resolveSecret } from '../topology/secrets';
import { ChatLoad } from './chat-load';
import { backupDatabase, backupLog, restoreDatabase, restoreLog } from './engine/backup-restore';
import { LOGIN_REFUSALS } from './engine/errors';
import { noFaults, SqlInstance, type InstanceData, type ObservedStatement } from './engine/instance';
import { setPartner, suspendMirroring } from './engine/mirroring';
import { Network } from './engine/network';
import { instanceSnapshot, type EstateSnapshot } from './estate-snapshot';
import { caFileOf, certificateNamesOf, ensureCertificates, type KeyAndCertificate } from './certificates';
import { serverIdentity, ServerIdentityUnknown, type ServerIdentity } from './server-identity';
import { initialPoolState, readPoolState, writePoolState } from './pool/pool-state';

export interface EstateOptions {
  topology: Topology;
  /** The topology file (the stand-in management shell reads it to reach the instances). */
  topologyFile: string;
  /** Where state is kept; a new folder means a fresh estate. */
  stateDir: string;
  /** Ignore saved state and start fresh. */
  fresh?: boolean;
  /** Time a mirror takes to become SYNCHRONIZED after catching up; 500 ms by default. */
  synchronizeAfterMs?: number;
}

interface SavedEstate {
  version: 1;
  instances: InstanceData[];
  partitions: [string, string][];
  /** Instances that were down: a restarted simulator keeps them down (a lost datacenter stays lost). */
  stopped: string[];
}

const AGENT_USER = 'pchat-dr simulator';

/** The states the db-state fault puts a database in (ONLINE ends it). */
export const FAULT_DATABASE_STATES = ['SUSPECT', 'EMERGENCY', 'OFFLINE', 'ONLINE'] as const;
export type FaultDatabaseState = (typeof FAULT_DATABASE_STATES)[number];

/** The pool state file: the one the stand-in shell is told to use (--pool-state in poolControl.command), else in the state folder. */
export function poolStateFileOf(topology: Topology, stateDir: string): string {
  const args = topology.poolControl.command;
  const index = args.indexOf('--pool-state');
  return index >= 0 && args[index + 1] ? args[index + 1] : path.join(stateDir, 'pool.json');
}

function identityOf(described: Topology['instances'][number], poolFqdn: string): ServerIdentity {
  try {
    return serverIdentity(described, poolFqdn);
  } catch (err) {
    if (err instanceof ServerIdentityUnknown) throw new EstateNotStartable(err.message);
    throw err;
  }
}

/** The topology describes an estate the simulator cannot run as it stands; the message says what to change. */
export class EstateNotStartable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EstateNotStartable';
  }
}

export class SimulatedEstate {
  readonly network: Network;
  readonly instances = new Map<string, SqlInstance>();
  readonly chat: ChatLoad;
  readonly poolStateFile: string;
  private saveTimer?: NodeJS.Timeout;
  private closed = false;

  private constructor(private readonly options: EstateOptions) {
    this.network = new Network({ synchronizeAfterMs: options.synchronizeAfterMs ?? 500, tickMs: 100 });
    this.poolStateFile = poolStateFileOf(options.topology, options.stateDir);
    this.chat = new ChatLoad(options.topology, this.poolStateFile);
  }

  static async start(options: EstateOptions): Promise<SimulatedEstate> {
    const estate = new SimulatedEstate(options);
    await estate.open();
    return estate;
  }

  get topology(): Topology {
    return this.options.topology;
  }

  private get stateFile(): string {
    return path.join(this.options.stateDir, 'estate.json');
  }

  private async open(): Promise<void> {
    const { topology, stateDir } = this.options;
    mkdirSync(stateDir, { recursive: true });
    for (const folder of [topology.backupShare.workerPath, topology.copyFolder.workerPath])
      mkdirSync(folder, { recursive: true });
    const identities = new Map(
      topology.instances.map((described) => [described.name, identityOf(described, topology.pool.fqdn)]),
    );
    const certificates = await this.issueCertificates(identities);
    for (const described of topology.instances) {
      const instance = new SqlInstance({
        label: described.name,
        identity: identities.get(described.name)!,
        host: described.host,
        port: described.port ?? 1433,
        logins: { [described.login]: resolveSecret(described.password) },
        tls: certificates.get(described.name),
        network: this.network,
        onChange: () => this.scheduleSave(),
      });
      this.network.add(instance);
      this.instances.set(described.name, instance);
    }

    const saved =
      !this.options.fresh && existsSync(this.stateFile)
        ? (JSON.parse(readFileSync(this.stateFile, 'utf8')) as SavedEstate)
        : undefined;
    if (saved) {
      for (const data of saved.instances) this.instances.get(data.name)?.load(data);
      for (const [a, b] of saved.partitions) this.network.partition(a, b);
    } else if (existsSync(this.poolStateFile)) {
      rmSync(this.poolStateFile);
    }
    if (!existsSync(this.poolStateFile)) {
      mkdirSync(path.dirname(this.poolStateFile), { recursive: true });
      writePoolState(this.poolStateFile, initialPoolState(this.options.topologyFile, topology));
    }
    const stopped = new Set(saved?.stopped ?? []);
    await Promise.all(
      [...this.instances.values()]
        .filter((instance) => !stopped.has(instance.label))
        .map((instance) => instance.start()),
    );
    if (!saved) this.deployDatabases();
    this.network.start();
    this.save();
  }

  /**
   * Every instance's certificate, from the CA in <state>/tls/ (made on first start, then reused). An instance whose
   * caFile names another CA could not validate its certificate, so the estate refuses to start.
   */
  private issueCertificates(identities: Map<string, ServerIdentity>): Promise<Map<string, KeyAndCertificate>> {
    const tlsDir = path.join(this.options.stateDir, 'tls');
    const caFile = caFileOf(tlsDir);
    for (const described of this.options.topology.instances) {
      if (described.caFile && path.resolve(described.caFile) !== caFile)
        throw new EstateNotStartable(
          `instance ${described.name}: its caFile ${described.caFile} is not the simulator's CA, ${caFile} (kept in ` +
            `the state folder's tls/): point caFile at it, or leave caFile out`,
        );
    }
    return ensureCertificates(
      tlsDir,
      this.options.topology.instances.map((described) => {
        const identity = identities.get(described.name)!;
        return { label: described.name, names: certificateNamesOf({ ...identity, host: described.host }) };
      }),
    );
  }

  /** What Topology Builder and Install-CsMirrorDatabase leave: databases on primary, mirrored to mirror. */
  private deployDatabases(): void {
    const { topology } = this.options;
    for (const kind of ['mgc', 'mgccomp'] as const) {
      const roles = topology.databases[kind];
      if (!roles) continue;
      const name = roles.name ?? kind;
      const primary = this.instance(roles.primary);
      const mirror = this.instance(roles.mirror);
      const existing = primary.database(name) ?? primary.createDatabase(name);
      this.mirrorDatabase(primary, mirror, existing.name);
    }
  }

  /** Seeds the mirror from a full and a log backup on the share, then starts a high-safety session. */
  private mirrorDatabase(principal: SqlInstance, mirror: SqlInstance, name: string): void {
    const share = this.options.topology.backupShare.sqlPath;
    const actor = { userName: AGENT_USER };
    const full = path.join(share, `${name}_mirroring_seed.bak`);
    const log = path.join(share, `${name}_mirroring_seed.trn`);
    backupDatabase(principal, name, full, { init: true }, actor);
    backupLog(principal, name, log, { init: true }, actor);
    restoreDatabase(mirror, name, full, { recovery: 'NORECOVERY', replace: true }, actor);
    restoreLog(mirror, name, log, { recovery: 'NORECOVERY' }, actor);
    setPartner(mirror, mirror.requireDatabase(name), this.network.endpointOf(principal));
    setPartner(principal, principal.requireDatabase(name), this.network.endpointOf(mirror));
    // A deployed pool's mirror has long caught up.
    principal.requireDatabase(name).mirroring!.state = 'SYNCHRONIZED';
    mirror.requireDatabase(name).mirroring!.state = 'SYNCHRONIZED';
  }

  instance(name: string): SqlInstance {
    const instance = this.instances.get(name);
    if (!instance)
      throw new Error(`no instance named ${name} in this estate (instances: ${[...this.instances.keys()].join(', ')})`);
    return instance;
  }

  // -------------------------------------------------------------------------------------------- faults

  async stopInstance(name: string): Promise<void> {
    await this.instance(name).stop();
  }

  async startInstance(name: string): Promise<void> {
    await this.instance(name).start();
  }

  /**
   * DC1 rebuilt after a disaster: the instance comes back empty, with Topology Builder's fresh databases where it
   * is the primary store, no mirroring, no log shipping, no jobs.
   */
  async rebuildInstance(name: string): Promise<void> {
    const instance = this.instance(name);
    await instance.stop();
    instance.load({ name, nextDatabaseId: 5, databases: [], msdb: { tables: {}, counters: {} }, agentRunning: true });
    for (const database of [...instance.databases.values()]) if (database.id > 4) instance.dropDatabase(database.name);
    for (const kind of ['mgc', 'mgccomp'] as const) {
      const roles = this.options.topology.databases[kind];
      if (roles?.primary === name) instance.createDatabase(roles.name ?? kind);
    }
    await instance.start();
  }

  partition(a: string, b: string): void {
    this.instance(a);
    this.instance(b);
    this.network.partition(a, b);
    this.save();
  }

  heal(a: string, b: string): void {
    this.network.heal(a, b);
    this.save();
  }

  /**
   * Off: the instance answers SERVERPROPERTY('PchatDrSimulator') with NULL, as a real SQL Server does; what a
   * `simulated: true` topology pointing at real instances looks like to the worker.
   */
  setIdentifiesAsSimulator(name: string, identifies: boolean): void {
    this.instance(name).identifiesAsSimulator = identifies;
  }

  setLatency(name: string, ms: number): void {
    this.instance(name).faults.latencyMs = ms;
  }

  /** The next `count` statements on `name` whose text matches `pattern` (a case-insensitive regex) fail with this error. */
  failNext(
    name: string,
    pattern: string,
    error: { number: number; message: string; severity?: number },
    count = 1,
  ): void {
    this.instance(name).faults.statements.push({
      pattern: new RegExp(pattern, 'i'),
      error: { number: error.number, message: error.message, severity: error.severity ?? 16 },
      remaining: count,
    });
  }

  /** Logins fail with this error (18456 by default) while the port still answers. */
  refuseLogins(name: string, errorNumber = 18456): void {
    if (!LOGIN_REFUSALS[errorNumber])
      throw new Error(
        `error ${errorNumber} is not a login error the simulator knows; it refuses logins with ${Object.keys(LOGIN_REFUSALS).join(', ')}`,
      );
    this.instance(name).faults.refusedLogins = errorNumber;
  }

  acceptLogins(name: string): void {
    this.instance(name).faults.refusedLogins = null;
  }

  /** Every Agent job step on the instance runs `ms` longer, so a job can be caught running. */
  setJobStepDelay(name: string, ms: number): void {
    this.instance(name).faults.jobStepDelayMs = ms;
  }

  /**
   * A database that no longer answers: SUSPECT (damaged, 926), EMERGENCY (read-only, sysadmin only), OFFLINE (942);
   * ONLINE again ends the fault. Its users are disconnected, and a mirroring session it leads is SUSPENDED, as the
   * principal cannot serve it any more.
   */
  setDatabaseState(name: string, databaseName: string, state: FaultDatabaseState): void {
    const instance = this.instance(name);
    const database = instance.database(databaseName);
    if (!database) throw new Error(`no database ${databaseName} on ${name}`);
    if (database.isMirror || !FAULT_DATABASE_STATES.includes(database.state as FaultDatabaseState))
      throw new Error(
        `${database.name} on ${name} is ${database.state}${database.isMirror ? ' (a mirror)' : ''}: db-state applies to a recovered database (${FAULT_DATABASE_STATES.join(', ')})`,
      );
    database.state = state;
    if (state !== 'ONLINE') {
      instance.terminateSessionsUsing(database);
      if (database.mirroring?.role === 'PRINCIPAL') suspendMirroring(instance, database);
    }
    instance.changed();
    this.network.changed();
  }

  /** Every statement any instance runs, as it runs (null stops it): the fault campaign's statement log. */
  observeStatements(observer: ((statement: ObservedStatement) => void) | null): void {
    for (const instance of this.instances.values()) instance.statementObserver = observer;
  }

  clearFaults(name: string): void {
    this.instance(name).faults = noFaults();
  }

  deleteBackupFile(file: string): void {
    rmSync(file);
  }

  /** Damages a backup file the way a bad disk or a truncated copy would: the restore then fails with 3241. */
  corruptBackupFile(file: string): void {
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, text.slice(0, Math.floor(text.length * 0.6)));
  }

  setJobEnabled(instanceName: string, jobName: string, enabled: boolean): void {
    const instance = this.instance(instanceName);
    const job = instance.agent.findJob(jobName, null);
    job.enabled = enabled ? 1 : 0;
    instance.changed();
  }

  setAgentRunning(instanceName: string, running: boolean): void {
    const agent = this.instance(instanceName).agent;
    if (running) agent.startService();
    else agent.stopService();
  }

  // -------------------------------------------------------------------------------------------- reading

  /** Messages acknowledged to chat clients that the database on `instanceName` does not hold. */
  lostMessages(instanceName: string, database = this.options.topology.databases.mgc.name ?? 'mgc'): string[] {
    const held = new Set(
      this.instance(instanceName)
        .requireDatabase(database)
        .messages.map((message) => message.clientId),
    );
    return this.chat.snapshot().acknowledgedIds.filter((id) => !held.has(id));
  }

  snapshot(): EstateSnapshot {
    return {
      instances: [...this.instances.values()].map((instance) => instanceSnapshot(instance)),
      partitions: this.network.partitioned(),
      pool: readPoolState(this.poolStateFile),
      chat: this.chat.snapshot(),
    };
  }

  // -------------------------------------------------------------------------------------------- lifecycle

  private scheduleSave(): void {
    if (this.closed || this.saveTimer) return;
    // At most once a second: the state holds every message and msdb row, and writing it is not free.
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save();
    }, 1_000);
    this.saveTimer.unref();
  }

  /** Writes the estate's state (atomically: a half-written file would lose the estate). */
  save(): void {
    const saved: SavedEstate = {
      version: 1,
      instances: [...this.instances.values()].map((instance) => instance.toData()),
      partitions: this.network.partitioned(),
      stopped: [...this.instances.values()].filter((instance) => !instance.running).map((instance) => instance.label),
    };
    const temporary = `${this.stateFile}.${randomUUID().slice(0, 8)}.tmp`;
    writeFileSync(
      temporary,
      JSON.stringify(saved, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value)),
    );
    renameSync(temporary, this.stateFile);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.chat.close();
    this.network.stop();
    await Promise.all([...this.instances.values()].map((instance) => instance.agent.idle()));
    // Saved before stopping: which instances were up is part of the state a restart continues from.
    this.save();
    this.closed = true;
    if (this.saveTimer) clearTimeout(this.saveTimer);
    await Promise.all([...this.instances.values()].map((instance) => instance.stop()));
  }
}
