/** `pchat-dr reject ID --gate NAME --reason TEXT`: a rejection of an open gate (the run ends, or skips an optional phase). */
import { Command } from 'commander';
import { rejectUpdate, type RejectMessage } from '../../contracts/messages';
import { answerOptions, answerStatement, personOf, sendAnswer, type AnswerFlags } from '../gate-answers';
import type { RunHandle } from '../run-access';
import { reasonOf, signatureFromFiles, signNow } from '../signing';

export function rejectCommand(): Command {
  const command = new Command('reject')
    .description('reject an open gate of a run')
    .argument('<id>', 'the run id (workflow id)')
    .requiredOption('--gate <name>', 'the gate (its name or id)')
    .option('--reason <text>', 'why (kept in the report; required unless --signature brings it)');
  return answerOptions(command).action((id: string, flags: AnswerFlags & { gate: string; reason?: string }) => {
    if (!flags.signature) reasonOf(flags);
    const message = async (run: RunHandle): Promise<RejectMessage> => {
      if (flags.signature) {
        const { part, statement } = signatureFromFiles(flags);
        const reason = flags.reason ?? statement.reason ?? '';
        return { gate: flags.gate, by: flags.as ?? statement.signer, reason, signature: part };
      }
      const answer = { gate: flags.gate, by: personOf(flags), reason: reasonOf(flags) };
      if (flags.sign === undefined) return answer;
      const statement = await answerStatement(run, { action: 'reject', ...answer }, 'rejection');
      return { ...answer, signature: await signNow(statement, flags.sign) };
    };
    return sendAnswer(flags, id, rejectUpdate, message, 'rejection');
  });
}
