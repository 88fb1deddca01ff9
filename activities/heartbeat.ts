/**
 * Heartbeats. Every step heartbeats while it runs (keepAlive, applied to every activity in activities/index.ts), so
 * a worker that dies is noticed within the heartbeat timeout (workflows/activity-kinds.ts) and the step resumes on
 * another, whatever its kind: a read or a quick change as much as a restore. A step reports its progress with
 * `heartbeat(details)`; the keep-alive and long statements (heartbeatWhile) repeat the last progress reported, so a
 * retried attempt still resumes from it (Context.info.heartbeatDetails).
 */
import { Context } from '@temporalio/activity';

/** The progress each running activity last reported. */
const lastProgress = new WeakMap<Context, unknown>();

function progressOf(context: Context): unknown {
  // Until this attempt reports its own, the previous attempt's progress is what a retry must resume from.
  return lastProgress.has(context) ? lastProgress.get(context) : context.info.heartbeatDetails;
}

/** Reports progress: what a retried attempt resumes from. */
export function heartbeat(details: unknown): void {
  const context = Context.current();
  lastProgress.set(context, details);
  context.heartbeat(details);
}

/** Heartbeats every few seconds while `work` runs (a large RESTORE, a full backup, copying a big file). */
export async function heartbeatWhile<T>(work: Promise<T>, details?: unknown, everyMs = 5_000): Promise<T> {
  const context = Context.current();
  if (details !== undefined) lastProgress.set(context, details);
  const timer = setInterval(() => context.heartbeat(progressOf(context)), everyMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/** The activity, heartbeating every few seconds while it runs. */
export function keepAlive<I extends unknown[], O>(
  activity: (...input: I) => Promise<O>,
  everyMs = 5_000,
): (...input: I) => Promise<O> {
  return (...input) => heartbeatWhile(activity(...input), undefined, everyMs);
}
