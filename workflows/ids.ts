/**
 * How runs are named (pure: the workflows, the activities and the CLI share it). A run gets a readable id of its
 * own; the one-incident-runbook-per-pool rule (RUNBOOKS rule 5) is kept by a lock: a child workflow whose id is
 * derived from the pool, which the server lets only one run hold at a time.
 */
import type { RunbookName } from './report';

/** The workflow function (type) name of each runbook, as workflows/index.ts exports it. */
export const WORKFLOW_TYPES: Record<RunbookName, string> = {
  'mirror-failover': 'mirrorFailover',
  'setup-log-shipping': 'setupLogShipping',
  'setup-mirror-log-shipping': 'setupMirrorLogShipping',
  failover: 'failover',
  failback: 'failback',
  drill: 'drill',
};

export const RUNBOOK_NAMES = Object.keys(WORKFLOW_TYPES) as RunbookName[];

/** Runbooks that change the estate: one at a time per pool. Drills only read (or rehearse through these). */
export const INCIDENT_RUNBOOKS: readonly RunbookName[] = [
  'mirror-failover',
  'setup-log-shipping',
  'setup-mirror-log-shipping',
  'failover',
  'failback',
];

/** The id of the lock workflow an incident runbook holds on its pool while it runs. */
export function incidentLockId(pool: string): string {
  return `pchat-dr-lock:${pool.toLowerCase()}`;
}

/** yyyymmddThhmmssZ (UTC): sortable, readable in ids and file names. */
export function compactTimestamp(date: Date): string {
  return `${date.toISOString().replace(/[-:]/g, '').slice(0, 15)}Z`;
}

/** A run's id when the operator does not choose one: what it is, where, and when it started. */
export function defaultWorkflowId(runbook: RunbookName, pool: string, at: Date, dryRun = false): string {
  return `${dryRun ? 'dry-run-' : ''}${runbook}-${pool.toLowerCase()}-${compactTimestamp(at)}`;
}

/** A drill restores into `<database>_drill_<when>`: the marker is what the scratch-dropping step insists on. */
export const SCRATCH_MARKER = '_drill_';

export function scratchDatabaseName(database: string, at: Date): string {
  return `${database}${SCRATCH_MARKER}${compactTimestamp(at).toLowerCase()}`;
}
