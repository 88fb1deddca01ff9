/** `pchat-dr reject ID --gate NAME --reason TEXT`: a rejection of an open gate (the run ends, or skips an optional phase). */
import { Command } from 'commander';
import { rejectUpdate, type RejectMessage } from '../../contracts/messages';
import { answerOptions, personOf, sendAnswer, type AnswerFlags } from '../gate-answers';

export function rejectCommand(): Command {
  const command = new Command('reject')
    .description('reject an open gate of a run')
    .argument('<id>', 'the run id (workflow id)')
    .requiredOption('--gate <name>', 'the gate (its name or id)')
    .requiredOption('--reason <text>', 'why (kept in the report)');
  return answerOptions(command).action((id: string, flags: AnswerFlags & { gate: string; reason: string }) => {
    const message: RejectMessage = { gate: flags.gate, by: personOf(flags), reason: flags.reason };
    return sendAnswer(flags, id, rejectUpdate, message, 'rejection');
  });
}
