/**
 * `pchat-dr watch ID`: follows a run (client/follow.ts) until it ends (exit code of its outcome) or waits on a gate
 * (exit 0, after saying what it waits for and the command that answers it).
 */
import { Command } from 'commander';
import { followRun } from '../follow';
import { CliError, EXIT } from '../../runtime/exit';
import { outputOption, type OutputFormat } from '../output';
import { findRun, withClient, withTemporalOptions, type TemporalFlags } from '../run-access';

export function watchCommand(): Command {
  const command = new Command('watch')
    .description('follow a run until it ends or waits on a gate (Ctrl+C stops following; the run goes on)')
    .argument('<id>', 'the run id (workflow id)')
    .option('--plain', 'plain lines even on a terminal')
    .addOption(outputOption());
  return withTemporalOptions(command).action(
    async (id: string, flags: TemporalFlags & { plain?: boolean; output: OutputFormat }) => {
      const code = await withClient(flags, async (client) => {
        await findRun(client, id);
        return followRun(client, id, {
          tty: process.stdout.isTTY === true && !flags.plain,
          json: flags.output === 'json',
          columns: process.stdout.columns,
        });
      });
      if (code !== EXIT.ok) throw new CliError('', code);
    },
  );
}
