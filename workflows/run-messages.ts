/**
 * The messages a run answers (contracts/messages.ts): progress, pending-gates and report queries; approve, reject,
 * decide and abort as signals and as updates, through one validation each, so both give the same outcome. A payload
 * is parsed against its schema before anything reads it: whatever a sender puts in a signal, the handler does not
 * throw (a throwing handler would fail the workflow task on every replay and wedge the run). A refused
 * signal cannot answer its sender, so the refusal goes into the run's log (and the report); a refused update is
 * rejected by its validator, so the caller learns why and nothing enters history.
 *
 * Signed messages (docs/operations.md "Approvals and identity"): where the estate has signers, a message may carry a
 * signed statement, and the estate's policy may require one. A validator is synchronous and cannot verify a
 * signature (that needs the worker's crypto and its allowed_signers file), so the update handler does, after the
 * validator accepted the rules: it checks the statement against this run, calls the verifySignature activity, checks
 * the rules again (the run went on meanwhile), and only then applies the message; a signal goes the same way. A
 * signed message that does not count answers counted: false with why, and is recorded in the run: an attempt to sign
 * as someone else is something an auditor should see.
 */
import * as wf from '@temporalio/workflow';
import type { z } from 'zod';
import {
  abortMessage,
  abortSignal,
  abortUpdate,
  approveMessage,
  approveSignal,
  approveUpdate,
  decideMessage,
  decideSignal,
  decideUpdate,
  parsePayload,
  pendingGatesQuery,
  progressQuery,
  rejectMessage,
  rejectSignal,
  rejectUpdate,
  reportQuery,
  type AbortMessage,
  type ApproveMessage,
  type DecideMessage,
  type MessageOutcome,
  type Parsed,
  type RejectMessage,
} from '../contracts/messages';
import { pendingGate, progressOf, reportOf, type GateRecord } from '../contracts/run-record';
import { signatureRequired, type SignaturePart, type SignedAction, type SignedMessage } from '../contracts/statements';
import type { SignatureCheck, SignatureVerdict } from '../activities/signatures';
import { DEFAULT_GATE_TIMEOUT, decisionMakers, expandPeople, gatePolicy, type Approvals } from '../topology/approvals';
import { GATE_NAMES, isCriticalGate, type GateName } from '../topology/gates';
import { activityOf } from './activity-kinds';
import { findOpenGate, isApproved, refuseApproval, refuseDecision, refuseRejection } from './gate-rules';
import { failureOf, type RunState } from './run-state';
import { signatureOf, signingOf, statementMismatch, type Expectation } from './signed-messages';

/** How a refusal names a message of each kind ("approval: ...", "requires signed approvals"). */
const MESSAGE_NOUN: Record<SignedAction, string> = {
  start: 'start',
  approve: 'approval',
  reject: 'rejection',
  decide: 'decision',
  abort: 'abort',
};

export function installMessageHandlers(state: RunState): void {
  const { record } = state;
  wf.setHandler(progressQuery, () => progressOf(record));
  wf.setHandler(pendingGatesQuery, () =>
    record.gates.filter((gate) => gate.status === 'open').map((gate) => pendingGate(record, gate)),
  );
  wf.setHandler(reportQuery, () => reportOf(record));

  /**
   * One message kind: its schema, what refuses it once it parses, the statement it must carry when signed, and what
   * it does when it counts.
   */
  const kind = <M extends { by: string; signature?: SignaturePart }>(spec: {
    action: SignedAction;
    schema: z.ZodType<M>;
    refuse: (message: M) => string | null;
    /** The signed statement this message needs (the rules passed, so its gate is open), and whether its gate is critical. */
    expect: (message: M) => Expectation & { critical: boolean };
    /** Why the key that signed it may not answer this (verified, so it is the signer's), or null. */
    refuseKey?: (message: M, key: SignedMessage['key']) => string | null;
    apply: (message: M, signed?: SignedMessage) => MessageOutcome;
  }) => {
    const what = MESSAGE_NOUN[spec.action];
    /** The message, or why it does not count, said to its sender (an update) or recorded (a signal). */
    const check = (payload: unknown): Parsed<M> => {
      const parsed = parsePayload(spec.schema, payload);
      const refusal = parsed.ok ? spec.refuse(parsed.value) : parsed.refusal;
      // The schema cannot know the run: say which command shows its evidence.
      return refusal
        ? { ok: false, refusal: refusal.replace('pchat-dr status RUN', `pchat-dr status ${record.workflowId}`) }
        : parsed;
    };
    /** A message that passed its rules but does not count (its signature): recorded in the run, and said. */
    const refused = (by: string, refusal: string): MessageOutcome => {
      state.refuse(by, `${what}: ${refusal}`);
      return { counted: false, message: refusal };
    };
    /** Why the signature the message carries (or lacks) does not do, or null: the checks the run can make itself. */
    const signing = (message: M): string | null => {
      const { policy, signers } = signingOf(state.estate?.topology);
      const expected = spec.expect(message);
      if (!message.signature) {
        if (!signers || !signatureRequired(policy, spec.action, expected.critical)) return null;
        return `${what} must be signed: ${record.pool} requires signed ${what}s${expected.critical ? ' at critical gates' : ''} (signatures.policy ${policy}); sign it with your SSH key (pchat-dr ${spec.action} ... --sign)`;
      }
      if (!signers)
        return `${record.pool} has no signers (signatures.allowedSigners in its topology): its messages are not signed, send it without a signature`;
      return statementMismatch(message.signature.statement, expected, Date.now());
    };
    /** After its rules: the signature the estate asks for, checked here, then verified on the worker. */
    const admit = (message: M): MessageOutcome | Promise<MessageOutcome> => {
      if (!state.estate) return afterEstate(message);
      const refusal = signing(message);
      if (refusal) return refused(message.by, refusal);
      return message.signature ? verified(message, message.signature) : spec.apply(message);
    };
    /** Before its estate loaded the run cannot know its signers: the message waits for it (an abort may come early). */
    const afterEstate = async (message: M): Promise<MessageOutcome> => {
      await wf.condition(() => state.estate !== null || record.outcome !== 'running');
      const again = check(message);
      return again.ok ? admit(again.value) : refused(message.by, again.refusal);
    };
    const verified = async (message: M, signature: SignaturePart): Promise<MessageOutcome> => {
      let verdict: SignatureVerdict;
      try {
        const result = await activityOf('verifySignature')({
          pool: record.pool,
          statement: signature.statement,
          ...(signature.webauthn ? { webauthn: signature.webauthn } : { sshsig: signature.sshsig }),
          signer: message.by,
        } satisfies SignatureCheck);
        verdict = result.found;
      } catch (error) {
        return refused(message.by, `the signature could not be verified: ${failureOf(error, state.now()).message}`);
      }
      if (!verdict.verified) return refused(message.by, verdict.reason);
      // The run went on while the worker verified: the message must still hold (the gate open, its evidence the same).
      const again = check(message);
      const refusal = again.ok
        ? (signing(again.value) ?? spec.refuseKey?.(again.value, verdict.key) ?? null)
        : again.refusal;
      if (refusal) return refused(message.by, refusal);
      const signed: SignedMessage = {
        action: spec.action,
        ...(spec.expect(message).statement.gate ? { gate: spec.expect(message).statement.gate } : {}),
        by: message.by,
        at: state.now(),
        ...signatureOf(signature, verdict),
      };
      (record.signed ??= []).push(signed);
      return spec.apply(again.ok ? again.value : message, signed);
    };
    return {
      // A refused signal cannot answer its sender: the refusal goes into the run's log (and the report).
      signal: (payload: unknown): void | Promise<void> => {
        const checked = check(payload);
        if (!checked.ok) {
          state.refuse((payload as { by?: unknown } | null)?.by, `${what}: ${checked.refusal}`);
          return;
        }
        const outcome = admit(checked.value);
        if (outcome instanceof Promise) return outcome.then(() => undefined);
      },
      // A refused update is rejected by its validator: the caller learns why, and nothing enters history.
      validator: (payload: unknown) => {
        const checked = check(payload);
        if (!checked.ok) throw new Error(checked.refusal);
      },
      // The validator has accepted it: admit what the schema made of it (trimmed names); its signature may still refuse it.
      update: (payload: unknown): MessageOutcome | Promise<MessageOutcome> => {
        const parsed = parsePayload(spec.schema, payload);
        return admit(parsed.ok ? parsed.value : (payload as M));
      },
    };
  };
  /** The estate's default gate timeout: how old a signed abort may be. */
  const defaultTimeout = () => state.estate?.topology.approvals.default.timeout ?? DEFAULT_GATE_TIMEOUT;
  const base = (action: SignedAction, by: string) => ({
    action,
    temporalNamespace: wf.workflowInfo().namespace,
    workflowId: record.workflowId,
    runId: record.runId,
    signer: by,
  });
  /**
   * What a signed answer at an approval gate must say (the open gate it answers, and `fields` of that gate), how old
   * it may be (the gate's timeout), and whether the gate is critical.
   */
  const atApprovalGate = (
    message: { gate: string; by: string },
    action: SignedAction,
    fields: (gate: GateRecord | undefined) => Pick<Expectation['statement'], 'evidence' | 'comment' | 'reason'>,
  ): Expectation & { critical: boolean } => {
    const gate = findOpenGate(record.gates, message.gate, 'approval');
    return {
      statement: { ...base(action, message.by), gate: gate?.id ?? message.gate, ...fields(gate) },
      timeout: gate?.timeout ?? defaultTimeout(),
      critical: gate ? isCriticalGate(gate.gate as GateName) : false,
    };
  };
  const approval = kind({
    action: 'approve',
    schema: approveMessage,
    refuse: (message) => refuseApproval(record.gates, message, record.initiator),
    expect: (message) =>
      atApprovalGate(message, 'approve', (gate) => ({
        evidence: gate?.evidence?.version ?? '',
        ...(message.comment ? { comment: message.comment } : {}),
      })),
    refuseKey: (message, key) => refuseApprovalKey(state, message, key),
    apply: (message, signed) => approveGate(state, message, signed),
  });
  const rejection = kind({
    action: 'reject',
    schema: rejectMessage,
    refuse: (message) => refuseRejection(record.gates, message),
    expect: (message) => atApprovalGate(message, 'reject', () => ({ reason: message.reason })),
    apply: (message, signed) => rejectGate(state, message, signed),
  });
  const decision = kind({
    action: 'decide',
    schema: decideMessage,
    refuse: (message) => refuseDecision(record.gates, message),
    expect: (message) => {
      const gate = findOpenGate(record.gates, message.gate, 'decision');
      return {
        statement: {
          ...base('decide', message.by),
          gate: gate?.id ?? message.gate ?? '',
          choice: message.choice,
          reason: message.reason,
        },
        timeout: gate?.timeout ?? defaultTimeout(),
        critical: false,
      };
    },
    apply: (message, signed) => decideStep(state, message, signed),
  });
  const abort = kind({
    action: 'abort',
    schema: abortMessage,
    refuse: (message) => refuseAbortOf(state, message),
    expect: (message) => ({
      statement: { ...base('abort', message.by), reason: message.reason },
      timeout: defaultTimeout(),
      critical: false,
    }),
    apply: (message, signed) => abortRun(state, message, signed),
  });

  wf.setHandler(approveSignal, approval.signal);
  wf.setHandler(rejectSignal, rejection.signal);
  wf.setHandler(decideSignal, decision.signal);
  wf.setHandler(abortSignal, abort.signal);
  wf.setHandler(approveUpdate, approval.update, { validator: approval.validator });
  wf.setHandler(rejectUpdate, rejection.update, { validator: rejection.validator });
  wf.setHandler(decideUpdate, decision.update, { validator: decision.validator });
  wf.setHandler(abortUpdate, abort.update, { validator: abort.validator });
}

/** How a signed answer shows in its gate: the key that signed it (the statement is in the run's `signed`). */
const keyText = (key: SignedMessage['key']) => `${key.type} ${key.fingerprint}`;
const signedBy = (signed?: SignedMessage) => (signed ? { signature: keyText(signed.key) } : {});

/**
 * One key, one person: an allowed_signers file may give a key to several people (a line naming two, or the same key
 * on two lines), and then whoever holds it could sign each one's approval. So a key that signed one approval of a
 * gate cannot sign another person's approval of it, and where the two-person rule applies, the key that signed the
 * run's start cannot sign an approval: the distinct people a gate counts are distinct keys.
 */
function refuseApprovalKey(state: RunState, message: ApproveMessage, key: SignedMessage['key']): string | null {
  const gate = findOpenGate(state.record.gates, message.gate, 'approval');
  if (!gate) return null;
  const fingerprint = keyText(key);
  const other = gate.approvals.find((vote) => vote.signature === fingerprint);
  if (other)
    return `the ${key.type} key ${key.fingerprint} already signed ${other.by}'s approval of ${gate.id}: each approval needs its own person's key (one key is given to several people in the signers file)`;
  const start = state.record.signed?.find((signed) => signed.action === 'start');
  if (gate.twoPersonRule && start && keyText(start.key) === fingerprint)
    return `the ${key.type} key ${key.fingerprint} signed this run's start (${start.by}'s) and may not approve ${gate.gate} (two-person rule; one key is given to several people in the signers file)`;
  return null;
}

function approveGate(state: RunState, message: ApproveMessage, signed?: SignedMessage): MessageOutcome {
  const gate = findOpenGate(state.record.gates, message.gate, 'approval')!;
  gate.approvals.push({
    by: message.by,
    at: state.now(),
    ...(message.comment ? { comment: message.comment } : {}),
    evidenceVersion: gate.evidence?.version ?? '',
    ...signedBy(signed),
  });
  const distinct = new Set(gate.approvals.map((vote) => vote.by.toLowerCase())).size;
  if (isApproved(gate)) state.close(gate, 'approved');
  return {
    counted: true,
    gate: gate.id,
    gateStatus: gate.status,
    approvals: distinct,
    required: gate.required,
    message:
      gate.status === 'approved'
        ? `${gate.id} approved (${distinct} of ${gate.required})`
        : `approval counted: ${distinct} of ${gate.required}, waiting for ${gate.required - distinct} more`,
  };
}

function rejectGate(state: RunState, message: RejectMessage, signed?: SignedMessage): MessageOutcome {
  const gate = findOpenGate(state.record.gates, message.gate, 'approval')!;
  gate.rejection = { by: message.by, at: state.now(), reason: message.reason, ...signedBy(signed) };
  state.close(gate, 'rejected');
  return {
    counted: true,
    gate: gate.id,
    gateStatus: 'rejected',
    message: `${gate.id} rejected by ${message.by}: the run ends`,
  };
}

function decideStep(state: RunState, message: DecideMessage, signed?: SignedMessage): MessageOutcome {
  const gate = findOpenGate(state.record.gates, message.gate, 'decision')!;
  gate.decision = {
    choice: message.choice,
    by: message.by,
    at: state.now(),
    reason: message.reason,
    ...signedBy(signed),
  };
  state.close(gate, 'decided');
  return { counted: true, gate: gate.id, gateStatus: 'decided', message: `${message.choice} decided for ${gate.step}` };
}

/** Anyone who may answer some gate of this estate, or who started the run, may abort it. */
function refuseAbortOf(state: RunState, message: AbortMessage): string | null {
  const { record } = state;
  if (record.outcome !== 'running') return `the run already ended (${record.outcome})`;
  if (state.abortRequest) return `an abort is already under way (asked by ${state.abortRequest.by})`;
  // Before the estate is loaded nobody but the initiator is known to be allowed.
  const approvals: Approvals = state.estate?.topology.approvals ?? { groups: {}, default: {}, gates: {} };
  const people = new Set(
    [
      record.initiator,
      ...decisionMakers(approvals),
      ...GATE_NAMES.flatMap((gate) => gatePolicy(approvals, gate).people),
      ...GATE_NAMES.flatMap((gate) => gatePolicy(approvals, gate).escalation?.people ?? []),
      ...expandPeople(approvals.default.escalation?.notify ?? [], approvals.groups),
    ].map((person) => person.toLowerCase()),
  );
  if (!people.has(message.by.toLowerCase()))
    return `${message.by} may not abort runs on ${record.pool} (only the initiator, approvers and decision makers may)`;
  return null;
}

function abortRun(state: RunState, message: AbortMessage, signed?: SignedMessage): MessageOutcome {
  state.abortRequest = message;
  state.log({
    kind: 'abort-requested',
    by: message.by,
    message: signed ? `${message.reason} (signed, ${signed.key.type} key ${signed.key.fingerprint})` : message.reason,
  });
  for (const gate of state.record.gates.filter((candidate) => candidate.status === 'open'))
    state.close(gate, 'aborted', `aborted by ${message.by}: ${message.reason}`);
  return {
    counted: true,
    gateStatus: 'aborted',
    message: 'abort accepted: the run stops at the next step boundary (a running step finishes first)',
  };
}
