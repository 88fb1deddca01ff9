/**
 * Chat load: the pool's active Persistent Chat servers posting messages to mgc, through the real mssql driver and
 * the simulated instances' TDS ports, like the real servers' back-end connections. Each server connects to the
 * database the pool uses (primary store when Normal, backup store when FailedOver) and, as a mirroring-aware
 * client, tries the mirroring partner when the principal refuses. Acknowledged messages are remembered by client
 * id, so the messages a recovered database lacks can be counted.
 */
import { randomUUID } from 'node:crypto';
import sql from 'mssql';
import type { Instance, Topology } from '../topology/schema';
import { driverEncryption } from '../topology/encryption';
import { resolveSecret } from '../topology/secrets';
import { readPoolState } from './pool/pool-state';

export interface ChatStats {
  running: boolean;
  ratePerSecond: number;
  attempted: number;
  acknowledged: number;
  failed: number;
  lastError: string | null;
  /** Client ids of acknowledged messages, in the order they were acknowledged. */
  acknowledgedIds: string[];
}

export class ChatLoad {
  private timer?: NodeJS.Timeout;
  private inFlight = false;
  private sequence = 0;
  private nextServer = 0;
  private readonly run = randomUUID().slice(0, 8);
  private readonly pools = new Map<string, Promise<sql.ConnectionPool>>();
  /** The instance of each store that last accepted a post (the principal, as far as clients know). */
  private readonly preferred = new Map<string, string>();
  private stats: ChatStats = {
    running: false,
    ratePerSecond: 0,
    attempted: 0,
    acknowledged: 0,
    failed: 0,
    lastError: null,
    acknowledgedIds: [],
  };

  constructor(
    private readonly topology: Topology,
    private readonly poolStateFile: string,
  ) {}

  start(ratePerSecond = 5): void {
    this.stop();
    this.stats.running = true;
    this.stats.ratePerSecond = ratePerSecond;
    this.timer = setInterval(() => void this.tick(), Math.max(10, Math.round(1000 / ratePerSecond)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stats.running = false;
  }

  snapshot(): ChatStats {
    return { ...this.stats, acknowledgedIds: [...this.stats.acknowledgedIds] };
  }

  /** Posts one message now (also used by tests that want an exact count). Resolves to the client id, or null. */
  async postOne(): Promise<string | null> {
    const pool = readPoolState(this.poolStateFile);
    const servers = pool.activeServers;
    await this.closeInactive(servers);
    if (servers.length === 0) return null; // no active server: the chat service accepts nothing
    const server = servers[this.nextServer++ % servers.length];
    const store =
      pool.poolState === 'Normal' ? (['primary', 'mirror'] as const) : (['backup', 'backupMirror'] as const);
    const roles = this.topology.databases.mgc;
    const candidates = store.map((role) => roles[role]).filter((name): name is string => Boolean(name));
    const storeKey = store.join('/');
    const preferred = this.preferred.get(storeKey);
    if (preferred) candidates.sort((a, b) => (a === preferred ? -1 : b === preferred ? 1 : 0));

    const clientId = `${this.run}-${++this.sequence}`;
    this.stats.attempted++;
    let lastError: unknown;
    for (const instanceName of candidates) {
      try {
        const connection = await this.poolFor(server, this.instance(instanceName));
        const request = connection.request();
        request.input('client_id', sql.NVarChar(64), clientId);
        request.input('author', sql.NVarChar(128), server);
        request.input('body', sql.NVarChar(sql.MAX), `message ${this.sequence} posted through ${server}`);
        request.output('id', sql.BigInt);
        await request.execute('dbo.post_chat_message');
        this.preferred.set(storeKey, instanceName);
        this.stats.acknowledged++;
        this.stats.acknowledgedIds.push(clientId);
        return clientId;
      } catch (err) {
        lastError = err;
        await this.dropPool(server, instanceName);
      }
    }
    this.stats.failed++;
    this.stats.lastError = lastError instanceof Error ? lastError.message : String(lastError);
    return null;
  }

  async close(): Promise<void> {
    this.stop();
    await Promise.all([...this.pools.keys()].map((key) => this.dropKey(key)));
  }

  private async tick(): Promise<void> {
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      await this.postOne();
    } catch (err) {
      this.stats.lastError = (err as Error).message;
    } finally {
      this.inFlight = false;
    }
  }

  private instance(name: string): Instance {
    return this.topology.instances.find((instance) => instance.name === name)!;
  }

  private poolFor(server: string, instance: Instance): Promise<sql.ConnectionPool> {
    const key = `${server}|${instance.name}`;
    let pool = this.pools.get(key);
    if (!pool) {
      const connection = new sql.ConnectionPool({
        server: instance.host,
        port: instance.port,
        user: instance.login,
        password: resolveSecret(instance.password),
        database: this.topology.databases.mgc.name ?? 'mgc',
        connectionTimeout: 3_000,
        requestTimeout: 5_000,
        pool: { min: 0, max: 1 },
        options: {
          ...driverEncryption(instance),
          appName: 'Persistent Chat Server',
          workstationId: server,
        },
      });
      connection.on('error', () => {}); // a dropped connection surfaces on the next post
      pool = connection.connect();
      pool.catch(() => {});
      this.pools.set(key, pool);
    }
    return pool;
  }

  private async dropPool(server: string, instanceName: string): Promise<void> {
    await this.dropKey(`${server}|${instanceName}`);
  }

  private async dropKey(key: string): Promise<void> {
    const pool = this.pools.get(key);
    this.pools.delete(key);
    if (pool) await pool.then((connection) => connection.close()).catch(() => {});
  }

  /** A server taken off the active list stops using the database: its connections close. */
  private async closeInactive(active: string[]): Promise<void> {
    const stale = [...this.pools.keys()].filter((key) => !active.includes(key.split('|')[0]));
    await Promise.all(stale.map((key) => this.dropKey(key)));
  }
}
