/**
 * pchat-dr: the operator's command line. Each command lives in client/commands/; this file wires them together
 * and turns every failure into a one-line message and a documented exit code (client/output.ts). The executable
 * is client/cli.ts, which checks the Node.js version first.
 */
import { Command, CommanderError } from 'commander';
import { versionLine } from '../runtime/package';
import { abortCommand } from './commands/abort';
import { approveCommand } from './commands/approve';
import { consoleCommand } from './commands/console';
import { decideCommand } from './commands/decide';
import { demoCommand } from './commands/demo';
import { drillCommand } from './commands/drill';
import { healthCommand } from './commands/health';
import { listCommand } from './commands/list';
import { rejectCommand } from './commands/reject';
import { reportCommand } from './commands/report';
import { runCommand } from './commands/run';
import { simCommand } from './commands/sim';
import { statementCommand } from './commands/statement';
import { statusCommand } from './commands/status';
import { topologyCommand } from './commands/topology-check';
import { watchCommand } from './commands/watch';
import { workerCommand } from './commands/worker';
import { CliError, EXIT } from '../runtime/exit';

export function buildProgram(): Command {
  const program = new Command('pchat-dr')
    .description('Durable disaster-recovery runbooks for Persistent Chat SQL Server back ends, on Temporal')
    .version(versionLine(), '-V, --version', 'print the version of pchat-dr, of the Temporal SDK and of Node.js')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  program.addCommand(topologyCommand());
  program.addCommand(simCommand());
  program.addCommand(workerCommand());
  program.addCommand(healthCommand());
  program.addCommand(runCommand());
  program.addCommand(statusCommand());
  program.addCommand(watchCommand());
  program.addCommand(listCommand());
  program.addCommand(approveCommand());
  program.addCommand(rejectCommand());
  program.addCommand(decideCommand());
  program.addCommand(abortCommand());
  program.addCommand(statementCommand());
  program.addCommand(reportCommand());
  program.addCommand(consoleCommand());
  program.addCommand(demoCommand());
  program.addCommand(drillCommand());
  // Sub-commands inherit exitOverride only when added after it is set, so set it on every one.
  const overrideAll = (command: Command) => {
    command.exitOverride();
    command.commands.forEach(overrideAll);
  };
  overrideAll(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message (or the help / version text).
      const informational = ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code);
      return informational ? EXIT.ok : EXIT.badInput;
    }
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(`${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`pchat-dr: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.failed;
  }
}
