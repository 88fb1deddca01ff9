/**
 * Long statements (a large RESTORE, a full backup, copying a big file) must not look dead to Temporal: while one
 * runs, the activity heartbeats every few seconds, repeating its last progress so a retry still resumes correctly.
 */
import { Context } from '@temporalio/activity';

export async function heartbeatWhile<T>(work: Promise<T>, details?: unknown, everyMs = 5_000): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => context.heartbeat(details), everyMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
