/**
 * `pchat-dr approve ID --gate NAME`: an approval of an open gate, through the approveGate update. An approval names
 * the evidence version it approves (docs/runbooks.md rule 8): --evidence when you reviewed one (its first 8 or more
 * hex digits do), else the version the gate shows now; a counted approval prints the evidence it approved. With
 * --sign it is signed with your SSH key; with --signature, the statement signed elsewhere says who and what.
 */
import { Command } from 'commander';
import { approveUpdate, type ApproveMessage } from '../../contracts/messages';
import type { PendingGate } from '../../contracts/run-record';
import { answerOptions, answerStatement, openGateOf, personOf, sendAnswer, type AnswerFlags } from '../gate-answers';
import type { RunHandle } from '../run-access';
import { signatureFromFiles, signNow } from '../signing';

interface ApproveFlags extends AnswerFlags {
  gate: string;
  comment?: string;
  evidence?: string;
}

export function approveCommand(): Command {
  const command = new Command('approve')
    .description('approve an open gate of a run')
    .argument('<id>', 'the run id (workflow id)')
    .requiredOption('--gate <name>', 'the gate (its name, e.g. declare-disaster, or its id, e.g. declare-disaster#2)')
    .option('--comment <text>', 'kept with the approval in the report')
    .option(
      '--evidence <version>',
      "the evidence version you reviewed (pchat-dr status shows it; 8 or more leading hex digits do); default: the gate's current one, printed first",
    );
  return answerOptions(command).action((id: string, flags: ApproveFlags) => {
    let approved: PendingGate | undefined;
    const message = async (run: RunHandle): Promise<ApproveMessage> => {
      if (flags.signature) {
        const { part, statement } = signatureFromFiles(flags);
        const comment = flags.comment ?? statement.comment;
        return {
          gate: flags.gate,
          by: flags.as ?? statement.signer,
          evidenceVersion: flags.evidence ?? statement.evidence ?? '',
          ...(comment ? { comment } : {}),
          signature: part,
        };
      }
      const { gate, evidenceVersion } = await evidenceToApprove(run, flags);
      approved = gate;
      const answer = {
        gate: flags.gate,
        by: personOf(flags),
        evidenceVersion,
        ...(flags.comment ? { comment: flags.comment } : {}),
      } satisfies ApproveMessage;
      if (flags.sign === undefined) return answer;
      const statement = await answerStatement(
        run,
        { action: 'approve', gate: flags.gate, by: answer.by, comment: flags.comment, evidence: evidenceVersion },
        'approval',
      );
      return { ...answer, signature: await signNow(statement, flags.sign) };
    };
    // Said once the approval counted, so a refusal stays one line.
    const explain = () =>
      approved?.evidence
        ? [
            `  approved evidence version ${approved.evidence.version} (taken ${approved.evidence.takenAt}):`,
            ...approved.evidence.summary.map((line) => `    ${line}`),
          ]
        : [];
    return sendAnswer(flags, id, approveUpdate, message, 'approval', explain);
  });
}

/**
 * The evidence version an approval names: --evidence (a unique beginning of the open gate's version, 8 hex digits
 * or more, stands for it), else the version the open gate shows now.
 */
async function evidenceToApprove(
  run: RunHandle,
  flags: ApproveFlags,
): Promise<{ gate?: PendingGate; evidenceVersion: string }> {
  const gate = await openGateOf(run, 'approval', flags.gate, 'approval');
  const current = gate.evidence?.version ?? '';
  if (!flags.evidence) return { gate, evidenceVersion: current };
  const given = flags.evidence.trim().toLowerCase();
  // Another version (the evidence changed since it was reviewed) is sent as given: the run says it changed.
  if (given.length >= 8 && current.startsWith(given)) return { evidenceVersion: current };
  return { evidenceVersion: flags.evidence };
}
