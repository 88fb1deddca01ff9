/**
 * What people read about a run, rendered from its own record: the progress view (`status`, `watch`), what a run
 * waits for and the commands that answer it, the plan of a dry run (every step with the statements it would
 * execute, every gate with its policy), and the Markdown report an auditor keeps. Pure: no I/O, so the demo and the
 * drill reports reuse it.
 */
import { describeStep } from '../activities/dry-run';
import { formatSeconds } from '../topology/durations';
import { drillMarkdown, failedChecks, type DrillFindings } from '../contracts/drill-report';
import type { GateRecord, PendingGate, Progress, RunbookReport, StepRecord } from '../contracts/run-record';
import { formatTable } from './output';
import { signedMarkdown } from './report-signed';
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

function stepSummary(step: StepRecord): string {
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

// ------------------------------------------------------------------------------------------------ steps and gates in order

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

// ------------------------------------------------------------------------------------------------ dry runs

function planOf(step: StepRecord): string[] {
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

// ------------------------------------------------------------------------------------------------ the report (Markdown)

const cell = (text: string | null | undefined) => (text ?? '').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
const metText = (met: boolean | null) => (met === null ? 'not measurable' : met ? 'met' : '**missed**');

type Rpo = NonNullable<RunbookReport['measures']['rpo']>;

/** The data-loss window as bounds ("between 0ms and 1.4s"); older reports have the lower bound only. */
export function rpoWindow(rpo: Rpo): string {
  return rpo.upperBoundBasis !== undefined
    ? `between ${formatSeconds(rpo.seconds)} and ${formatSeconds(rpo.upperBoundSeconds)}`
    : formatSeconds(rpo.seconds);
}

/** Whether the objective is met: unknown while the window straddles it. */
export function rpoVerdict(rpo: Rpo): string {
  if (rpo.met === null) return rpo.upperBoundBasis !== undefined ? 'cannot tell' : 'not measurable';
  return rpo.met ? 'met' : 'MISSED';
}

/**
 * The report an auditor keeps (docs/runbooks.md rule 7): summary, measures, steps, approvals, decisions, evidence, notes.
 * A drill that ended leads with its findings (workflows/drill-report.ts: result, figures against the objectives,
 * every check, deviations, trend), then the run's record (who started it and why, its steps); its gates only when
 * it opened any (a drill asks nobody).
 */
export function reportMarkdown(report: RunbookReport): string {
  const out: string[] = [];
  const drill = report.drill && report.outcome !== 'running';
  if (drill) out.push(drillMarkdown(report).trimEnd(), '', '## Run record', '');
  else out.push(`# ${report.runbook} on ${report.pool}: ${report.outcome}`, '');
  out.push('| | |', '|---|---|');
  out.push(
    `| Run | \`${report.workflowId}\` (run id \`${report.runId}\`)${report.parent ? `, part of \`${report.parent}\`` : ''} |`,
  );
  out.push(`| Runbook | ${report.runbook}${report.dryRun ? ' (dry run: nothing was changed)' : ''} |`);
  out.push(`| Pool | ${report.pool} |`);
  out.push(`| Started | ${stampOf(report.startedAt)} by ${cell(report.initiator)} |`);
  out.push(`| Reason | ${cell(report.reason)} |`);
  const options = Object.entries(report.options).filter(([, value]) => value !== undefined);
  out.push(
    `| Options | ${options.length > 0 ? options.map(([key, value]) => `${key}=${cell(String(value))}`).join(', ') : 'defaults'} |`,
  );
  out.push(
    `| Finished | ${report.finishedAt ? `${stampOf(report.finishedAt)} (took ${formatSeconds(report.durationSeconds)})` : 'still running'} |`,
  );
  out.push(`| Outcome | **${report.outcome}**${report.outcomeReason ? `: ${cell(report.outcomeReason)}` : ''} |`);
  if (report.signing)
    out.push(
      `| Signatures | ${report.signing.policy === 'off' ? 'not required' : report.signing.policy}; signers \`${cell(report.signing.allowedSigners)}\` on the worker |`,
    );
  if (report.blockedBy)
    out.push(
      `| Blocked by | ${report.blockedBy.runbook ?? 'runbook'} \`${report.blockedBy.workflowId}\` (started ${stampOf(report.blockedBy.startedAt)}) |`,
    );
  out.push('');

  const { rto, rpo, serviceInterruption } = report.measures;
  if (rto || rpo || serviceInterruption) {
    out.push('## Recovery objectives', '');
    if (rto)
      out.push(
        `- **RTO** ${formatSeconds(rto.seconds)} against an objective of ${formatSeconds(rto.objectiveSeconds)}: ${metText(rto.met)} (declared ${stampOf(rto.declaredAt)}, service restored ${stampOf(rto.restoredAt)})`,
      );
    if (rpo) {
      const upper = rpo.upperBoundBasis !== undefined;
      out.push(
        `- **RPO** ${rpoWindow(rpo)} against an objective of ${formatSeconds(rpo.objectiveSeconds)}: ${rpo.met === null ? rpoVerdict(rpo) : metText(rpo.met)} (recovery point ${stampOf(rpo.recoveryPoint)}, newest log backup ${stampOf(rpo.lastLogBackup)}, ${rpo.logsNotApplied} log backup(s) not applied)`,
        ...(upper
          ? [
              `  - upper bound: ${rpo.upperBoundBasis}`,
              `  - messages lost: ${rpo.messagesLost ?? 'unknown'} (${rpo.messagesLostNote})`,
            ]
          : []),
        `  - ${rpo.unshippedNote}`,
      );
    }
    if (serviceInterruption)
      out.push(
        `- **Service interruption** ${formatSeconds(serviceInterruption.seconds)} (${stampOf(serviceInterruption.from)} to ${stampOf(serviceInterruption.to)})`,
      );
    out.push('');
  }

  out.push('## Steps', '');
  if (report.steps.length === 0) out.push('No step ran.', '');
  else {
    out.push(
      '| # | Step | Target | Status | Started | Finished | Attempts | Summary |',
      '|---|---|---|---|---|---|---|---|',
    );
    report.steps.forEach((step, index) => {
      out.push(
        `| ${index + 1} | ${cell(step.title)} (\`${step.name}\`) | ${cell(step.target ?? '')} | ${step.status} | ${stampOf(step.startedAt)} | ${stampOf(step.finishedAt)} | ${step.attempts} | ${cell(stepSummary(step))} |`,
      );
    });
    out.push('');
  }
  const planned = report.steps.filter((step) => step.status === 'planned' && step.plan);
  if (planned.length > 0) {
    out.push('## Plan (what the planned steps would execute)', '');
    for (const step of planned)
      out.push(`### ${step.name}${step.target ? ` on ${step.target}` : ''}`, '', '```sql', ...planOf(step), '```', '');
  }

  if (!drill || report.gates.length > 0) out.push('## Gates and approvals', '');
  if (report.gates.length === 0 && !drill) out.push('No gate opened.', '');
  for (const gate of report.gates) {
    out.push(`### ${gate.id}: ${gate.status}`, '');
    out.push(`- Question: ${gate.question}`);
    out.push(`- Policy: ${policyText(gate)}`);
    out.push(
      `- Opened ${stampOf(gate.openedAt)}${gate.closedAt ? `, closed ${stampOf(gate.closedAt)}` : ''}${gate.closedBecause ? ` (${gate.closedBecause})` : ''}`,
    );
    if (gate.evidence) out.push(`- Evidence version \`${gate.evidence.version}\``);
    if (gate.approvals.length > 0) {
      out.push('- Approved by:');
      for (const vote of gate.approvals)
        out.push(
          `  - ${vote.by} at ${stampOf(vote.at)}${vote.comment ? `: "${vote.comment}"` : ''} (evidence \`${vote.evidenceVersion || 'none'}\`${vote.signature ? `; signed, ${vote.signature}` : ''})`,
        );
    }
    if (gate.rejection)
      out.push(
        `- Rejected by ${gate.rejection.by} at ${stampOf(gate.rejection.at)}: ${gate.rejection.reason}${gate.rejection.signature ? ` (signed, ${gate.rejection.signature})` : ''}`,
      );
    if (gate.decision)
      out.push(
        `- Decided by ${gate.decision.by} at ${stampOf(gate.decision.at)}: ${gate.decision.choice} (${gate.decision.reason})${gate.decision.signature ? ` (signed, ${gate.decision.signature})` : ''}`,
      );
    out.push('');
  }

  if (report.decisions.length > 0) {
    out.push('## Decisions', '', '| Step | Choice | By | At | Reason |', '|---|---|---|---|---|');
    for (const decision of report.decisions)
      out.push(
        `| ${cell(decision.step ?? decision.gate)} | ${decision.choice} | ${cell(decision.by)} | ${stampOf(decision.at)} | ${cell(decision.reason)} |`,
      );
    out.push('');
  }
  if (report.signed && report.signed.length > 0) out.push(...signedMarkdown(report));
  if (report.refused.length > 0) {
    out.push('## Messages that did not count', '');
    for (const entry of report.refused)
      out.push(`- ${stampOf(entry.at)} ${entry.by ? `${entry.by}: ` : ''}${entry.message}`);
    out.push('');
  }
  if (report.evidence.length > 0) {
    out.push('## Evidence', '');
    for (const evidence of report.evidence) {
      out.push(`### ${evidence.label} (version \`${evidence.version}\`, taken ${stampOf(evidence.takenAt)})`, '');
      out.push(...evidence.summary.map((line) => `- ${line}`), '');
    }
  }
  if (report.diverged) {
    const { diverged } = report;
    out.push(
      '## Data kept from DC1',
      '',
      `${diverged.database} on ${diverged.instance} held data DC2 does not have; before it was overwritten it was backed up (COPY_ONLY, verified) to \`${diverged.file}\`.`,
      `Messages: ${diverged.messagesNote}. To reconcile, restore that file under another name and compare.`,
      '',
    );
  }
  if (report.notes.length > 0) out.push('## Notes', '', ...report.notes.map((text) => `- ${text}`), '');
  if (report.children.length > 0) {
    out.push('## Child runs', '');
    for (const child of report.children)
      out.push(
        `- \`${child.workflowId}\` (${child.runbook}): ${child.outcome ?? 'running'} (pchat-dr report ${child.workflowId})`,
      );
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
