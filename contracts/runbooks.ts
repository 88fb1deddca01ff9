/**
 * The runbooks as the workflows, the activities and the clients know them: names and workflow types, which of them
 * change the estate (one at a time per pool, docs/runbooks.md rule 5), what a run's input carries, the options each
 * runbook takes, and how runs are named.
 */
import type { DatabaseKind, Topology } from '../topology/schema';

export type RunbookName =
  'mirror-failover' | 'setup-log-shipping' | 'setup-mirror-log-shipping' | 'failover' | 'failback' | 'drill';

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
export const INCIDENT_RUNBOOK_NAMES: readonly RunbookName[] = [
  'mirror-failover',
  'setup-log-shipping',
  'setup-mirror-log-shipping',
  'failover',
  'failback',
];

export interface RunbookInput<Options extends object = Record<string, unknown>> {
  topology: Topology;
  /** Who started the run (the two-person rule keeps them from approving critical gates). */
  initiator: string;
  reason: string;
  options?: Options;
  /** Read the estate and record the plan (steps, targets, inputs, gates) without changing anything. */
  dryRun?: boolean;
  /** Set when a runbook runs another as a child step. */
  parent?: {
    workflowId: string;
    /** The parent holds the pool's incident lock (a child of an incident runbook). */
    holdsLock: boolean;
    /** The parent's approved gate that covers this run's approval gates. */
    coveringGate?: string;
  };
  /** Rehearsal estates only (topology.simulated): approval gates are answered by this person (a drill's approver). */
  rehearsalApprover?: string;
  /** Nobody watches (a drill's rehearsal): a failed step ends the run instead of waiting for a decision. */
  unattended?: boolean;
}

export interface MirrorFailoverOptions {
  database?: DatabaseKind;
  /** The partner that should end up principal. */
  to?: 'mirror' | 'primary';
  /** How long to wait for SYNCHRONIZED before a planned failover (seconds). */
  synchronizeTimeoutSeconds?: number;
}

export interface SetupLogShippingOptions {
  database?: DatabaseKind;
  /** How long each verification job may take (seconds). */
  jobTimeoutSeconds?: number;
}

export interface SetupMirrorLogShippingOptions {
  database?: DatabaseKind;
  jobTimeoutSeconds?: number;
}

export interface FailoverOptions {
  mode?: 'disaster' | 'planned';
  /** How long to wait for a running copy or restore job before removing log shipping (seconds). */
  jobWaitSeconds?: number;
}

export interface FailbackOptions {
  /** [beyond] phases; both on by default, each still behind its own gate. */
  restoreMirroring?: boolean;
  restoreMirrorLogShipping?: boolean;
  jobTimeoutSeconds?: number;
}

export interface DrillOptions {
  /** Also run the real failover and failback (rehearsal estates only); default the topology's drills.rehearse. */
  rehearse?: boolean;
  /** The schedule that started this drill: it is paused when the drill fails. */
  scheduleId?: string;
}

/** The options each runbook takes. */
export interface RunbookOptions {
  'mirror-failover': MirrorFailoverOptions;
  'setup-log-shipping': SetupLogShippingOptions;
  'setup-mirror-log-shipping': SetupMirrorLogShippingOptions;
  failover: FailoverOptions;
  failback: FailbackOptions;
  drill: DrillOptions;
}

// ------------------------------------------------------------------------------------------------ run ids

/** The id of the lock workflow an incident runbook holds on its pool while it runs (rule 5). */
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
