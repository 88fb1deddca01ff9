/** `pchat-dr abort ID --reason TEXT`: stops a run at its next step boundary (a running step finishes first). */
import { Command } from 'commander';
import { abortUpdate, type AbortMessage } from '../../contracts/messages';
import { answerOptions, answerStatement, personOf, sendAnswer, type AnswerFlags } from '../gate-answers';
import type { RunHandle } from '../run-access';
import { reasonOf, signatureFromFiles, signNow } from '../signing';

export function abortCommand(): Command {
  const command = new Command('abort')
    .description('abort a run: it stops at the next step boundary and its open gates close')
    .argument('<id>', 'the run id (workflow id)')
    .option('--reason <text>', 'why (kept in the report; required unless --signature brings it)');
  return answerOptions(command).action((id: string, flags: AnswerFlags & { reason?: string }) => {
    if (!flags.signature) reasonOf(flags);
    const message = async (run: RunHandle): Promise<AbortMessage> => {
      if (flags.signature) {
        const { part, statement } = signatureFromFiles(flags);
        return { by: flags.as ?? statement.signer, reason: flags.reason ?? statement.reason ?? '', signature: part };
      }
      const answer = { by: personOf(flags), reason: reasonOf(flags) };
      if (flags.sign === undefined) return answer;
      const statement = await answerStatement(run, { action: 'abort', ...answer }, 'abort');
      return { ...answer, signature: await signNow(statement, flags.sign) };
    };
    return sendAnswer(flags, id, abortUpdate, message, 'abort');
  });
}
