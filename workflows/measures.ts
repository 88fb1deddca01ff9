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

/**
 * The backup time of the last log applied (the recovery point) against the newest log backup the primary took:
 * what was shipped but could not be applied. Writes after the newest log backup were never shipped; the note says so.
 */
export function recoveryPoint(
  topology: Topology,
  point: string | null,
  lastLogBackup: string | null,
  logsNotApplied: number,
): NonNullable<Measures['rpo']> {
  const objectiveSeconds = durationMs(topology.objectives.rpo) / 1000;
  const seconds = point && lastLogBackup ? secondsBetween(point, lastLogBackup) : null;
  return {
    recoveryPoint: point,
    lastLogBackup,
    seconds,
    objectiveSeconds,
    met: seconds === null ? null : seconds <= objectiveSeconds,
    logsNotApplied,
    unshippedNote: lastLogBackup
      ? `changes made after the newest log backup (${lastLogBackup}) were never shipped and are not in the recovered database`
      : 'no log backup was found',
  };
}

export function serviceInterruption(from: string, to: string): NonNullable<Measures['serviceInterruption']> {
  return { from, to, seconds: secondsBetween(from, to)! };
}
