/**
 * `pchat-dr status ID`: where a run stands: phase, outcome, steps (status, times, target, summary), the gates it
 * waits on (question, evidence, approvals so far, the exact commands that answer them), and the gates of a child
 * run it waits in.
 */
import { Command } from 'commander';
import { outputOption, printJson, printLine, type OutputFormat } from '../output';
import { progressLines } from '../report-view';
import { childWaits, findRun, progressOfRun, withClient, withTemporalOptions, type TemporalFlags } from '../run-access';

export function statusCommand(): Command {
  const command = new Command('status').description('show where a run stands and what it waits for').argument('<id>', 'the run id (workflow id)').addOption(outputOption());
  return withTemporalOptions(command).action((id: string, flags: TemporalFlags & { output: OutputFormat }) =>
    withClient(flags, async (client) => {
      const run = await findRun(client, id);
      const progress = await progressOfRun(run);
      const waits = progress.outcome === 'running' ? await childWaits(client, progress) : [];
      if (flags.output === 'json') printJson({ ...progress, temporalStatus: run.status, waitingIn: waits });
      else progressLines(progress, waits).forEach((line) => printLine(line));
    }),
  );
}
