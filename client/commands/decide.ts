/** `pchat-dr decide ID retry|skip|abort --reason TEXT`: the decision on a step that failed for good. */
import { Command } from 'commander';
import { decideUpdate, type DecideMessage } from '../../contracts/messages';
import { CliError } from '../../runtime/exit';
import { answerOptions, personOf, sendAnswer, type AnswerFlags } from '../gate-answers';

const CHOICES: DecideMessage['choice'][] = ['retry', 'skip', 'abort'];

export function decideCommand(): Command {
  const command = new Command('decide')
    .description('decide what a run does about a failed step: retry it, skip it (skippable steps only) or abort')
    .argument('<id>', 'the run id (workflow id) whose step failed')
    .argument('<choice>', CHOICES.join(', '))
    .requiredOption('--reason <text>', 'why (kept in the report)')
    .option('--gate <id>', 'the decision gate, when several are open (default: the one that is open)');
  return answerOptions(command).action(
    (id: string, choice: string, flags: AnswerFlags & { reason: string; gate?: string }) => {
      if (!(CHOICES as string[]).includes(choice))
        throw new CliError(`decide ${choice}: unknown choice (use retry, skip or abort)`);
      const message: DecideMessage = {
        choice: choice as DecideMessage['choice'],
        by: personOf(flags),
        reason: flags.reason,
        ...(flags.gate ? { gate: flags.gate } : {}),
      };
      return sendAnswer(flags, id, decideUpdate, message, 'decision');
    },
  );
}
