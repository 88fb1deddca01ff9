/**
 * A simulated Persistent Chat estate: every SQL Server instance of a topology on its loopback port, the network
 * between them, the pool's state file, chat load, and the faults a rehearsal needs (stop or rebuild an instance,
 * partition two, add latency, fail the next matching statement, damage a backup file, pause a job, stop an Agent).
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
import { ChatLoad, type ChatStats } from './chat-load';
import { backupDatabase, backupLog, restoreDatabase, restoreLog } from './engine/backup-restore';
import { SqlInstance, type InstanceData } from './engine/instance';
import { setPartner } from './engine/mirroring';
import type { Row } from './engine/msdb';
import { Network } from './engine/network';
import { initialPoolState, readPoolState, writePoolState, type PoolState } from './pool/pool-state';

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

export interface DatabaseSnapshot {
  name: string;
  state: string;
  recoveryModel: string;
  isInStandby: boolean;
  /** Next LSN: end of log when ONLINE, redo point when RESTORING. */
  nextLsn: string;
  logChainStart: string | null;
  messages: number;
  lastMessageId: number | null;
  mirroring: { role: string; state: string; safety: string; partner: string } | null;
}

export interface InstanceSnapshot {
  name: string;
  host: string;
  port: number;
  running: boolean;
  agentRunning: boolean;
  sessions: number;
  databases: DatabaseSnapshot[];
  jobs: {
    name: string;
    enabled: boolean;
    running: boolean;
    lastOutcome: 'succeeded' | 'failed' | null;
    lastMessage: string | null;
  }[];
  logShipping: {
    primaries: Row[];
    secondaries: Row[];
    monitorPrimary: Row[];
    monitorSecondary: Row[];
  };
}

export interface EstateSnapshot {
  instances: InstanceSnapshot[];
  partitions: [string, string][];
  pool: PoolState;
  chat: ChatStats;
}

interface SavedEstate {
  version: 1;
  instances: InstanceData[];
  partitions: [string, string][];
  /** Instances that were down: a restarted simulator keeps them down (a lost datacenter stays lost). */
  stopped: string[];
}

const AGENT_USER = 'pchat-dr simulator';

/** The pool state file: the one the stand-in shell is told to use (--pool-state in poolControl.command), else in the state folder. */
export function poolStateFileOf(topology: Topology, stateDir: string): string {
  const args = topology.poolControl.command;
  const index = args.indexOf('--pool-state');
  return index >= 0 && args[index + 1] ? args[index + 1] : path.join(stateDir, 'pool.json');
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
    for (const described of topology.instances) {
      const instance = new SqlInstance({
        name: described.name,
        host: described.host,
        port: described.port ?? 1433,
        logins: { [described.login]: resolveSecret(described.password) },
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
        .filter((instance) => !stopped.has(instance.serverName))
        .map((instance) => instance.start()),
    );
    if (!saved) this.deployDatabases();
    this.network.start();
    this.save();
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

  clearFaults(name: string): void {
    const instance = this.instance(name);
    instance.faults = { latencyMs: 0, statements: [] };
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
      instances: [...this.instances.values()].map((instance) => this.instanceSnapshot(instance)),
      partitions: this.network.partitioned(),
      pool: readPoolState(this.poolStateFile),
      chat: this.chat.snapshot(),
    };
  }

  private instanceSnapshot(instance: SqlInstance): InstanceSnapshot {
    const msdb = instance.msdb;
    return {
      name: instance.serverName,
      host: instance.host,
      port: instance.port,
      running: instance.running,
      agentRunning: instance.agent.serviceRunning,
      sessions: instance.sessions.size,
      databases: [...instance.databases.values()]
        .filter((database) => database.id > 4)
        .map((database) => ({
          name: database.name,
          state: database.state,
          recoveryModel: database.recoveryModel,
          isInStandby: database.isInStandby,
          nextLsn: database.nextLsn.toString(),
          logChainStart: database.logChainStart?.toString() ?? null,
          messages: database.messages.length,
          lastMessageId: database.messages[database.messages.length - 1]?.id ?? null,
          mirroring: database.mirroring && {
            role: database.mirroring.role,
            state: database.mirroring.state,
            safety: database.mirroring.safety,
            partner: database.mirroring.partnerInstance,
          },
        })),
      jobs: msdb.rows('sysjobs').map((job) => {
        const outcome = msdb
          .rows('sysjobhistory')
          .filter((row) => row.job_id === job.job_id && row.step_id === 0)
          .pop();
        return {
          name: String(job.name),
          enabled: job.enabled === 1,
          running: instance.agent.isRunning(String(job.job_id)),
          lastOutcome: outcome ? (outcome.run_status === 1 ? 'succeeded' : 'failed') : null,
          lastMessage: outcome ? String(outcome.message) : null,
        };
      }),
      logShipping: {
        primaries: msdb.rows('log_shipping_primary_databases'),
        secondaries: msdb.rows('log_shipping_secondary_databases'),
        monitorPrimary: msdb.rows('log_shipping_monitor_primary'),
        monitorSecondary: msdb.rows('log_shipping_monitor_secondary'),
      },
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
      stopped: [...this.instances.values()]
        .filter((instance) => !instance.running)
        .map((instance) => instance.serverName),
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
