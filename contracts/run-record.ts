/**
 * A run's own record (steps, gates, approvals, decisions, refused messages, evidence, measures) and the views built
 * from it: progress (for `status` / `watch`), pending gates, and the report an auditor reads (docs/runbooks.md rule 7).
 * Everything here is plain JSON: it is workflow state and query results.
 */
import { CRITICAL_GATES } from '../topology/gates';
import type { DrillFindings } from './drill-report';
import type { RunbookName } from './runbooks';
import { signatureRequired, type SignedMessage, type SigningRecord } from './statements';

/** running until the end; then how it ended (planned: a dry run, which changes nothing; skipped: a drill that did not run). */
export type RunOutcome =
  | 'running'
  | 'succeeded'
  | 'no-change'
  | 'planned'
  | 'skipped'
  | 'aborted'
  | 'rejected'
  | 'timed-out'
  | 'precondition-failed'
  | 'failed';

export type StepStatus = 'pending' | 'running' | 'acted' | 'skipped' | 'observed' | 'failed' | 'decided' | 'planned';

/** What a dry run would do at a step: the activity and its input (the CLI shows the T-SQL or cmdlet), or a child runbook. */
export type StepPlan = { activity: string; input: unknown } | { runbook: RunbookName; options: unknown };

export interface FailureRecord {
  type: string;
  message: string;
  details?: unknown;
  at: string;
}

export interface DecisionRecord {
  choice: 'retry' | 'skip' | 'abort';
  by: string;
  at: string;
  reason: string;
  /** Signed: the key that signed it (ED25519 SHA256:...); the statement and signature are in the run's `signed`. */
  signature?: string;
}

export interface StepRecord {
  name: string;
  title: string;
  /** The instance, folder or pool the step acts on. */
  target?: string;
  /** Why this step may be skipped by a decision, when it may. */
  skippable?: string;
  status: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  summary?: string;
  figures?: Record<string, unknown>;
  failure?: FailureRecord;
  decisions: DecisionRecord[];
  plan?: StepPlan;
}

export interface Vote {
  by: string;
  at: string;
  comment?: string;
  evidenceVersion: string;
  /** Signed: the key that signed it (ED25519 SHA256:...); the statement and signature are in the run's `signed`. */
  signature?: string;
}

export interface EvidenceRecord {
  /** SHA-256 of the facts the gate depends on (contracts/statements.ts evidenceDigest): an approval is bound to it. */
  version: string;
  takenAt: string;
  /** Lines a person reads at the gate. */
  summary: string[];
  /** The facts the version is computed from. */
  material: Record<string, unknown>;
}

export type GateStatus =
  'open' | 'approved' | 'rejected' | 'timed-out' | 'void' | 'decided' | 'waived' | 'aborted' | 'planned';

export interface GateRecord {
  /** Unique in the run: the gate name, with #2, #3 ... when it opens again. */
  id: string;
  gate: string;
  kind: 'approval' | 'decision';
  /** What the gate asks, in one sentence. */
  question: string;
  /** Decision gates: the step that failed. */
  step?: string;
  status: GateStatus;
  openedAt: string;
  closedAt?: string;
  /** People who may answer (groups expanded). */
  approvers: string[];
  required: number;
  twoPersonRule: boolean;
  timeout: string;
  escalation?: { after: string; people: string[] };
  escalatedAt?: string;
  evidence?: EvidenceRecord;
  approvals: Vote[];
  rejection?: { by: string; at: string; reason: string; signature?: string };
  decision?: DecisionRecord;
  /** Decision gates: what may be chosen. */
  choices?: DecisionRecord['choice'][];
  /** Why the gate closed the way it did (void: evidence changed; timed-out ...). */
  closedBecause?: string;
}

export interface LogEntry {
  at: string;
  kind: 'refused' | 'note' | 'abort-requested';
  by?: string;
  message: string;
}

export interface ChildRecord {
  workflowId: string;
  runbook: RunbookName;
  outcome?: RunOutcome;
}

export interface Measures {
  /** Declared → service restored (failover). */
  rto?: { declaredAt: string; restoredAt: string; seconds: number; objectiveSeconds: number; met: boolean };
  /**
   * The data-loss window as bounds: from the recovery point (backup time of the last log applied) to the newest log
   * backup known (`seconds`, the lower bound: shipped but not applied) and to the moment DC1 could last have
   * accepted writes (`upperBoundSeconds`, from what the run saw of DC1).
   */
  rpo?: {
    recoveryPoint: string | null;
    lastLogBackup: string | null;
    /** The lower bound. */
    seconds: number | null;
    upperBoundSeconds: number | null;
    upperBoundAt: string | null;
    /** Why the upper bound is where it is, in words. */
    upperBoundBasis: string;
    objectiveSeconds: number;
    /** true: even the upper bound meets the objective; false: even the lower bound misses it; null: cannot tell. */
    met: boolean | null;
    logsNotApplied: number;
    /** Messages written after the recovery point that the recovered database lacks, where they can be counted. */
    messagesLost: number | null;
    messagesLostNote: string;
    unshippedNote: string;
  };
  /** Chat service down: active servers cleared → restored (failback, planned failover). */
  serviceInterruption?: { from: string; to: string; seconds: number };
}

export interface RunRecord {
  runbook: RunbookName;
  workflowId: string;
  runId: string;
  /** The runbook that ran this one as a step. */
  parent?: string;
  pool: string;
  initiator: string;
  reason: string;
  options: Record<string, unknown>;
  dryRun: boolean;
  phase: string;
  outcome: RunOutcome;
  outcomeReason?: string;
  startedAt: string;
  finishedAt?: string;
  steps: StepRecord[];
  gates: GateRecord[];
  log: LogEntry[];
  evidence: (EvidenceRecord & { label: string })[];
  measures: Measures;
  notes: string[];
  children: ChildRecord[];
  /** A drill's checks, figures, trend and deviations. */
  drill?: DrillFindings;
  /** The incident runbook that held the pool's lock when this one wanted it. */
  blockedBy?: { workflowId: string; runId: string; runbook: string | null; startedAt: string };
  /**
   * Failback: the DC1 database that held writes DC2 lacks, backed up before it was overwritten (rule 10): where the
   * backup is, and the messages it holds past DC2's recovery point, where they can be counted.
   */
  diverged?: {
    instance: string;
    database: string;
    file: string;
    recoveryPoint: string | null;
    messages: number | null;
    messagesNote: string;
  };
  /** The estate the run acted on: the worker's file and its SHA-256 (and the caller's, when it named one). */
  estate?: { file: string; digest: string; callerDigest?: string };
  /** Messages refused beyond the ones kept in the log (a flood of malformed signals keeps history small). */
  refusalsNotKept?: number;
  /** The estate's signature policy and signers file, when it has signers. */
  signing?: SigningRecord;
  /** Every signed message that counted (the start, approvals, rejections, decisions, an abort), as signed. */
  signed?: SignedMessage[];
}

export interface PendingGate extends GateRecord {
  /** The CLI commands that answer it. */
  answerWith: string[];
}

/** What `status` and `watch` show while a run goes on. */
export interface Progress extends Pick<
  RunRecord,
  | 'workflowId'
  | 'runbook'
  | 'pool'
  | 'initiator'
  | 'phase'
  | 'outcome'
  | 'outcomeReason'
  | 'startedAt'
  | 'finishedAt'
  | 'steps'
  | 'children'
  | 'estate'
> {
  openGates: PendingGate[];
}

export interface RunbookReport extends Omit<RunRecord, 'log' | 'phase'> {
  durationSeconds: number | null;
  /** Messages that did not count (signals refused), with why. */
  refused: LogEntry[];
  decisions: (DecisionRecord & { step?: string; gate: string })[];
}

/** The open gates, as a refusal names them: "open: a, b" or "no gate is open". */
export function openGatesText(open: Pick<GateRecord, 'id'>[]): string {
  return open.length > 0 ? `open: ${open.map((gate) => gate.id).join(', ')}` : 'no gate is open';
}

export function pendingGate(record: RunRecord, gate: GateRecord): PendingGate {
  const id = record.workflowId;
  // Where the estate requires the answer signed, the commands say so (--sign: ssh-keygen with your key or agent).
  const policy = record.signing?.policy ?? 'off';
  const critical = (CRITICAL_GATES as readonly string[]).includes(gate.gate);
  const sign = (action: 'approve' | 'reject' | 'decide') =>
    signatureRequired(policy, action, critical) ? ' --sign' : '';
  const answerWith =
    gate.kind === 'decision'
      ? (gate.choices ?? []).map((choice) => `pchat-dr decide ${id} ${choice} --reason <why>${sign('decide')}`)
      : [
          `pchat-dr approve ${id} --gate ${gate.gate} --comment <text>${sign('approve')}`,
          `pchat-dr reject ${id} --gate ${gate.gate} --reason <why>${sign('reject')}`,
        ];
  return { ...gate, answerWith };
}

export function progressOf(record: RunRecord): Progress {
  return {
    workflowId: record.workflowId,
    runbook: record.runbook,
    pool: record.pool,
    initiator: record.initiator,
    phase: record.phase,
    outcome: record.outcome,
    outcomeReason: record.outcomeReason,
    startedAt: record.startedAt,
    finishedAt: record.finishedAt,
    steps: record.steps,
    openGates: record.gates.filter((gate) => gate.status === 'open').map((gate) => pendingGate(record, gate)),
    children: record.children,
    estate: record.estate,
  };
}

export function reportOf(record: RunRecord): RunbookReport {
  const { log, phase: _phase, ...rest } = record;
  return {
    ...rest,
    durationSeconds: record.finishedAt ? (Date.parse(record.finishedAt) - Date.parse(record.startedAt)) / 1000 : null,
    refused: log.filter((entry) => entry.kind === 'refused'),
    decisions: record.gates
      .filter((gate) => gate.decision)
      .map((gate) => ({ ...gate.decision!, step: gate.step, gate: gate.id })),
  };
}
