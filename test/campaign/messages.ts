/**
 * Chat traffic the campaign can account for: messages posted through the pool's active servers (the simulator's
 * chat load), each acknowledged one kept with the time it was acknowledged. A message acknowledged before a log
 * backup finished was written before it, so it is in that log: that is how "every message acknowledged before the
 * recovery point is present" is checked (invariants.ts).
 */
import type { SimulatedEstate } from '../../simulator/estate';

export interface Acknowledged {
  id: string;
  /** When the chat server had its answer (ms since the epoch). */
  at: number;
}

export class ChatPoster {
  readonly acknowledged: Acknowledged[] = [];
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly estate: SimulatedEstate) {}

  /** Posts one message now; the id when acknowledged. */
  async post(): Promise<string | null> {
    const id = await this.estate.chat.postOne().catch(() => null);
    if (id) this.acknowledged.push({ id, at: Date.now() });
    return id;
  }

  /** Posts `count` messages one after another. */
  async postMany(count: number): Promise<void> {
    for (let index = 0; index < count; index++) await this.post();
  }

  /** A message every `everyMs` or so while the run goes on, one at a time. */
  start(everyMs: number): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.post();
        await new Promise((resolve) => setTimeout(resolve, everyMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}
