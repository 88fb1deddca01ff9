/**
 * The network between simulated instances: which are up, which pairs are partitioned, how a mirroring endpoint
 * address (TCP://<server name>:5022) finds its instance. It also drives database mirroring in the background:
 * every tick (and after every change) each session's states are reconciled and the principal's log shipped.
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
    this.instances.set(instance.serverName.toLowerCase(), instance);
  }

  instance(name: string): SqlInstance | undefined {
    return this.instances.get(name.toLowerCase());
  }

  all(): SqlInstance[] {
    return [...this.instances.values()];
  }

  /** The instance behind a mirroring endpoint address, e.g. TCP://dc1-sql-b:5022. */
  byAddress(address: string): SqlInstance | undefined {
    const match = /^TCP:\/\/([^:/]+):(\d+)$/i.exec(address.trim());
    return match ? this.instance(match[1]) : undefined;
  }

  endpointOf(instance: SqlInstance): string {
    return `TCP://${instance.serverName}:${MIRRORING_ENDPOINT_PORT}`;
  }

  reachable(a: SqlInstance, b: SqlInstance): boolean {
    return a.running && b.running && !this.partitions.has(pairKey(a.serverName, b.serverName));
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
