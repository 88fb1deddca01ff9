/**
 * The network between simulated instances: which are up, which pairs are partitioned (by the instances' labels),
 * how a mirroring endpoint address (TCP://<computer's DNS name>:5022, or its short name, or its address) finds its
 * instance. It also drives database mirroring in the background: every tick (and after every change) each
 * session's states are reconciled and the principal's log shipped.
 */
import type { SqlInstance } from './instance';
import { maintainMirroring } from './mirroring';

export interface NetworkOptions {
  /** How long a mirror takes to catch up before SYNCHRONIZING becomes SYNCHRONIZED. */
  synchronizeAfterMs: number;
  /** How often mirroring is reconciled (asynchronous mirroring ships log at this pace). */
  tickMs: number;
}

export const MIRRORING_ENDPOINT_PORT = 5022;

export class Network {
  private readonly instances = new Map<string, SqlInstance>();
  private readonly partitions = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(readonly options: NetworkOptions) {}

  add(instance: SqlInstance): void {
    this.instances.set(instance.label.toLowerCase(), instance);
  }

  all(): SqlInstance[] {
    return [...this.instances.values()];
  }

  /** The instance whose @@SERVERNAME this is (mirroring_partner_instance names partners so). */
  byServerName(serverName: string): SqlInstance | undefined {
    return this.all().find((instance) => instance.serverName.toLowerCase() === serverName.toLowerCase());
  }

  /**
   * The instance behind a mirroring endpoint address, e.g. TCP://sqldc1b.sim.local:5022: the computer's DNS name,
   * its short name (DNS finds it in its own domain) or its address, when that address is the instance's alone.
   */
  byAddress(address: string): SqlInstance | undefined {
    const match = /^TCP:\/\/([^:/]+):(\d+)$/i.exec(address.trim());
    if (!match || Number(match[2]) !== MIRRORING_ENDPOINT_PORT) return undefined;
    const system = match[1].toLowerCase();
    const named = this.all().filter(
      (instance) => instance.fqdn === system || instance.machineName.toLowerCase() === system,
    );
    const candidates = named.length > 0 ? named : this.all().filter((instance) => instance.host === system);
    // Two instances on one computer (or one shared loopback address) would need distinct endpoint ports.
    return candidates.length === 1 ? candidates[0] : undefined;
  }

  endpointOf(instance: SqlInstance): string {
    return `TCP://${instance.fqdn}:${MIRRORING_ENDPOINT_PORT}`;
  }

  reachable(a: SqlInstance, b: SqlInstance): boolean {
    return a.running && b.running && !this.partitions.has(pairKey(a.label, b.label));
  }

  partition(a: string, b: string): void {
    this.partitions.add(pairKey(a, b));
    this.changed();
  }

  heal(a: string, b: string): void {
    this.partitions.delete(pairKey(a, b));
    this.changed();
  }

  partitioned(): [string, string][] {
    return [...this.partitions].map((key) => key.split('|') as [string, string]);
  }

  /** Reconciles mirroring now (after a stop, start, partition, write or ALTER). */
  changed(): void {
    maintainMirroring(this);
  }

  start(): void {
    this.timer ??= setInterval(() => this.changed(), this.options.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function pairKey(a: string, b: string): string {
  return [a.toLowerCase(), b.toLowerCase()].sort().join('|');
}
