/**
 * The runbooks as the workflows, the activities and the clients know them: names and workflow types, which of them
 * change the estate (one at a time per pool, docs/runbooks.md rule 5), what a run's input carries, the options each
 * runbook takes, and how runs are named.
 */
import { z } from 'zod';
import { NAME_LIMIT, optionalText, personName } from './fields';
import { signaturePart, stableJson, type SignaturePart, type Statement } from './statements';

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
  /** The pool the run acts on: the worker that serves it loads its estate (docs/runbooks.md rule 8). */
  pool: string;
  /** Who started the run (the two-person rule keeps them from approving critical gates). */
  initiator: string;
  reason: string;
  options?: Options;
  /** Read the estate and record the plan (steps, targets, inputs, gates) without changing anything. */
  dryRun?: boolean;
  /**
   * SHA-256 of the topology file the caller looked at: when the worker's estate file differs, the run refuses to
   * start (both digests in its report) unless `useWorkerEstate`.
   */
  estateDigest?: string;
  useWorkerEstate?: boolean;
  /**
   * Set by a runbook that runs this one as a step. Honoured only when Temporal says that runbook started this run
   * (workflowInfo().parent): a caller cannot claim a covering gate or a held lock.
   */
  parent?: {
    workflowId: string;
    /** The parent holds the pool's incident lock (a child of an incident runbook). */
    holdsLock: boolean;
    /** The parent's approved gate that covers this run's approval gates. */
    coveringGate?: string;
  };
  /** A drill's rehearsal (from its parent only): approval gates are answered by this person on a simulated estate. */
  rehearsalApprover?: string;
  /** Nobody watches (a drill's rehearsal, from its parent only): a failed step ends the run instead of waiting. */
  unattended?: boolean;
  /** The initiator's signed start statement (contracts/statements.ts), verified on the worker before any step acts. */
  signature?: SignaturePart;
}

const databaseKind = z.enum(['mgc', 'mgccomp'], { error: 'must be mgc or mgccomp' });
/** A wait in seconds: at least 1, at most a day. */
const seconds = z.number({ error: 'must be a number of seconds' }).int('must be whole seconds').min(1).max(86_400);

/** The options each runbook takes; anything else in a run's options is refused. */
export const RUNBOOK_OPTIONS = {
  'mirror-failover': z.strictObject({
    database: databaseKind.optional(),
    /** The partner that should end up principal. */
    to: z.enum(['mirror', 'primary'], { error: 'must be mirror or primary' }).optional(),
    /** How long to wait for SYNCHRONIZED before a planned failover. */
    synchronizeTimeoutSeconds: seconds.optional(),
  }),
  'setup-log-shipping': z.strictObject({
    database: databaseKind.optional(),
    /** How long each verification job may take. */
    jobTimeoutSeconds: seconds.optional(),
  }),
  'setup-mirror-log-shipping': z.strictObject({
    database: databaseKind.optional(),
    jobTimeoutSeconds: seconds.optional(),
  }),
  failover: z.strictObject({
    mode: z.enum(['disaster', 'planned'], { error: 'must be disaster or planned' }).optional(),
    /** How long to wait for a running copy or restore job before removing log shipping. */
    jobWaitSeconds: seconds.optional(),
  }),
  failback: z.strictObject({
    /** [beyond] phases; both on by default, each still behind its own gate. */
    restoreMirroring: z.boolean().optional(),
    restoreMirrorLogShipping: z.boolean().optional(),
    jobTimeoutSeconds: seconds.optional(),
  }),
  drill: z.strictObject({
    /** Also run the real failover and failback (rehearsal estates only); default the topology's drills.rehearse. */
    rehearse: z.boolean().optional(),
    /** The schedule that started this drill: it is paused when the drill fails. */
    scheduleId: z.string().trim().min(1).max(NAME_LIMIT).optional(),
  }),
} satisfies Record<RunbookName, z.ZodType>;

export type MirrorFailoverOptions = z.infer<(typeof RUNBOOK_OPTIONS)['mirror-failover']>;
export type SetupLogShippingOptions = z.infer<(typeof RUNBOOK_OPTIONS)['setup-log-shipping']>;
export type SetupMirrorLogShippingOptions = z.infer<(typeof RUNBOOK_OPTIONS)['setup-mirror-log-shipping']>;
export type FailoverOptions = z.infer<(typeof RUNBOOK_OPTIONS)['failover']>;
export type FailbackOptions = z.infer<(typeof RUNBOOK_OPTIONS)['failback']>;
export type DrillOptions = z.infer<(typeof RUNBOOK_OPTIONS)['drill']>;

/** The options each runbook takes. */
export type RunbookOptions = { [R in RunbookName]: z.infer<(typeof RUNBOOK_OPTIONS)[R]> };

const POOL_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/**
 * What a run's input may hold, for one runbook (docs/runbooks.md rule 8): the pool and the runbook's options, who
 * starts it and why; a parent's fields only count when Temporal says that parent started the run. Nothing else:
 * the estate (topology, policy, commands) is the worker's.
 */
export function runInputSchema<R extends RunbookName>(runbook: R) {
  return z.strictObject({
    pool: z.string({ error: "must be the pool's FQDN" }).regex(POOL_NAME, "must be the pool's FQDN"),
    initiator: personName,
    reason: optionalText,
    options: RUNBOOK_OPTIONS[runbook].optional(),
    dryRun: z.boolean({ error: 'must be true or false' }).optional(),
    estateDigest: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be the SHA-256 of the topology file (64 hex digits)')
      .optional(),
    useWorkerEstate: z.boolean({ error: 'must be true or false' }).optional(),
    parent: z
      .strictObject({
        workflowId: z.string().min(1).max(1_000),
        holdsLock: z.boolean(),
        coveringGate: z.string().min(1).max(NAME_LIMIT).optional(),
      })
      .optional(),
    rehearsalApprover: personName.optional(),
    unattended: z.boolean().optional(),
    signature: signaturePart.optional(),
  });
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

/**
 * The statement that starts a run: everything its input says (pool, runbook, the digest of the estate file the
 * signer looked at, options, dry run, reason, initiator) and the workflow id, since no run id exists before the
 * start. The CLI signs it; the run rebuilds it from its own input to compare.
 */
export function startStatementOf(
  runbook: RunbookName,
  input: Pick<
    RunbookInput<object>,
    'pool' | 'estateDigest' | 'options' | 'dryRun' | 'useWorkerEstate' | 'reason' | 'initiator'
  >,
  namespace: string,
  workflowId: string,
): Omit<Statement, 'time'> {
  return {
    action: 'start',
    temporalNamespace: namespace,
    workflowId,
    runbook,
    pool: input.pool,
    estate: input.estateDigest ?? '',
    options: stableJson(input.options ?? {}),
    dryRun: input.dryRun === true,
    useWorkerEstate: input.useWorkerEstate === true,
    reason: input.reason,
    signer: input.initiator,
  };
}
