/**
 * `pchat-dr statement ID [approve|reject|decide|abort] [CHOICE] --gate G --as P ...`: prints the exact statement an
 * answer needs signed (contracts/statements.ts), dated now, so it can be signed somewhere else
 * (`ssh-keygen -Y sign -f KEY -n pchat-dr statement.txt` writes statement.txt.sig) and sent with
 * `pchat-dr approve ID --gate G --signature statement.txt.sig`, or pasted into a signal from the Temporal UI.
 */
import { writeFileSync } from 'node:fs';
import { Argument, Command } from 'commander';
import { SIGNATURE_NAMESPACE, statementText, statementTime, type Statement } from '../../contracts/statements';
import { CliError } from '../../runtime/exit';
import { answerStatement, openGateOf, personOf, type Answer } from '../gate-answers';
import { outputOption, printJson, printLine, type OutputFormat } from '../output';
import { findRun, withClient, withTemporalOptions, type TemporalFlags } from '../run-access';

const ACTIONS = ['approve', 'reject', 'decide', 'abort'] as const;
const CHOICES = ['retry', 'skip', 'abort'];

interface StatementFlags extends TemporalFlags {
  gate?: string;
  as?: string;
  comment?: string;
  reason?: string;
  evidence?: string;
  out?: string;
  output: OutputFormat;
}

export function statementCommand(): Command {
  const command = new Command('statement')
    .description('print the statement an answer needs signed (sign it with ssh-keygen -Y sign -n pchat-dr)')
    .argument('<id>', 'the run id (workflow id)')
    .addArgument(
      new Argument('[action]', 'approve (default), reject, decide or abort').choices(ACTIONS).default('approve'),
    )
    .argument('[choice]', 'decide: retry, skip or abort')
    .option('--gate <name>', 'the gate (approve, reject; decide when several are open)')
    .option('--as <person>', 'who signs (default: your OS user name)')
    .option('--comment <text>', 'approve: the comment')
    .option('--reason <text>', 'reject, decide, abort: why')
    .option('--evidence <version>', "approve: the evidence version you reviewed (default: the gate's current one)")
    .option('--out <file>', 'write the statement to this file (then: ssh-keygen -Y sign -f KEY -n pchat-dr FILE)')
    .addOption(outputOption());
  return withTemporalOptions(command).action(
    (id: string, action: (typeof ACTIONS)[number], choice: string | undefined, flags: StatementFlags) =>
      withClient(flags, async (client) => {
        const run = await findRun(client, id);
        const by = personOf({ as: flags.as, output: flags.output });
        const need = (value: string | undefined, flag: string) => {
          if (value === undefined) throw new CliError(`statement ${action}: give ${flag}`);
          return value;
        };
        let answer: Answer;
        switch (action) {
          case 'approve': {
            const gate = await openGateOf(run, 'approval', need(flags.gate, '--gate'), 'approval');
            const current = gate.evidence?.version ?? '';
            const given = flags.evidence?.trim().toLowerCase();
            const evidence =
              given === undefined ? current : given.length >= 8 && current.startsWith(given) ? current : given;
            answer = { action, gate: gate.id, by, comment: flags.comment, evidence };
            break;
          }
          case 'reject':
            answer = { action, gate: need(flags.gate, '--gate'), by, reason: need(flags.reason, '--reason') };
            break;
          case 'decide':
            if (!choice || !CHOICES.includes(choice))
              throw new CliError(`statement decide: give the choice (${CHOICES.join(', ')})`);
            answer = { action, gate: flags.gate, by, choice, reason: need(flags.reason, '--reason') };
            break;
          default:
            answer = { action, by, reason: need(flags.reason, '--reason') };
        }
        const text = statementText({
          ...(await answerStatement(run, answer, action === 'decide' ? 'decision' : action)),
          time: statementTime(new Date()),
        } as Statement);
        if (flags.out) {
          try {
            writeFileSync(flags.out, text);
          } catch (error) {
            throw new CliError(`--out ${flags.out}: cannot write it (${(error as Error).message})`);
          }
        }
        if (flags.output === 'json')
          printJson({ statement: text, namespace: SIGNATURE_NAMESPACE, ...(flags.out ? { file: flags.out } : {}) });
        else if (flags.out)
          printLine(
            `statement written to ${flags.out}; sign it: ssh-keygen -Y sign -f KEY -n ${SIGNATURE_NAMESPACE} ${flags.out} (writes ${flags.out}.sig)`,
          );
        else process.stdout.write(text);
      }),
  );
}
