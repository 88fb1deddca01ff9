/**
 * Following a run (`watch`, `run --follow`): its steps as they change, until it ends (exit code of its outcome) or
 * waits on a gate (exit 0, after saying what it waits for and the command that answers it). On a terminal the step
 * list is redrawn in place; piped, each step change is one plain line. Ctrl+C stops following (exit 130); the run
 * goes on.
 */
import type { Client } from '@temporalio/client';
import type { Progress, StepRecord } from '../contracts/run-record';
import { CliError, EXIT, type ExitCode } from '../runtime/exit';
import { exitCodeOf, formatTable, printJson } from './output';
import { drillResultLine, runHeader, stepChangeLine, stepRows, waitLines } from './report-view';
import { childWaits, findRun, progressOfRun, reportOfRun, type ChildWait } from './run-access';

export interface FollowOptions {
  /** Redraw in place (a terminal) or print one line per change (piped). */
  tty: boolean;
  /** Print only the final state, as JSON. */
  json: boolean;
  intervalMs?: number;
  /** The terminal's width: redrawn lines are cut to it, so the redraw stays in place. */
  columns?: number;
  write?: (text: string) => void;
}

/** ESC [ n A: cursor up n lines; ESC [ J: clear to the end of the screen. */
const CURSOR_UP = (lines: number) => `\x1b[${lines}A`;
const CLEAR_DOWN = '\x1b[J';

class Interrupted extends Error {}

export async function followRun(client: Client, workflowId: string, options: FollowOptions): Promise<ExitCode> {
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const stop = new AbortController();
  const onInterrupt = () => stop.abort();
  process.on('SIGINT', onInterrupt);
  const interruptible = <T>(work: Promise<T>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (stop.signal.aborted) return reject(new Interrupted());
      const abort = () => reject(new Interrupted());
      stop.signal.addEventListener('abort', abort, { once: true });
      work.then(resolve, reject).finally(() => stop.signal.removeEventListener('abort', abort));
    });

  let drawn = 0;
  let headerShown = false;
  const seen = new Map<string, string>();
  const cut = (line: string) =>
    options.columns && line.length >= options.columns ? `${line.slice(0, Math.max(1, options.columns - 2))}…` : line;

  const show = (progress: Progress) => {
    if (options.json) return;
    if (options.tty) {
      const frame = [
        ...runHeader(progress),
        '',
        ...(progress.steps.length > 0 ? formatTable(stepRows(progress.steps)) : ['no step has run yet']),
      ].map(cut);
      write(`${drawn > 0 ? `${CURSOR_UP(drawn)}\r${CLEAR_DOWN}` : ''}${frame.join('\n')}\n`);
      drawn = frame.length;
      return;
    }
    if (!headerShown) {
      write(`${runHeader(progress).slice(0, 2).join('; ')}\n`);
      headerShown = true;
    }
    for (const step of progress.steps) {
      const key = stepKey(step);
      if (seen.get(step.name) === key) continue;
      seen.set(step.name, key);
      write(`${stepChangeLine(step)}\n`);
    }
  };

  try {
    for (;;) {
      const run = await interruptible(findRun(client, workflowId));
      const progress = await interruptible(progressOfRun(run));
      const waits: ChildWait[] =
        progress.outcome === 'running' ? await interruptible(childWaits(client, progress)) : [];
      show(progress);
      if (progress.outcome !== 'running') {
        // A drill that ended says what it found (pass or fail, RPO, estimated RTO), not only that it ended.
        const findings = progress.runbook === 'drill' ? (await interruptible(reportOfRun(run))).drill : undefined;
        const found = findings && !findings.skipped ? findings : undefined;
        if (options.json) printJson({ ...progress, waitingIn: [], ...(findings ? { drill: findings } : {}) });
        else write(`${found ? `\n${drillResultLine(found)}` : ''}${endLine(progress)}\n`);
        return exitCodeOf(progress.outcome);
      }
      const waiting = waitLines(progress, waits);
      if (waiting.length > 0) {
        if (options.json) printJson({ ...progress, waitingIn: waits });
        else write(`\n${waiting.join('\n')}\n`);
        return EXIT.ok;
      }
      await interruptible(new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 500)));
    }
  } catch (error) {
    if (error instanceof Interrupted)
      throw new CliError(
        `\ninterrupted: stopped following ${workflowId}; the run goes on (pchat-dr watch ${workflowId})`,
        EXIT.interrupted,
      );
    throw error;
  } finally {
    process.removeListener('SIGINT', onInterrupt);
  }
}

function stepKey(step: StepRecord): string {
  return `${step.status}/${step.attempts}/${step.summary ?? ''}`;
}

function endLine(progress: Progress): string {
  const reason = progress.outcomeReason ? `: ${progress.outcomeReason}` : '';
  return `\n${progress.runbook} ${progress.workflowId} ended ${progress.outcome}${reason}\nreport: pchat-dr report ${progress.workflowId}`;
}
