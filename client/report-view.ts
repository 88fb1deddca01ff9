/**
 * What people read about a run while it runs, rendered from its own record: the progress view (`status`, `watch`),
 * what a run waits for and the commands that answer it, and the times, steps and gate policies the dry-run plan
 * (plan-view.ts) and the Markdown report (report-markdown.ts) write the same way. Pure: no I/O, so the demo and the
 * drill reports reuse it.
 */
import { formatSeconds } from '../topology/durations';
import { failedChecks, type DrillFindings } from '../contracts/drill-report';
import type { GateRecord, PendingGate, Progress, StepRecord } from '../contracts/run-record';
import { formatTable } from './output';
import type { ChildWait } from './run-access';

/** 12:00:03 (UTC): times within a run, in tables. */
export function clockOf(iso?: string | null): string {
  return iso ? iso.slice(11, 19) : '-';
}

/** 2025-05-01 12:00:03Z: times people compare with other records. */
export function stampOf(iso?: string | null): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : '-';
}

/** Who may answer, how many, the two-person rule, the timeout and what follows it. */
export function policyText(gate: GateRecord): string {
  if (gate.kind === 'decision')
    return `1 of ${gate.approvers.join(', ') || 'nobody'} (decision makers); choices ${gate.choices?.join(', ') ?? 'retry, abort'}; timeout ${gate.timeout}, then the run ends`;
  const parts = [`${gate.required} of ${gate.approvers.join(', ') || 'nobody'}`];
  if (gate.twoPersonRule) parts.push('two-person rule (the initiator may not approve)');
  parts.push(
    `timeout ${gate.timeout}${gate.escalation ? ` (escalate after ${gate.escalation.after} to ${gate.escalation.people.join(', ')})` : ''}, then abort`,
  );
  return parts.join('; ');
}

/** What a step did, or why it failed, in one line. */
export function stepSummary(step: StepRecord): string {
  if (step.failure && step.status === 'failed') return `${step.failure.type}: ${step.failure.message}`;
  return step.summary ?? step.title;
}

/** The steps as table rows (header first). */
export function stepRows(steps: StepRecord[]): string[][] {
  return [
    ['STATUS', 'STEP', 'TARGET', 'STARTED', 'FINISHED', 'SUMMARY'],
    ...steps.map((step) => [
      step.status,
      step.name,
      step.target ?? '-',
      clockOf(step.startedAt),
      clockOf(step.finishedAt),
      stepSummary(step),
    ]),
  ];
}

/** One line for a step that changed (piped `watch`). */
export function stepChangeLine(step: StepRecord): string {
  const at = clockOf(step.finishedAt ?? step.startedAt ?? null);
  return `${at === '-' ? '--:--:--' : at}  ${step.status.padEnd(8)}  ${step.name}${step.target ? ` on ${step.target}` : ''}: ${stepSummary(step)}`;
}

export function runHeader(progress: Progress): string[] {
  const lines = [
    `${progress.runbook} ${progress.workflowId} on pool ${progress.pool}`,
    `started ${stampOf(progress.startedAt)} by ${progress.initiator}`,
  ];
  if (progress.outcome === 'running') lines.push(`running, phase ${progress.phase}`);
  else
    lines.push(
      `${progress.outcome} at ${stampOf(progress.finishedAt)}${progress.outcomeReason ? `: ${progress.outcomeReason}` : ''}`,
    );
  return lines;
}

/** One open gate: its question, policy, evidence, approvals so far, and the exact commands that answer it. */
export function gateLines(gate: PendingGate, indent = ''): string[] {
  const lines = [
    `${indent}${gate.kind === 'decision' ? 'Waiting for a decision' : 'Waiting for approval'} at ${gate.id}: ${gate.question}`,
  ];
  const inner = `${indent}  `;
  lines.push(
    `${inner}policy: ${policyText(gate)}; opened ${stampOf(gate.openedAt)}${gate.escalatedAt ? `, escalated ${stampOf(gate.escalatedAt)}` : ''}`,
  );
  if (gate.evidence) {
    lines.push(`${inner}evidence version ${gate.evidence.version} (taken ${stampOf(gate.evidence.takenAt)}):`);
    lines.push(...gate.evidence.summary.map((line) => `${inner}  ${line}`));
  }
  if (gate.kind === 'approval') {
    const votes = gate.approvals.map(
      (vote) => `${vote.by} at ${stampOf(vote.at)}${vote.comment ? ` ("${vote.comment}")` : ''}`,
    );
    lines.push(
      `${inner}approvals so far: ${votes.length > 0 ? `${votes.join('; ')} (${votes.length} of ${gate.required})` : `none (${gate.required} needed)`}`,
    );
  }
  lines.push(`${inner}answer with:`);
  lines.push(...gate.answerWith.map((command) => `${inner}  ${command}`));
  if (gate.kind === 'approval' && gate.evidence)
    lines.push(`${inner}(add --evidence ${gate.evidence.version} to approve only the evidence shown here)`);
  return lines;
}

/** What the run waits for: its own open gates, or those of a child run it waits in. Empty when it waits for nothing. */
export function waitLines(progress: Progress, waits: ChildWait[]): string[] {
  const lines = progress.openGates.flatMap((gate) => gateLines(gate));
  for (const wait of waits) {
    lines.push(`Waiting in child run ${wait.workflowId} (${wait.runbook}, phase ${wait.phase}); answer the child:`);
    lines.push(...wait.openGates.flatMap((gate) => gateLines(gate, '  ')));
  }
  return lines;
}

/** `status`: the run, its steps, what it waits for. */
export function progressLines(progress: Progress, waits: ChildWait[]): string[] {
  const lines = [...runHeader(progress), ''];
  if (progress.steps.length === 0) lines.push('no step has run yet');
  else lines.push(...formatTable(stepRows(progress.steps)));
  const running = progress.children.filter((child) => !child.outcome);
  const done = progress.children.filter((child) => child.outcome);
  if (done.length > 0)
    lines.push('', ...done.map((child) => `child run ${child.workflowId} (${child.runbook}): ${child.outcome}`));
  if (running.length > 0)
    lines.push('', ...running.map((child) => `child run ${child.workflowId} (${child.runbook}): running`));
  const waiting = waitLines(progress, waits);
  if (waiting.length > 0) lines.push('', ...waiting);
  else if (progress.runbook === 'drill' && progress.outcome === 'running')
    lines.push(
      '',
      'a drill has no gates: it asks nobody and ends by itself (its findings: pchat-dr report once it ended)',
    );
  return lines;
}

/** A finished drill in one line: passed or failed, how many checks, the figures against the objectives. */
export function drillResultLine(findings: DrillFindings): string {
  if (findings.skipped) return `drill skipped: ${findings.skipped}; nothing was checked or changed`;
  const failed = failedChecks(findings);
  const { figures } = findings;
  const against = (value: number | null, objective: number) =>
    value === null
      ? 'not measured'
      : `${formatSeconds(value)} (objective ${formatSeconds(objective)}: ${value <= objective ? 'met' : 'MISSED'})`;
  const verdict =
    failed.length === 0
      ? `drill PASSED: ${findings.checks.length} checks passed`
      : `drill FAILED: ${failed.length} of ${findings.checks.length} checks failed (${failed.map((check) => check.title).join('; ')})`;
  return `${verdict}; RPO ${against(figures.rpoSeconds, figures.rpoObjectiveSeconds)}; estimated RTO ${against(figures.estimatedRtoSeconds, figures.rtoObjectiveSeconds)}`;
}
