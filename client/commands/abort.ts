/** `pchat-dr abort ID --reason TEXT`: stops a run at its next step boundary (a running step finishes first). */
import { Command } from 'commander';
import { abortUpdate, type AbortMessage } from '../../contracts/messages';
import { answerOptions, personOf, sendAnswer, type AnswerFlags } from '../gate-answers';

export function abortCommand(): Command {
  const command = new Command('abort')
    .description('abort a run: it stops at the next step boundary and its open gates close')
    .argument('<id>', 'the run id (workflow id)')
    .requiredOption('--reason <text>', 'why (kept in the report)');
  return answerOptions(command).action((id: string, flags: AnswerFlags & { reason: string }) => {
    const message: AbortMessage = { by: personOf(flags), reason: flags.reason };
    return sendAnswer(flags, id, abortUpdate, message, 'abort');
  });
}
