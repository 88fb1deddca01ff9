/**
 * What a run checks before it changes anything: its input (parsed, and a parent's claims proven by Temporal), the
 * pool's estate from the worker's own file (docs/runbooks.md rule 8), and, when the estate has signers, the signed
 * start. Whatever does not hold ends the run before its first change.
 */
import * as wf from '@temporalio/workflow';
import { parsePayload } from '../contracts/messages';
import { runInputSchema, type RunbookInput, type RunbookName } from '../contracts/runbooks';
import { parseStatement, signatureRequired } from '../contracts/statements';
import { DEFAULT_GATE_TIMEOUT } from '../topology/approvals';
import type { Topology } from '../topology/schema';
import { RunEnded, type RunState } from './run-state';
import { signatureOf, signingOf, startExpectation, statementMismatch } from './signed-messages';
import type { StepRunner } from './step-runner';

/** Patch id (workflow versioning): runs started before the worker owned the estates replay on their old path. */
const WORKER_OWNS_ESTATE = 'worker-owns-estate';

/** The input of a run started before the worker owned the estates: the topology came with it. */
interface LegacyInput {
  topology: Topology;
}

export interface StartInput<Options extends object> {
  input: RunbookInput<Options>;
  /** Why the run's input does not count (it ends without doing anything), or null. */
  refusal: string | null;
  /** The topology a run started before the worker owned the estates brought with it. */
  legacyTopology: Topology | null;
}

/**
 * `payload` is whatever the run was started with: anyone with access to the namespace can start a workflow with
 * any input, so it is parsed first, and what a caller cannot be trusted with is checked against what Temporal
 * itself says (a parent's claims count only from the run Temporal names as the parent).
 */
export function readInput<Options extends object>(
  runbook: RunbookName,
  payload: unknown,
  parentWorkflowId: string | undefined,
): StartInput<Options> {
  if (wf.patched(WORKER_OWNS_ESTATE)) {
    const parsed = parsePayload(runInputSchema(runbook), payload);
    if (!parsed.ok)
      return {
        input: fallbackInput(payload),
        refusal: `the run's input: ${parsed.refusal} (a run's input names the pool and the runbook's options; the worker owns the estate)`,
        legacyTopology: null,
      };
    const input = parsed.value as RunbookInput<Options>;
    return { input, refusal: refuseUnprovenParent(input, parentWorkflowId), legacyTopology: null };
  }
  const input = payload as RunbookInput<Options> & LegacyInput;
  const legacyTopology = (payload as LegacyInput).topology;
  input.pool = legacyTopology.pool.fqdn;
  return { input, refusal: null, legacyTopology };
}

/** What a refused input still says (a pool, who, why), cut short, so the report of the refusal can name them. */
function fallbackInput<Options extends object>(payload: unknown): RunbookInput<Options> {
  const raw = (payload !== null && typeof payload === 'object' ? payload : {}) as Record<string, unknown>;
  const text = (value: unknown, limit: number) => (typeof value === 'string' ? value.slice(0, limit) : '');
  return {
    pool: text(raw.pool, 253) || 'unknown',
    initiator: text(raw.initiator, 128) || 'unknown',
    reason: text(raw.reason, 300),
  };
}

/**
 * A parent's claims (a covering gate, a held lock, a rehearsal approver, nobody watching) count only when Temporal
 * says that parent started this run; claimed by anyone else, the input is forged and the run refuses it.
 */
function refuseUnprovenParent(input: RunbookInput<object>, parentWorkflowId: string | undefined): string | null {
  const claims = ['parent', 'rehearsalApprover', 'unattended'].filter((key) => key in input);
  if (claims.length === 0) return null;
  if (input.parent && parentWorkflowId === input.parent.workflowId) return null;
  return `the run's input claims ${claims.join(', ')}, which only a parent runbook that started this run may give (Temporal names ${parentWorkflowId ?? 'no parent'})`;
}

/**
 * The run's first step: the pool's estate from the worker's own file. When the caller named the digest of the file
 * it looked at and the worker's differs, the run refuses (unless told to use the worker's), saying both.
 */
export async function loadEstate(
  state: RunState,
  input: RunbookInput<object>,
  steps: StepRunner,
  legacyTopology: Topology | null,
): Promise<void> {
  const record = state.record;
  if (legacyTopology) {
    state.estate = {
      pool: record.pool,
      file: '(the run input)',
      digest: '',
      topology: legacyTopology,
    };
    return;
  }
  const pool = record.pool;
  const loaded = await steps.act({
    name: 'load-estate',
    title: `Load the estate of ${pool} from the worker's estate files`,
    target: pool,
    activity: 'loadEstate',
    input: { pool },
    expect: 'any',
  });
  if (loaded.kind !== 'done') {
    throw new RunEnded('precondition-failed', loaded.kind === 'failed' ? loaded.failure.message : `${pool}: no estate`);
  }
  const estate = loaded.result.found;
  const callerDigest = input.estateDigest;
  if (callerDigest && callerDigest !== estate.digest && !input.useWorkerEstate) {
    throw new RunEnded(
      'precondition-failed',
      `the worker's estate of ${pool} differs from the caller's: the worker's ${estate.file} has sha256 ${estate.digest}, the caller's file ${callerDigest}. Compare the files, or start the run again using the worker's estate (pchat-dr run --use-worker-estate)`,
    );
  }
  if (callerDigest && callerDigest !== estate.digest)
    state.note(
      `run on the worker's estate ${estate.file} (sha256 ${estate.digest}), not the caller's file (sha256 ${callerDigest}), as asked`,
    );
  state.estate = estate;
  const signatures = estate.topology.signatures;
  if (signatures) record.signing = { policy: signatures.policy, allowedSigners: signatures.allowedSigners };
  await verifyStart(state, input, steps);
  // Recorded once accepted and its start verified: a run that shows an estate runs on it (pchat-dr run waits for it).
  record.estate = { file: estate.file, digest: estate.digest, ...(callerDigest ? { callerDigest } : {}) };
}

/**
 * Who started the run, when the estate has signers (docs/operations.md "Approvals and identity"): the input's
 * signed start statement must say everything the input says, for this workflow id, signed shortly before Temporal
 * started the run; the worker verifies the signature and that no other run of the workflow id used it. Required
 * by the `required` and `critical` policies, except for runs that change nothing a person must answer for: dry
 * runs, drills, and a runbook's own child runs (its parent's start was signed). A refused start ends the run
 * `rejected` before any step acts.
 */
async function verifyStart(state: RunState, input: RunbookInput<object>, steps: StepRunner): Promise<void> {
  const { topology, record } = state;
  const { policy, signers } = signingOf(topology);
  const signature = input.signature;
  const exempt = record.dryRun || input.parent !== undefined || record.runbook === 'drill';
  if (!signature) {
    if (signers && !exempt && signatureRequired(policy, 'start', false))
      throw new RunEnded(
        'rejected',
        `the start must be signed: ${record.pool} requires signed starts (signatures.policy ${policy}); start it with pchat-dr run ... --sign`,
      );
    return;
  }
  if (!signers)
    throw new RunEnded(
      'rejected',
      `the start is signed but ${record.pool} has no signers (signatures.allowedSigners in its topology): start it without a signature`,
    );
  const info = wf.workflowInfo();
  const expected = startExpectation(
    record.runbook,
    input,
    info.namespace,
    info.workflowId,
    topology.approvals.default.timeout ?? DEFAULT_GATE_TIMEOUT,
  );
  // The statement's time is the signer's; the run's start time is Temporal's.
  const mismatch = statementMismatch(signature.statement, expected, info.runStartTime.getTime());
  if (mismatch) throw new RunEnded('rejected', `the signed start does not count: ${mismatch}`);
  const signedAt = parseStatement(signature.statement);
  const verified = await steps.read({
    name: 'verify-start-signature',
    title: `Verify ${record.initiator}'s signature of the start`,
    target: record.pool,
    activity: 'verifySignature',
    input: {
      pool: record.pool,
      statement: signature.statement,
      ...(signature.webauthn ? { webauthn: signature.webauthn } : { sshsig: signature.sshsig }),
      signer: record.initiator,
      firstRunOf: {
        workflowId: info.workflowId,
        runId: info.runId,
        since: signedAt.ok ? signedAt.statement.time : info.runStartTime.toISOString(),
      },
    },
  });
  const verdict = verified.found;
  if (!verdict.verified) throw new RunEnded('rejected', `the signed start does not count: ${verdict.reason}`);
  (record.signed ??= []).push({
    action: 'start',
    by: record.initiator,
    at: state.now(),
    ...signatureOf(signature, verdict),
  });
}
