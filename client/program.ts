/**
 * pchat-dr: the operator's command line. Each command lives in client/commands/; this file wires them together
 * and turns every failure into a one-line message and a documented exit code (client/output.ts). The executable
 * is client/cli.ts, which checks the Node.js version first.
 */
import { Command, CommanderError } from 'commander';
import { versionLine } from '../runtime/package';
import { CliError, EXIT } from '../runtime/exit';

/**
 * Every command by the name typed, in the order --help lists them, and the module that builds it. Only the command
 * run is loaded: each pulls in its own drivers (the SQL Server driver, the Temporal client, WebAuthn), and a CLI
 * process that loads them all takes several times longer to start.
 */
const COMMANDS: Record<string, () => Command> = {
  topology: () =>
    (require('./commands/topology-check') as typeof import('./commands/topology-check')).topologyCommand(),
  sim: () => (require('./commands/sim') as typeof import('./commands/sim')).simCommand(),
  worker: () => (require('./commands/worker') as typeof import('./commands/worker')).workerCommand(),
  health: () => (require('./commands/health') as typeof import('./commands/health')).healthCommand(),
  run: () => (require('./commands/run') as typeof import('./commands/run')).runCommand(),
  status: () => (require('./commands/status') as typeof import('./commands/status')).statusCommand(),
  watch: () => (require('./commands/watch') as typeof import('./commands/watch')).watchCommand(),
  list: () => (require('./commands/list') as typeof import('./commands/list')).listCommand(),
  approve: () => (require('./commands/approve') as typeof import('./commands/approve')).approveCommand(),
  reject: () => (require('./commands/reject') as typeof import('./commands/reject')).rejectCommand(),
  decide: () => (require('./commands/decide') as typeof import('./commands/decide')).decideCommand(),
  abort: () => (require('./commands/abort') as typeof import('./commands/abort')).abortCommand(),
  statement: () => (require('./commands/statement') as typeof import('./commands/statement')).statementCommand(),
  report: () => (require('./commands/report') as typeof import('./commands/report')).reportCommand(),
  console: () => (require('./commands/console') as typeof import('./commands/console')).consoleCommand(),
  demo: () => (require('./commands/demo') as typeof import('./commands/demo')).demoCommand(),
  drill: () => (require('./commands/drill') as typeof import('./commands/drill')).drillCommand(),
};

/**
 * The program for these arguments: with the one command they name, or — for --help, --version, `help` or a name
 * that is no command (commander suggests the nearest) — with every command.
 */
export function buildProgram(argv: string[] = process.argv): Command {
  const program = new Command('pchat-dr')
    .description('Durable disaster-recovery runbooks for Persistent Chat SQL Server back ends, on Temporal')
    .version(versionLine(), '-V, --version', 'print the version of pchat-dr, of the Temporal SDK and of Node.js')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const named = argv[2] ?? '';
  const wanted = Object.hasOwn(COMMANDS, named) ? [named] : Object.keys(COMMANDS);
  for (const name of wanted) program.addCommand(COMMANDS[name]());
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
    await buildProgram(argv).parseAsync(argv);
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
