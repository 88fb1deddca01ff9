/**
 * What a DR drill found (runbook 6): its checks, the figures against the objectives, the trend over earlier
 * drills, and the deviations worth a person's attention; and that report as Markdown for auditors. Pure: the drill
 * workflow builds it, the worker writes it to the topology's report folder, the CLI prints it.
 */
import { formatSeconds } from '../topology/durations';

export type CheckGroup = 'health' | 'drift' | 'objectives' | 'rehearsal';

export interface DrillCheck {
  /** Stable name, e.g. mirroring:mgc, job:LSCopy_dc1-sql-a_mgc, drift:pool-state. */
  name: string;
  group: CheckGroup;
  title: string;
  passed: boolean;
  /** What was seen, in words an operator can act on. */
  observed: string;
  expected: string;
}

/** One earlier drill, as the trend shows it. */
export interface DrillSummary {
  workflowId: string;
  startedAt: string;
  outcome: string;
  passed: boolean | null;
  failedChecks: number;
  rpoSeconds: number | null;
  estimatedRtoSeconds: number | null;
}

export interface DrillFindings {
  /** Set when the drill did nothing (an incident runbook was open). */
  skipped?: string;
  checks: DrillCheck[];
  figures: {
    rpoSeconds: number | null;
    rpoObjectiveSeconds: number;
    /** The restore rehearsal's duration: how long bringing mgc back from the share would take now. */
    estimatedRtoSeconds: number | null;
    rtoObjectiveSeconds: number;
    rowsInRehearsal: number | null;
    /** A rehearsal estate's real failover and failback, when the drill ran them. */
    rehearsal?: {
      failover: { workflowId: string; rtoSeconds: number | null; rpoSeconds: number | null };
      failback: { workflowId: string; interruptionSeconds: number | null };
    };
  };
  trend: DrillSummary[];
  deviations: string[];
  passed: boolean;
}

export function failedChecks(findings: DrillFindings): DrillCheck[] {
  return findings.checks.filter((check) => !check.passed);
}

/** The drill's own report, as an auditor reads it. */
export function drillMarkdown(report: {
  workflowId: string;
  pool: string;
  startedAt: string;
  finishedAt?: string;
  outcome: string;
  drill?: DrillFindings;
}): string {
  const findings = report.drill;
  const lines = [
    `# DR drill ${report.workflowId}`,
    '',
    `Pool **${report.pool}**, started ${report.startedAt}${report.finishedAt ? `, finished ${report.finishedAt}` : ''}.`,
    '',
  ];
  if (!findings) return [...lines, `No findings (${report.outcome}).`, ''].join('\n');
  if (findings.skipped)
    return [...lines, `**Skipped:** ${findings.skipped}. Nothing was checked or changed.`, ''].join('\n');
  const failed = failedChecks(findings);
  lines.push(
    findings.passed
      ? '**Result: PASSED** — every check passed and the objectives are met.'
      : `**Result: FAILED** — ${failed.length} check(s) failed: ${failed.map((check) => check.title).join('; ')}.`,
    '',
  );
  const { figures } = findings;
  lines.push('## Figures', '', '| measure | now | objective | |', '|---|---|---|---|');
  lines.push(
    `| RPO (last restored log backup vs. last log backup) | ${formatSeconds(figures.rpoSeconds)} | ${formatSeconds(figures.rpoObjectiveSeconds)} | ${figures.rpoSeconds === null ? '?' : figures.rpoSeconds <= figures.rpoObjectiveSeconds ? 'met' : 'MISSED'} |`,
  );
  lines.push(
    `| Estimated RTO (restore rehearsal) | ${formatSeconds(figures.estimatedRtoSeconds)} | ${formatSeconds(figures.rtoObjectiveSeconds)} | ${figures.estimatedRtoSeconds === null ? '?' : figures.estimatedRtoSeconds <= figures.rtoObjectiveSeconds ? 'met' : 'MISSED'} |`,
  );
  if (figures.rowsInRehearsal !== null) lines.push(`| Rows in the rehearsal copy | ${figures.rowsInRehearsal} | | |`);
  if (figures.rehearsal) {
    lines.push(
      `| Rehearsal failover RTO (${figures.rehearsal.failover.workflowId}) | ${formatSeconds(figures.rehearsal.failover.rtoSeconds)} | ${formatSeconds(figures.rtoObjectiveSeconds)} | |`,
    );
    lines.push(
      `| Rehearsal failover RPO | ${formatSeconds(figures.rehearsal.failover.rpoSeconds)} | ${formatSeconds(figures.rpoObjectiveSeconds)} | |`,
    );
    lines.push(
      `| Rehearsal failback interruption (${figures.rehearsal.failback.workflowId}) | ${formatSeconds(figures.rehearsal.failback.interruptionSeconds)} | | |`,
    );
  }
  lines.push('');
  for (const group of ['health', 'drift', 'objectives', 'rehearsal'] as const) {
    const checks = findings.checks.filter((check) => check.group === group);
    if (checks.length === 0) continue;
    lines.push(
      `## ${group[0].toUpperCase()}${group.slice(1)}`,
      '',
      '| check | result | observed | expected |',
      '|---|---|---|---|',
    );
    for (const check of checks)
      lines.push(
        `| ${cell(check.title)} | ${check.passed ? 'pass' : '**FAIL**'} | ${cell(check.observed)} | ${cell(check.expected)} |`,
      );
    lines.push('');
  }
  if (findings.deviations.length > 0)
    lines.push('## Deviations', '', ...findings.deviations.map((deviation) => `- ${deviation}`), '');
  lines.push('## Trend', '');
  if (findings.trend.length === 0) lines.push('No earlier drill on this pool.', '');
  else {
    lines.push('| drill | started | result | failed checks | RPO | estimated RTO |', '|---|---|---|---|---|---|');
    for (const earlier of findings.trend) {
      lines.push(
        `| ${earlier.workflowId} | ${earlier.startedAt} | ${earlier.passed === null ? earlier.outcome : earlier.passed ? 'passed' : 'failed'} | ${earlier.failedChecks} | ${formatSeconds(earlier.rpoSeconds)} | ${formatSeconds(earlier.estimatedRtoSeconds)} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** What the trend keeps of a drill's report. */
export function summariseDrill(report: {
  workflowId: string;
  startedAt: string;
  outcome: string;
  drill?: DrillFindings;
}): DrillSummary {
  const findings = report.drill;
  return {
    workflowId: report.workflowId,
    startedAt: report.startedAt,
    outcome: report.outcome,
    passed: findings && !findings.skipped ? findings.passed : null,
    failedChecks: findings ? failedChecks(findings).length : 0,
    rpoSeconds: findings?.figures.rpoSeconds ?? null,
    estimatedRtoSeconds: findings?.figures.estimatedRtoSeconds ?? null,
  };
}
