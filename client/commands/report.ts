/**
 * `pchat-dr report ID`: the run's report (docs/runbooks.md rule 7) as Markdown or JSON: from its result once it ended, from
 * the report query while it runs. `--verify` checks every signed message of it again, offline (client/report-verify.ts),
 * of a run or of a JSON report kept in a file (`--from FILE`), against an allowed_signers file and a passkeys file when given.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { RunbookReport } from '../../contracts/run-record';
import { CliError, EXIT } from '../../runtime/exit';
import { AllowedSignersError, loadAllowedSigners } from '../../signatures/allowed-signers';
import { loadPasskeys, PasskeysError } from '../../signatures/passkeys';
import { printJson, printLine } from '../output';
import { verifyReport } from '../report-verify';
import { reportMarkdown } from '../report-markdown';
import { findRun, reportOfRun, withClient, withTemporalOptions, type TemporalFlags } from '../run-access';

type ReportFormat = 'md' | 'json';

interface ReportFlags extends TemporalFlags {
  output: ReportFormat;
  out?: string;
  verify?: boolean;
  allowedSigners?: string;
  passkeys?: string;
  from?: string;
}

function parseReportFormat(value: string): ReportFormat {
  if (value === 'md' || value === 'json') return value;
  throw new CliError(`-o ${value}: unknown report format (use md or json)`);
}

export function reportCommand(): Command {
  const command = new Command('report')
    .description("print a run's report (steps, approvals, decisions, evidence, RTO/RPO), or --verify its signatures")
    .argument('[id]', 'the run id (workflow id)')
    .addOption(new Option('-o, --output <format>', 'md or json').default('md').argParser(parseReportFormat))
    .option('--out <file>', 'write the report to this file instead of stdout')
    .option(
      '--verify',
      'check every signed message of the report again (statement, signature, and with --allowed-signers the key)',
    )
    .option(
      '--allowed-signers <file>',
      "with --verify: the estate's allowed_signers file, to check each key was the signer's",
    )
    .option(
      '--passkeys <file>',
      "with --verify: the estate's passkeys file, to check each passkey was the signer's (signatures.passkeys)",
    )
    .option(
      '--from <file>',
      'with --verify: a JSON report kept in a file (pchat-dr report ID -o json --out FILE), not the run',
    );
  return withTemporalOptions(command).action(async (id: string | undefined, flags: ReportFlags) => {
    if (flags.from && !flags.verify) throw new CliError('--from FILE goes with --verify');
    if (flags.allowedSigners && !flags.verify) throw new CliError('--allowed-signers goes with --verify');
    if (flags.passkeys && !flags.verify) throw new CliError('--passkeys goes with --verify');
    if (!id && !flags.from) throw new CliError("error: missing required argument 'id'");
    if (flags.verify) {
      const report = flags.from
        ? readReport(flags.from)
        : await withClient(flags, async (client) => reportOfRun(await findRun(client, id!)));
      return verifySignatures(report, flags);
    }
    return withClient(flags, async (client) => {
      const report = await reportOfRun(await findRun(client, id!));
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
    });
  });
}

function readReport(file: string): RunbookReport {
  let report: RunbookReport;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as RunbookReport;
  } catch (error) {
    throw new CliError(`--from ${file}: not a JSON report (${(error as Error).message.split('\n')[0]})`);
  }
  if (!report || typeof report !== 'object' || !report.workflowId || !Array.isArray(report.gates))
    throw new CliError(`--from ${file}: not a pchat-dr report (pchat-dr report ID -o json writes one)`);
  return report;
}

/** Prints one line per signed message checked; exit 3 when any fails (or nothing was signed to check). */
async function verifySignatures(report: RunbookReport, flags: ReportFlags): Promise<void> {
  let signers;
  if (flags.allowedSigners) {
    try {
      signers = loadAllowedSigners(flags.allowedSigners);
    } catch (error) {
      if (error instanceof AllowedSignersError) throw new CliError(`--allowed-signers ${error.message.split('\n')[0]}`);
      throw error;
    }
  }
  let passkeys;
  if (flags.passkeys) {
    try {
      passkeys = loadPasskeys(flags.passkeys);
    } catch (error) {
      if (error instanceof PasskeysError) throw new CliError(`--passkeys ${error.message.split('\n')[0]}`);
      throw error;
    }
  }
  const results = await verifyReport(report, { signers, passkeys });
  const failed = results.filter((result) => !result.ok);
  if (flags.output === 'json')
    printJson({ workflowId: report.workflowId, verified: failed.length === 0 && results.length > 0, results });
  else {
    for (const result of results) printLine(`${result.ok ? 'ok    ' : 'FAILED'}  ${result.message}: ${result.detail}`);
    printLine(
      results.length === 0
        ? `${report.workflowId}: no signed message to verify`
        : failed.length === 0
          ? `${report.workflowId}: ${results.length} signed message(s) verified`
          : `${report.workflowId}: ${failed.length} of ${results.length} check(s) FAILED`,
    );
  }
  if (failed.length > 0 || results.length === 0) throw new CliError('', EXIT.refused);
}
