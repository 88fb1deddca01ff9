/**
 * The approval gates the runbooks open (docs/runbooks.md rule 3). Pure data: imported by the topology schema, the
 * workflows and the CLI alike.
 */
export const GATES = {
  'approve-mirror-failover': 'runbook 1: planned switch of the mirroring principal',
  'accept-data-loss': 'runbooks 1 and 4: forced service, or recovery past a gap in the log chain',
  'replace-log-shipping': 'runbook 2: an existing, different log-shipping configuration would be replaced',
  'approve-mirror-log-shipping': 'runbook 3: fail over to the mirror to configure it as a log-shipping primary',
  'override-split-brain-guard': 'runbook 4: DC1 still answers as principal but a disaster was declared',
  'declare-disaster': 'runbook 4 (disaster mode): fail Persistent Chat over to DC2',
  'approve-switchover': 'runbook 4 (planned mode): switch Persistent Chat over to DC2 with no data loss',
  'approve-failback': 'runbook 5: maintenance window to fail back to DC1',
  'approve-failback-mirroring': 'runbook 5 [beyond]: re-establish mirroring primary → mirror',
  'approve-failback-mirror-log-shipping': 'runbook 5 [beyond]: configure log shipping on the mirror again',
  'roll-back-switchover':
    'runbook 4 (planned mode): a switchover stopped after the fence goes back to DC1, losing nothing',
} as const;

export type GateName = keyof typeof GATES;
export const GATE_NAMES = Object.keys(GATES) as GateName[];

/** Gates whose approval accepts data loss or a datacenter switch: two-person rule on by default, never waived. */
export const CRITICAL_GATES: readonly GateName[] = [
  'declare-disaster',
  'accept-data-loss',
  'override-split-brain-guard',
];

/**
 * The floor of a critical gate (docs/runbooks.md rule 8): at least this many distinct approvers, and never the
 * person who started the run. An estate may ask for more, never for less.
 */
export const CRITICAL_GATE_APPROVALS = 2;

export function isCriticalGate(gate: GateName): boolean {
  return CRITICAL_GATES.includes(gate);
}

/** Distinct approvals needed when the policy does not say: the floor for critical gates, else one. */
export function defaultRequiredApprovals(gate: GateName): number {
  return isCriticalGate(gate) ? CRITICAL_GATE_APPROVALS : 1;
}
