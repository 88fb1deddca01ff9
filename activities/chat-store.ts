/**
 * Persistent Chat's messages, counted where the topology says they are (chatStore): what a DC1 database holds that
 * was written after a point in time. Read-only; a table that is not there is "unknown", not a failure.
 */
import type { Instance } from '../topology/schema';
import type { ActivityDependencies } from './dependencies';
import { quoteIdentifier } from './sql/identifiers';
import { StepClock, type StepResult } from './step-result';

export interface MessagesSince {
  /** null when the table or column could not be read (the reason says why). */
  count: number | null;
  first: string | null;
  last: string | null;
  reason?: string;
}

export function chatStoreActivities(deps: ActivityDependencies) {
  return {
    /** Messages in `database` posted after `since` (ISO time): how many, the first and the last posting time. */
    async readMessagesSince(input: {
      instance: Instance;
      database: string;
      table: string;
      timeColumn: string;
      since: string;
    }): Promise<StepResult<MessagesSince>> {
      const clock = new StepClock(deps.clock);
      const where = `${quoteIdentifier(input.database)}.dbo.${quoteIdentifier(input.table)}`;
      const column = quoteIdentifier(input.timeColumn);
      try {
        const row = await deps.sql.firstRow<{ n: number; first: Date | null; last: Date | null }>(
          input.instance,
          `SELECT COUNT(*) AS n, MIN(${column}) AS first, MAX(${column}) AS last FROM ${where} WHERE ${column} > @since`,
          { since: { sqlType: 'datetime2', value: new Date(input.since) } },
        );
        const found: MessagesSince = {
          count: Number(row?.n ?? 0),
          first: row?.first ? row.first.toISOString() : null,
          last: row?.last ? row.last.toISOString() : null,
        };
        return clock.observed(
          `${found.count} message(s) in ${where} on ${input.instance.name} posted after ${input.since}`,
          found,
        );
      } catch (error) {
        const reason = (error as Error).message;
        return clock.observed(`messages in ${where} on ${input.instance.name} cannot be counted: ${reason}`, {
          count: null,
          first: null,
          last: null,
          reason,
        });
      }
    },
  };
}
