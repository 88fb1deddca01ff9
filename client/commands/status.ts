/**
 * `pchat-dr status ID`: where a run stands: phase, outcome, steps (status, times, target, summary), the gates it
 * waits on (question, evidence, approvals so far, the exact commands that answer them), and the gates of a child
 * run it waits in.
 */
import { Command } from 'commander';
import { outputOption, printJson, printLine, type OutputFormat } from '../output';
import { drillResultLine, progressLines } from '../report-view';
import {
  childWaits,
  findRun,
  progressOfRun,
  reportOfRun,
  withClient,
  withTemporalOptions,
  type TemporalFlags,
} from '../run-access';

export function statusCommand(): Command {
  const command = new Command('status')
    .description('show where a run stands and what it waits for')
    .argument('<id>', 'the run id (workflow id)')
    .addOption(outputOption());
  return withTemporalOptions(command).action((id: string, flags: TemporalFlags & { output: OutputFormat }) =>
    withClient(flags, async (client) => {
      const run = await findRun(client, id);
      const progress = await progressOfRun(run);
      const waits = progress.outcome === 'running' ? await childWaits(client, progress) : [];
      // A drill that ended: its findings in a line (the report has them all).
      const findings =
        run.runbook === 'drill' && progress.outcome !== 'running' ? (await reportOfRun(run)).drill : undefined;
      const found = findings && !findings.skipped ? findings : undefined;
      if (flags.output === 'json')
        printJson({
          ...progress,
          temporalStatus: run.status,
          waitingIn: waits,
          ...(findings ? { drill: findings } : {}),
        });
      else
        [
          ...progressLines(progress, waits),
          ...(found ? ['', drillResultLine(found), `report: pchat-dr report ${id}`] : []),
        ].forEach((line) => printLine(line));
    }),
  );
}
