/**
 * RTO, RPO and service interruption, computed from the run's own record (docs/runbooks.md rule 7). Pure.
 */
import { durationMs } from '../topology/durations';
import type { Topology } from '../topology/schema';
import { secondsBetween } from './gate-evidence';
import type { Measures } from '../contracts/run-record';

/** Declared (the run started) → service restored (the active servers serve the new principal). */
export function recoveryTime(topology: Topology, declaredAt: string, restoredAt: string): NonNullable<Measures['rto']> {
  const seconds = secondsBetween(declaredAt, restoredAt)!;
  const objectiveSeconds = durationMs(topology.objectives.rto) / 1000;
  return { declaredAt, restoredAt, seconds, objectiveSeconds, met: seconds <= objectiveSeconds };
}

/** What a failover knows about its data loss, turned into bounds by recoveryPoint. */
export interface LossFacts {
  /** Backup time of the last log applied: the recovery point. */
  point: string | null;
  /** The newest log backup anyone knows of. */
  lastLogBackup: string | null;
  logsNotApplied: number;
  /** The latest moment DC1 can have accepted writes, and why (see Measures.rpo). */
  upperBoundAt: string | null;
  upperBoundBasis: string;
  messagesLost: number | null;
  messagesLostNote: string;
}

/**
 * The data-loss window as bounds (docs/runbooks.md rule 7): at least what was shipped and not applied, at most
 * everything DC1 can have written after the recovery point. An objective is met only when the upper bound meets it,
 * missed when even the lower bound misses it, and unknown in between.
 */
export function recoveryPoint(topology: Topology, facts: LossFacts): NonNullable<Measures['rpo']> {
  const objectiveSeconds = durationMs(topology.objectives.rpo) / 1000;
  const { point, lastLogBackup } = facts;
  const lower = point && lastLogBackup ? secondsBetween(point, lastLogBackup) : null;
  const upper = point && facts.upperBoundAt ? Math.max(secondsBetween(point, facts.upperBoundAt)!, lower ?? 0) : null;
  const met =
    upper !== null && upper <= objectiveSeconds ? true : lower !== null && lower > objectiveSeconds ? false : null;
  return {
    recoveryPoint: point,
    lastLogBackup,
    seconds: lower,
    upperBoundSeconds: upper,
    upperBoundAt: facts.upperBoundAt,
    upperBoundBasis: facts.upperBoundBasis,
    objectiveSeconds,
    met,
    logsNotApplied: facts.logsNotApplied,
    messagesLost: facts.messagesLost,
    messagesLostNote: facts.messagesLostNote,
    unshippedNote: lastLogBackup
      ? `changes made after the newest log backup (${lastLogBackup}) were never shipped and are not in the recovered database`
      : 'no log backup was found',
  };
}

export function serviceInterruption(from: string, to: string): NonNullable<Measures['serviceInterruption']> {
  return { from, to, seconds: secondsBetween(from, to)! };
}
