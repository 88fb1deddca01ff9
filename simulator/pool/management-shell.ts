/**
 * The simulator's stand-in for the Lync / Skype for Business Management Shell, run the way the pool-control adapter
 * runs `pwsh -NoProfile -NonInteractive -Command <cmdlet line>`:
 *
 *   node dist/simulator/pool/management-shell.js --pool-state FILE [-NoProfile] [-NonInteractive] -Command <text...>
 *
 * Everything after -Command, joined with spaces, is the script; `-Command -` reads scripts from stdin, one a line, as
 * pwsh does (a shell kept open: poolControl.keepOpen). `--pool-state` is the stand-in's own option: the
 * pool-state file the cmdlets read and change. As in pwsh, a parse error runs nothing; otherwise every statement
 * runs, a failing one prints its error record on stderr and the next one still runs, and the exit code is 1 when
 * the last statement failed (0 otherwise). Output is PowerShell's list view, or JSON after `| ConvertTo-Json`.
 *
 * Every invocation is appended as one JSON line to `<pool-state file>.invocations.jsonl` — the exact argv, the
 * script, what each statement bound to — so tests can prove a hostile value arrived as one literal argument.
 */
import '../../runtime/compile-cache';
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { findCmdlet, type CmdletContext } from './cmdlets';
import { CmdletError, formatErrorRecord, type ErrorRecord } from './error-records';
import {
  CONVERT_TO_JSON,
  CONVERT_TO_JSON_PARAMETERS,
  convertToJson,
  DEFAULT_JSON_DEPTH,
  formatList,
  type JsonOptions,
} from './output-formatting';
import { bindParameters } from './parameter-binding';
import { parsePowerShell } from './powershell';
import { PowerShellParseError, type PlainValue, type PsCommand, type PsPipeline } from './powershell-ast';

const USAGE = 'usage: management-shell.js --pool-state FILE [-NoProfile] [-NonInteractive] -Command <text...>';

interface ShellArguments {
  poolStateFile: string;
  script: string;
}

/** pwsh takes its own switches case-insensitively and by prefix; the stand-in accepts the two the adapter uses. */
function parseShellArguments(argv: string[]): ShellArguments {
  let poolStateFile: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--pool-state') {
      poolStateFile = argv[++index];
      if (poolStateFile === undefined) throw new Error('--pool-state needs a file');
    } else if (/^-(c|command)$/i.test(argument)) {
      if (poolStateFile === undefined) throw new Error('--pool-state FILE is required before -Command');
      if (index + 1 >= argv.length) throw new Error('-Command needs the script text');
      return { poolStateFile, script: argv.slice(index + 1).join(' ') };
    } else if (!/^-(NoProfile|NonInteractive)$/i.test(argument)) {
      throw new Error(`unknown argument ${JSON.stringify(argument)}`);
    }
  }
  throw new Error('-Command is required');
}

interface RecordedCommand {
  cmdlet: string;
  /** As bound, under the parameters' full names; null when binding failed (the error says why). */
  parameters: Record<string, PlainValue> | null;
}

interface RecordedStatement extends RecordedCommand {
  /** Later elements of the statement's pipeline (ConvertTo-Json). */
  pipedInto?: RecordedCommand[];
}

interface InvocationRecord {
  time: string;
  /** The shell's process: scripts of one kept-open shell share it. */
  pid: number;
  /** process.argv after the script path, exactly. */
  argv: string[];
  script: string;
  statements: RecordedStatement[];
  exitCode: number;
  /** The message of every error, when any statement failed. */
  error?: string;
}

async function main(argv: string[]): Promise<number> {
  let options: ShellArguments;
  try {
    options = parseShellArguments(argv);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 1;
  }
  if (options.script === '-') return runSession(argv, options.poolStateFile);
  return runScript(argv, options.poolStateFile, options.script);
}

/**
 * `-Command -`, as pwsh: each line of stdin is a script, run as it comes, until stdin ends. The two statements the
 * pool-control adapter ends each script with (activities/management-shell-sessions.ts) are PowerShell's own: a
 * string literal alone is output as it is, and [Console]::Error.WriteLine writes its literal to stderr. They are
 * the only statements besides cmdlets the stand-in takes, and only as whole lines of literal text.
 */
async function runSession(argv: string[], poolStateFile: string): Promise<number> {
  let exitCode = 0;
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    const literal = /^\s*'([^']*)'\s*$/.exec(line);
    const toStderr = /^\s*\[Console\]::Error\.WriteLine\('([^']*)'\)\s*$/i.exec(line);
    if (literal) process.stdout.write(`${literal[1]}\n`);
    else if (toStderr) process.stderr.write(`${toStderr[1]}\n`);
    else if (line.trim()) exitCode = await runScript(argv, poolStateFile, line);
  }
  return exitCode;
}

/** Runs one script (all of -Command's text, or one line of a session) and records it; returns its exit code. */
async function runScript(argv: string[], poolStateFile: string, text: string): Promise<number> {
  const time = new Date().toISOString();
  const record: InvocationRecord = { time, pid: process.pid, argv, script: text, statements: [], exitCode: 0 };
  const errors: string[] = [];
  let lastSucceeded = true;
  try {
    const script = parsePowerShell(text);
    for (const statement of script.statements) {
      const outcome = await runStatement(statement, poolStateFile);
      record.statements.push(outcome.recorded);
      if (outcome.error) {
        process.stderr.write(formatErrorRecord(text, outcome.error));
        errors.push(outcome.error.message);
      }
      lastSucceeded = outcome.error === undefined;
    }
  } catch (err) {
    if (!(err instanceof PowerShellParseError)) throw err;
    process.stderr.write(
      formatErrorRecord(text, {
        message: err.message,
        extent: err.extent,
        isParseError: true,
        categoryInfo: 'ParserError: (:) [], ParentContainsErrorRecordException',
        fullyQualifiedErrorId: err.errorId,
      }),
    );
    errors.push(err.message);
    lastSucceeded = false;
  }
  record.exitCode = lastSucceeded ? 0 : 1;
  if (errors.length > 0) record.error = errors.join('\n');
  appendFileSync(`${poolStateFile}.invocations.jsonl`, `${JSON.stringify(record)}\n`);
  return record.exitCode;
}

interface StatementOutcome {
  recorded: RecordedStatement;
  error?: ErrorRecord;
}

/** Binds the whole pipeline before running anything, as PowerShell does, then runs the cmdlet and prints its output. */
async function runStatement(pipeline: PsPipeline, poolStateFile: string): Promise<StatementOutcome> {
  const [command, ...piped] = pipeline.commands;
  const recorded: RecordedStatement = { cmdlet: command.name, parameters: null };
  const recordedPiped = piped.map((element): RecordedCommand => ({ cmdlet: element.name, parameters: null }));
  if (piped.length > 0) recorded.pipedInto = recordedPiped;
  let failing = command;
  try {
    const cmdlet = findCmdlet(command.name);
    if (!cmdlet) return { recorded, error: commandNotFound(command) };
    const bound = cmdlet.bind(command);
    recorded.parameters = bound.given;
    let json: JsonOptions | undefined;
    if (piped.length > 0) {
      failing = piped[0];
      json = bindJsonOutput(piped, recordedPiped);
      failing = command;
    }
    if (bound.confirm) {
      throw new CmdletError(
        'PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.',
        'InvalidOperation',
        'ShouldProcessNotAvailable',
        'PSInvalidOperationException',
      );
    }
    const context: CmdletContext = {
      poolStateFile,
      verbose: (message) => bound.verbose && process.stdout.write(`VERBOSE: ${message}\n`),
      warning: (message) => process.stdout.write(`WARNING: ${message}\n`),
    };
    const output = await bound.run(context);
    if (json) {
      const text = convertToJson(output, json);
      if (text !== undefined) process.stdout.write(`${text}\n`);
    } else {
      process.stdout.write(formatList(output));
    }
    return { recorded };
  } catch (err) {
    return { recorded, error: errorRecordFor(failing, err) };
  }
}

/** `| ConvertTo-Json` is the one pipe the stand-in takes: it is how adapters read cmdlet output. */
function bindJsonOutput(piped: PsCommand[], recordedPiped: RecordedCommand[]): JsonOptions {
  const [command, ...rest] = piped;
  if (command.name.toLowerCase() !== CONVERT_TO_JSON.toLowerCase() || rest.length > 0) {
    throw new CmdletError(
      `The stand-in management shell takes one pipe only, into ${CONVERT_TO_JSON}: ${piped.map((element) => element.name).join(' | ')} is not supported.`,
      'InvalidOperation',
      'PipelineNotSupported',
    );
  }
  const { values, given } = bindParameters(command, CONVERT_TO_JSON_PARAMETERS);
  recordedPiped[0].parameters = given;
  return {
    depth: values.Depth ?? DEFAULT_JSON_DEPTH,
    compress: values.Compress === true,
    asArray: values.AsArray === true,
  };
}

function commandNotFound(command: PsCommand): ErrorRecord {
  return {
    prefix: command.name,
    message: `The term '${command.name}' is not recognized as a name of a cmdlet, function, script file, or executable program.\nCheck the spelling of the name, or if a path was included, verify that the path is correct and try again.`,
    extent: { start: command.extent.start, end: command.extent.start + command.name.length },
    categoryInfo: `ObjectNotFound: (${command.name}:String) [], CommandNotFoundException`,
    fullyQualifiedErrorId: 'CommandNotFoundException',
  };
}

/** Any failure becomes an error record; one that is not a CmdletError (a missing state file, a bad topology) is NotSpecified. */
function errorRecordFor(command: PsCommand, err: unknown): ErrorRecord {
  const error =
    err instanceof CmdletError
      ? err
      : new CmdletError(
          err instanceof Error ? err.message : String(err),
          'NotSpecified',
          'UnexpectedError',
          'RuntimeException',
        );
  const name = command.name;
  return {
    prefix: name,
    message: error.message,
    extent: error.extent ?? command.extent,
    categoryInfo: `${error.category}: (:) [${name}], ${error.exceptionType}`,
    fullyQualifiedErrorId: `${error.errorId},${name}`,
  };
}

main(process.argv.slice(2)).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (err: unknown) => {
    process.stderr.write(`management-shell: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  },
);
