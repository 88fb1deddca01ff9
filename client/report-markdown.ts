/**
 * The Markdown report an auditor keeps (docs/runbooks.md rule 7), rendered from a run's record, with its signed
 * messages and how to verify each with OpenSSH alone. Pure: no I/O, so the demo and the drill reports reuse it.
 */
import { formatSeconds } from '../topology/durations';
import { drillMarkdown } from '../contracts/drill-report';
import type { RunbookReport } from '../contracts/run-record';
import { signedMarkdown } from './report-signed';
import { planOf } from './plan-view';
import { policyText, stampOf, stepSummary } from './report-view';

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
