/**
 * Gates (docs/runbooks.md rules 3 and 4): who may answer, how many distinct approvals count, the two-person rule, and
 * evidence binding. Functions over a GateRecord: the step runner (runbook.ts) waits on them, and the same
 * validation serves signals and updates, so both give the same outcome.
 */
import * as wf from '@temporalio/workflow';
import type { GatePolicy } from '../topology/approvals';
import { evidenceDigest, stableJson } from '../contracts/statements';
import type { ApproveMessage, DecideMessage, RejectMessage } from '../contracts/messages';
import { openGatesText, type EvidenceRecord, type GateRecord } from '../contracts/run-record';

/** Patch id (workflow versioning): evidence versions are SHA-256 digests; runs started before keep FNV-1a. */
const EVIDENCE_SHA256 = 'evidence-sha256';

/** The version runs started before the SHA-256 digest named their evidence by (FNV-1a, 32 bits). */
function legacyEvidenceVersion(material: Record<string, unknown>): string {
  let hash = 0x811c9dc5;
  for (const char of stableJson(material)) {
    hash ^= char.charCodeAt(0);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * The version of the facts a gate depends on: the SHA-256 of the material (contracts/statements.ts), which an
 * approval names and a signed approval signs. Runs in workflow code only (it asks wf.patched).
 */
export function evidenceVersion(material: Record<string, unknown>): string {
  return wf.patched(EVIDENCE_SHA256) ? evidenceDigest(material) : legacyEvidenceVersion(material);
}

export function makeEvidence(takenAt: string, summary: string[], material: Record<string, unknown>): EvidenceRecord {
  return { version: evidenceVersion(material), takenAt, summary, material };
}

export function openApprovalGate(
  id: string,
  policy: GatePolicy,
  question: string,
  evidence: EvidenceRecord,
  now: string,
): GateRecord {
  return {
    id,
    gate: policy.gate,
    kind: 'approval',
    question,
    status: 'open',
    openedAt: now,
    approvers: [...policy.people],
    required: policy.required,
    twoPersonRule: policy.twoPersonRule,
    timeout: policy.timeout,
    ...(policy.escalation ? { escalation: { after: policy.escalation.after, people: policy.escalation.people } } : {}),
    evidence,
    approvals: [],
  };
}

export function openDecisionGate(
  id: string,
  step: string,
  question: string,
  people: string[],
  skippable: boolean,
  timeout: string,
  now: string,
): GateRecord {
  return {
    id,
    gate: 'decision',
    kind: 'decision',
    question,
    step,
    status: 'open',
    openedAt: now,
    approvers: people,
    required: 1,
    twoPersonRule: false,
    timeout,
    approvals: [],
    choices: skippable ? ['retry', 'skip', 'abort'] : ['retry', 'abort'],
  };
}

/** The open gate a message names: an exact id, or the latest open gate with that name. */
export function findOpenGate(
  gates: GateRecord[],
  name: string | undefined,
  kind: GateRecord['kind'],
): GateRecord | undefined {
  const open = gates.filter((gate) => gate.status === 'open' && gate.kind === kind);
  if (!name) return open[open.length - 1];
  return open.find((gate) => gate.id === name) ?? [...open].reverse().find((gate) => gate.gate === name);
}

const same = (a: string, b: string) => a.trim().toLowerCase() === b.trim().toLowerCase();

/** Who may answer this gate now: its approvers, and the escalation list once escalated. */
function allowed(gate: GateRecord): string[] {
  return gate.escalatedAt && gate.escalation ? [...gate.approvers, ...gate.escalation.people] : gate.approvers;
}

/**
 * Why an approval does not count, or null when it does. The message has passed its schema (contracts/messages.ts):
 * it names a gate, a person and the evidence version it approves.
 */
export function refuseApproval(gates: GateRecord[], message: ApproveMessage, initiator: string): string | null {
  const gate = findOpenGate(gates, message.gate, 'approval');
  if (!gate)
    return `gate ${message.gate} is not open (${openGatesText(gates.filter((gate) => gate.status === 'open'))})`;
  if (!allowed(gate).some((person) => same(person, message.by)))
    return `${message.by} may not approve ${gate.gate} (approvers: ${allowed(gate).join(', ')})`;
  if (gate.twoPersonRule && same(message.by, initiator))
    return `${message.by} started this run and may not approve ${gate.gate} (two-person rule)`;
  if (gate.approvals.some((vote) => same(vote.by, message.by)))
    return `${message.by} has already approved ${gate.id}; it needs ${gate.required} distinct people`;
  if (message.evidenceVersion !== gate.evidence?.version) {
    return `the evidence of ${gate.id} changed since you looked (you saw ${message.evidenceVersion}, it is now ${gate.evidence?.version}): review it again`;
  }
  return null;
}

export function refuseRejection(gates: GateRecord[], message: RejectMessage): string | null {
  const gate = findOpenGate(gates, message.gate, 'approval');
  if (!gate)
    return `gate ${message.gate} is not open (${openGatesText(gates.filter((gate) => gate.status === 'open'))})`;
  if (!allowed(gate).some((person) => same(person, message.by)))
    return `${message.by} may not answer ${gate.gate} (approvers: ${allowed(gate).join(', ')})`;
  return null;
}

export function refuseDecision(gates: GateRecord[], message: DecideMessage): string | null {
  const gate = findOpenGate(gates, message.gate, 'decision');
  if (!gate)
    return `no decision is pending${message.gate ? ` for ${message.gate}` : ''} (${openGatesText(gates.filter((gate) => gate.status === 'open'))})`;
  if (!gate.approvers.some((person) => same(person, message.by)))
    return `${message.by} may not decide on failed steps (allowed: ${gate.approvers.join(', ')})`;
  if (!gate.choices?.includes(message.choice)) {
    return message.choice === 'skip'
      ? `step ${gate.step} cannot be skipped: retry or abort`
      : `${message.choice} is not a choice here (${gate.choices?.join(', ')})`;
  }
  return null;
}

/** Distinct approvals reach the required count. */
export function isApproved(gate: GateRecord): boolean {
  return new Set(gate.approvals.map((vote) => vote.by.toLowerCase())).size >= gate.required;
}
