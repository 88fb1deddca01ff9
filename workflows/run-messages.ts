/**
 * The messages a run answers (contracts/messages.ts): progress, pending-gates and report queries; approve, reject,
 * decide and abort as signals and as updates, through one validation each, so both give the same outcome. A refused
 * signal cannot answer its sender, so the refusal goes into the run's log (and the report); a refused update is
 * rejected by its validator, so the caller learns why and nothing enters history.
 */
import * as wf from '@temporalio/workflow';
import {
  abortSignal,
  abortUpdate,
  approveSignal,
  approveUpdate,
  decideSignal,
  decideUpdate,
  pendingGatesQuery,
  progressQuery,
  rejectSignal,
  rejectUpdate,
  reportQuery,
  type AbortMessage,
  type ApproveMessage,
  type DecideMessage,
  type MessageOutcome,
  type RejectMessage,
} from '../contracts/messages';
import { pendingGate, progressOf, reportOf } from '../contracts/run-record';
import { decisionMakers, expandPeople, gatePolicy, type Approvals } from '../topology/approvals';
import { GATE_NAMES } from '../topology/gates';
import { findOpenGate, isApproved, refuseApproval, refuseDecision, refuseRejection } from './gate-rules';
import type { RunState } from './run-state';

export function installMessageHandlers(state: RunState, approvals: Approvals): void {
  const { record } = state;
  wf.setHandler(progressQuery, () => progressOf(record));
  wf.setHandler(pendingGatesQuery, () =>
    record.gates.filter((gate) => gate.status === 'open').map((gate) => pendingGate(record, gate)),
  );
  wf.setHandler(reportQuery, () => reportOf(record));

  const bySignal =
    <M extends { by: string }>(kind: string, refuse: (message: M) => string | null, apply: (message: M) => unknown) =>
    (message: M) => {
      const refusal = refuse(message);
      if (refusal) state.log({ kind: 'refused', by: message?.by ?? '', message: `${kind} refused: ${refusal}` });
      else apply(message);
    };
  const validator =
    <M>(refuse: (message: M) => string | null) =>
    (message: M) => {
      const refusal = refuse(message);
      if (refusal) throw new Error(refusal);
    };
  const refuseApprove = (message: ApproveMessage) => refuseApproval(record.gates, message, record.initiator);
  const refuseReject = (message: RejectMessage) => refuseRejection(record.gates, message);
  const refuseDecide = (message: DecideMessage) => refuseDecision(record.gates, message);
  const refuseAbort = (message: AbortMessage) => refuseAbortOf(state, approvals, message);
  const approve = (message: ApproveMessage) => approveGate(state, message);
  const reject = (message: RejectMessage) => rejectGate(state, message);
  const decide = (message: DecideMessage) => decideStep(state, message);
  const abort = (message: AbortMessage) => abortRun(state, message);

  wf.setHandler(approveSignal, bySignal('approval', refuseApprove, approve));
  wf.setHandler(rejectSignal, bySignal('rejection', refuseReject, reject));
  wf.setHandler(decideSignal, bySignal('decision', refuseDecide, decide));
  wf.setHandler(abortSignal, bySignal('abort', refuseAbort, abort));
  wf.setHandler(approveUpdate, approve, { validator: validator(refuseApprove) });
  wf.setHandler(rejectUpdate, reject, { validator: validator(refuseReject) });
  wf.setHandler(decideUpdate, decide, { validator: validator(refuseDecide) });
  wf.setHandler(abortUpdate, abort, { validator: validator(refuseAbort) });
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
function refuseAbortOf(state: RunState, approvals: Approvals, message: AbortMessage): string | null {
  const { record } = state;
  if (!message?.by?.trim()) return 'an abort must say who asks for it (--as)';
  if (!message.reason?.trim()) return 'an abort needs a reason';
  if (record.outcome !== 'running') return `the run already ended (${record.outcome})`;
  if (state.abortRequest) return `an abort is already under way (asked by ${state.abortRequest.by})`;
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
