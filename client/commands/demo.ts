/**
 * `pchat-dr demo` (and `npm run demo`): the DR story end to end on an embedded default, with its own Temporal dev
 * server and Web UI, the simulated estate, chat load and a worker in this process (client/demo/run-demo.ts).
 *
 * Ctrl+C (or SIGTERM) stops everything cleanly: exit 130 during the story; with --keep, after the story, it is the
 * normal end: exit 0. A second Ctrl+C exits at once. A failure is one line naming the step and why, exit 1.
 */
import path from 'node:path';
import { Command } from 'commander';
import { CliError, EXIT, type ExitCode } from '../../runtime/exit';
import { positiveNumber } from '../flag-values';

interface DemoFlags {
  interactive?: boolean;
  short?: boolean;
  keep?: boolean;
  state?: string;
  chatRate?: number;
}

export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'the DR story end to end on a simulated estate, with its own Temporal dev server and Web UI (a few minutes)',
    )
    .option(
      '--interactive',
      'answer the gates yourself from another terminal: the demo prints the exact commands and waits',
    )
    .option(
      '--short',
      'the short story: only the planned mirror failover and back (under a minute; checks an install end to end)',
    )
    .option(
      '--keep',
      'after the story, keep the dev server, the Web UI, the estate and the worker running until Ctrl+C',
    )
    .option(
      '--state <dir>',
      "the demo's folder (topology copy, simulator state, logs, reports); emptied first (default: .tmp/demo in a checkout, $XDG_STATE_HOME/pchat-dr/demo once installed)",
    )
    .option(
      '--chat-rate <n>',
      'chat messages per second during the story (default: 5)',
      positiveNumber('--chat-rate', 'give messages per second, more than 0 and at most 200', 200),
    )
    .action(async (flags: DemoFlags) => {
      // Loaded on use: the Temporal worker and client take a while to load, which other commands need not pay.
      const { runDemo, DEFAULT_CHAT_RATE, DEFAULT_DEMO_STATE } =
        require('../demo/run-demo') as typeof import('../demo/run-demo');
      const stop = new AbortController();
      let signals = 0;
      let kill: () => void = () => {};
      const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        if (signals === 1) {
          process.stderr.write(
            `\n${signal === 'SIGINT' ? 'Ctrl+C' : signal}: stopping the worker, the simulated estate and the Temporal dev server...\n`,
          );
          stop.abort(new Error(`interrupted (${signal})`));
          return;
        }
        process.stderr.write('second signal: exiting now, without waiting for a clean stop\n');
        kill();
        process.exit(EXIT.interrupted);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      let code: ExitCode;
      try {
        const { kill: killDemo, done } = runDemo({
          stateDir: flags.state ? path.resolve(flags.state) : DEFAULT_DEMO_STATE,
          interactive: flags.interactive === true,
          short: flags.short === true,
          keep: flags.keep === true,
          chatRate: flags.chatRate ?? DEFAULT_CHAT_RATE,
          signal: stop.signal,
        });
        kill = killDemo;
        code = await done;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        // Everything the demo started is stopped; a handle some library left open must not keep the process alive.
        setTimeout(() => process.exit(process.exitCode ?? EXIT.failed), 5_000).unref();
      }
      if (code !== EXIT.ok) throw new CliError('', code);
    });
}
