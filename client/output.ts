/**
 * How the CLI talks to people and scripts: a run's outcome as an exit code (runtime/exit.ts has the codes), JSON on
 * stdout, aligned text.
 */
import { Option } from 'commander';
import { CliError, EXIT, type ExitCode } from '../runtime/exit';
import type { RunOutcome } from '../contracts/run-record';

/** How a run ended, as an exit code (`run --follow`, `watch`, `run --dry-run`): a run still going is 0. */
export function exitCodeOf(outcome: RunOutcome): ExitCode {
  switch (outcome) {
    case 'failed':
    case 'aborted':
      return EXIT.failed;
    case 'rejected':
    case 'precondition-failed':
      return EXIT.refused;
    case 'timed-out':
      return EXIT.timedOut;
    default:
      return EXIT.ok;
  }
}

export type OutputFormat = 'text' | 'json';

export function parseOutputFormat(value: string): OutputFormat {
  if (value === 'text' || value === 'json') return value;
  throw new CliError(`-o ${value}: unknown output format (use text or json)`);
}

/** `-o, --output text|json` (text by default). */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'text or json').default('text').argParser(parseOutputFormat);
}

/** One JSON document on stdout, so `-o json` output can be piped into jq. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** Rows of cells padded into columns (the last column is not padded). */
export function formatTable(rows: string[][], indent = ''): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  return rows.map(
    (row) =>
      indent +
      row
        .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index])))
        .join('  ')
        .trimEnd(),
  );
}
