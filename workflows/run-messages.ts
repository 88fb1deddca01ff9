/**
 * The messages a run answers (contracts/messages.ts): progress, pending-gates and report queries; approve, reject,
 * decide and abort as signals and as updates, through one validation each, so both give the same outcome. A payload
 * is parsed against its schema before anything reads it: whatever a sender puts in a signal, the handler does not
 * throw (a throwing handler would fail the workflow task on every replay and wedge the run). A refused
 * signal cannot answer its sender, so the refusal goes into the run's log (and the report); a refused update is
 * rejected by its validator, so the caller learns why and nothing enters history.
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
import { pendingGate, progressOf, reportOf } from '../contracts/run-record';
import { decisionMakers, expandPeople, gatePolicy, type Approvals } from '../topology/approvals';
import { GATE_NAMES } from '../topology/gates';
import { findOpenGate, isApproved, refuseApproval, refuseDecision, refuseRejection } from './gate-rules';
import type { RunState } from './run-state';

export function installMessageHandlers(state: RunState): void {
  const { record } = state;
  wf.setHandler(progressQuery, () => progressOf(record));
  wf.setHandler(pendingGatesQuery, () =>
    record.gates.filter((gate) => gate.status === 'open').map((gate) => pendingGate(record, gate)),
  );
  wf.setHandler(reportQuery, () => reportOf(record));

  /** One message kind: its schema, what refuses it once it parses, and what it does when it counts. */
  const kind = <M extends { by: string }>(
    what: string,
    schema: z.ZodType<M>,
    refuse: (message: M) => string | null,
    apply: (message: M) => MessageOutcome,
  ) => {
    /** The message, or why it does not count, said to its sender (an update) or recorded (a signal). */
    const check = (payload: unknown): Parsed<M> => {
      const parsed = parsePayload(schema, payload);
      const refusal = parsed.ok ? refuse(parsed.value) : parsed.refusal;
      // The schema cannot know the run: say which command shows its evidence.
      return refusal
        ? { ok: false, refusal: refusal.replace('pchat-dr status RUN', `pchat-dr status ${record.workflowId}`) }
        : parsed;
    };
    return {
      // A refused signal cannot answer its sender: the refusal goes into the run's log (and the report).
      signal: (payload: unknown) => {
        const checked = check(payload);
        if (checked.ok) apply(checked.value);
        else state.refuse((payload as { by?: unknown } | null)?.by, `${what}: ${checked.refusal}`);
      },
      // A refused update is rejected by its validator: the caller learns why, and nothing enters history.
      validator: (payload: unknown) => {
        const checked = check(payload);
        if (!checked.ok) throw new Error(checked.refusal);
      },
      // The validator has accepted it: apply what the schema made of it (trimmed names).
      update: (payload: unknown) => {
        const parsed = parsePayload(schema, payload);
        return apply(parsed.ok ? parsed.value : (payload as M));
      },
    };
  };
  const approval = kind(
    'approval',
    approveMessage,
    (message) => refuseApproval(record.gates, message, record.initiator),
    (message) => approveGate(state, message),
  );
  const rejection = kind(
    'rejection',
    rejectMessage,
    (message) => refuseRejection(record.gates, message),
    (message) => rejectGate(state, message),
  );
  const decision = kind(
    'decision',
    decideMessage,
    (message) => refuseDecision(record.gates, message),
    (message) => decideStep(state, message),
  );
  const abort = kind(
    'abort',
    abortMessage,
    (message) => refuseAbortOf(state, message),
    (message) => abortRun(state, message),
  );

  wf.setHandler(approveSignal, approval.signal);
  wf.setHandler(rejectSignal, rejection.signal);
  wf.setHandler(decideSignal, decision.signal);
  wf.setHandler(abortSignal, abort.signal);
  wf.setHandler(approveUpdate, approval.update, { validator: approval.validator });
  wf.setHandler(rejectUpdate, rejection.update, { validator: rejection.validator });
  wf.setHandler(decideUpdate, decision.update, { validator: decision.validator });
  wf.setHandler(abortUpdate, abort.update, { validator: abort.validator });
}

function approveGate(state: RunState, message: ApproveMessage): MessageOutcome {
  const gate = findOpenGate(state.record.gates, message.gate, 'approval')!;
  gate.approvals.push({
    by: message.by,
    at: state.now(),
    ...(message.comment ? { comment: message.comment } : {}),
    evidenceVersion: gate.evidence?.version ?? '',
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

function rejectGate(state: RunState, message: RejectMessage): MessageOutcome {
  const gate = findOpenGate(state.record.gates, message.gate, 'approval')!;
  gate.rejection = { by: message.by, at: state.now(), reason: message.reason };
  state.close(gate, 'rejected');
  return {
    counted: true,
    gate: gate.id,
    gateStatus: 'rejected',
    message: `${gate.id} rejected by ${message.by}: the run ends`,
  };
}

function decideStep(state: RunState, message: DecideMessage): MessageOutcome {
  const gate = findOpenGate(state.record.gates, message.gate, 'decision')!;
  gate.decision = { choice: message.choice, by: message.by, at: state.now(), reason: message.reason };
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

function abortRun(state: RunState, message: AbortMessage): MessageOutcome {
  state.abortRequest = message;
  state.log({ kind: 'abort-requested', by: message.by, message: message.reason });
  for (const gate of state.record.gates.filter((candidate) => candidate.status === 'open'))
    state.close(gate, 'aborted', `aborted by ${message.by}: ${message.reason}`);
  return {
    counted: true,
    gateStatus: 'aborted',
    message: 'abort accepted: the run stops at the next step boundary (a running step finishes first)',
  };
}
