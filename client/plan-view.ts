/**
 * The plan of a dry run, rendered from its record: every step with the statements it would execute (or the child run
 * it would start), every gate with its policy, in the order they happened. Pure: no I/O.
 */
import { describeStep } from '../activities/dry-run';
import type { GateRecord, RunbookReport, StepRecord } from '../contracts/run-record';
import { policyText, stepSummary } from './report-view';

export type TimelineEntry = { kind: 'step'; step: StepRecord } | { kind: 'gate'; gate: GateRecord };

/**
 * Steps and gates in the order they happened. A gate is placed after the last step that finished before it opened
 * (the read of its evidence), so planned steps (which have no times) keep their place after it.
 */
export function timeline(report: Pick<RunbookReport, 'steps' | 'gates'>): TimelineEntry[] {
  const entries: TimelineEntry[] = report.steps.map((step) => ({ kind: 'step', step }));
  for (const gate of report.gates) {
    const opened = Date.parse(gate.openedAt);
    let at = -1;
    entries.forEach((entry, index) => {
      if (entry.kind === 'step' && entry.step.finishedAt && Date.parse(entry.step.finishedAt) <= opened) at = index;
      if (entry.kind === 'gate' && Date.parse(entry.gate.openedAt) <= opened) at = index;
    });
    // A decision gate belongs right after its failed step.
    if (gate.kind === 'decision' && gate.step) {
      const index = entries.findIndex((entry) => entry.kind === 'step' && entry.step.name === gate.step);
      if (index >= 0) at = Math.max(index, at);
    }
    entries.splice(at + 1, 0, { kind: 'gate', gate });
  }
  return entries;
}

/** What a planned step would execute: its statements, or the child run it would start. */
export function planOf(step: StepRecord): string[] {
  const plan = step.plan;
  if (!plan) return [];
  if ('runbook' in plan)
    return [
      `runs the ${plan.runbook} runbook as a child run with options ${JSON.stringify(plan.options)} (its own plan: pchat-dr run ${plan.runbook} --dry-run)`,
    ];
  const statements = describeStep(plan.activity, plan.input);
  return statements.length > 0
    ? statements
    : [
        `-- ${plan.activity}: no description of what it executes (activities/statements.ts describeStep does not know it)`,
      ];
}

/** A dry run's plan as JSON: every step with the statements it would execute, every gate with its policy. */
export function planJson(report: RunbookReport) {
  return {
    workflowId: report.workflowId,
    runbook: report.runbook,
    pool: report.pool,
    outcome: report.outcome,
    outcomeReason: report.outcomeReason,
    steps: report.steps.map((step) => ({
      name: step.name,
      title: step.title,
      target: step.target ?? null,
      status: step.status,
      summary: step.summary ?? null,
      ...(step.plan
        ? 'runbook' in step.plan
          ? { child: step.plan }
          : { activity: step.plan.activity, statements: describeStep(step.plan.activity, step.plan.input) }
        : {}),
    })),
    gates: report.gates.map((gate) => ({
      id: gate.id,
      gate: gate.gate,
      status: gate.status,
      question: gate.question,
      approvers: gate.approvers,
      required: gate.required,
      twoPersonRule: gate.twoPersonRule,
      timeout: gate.timeout,
      escalation: gate.escalation ?? null,
      evidence: gate.evidence?.summary ?? [],
    })),
    notes: report.notes,
  };
}

/** `run --dry-run`: what ran (reads), what would run (with its T-SQL or cmdlet lines), where the gates would open. */
export function planLines(report: RunbookReport): string[] {
  const lines = [
    `Dry run of ${report.runbook} on pool ${report.pool} (${report.workflowId}): nothing was changed.`,
    'Reads ran for real; every other step is listed with what it would execute, and every gate where it would open.',
    '',
  ];
  let number = 0;
  for (const entry of timeline(report)) {
    number++;
    const n = String(number).padStart(2);
    if (entry.kind === 'gate') {
      const gate = entry.gate;
      lines.push(`${n}  gate      ${gate.id} (${gate.status}): ${gate.question}`);
      lines.push(`      policy: ${policyText(gate)}`);
      if (gate.evidence)
        lines.push(
          `      evidence (version ${gate.evidence.version}):`,
          ...gate.evidence.summary.map((line) => `        ${line}`),
        );
      continue;
    }
    const step = entry.step;
    lines.push(`${n}  ${step.status.padEnd(8)}  ${step.name}${step.target ? ` on ${step.target}` : ''}: ${step.title}`);
    if (step.status === 'planned') lines.push(...planOf(step).map((line) => `        ${line}`));
    else lines.push(`      ${stepSummary(step)}`);
  }
  lines.push('');
  if (report.notes.length > 0) lines.push(...report.notes.map((noteText) => `note: ${noteText}`), '');
  lines.push(`Outcome: ${report.outcome}${report.outcomeReason ? ` (${report.outcomeReason})` : ''}`);
  return lines;
}
