/** `pchat-dr approve ID --gate NAME`: an approval of an open gate, through the approveGate update. */
import { Command } from 'commander';
import { approveUpdate, type ApproveMessage } from '../../contracts/messages';
import { answerOptions, personOf, sendAnswer, type AnswerFlags } from '../gate-answers';

export function approveCommand(): Command {
  const command = new Command('approve')
    .description('approve an open gate of a run')
    .argument('<id>', 'the run id (workflow id)')
    .requiredOption('--gate <name>', 'the gate (its name, e.g. declare-disaster, or its id, e.g. declare-disaster#2)')
    .option('--comment <text>', 'kept with the approval in the report')
    .option(
      '--evidence <version>',
      'the evidence version you reviewed (pchat-dr status shows it): the approval counts only if it is still current',
    );
  return answerOptions(command).action(
    (id: string, flags: AnswerFlags & { gate: string; comment?: string; evidence?: string }) => {
      const message: ApproveMessage = {
        gate: flags.gate,
        by: personOf(flags),
        ...(flags.comment ? { comment: flags.comment } : {}),
        ...(flags.evidence ? { evidenceVersion: flags.evidence } : {}),
      };
      return sendAnswer(flags, id, approveUpdate, message, 'approval');
    },
  );
}
