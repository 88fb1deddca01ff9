/**
 * The effective policy of one gate: the gate's own settings over approvals.default over built-in defaults.
 * Pure, so workflows use it to run gates and the schema (schema.ts, whose `approvals` section has this shape) uses
 * it to validate.
 */
import { defaultRequiredApprovals, isCriticalGate, type GateName } from './gates';

/** A gate's settings as the topology's approvals section writes them (all optional). */
export interface GateSettings {
  approvers?: string[];
  required?: number;
  twoPersonRule?: boolean;
  timeout?: string;
  escalation?: { after: string; notify: string[] };
  onTimeout?: 'abort';
  waived?: boolean;
}

/** The topology's approvals section. */
export interface Approvals {
  groups: Record<string, string[]>;
  default: GateSettings;
  gates: Partial<Record<GateName, GateSettings>>;
  decisions?: string[];
}

export interface GatePolicy {
  gate: GateName;
  /** As written: people and group:NAME entries. */
  approvers: string[];
  /** The people those entries name, groups expanded, each once. */
  people: string[];
  required: number;
  twoPersonRule: boolean;
  timeout: string;
  escalation?: { after: string; notify: string[]; people: string[] };
  onTimeout: 'abort';
  waived: boolean;
}

export const DEFAULT_GATE_TIMEOUT = '1h';

export function expandPeople(entries: readonly string[], groups: Record<string, string[]>): string[] {
  const people = entries.flatMap((entry) => (entry.startsWith('group:') ? (groups[entry.slice(6)] ?? []) : [entry]));
  return [...new Set(people)];
}

export function gatePolicy(approvals: Approvals, gate: GateName): GatePolicy {
  const own = approvals.gates[gate] ?? {};
  const base = approvals.default;
  const approvers = own.approvers ?? base.approvers ?? [];
  const escalation = own.escalation ?? base.escalation;
  return {
    gate,
    approvers,
    people: expandPeople(approvers, approvals.groups),
    // A critical gate's floor holds whatever the policy says (the schema refuses a gate that asks for less).
    required: Math.max(own.required ?? base.required ?? defaultRequiredApprovals(gate), defaultRequiredApprovals(gate)),
    twoPersonRule: isCriticalGate(gate) || (own.twoPersonRule ?? base.twoPersonRule ?? false),
    timeout: own.timeout ?? base.timeout ?? DEFAULT_GATE_TIMEOUT,
    escalation: escalation && { ...escalation, people: expandPeople(escalation.notify, approvals.groups) },
    onTimeout: 'abort',
    waived: !isCriticalGate(gate) && (own.waived ?? false),
  };
}

/** Who may answer a decision gate (retry / skip / abort): approvals.decisions, else the default approvers. */
export function decisionMakers(approvals: Approvals): string[] {
  return expandPeople(approvals.decisions ?? approvals.default.approvers ?? [], approvals.groups);
}
