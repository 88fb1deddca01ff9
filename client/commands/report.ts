/**
 * `pchat-dr report ID`: the run's report (docs/runbooks.md rule 7) as Markdown or JSON: from its result once it ended, from
 * the report query while it runs.
 */
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { CliError } from '../../runtime/exit';
import { printJson, printLine } from '../output';
import { reportMarkdown } from '../report-view';
import { findRun, reportOfRun, withClient, withTemporalOptions, type TemporalFlags } from '../run-access';

type ReportFormat = 'md' | 'json';

function parseReportFormat(value: string): ReportFormat {
  if (value === 'md' || value === 'json') return value;
  throw new CliError(`-o ${value}: unknown report format (use md or json)`);
}

export function reportCommand(): Command {
  const command = new Command('report')
    .description("print a run's report (steps, approvals, decisions, evidence, RTO/RPO)")
    .argument('<id>', 'the run id (workflow id)')
    .addOption(new Option('-o, --output <format>', 'md or json').default('md').argParser(parseReportFormat))
    .option('--out <file>', 'write the report to this file instead of stdout');
  return withTemporalOptions(command).action(
    (id: string, flags: TemporalFlags & { output: ReportFormat; out?: string }) =>
      withClient(flags, async (client) => {
        const report = await reportOfRun(await findRun(client, id));
        const text = flags.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : reportMarkdown(report);
        if (!flags.out) {
          if (flags.output === 'json') printJson(report);
          else process.stdout.write(text);
          return;
        }
        try {
          writeFileSync(flags.out, text);
        } catch (error) {
          throw new CliError(`--out ${flags.out}: cannot write the report (${(error as Error).message})`);
        }
        printLine(`report of ${id} (${report.outcome}) written to ${flags.out}`);
      }),
  );
}
