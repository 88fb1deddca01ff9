/**
 * The demo (`pchat-dr demo`, `npm run demo`): the whole DR story of a Persistent Chat pool, on an embedded default.
 * The stage (stage.ts) starts its own Temporal dev server and Web UI, the simulated estate, chat load and a worker
 * in this process; the story (story.ts) runs the real runbooks as the on-call person, its gates answered by named
 * approvers or by you (gate-answers.ts); the summary (summary.ts) gives RTO, RPO, service interruption and messages
 * lost per run.
 *
 * Everything it starts it stops again: after the story (unless --keep), on a failure (one line naming the step and
 * why, exit 1) and on Ctrl+C (exit 130; with --keep, once the story is done, Ctrl+C is the normal end: exit 0).
 */
import { CliError, EXIT, type ExitCode } from '../../runtime/exit';
import { firstLine } from '../run-access';
import { DemoFailure } from './failure';
import { DemoStage, ON_CALL, type DemoOptions } from './stage';
import { DemoStory } from './story';
import { printKeepInstructions, printSummary } from './summary';

export { DEFAULT_CHAT_RATE, DEFAULT_DEMO_STATE } from './stage';

/** Runs the demo; the command wires Ctrl+C to `signal`, and a second Ctrl+C to `kill`. */
export function runDemo(options: DemoOptions): { kill: () => void; done: Promise<ExitCode> } {
  const stage = new DemoStage(options);
  return { kill: () => stage.kill(), done: run(stage) };
}

async function run(stage: DemoStage): Promise<ExitCode> {
  const { options } = stage;
  const started = Date.now();
  let keeping = false;
  let code: ExitCode = EXIT.ok;
  try {
    const { connection } = await stage.start();
    stage.cast.estate.chat.start(options.chatRate);
    stage.say(
      `  chat load            ${options.chatRate} messages/s through the active chat servers, for the whole story`,
    );
    stage.say(
      `  people               ${ON_CALL} is on call and starts every runbook; approvers: alice, bob (dba), carol, dave (incident commanders)`,
    );
    stage.say(
      `  gates                ${options.interactive ? 'answered by you, from another terminal (--interactive): the demo prints the commands' : 'answered at once by the demo, as the named approvers'}`,
    );
    const story = new DemoStory(stage);
    // Ctrl+C cancels the story's calls to Temporal too: none may still be retrying once the connection is closed.
    await connection.withAbortSignal(options.signal, () => story.tell());
    printSummary(stage, story, Date.now() - started);
    if (options.keep) {
      keeping = true;
      printKeepInstructions(stage, story);
      await stage.guard(new Promise<never>(() => {}));
    }
  } catch (error) {
    if (!options.signal.aborted) {
      // Said for the operator already, with its own exit code (no Temporal CLI to be had, a --state refused).
      if (error instanceof CliError) {
        await stage.stop();
        throw error;
      }
      const reason = error instanceof DemoFailure ? error.message : firstLine(error);
      await stage.stop();
      throw new CliError(`demo failed at ${stage.where}: ${reason}`, EXIT.failed);
    }
    // Ctrl+C: during the story an interruption; once the story is done (--keep), the normal end.
    code = keeping ? EXIT.ok : EXIT.interrupted;
  } finally {
    await stage.stop();
  }
  stage.say('Stopped the worker, the simulated estate and the Temporal dev server.');
  return code;
}
