/**
 * What a fault campaign produces (docs/reliability.md): one result per cell (runbook × step × fault), and the
 * matrix with the totals that `npm run campaign` prints.
 */
import type { FaultKind, ReferenceStep } from './faults';
import { FAULT_KINDS } from './faults';
import type { ScenarioName } from './scenarios';

export type CellStatus = 'held' | 'violated' | 'n/a';

export interface CellResult {
  scenario: ScenarioName;
  step: string;
  fault: FaultKind;
  status: CellStatus;
  /** n/a: why; held: how the run ended; violated: the first violation. */
  reason: string;
  violations: string[];
  outcome?: string;
  seconds?: number;
  /** The step that ran when the fault was injected (the cell's step, unless the run never got there). */
  injectedAt?: string | null;
  actions?: string[];
  /** The run's report, when kept (--json with --keep). */
  report?: unknown;
}

export interface CampaignResult {
  cells: CellResult[];
  /** Per scenario, the clean run's steps. */
  steps: Record<string, string[]>;
  /** Per scenario, what each step of the clean run did (where the faults were aimed). */
  references: Record<string, ReferenceStep[]>;
  seconds: number;
}

const MARK: Record<CellStatus, string> = { held: 'held', violated: 'VIOLATED', 'n/a': 'n/a' };

/** The matrix (runbook × step × fault), the violated cells with their reasons, and the totals. */
export function formatMatrix(result: CampaignResult): string {
  const lines: string[] = [];
  const kinds = FAULT_KINDS.filter((kind) => result.cells.some((cell) => cell.fault === kind));
  const width = Math.max(...result.cells.map((cell) => cell.step.length), 10);
  for (const [scenario, steps] of Object.entries(result.steps)) {
    lines.push('', `${scenario}`, `  ${'step'.padEnd(width)}  ${kinds.map((kind) => kind.padEnd(16)).join(' ')}`);
    for (const step of steps) {
      const row = kinds.map((kind) => {
        const cell = result.cells.find(
          (each) => each.scenario === scenario && each.step === step && each.fault === kind,
        );
        return (cell ? MARK[cell.status] : '-').padEnd(16);
      });
      if (row.some((mark) => mark.trim() !== '-')) lines.push(`  ${step.padEnd(width)}  ${row.join(' ')}`);
    }
  }
  const violated = result.cells.filter((cell) => cell.status === 'violated');
  if (violated.length > 0) {
    lines.push('', 'violated:');
    for (const cell of violated) lines.push(`  ${cell.scenario} × ${cell.step} × ${cell.fault}: ${cell.reason}`);
  }
  const notApplicable = result.cells.filter((cell) => cell.status === 'n/a');
  const reasons = new Map<string, number>();
  for (const cell of notApplicable)
    reasons.set(`${cell.fault}: ${cell.reason}`, (reasons.get(`${cell.fault}: ${cell.reason}`) ?? 0) + 1);
  if (reasons.size > 0) {
    lines.push('', 'n/a, because:');
    for (const [reason, count] of reasons) lines.push(`  ${count} × ${reason}`);
  }
  const count = (status: CellStatus) => result.cells.filter((cell) => cell.status === status).length;
  lines.push(
    '',
    `cells: ${result.cells.length}; run: ${count('held') + count('violated')}; held: ${count('held')}; violated: ${count('violated')}; n/a: ${count('n/a')}; ${Math.floor(result.seconds / 60)} min ${result.seconds % 60} s`,
  );
  return lines.join('\n');
}
