/** `pchat-dr decide ID retry|skip|abort --reason TEXT`: the decision on a step that failed for good. */
import { Command } from 'commander';
import { decideUpdate, type DecideMessage } from '../../contracts/messages';
import { CliError } from '../../runtime/exit';
import { answerOptions, answerStatement, personOf, sendAnswer, type AnswerFlags } from '../gate-answers';
import type { RunHandle } from '../run-access';
import { reasonOf, signatureFromFiles, signNow } from '../signing';

const CHOICES: DecideMessage['choice'][] = ['retry', 'skip', 'abort'];

export function decideCommand(): Command {
  const command = new Command('decide')
    .description('decide what a run does about a failed step: retry it, skip it (skippable steps only) or abort')
    .argument('<id>', 'the run id (workflow id) whose step failed')
    .argument('<choice>', CHOICES.join(', '))
    .option('--reason <text>', 'why (kept in the report; required unless --signature brings it)')
    .option('--gate <id>', 'the decision gate, when several are open (default: the one that is open)');
  return answerOptions(command).action(
    (id: string, choice: string, flags: AnswerFlags & { reason?: string; gate?: string }) => {
      if (!(CHOICES as string[]).includes(choice))
        throw new CliError(`decide ${choice}: unknown choice (use retry, skip or abort)`);
      const picked = choice as DecideMessage['choice'];
      if (!flags.signature) reasonOf(flags);
      const message = async (run: RunHandle): Promise<DecideMessage> => {
        if (flags.signature) {
          const { part, statement } = signatureFromFiles(flags);
          return {
            choice: picked,
            by: flags.as ?? statement.signer,
            reason: flags.reason ?? statement.reason ?? '',
            gate: flags.gate ?? statement.gate,
            signature: part,
          };
        }
        const answer = {
          choice: picked,
          by: personOf(flags),
          reason: reasonOf(flags),
          ...(flags.gate ? { gate: flags.gate } : {}),
        };
        if (flags.sign === undefined) return answer;
        const statement = await answerStatement(run, { action: 'decide', ...answer }, 'decision');
        // The decision names the gate it signed for, so the run answers that one.
        return { ...answer, gate: statement.gate, signature: await signNow(statement, flags.sign) };
      };
      return sendAnswer(flags, id, decideUpdate, message, 'decision');
    },
  );
}
