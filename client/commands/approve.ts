/**
 * `pchat-dr approve ID --gate NAME`: an approval of an open gate, through the approveGate update. An approval names
 * the evidence version it approves (docs/runbooks.md rule 8): --evidence when you reviewed one, else the version the
 * gate shows now; a counted approval prints the evidence it approved.
 */
import { Command } from 'commander';
import { approveUpdate, pendingGatesQuery, type ApproveMessage } from '../../contracts/messages';
import { openGatesText, type PendingGate } from '../../contracts/run-record';
import { CliError, EXIT } from '../../runtime/exit';
import { answerOptions, personOf, sendAnswer, type AnswerFlags } from '../gate-answers';
import type { RunHandle } from '../run-access';

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
      "the evidence version you reviewed (pchat-dr status shows it); default: the gate's current one, printed first",
    );
  return answerOptions(command).action((id: string, flags: ApproveFlags) => {
    let approved: PendingGate | undefined;
    const message = async (run: RunHandle) => {
      const { gate, evidenceVersion } = await evidenceToApprove(run, flags);
      approved = gate;
      return {
        gate: flags.gate,
        by: personOf(flags),
        evidenceVersion,
        ...(flags.comment ? { comment: flags.comment } : {}),
      } satisfies ApproveMessage;
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

/** The evidence version an approval names: --evidence, else the one the open gate shows now. */
async function evidenceToApprove(
  run: RunHandle,
  flags: ApproveFlags,
): Promise<{ gate?: PendingGate; evidenceVersion: string }> {
  if (flags.evidence) return { evidenceVersion: flags.evidence };
  const open = await run.handle.query(pendingGatesQuery);
  const approvals = open.filter((gate) => gate.kind === 'approval');
  const gate =
    approvals.find((candidate) => candidate.id === flags.gate) ??
    approvals.findLast((candidate) => candidate.gate === flags.gate);
  if (!gate?.evidence)
    throw new CliError(`approval did not count: gate ${flags.gate} is not open (${openGatesText(open)})`, EXIT.refused);
  return { gate, evidenceVersion: gate.evidence.version };
}
