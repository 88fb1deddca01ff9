/**
 * PowerShell error records for the stand-in management shell: the error a cmdlet (or the binder) raises, and how the
 * shell prints any failure on stderr in PowerShell's NormalView (`Cmdlet : message`, `At line:… char:…`, the
 * underlined statement, CategoryInfo, FullyQualifiedErrorId), so a failed pool-control step reads the same in a
 * rehearsal as in production.
 */
import type { SourceExtent } from './powershell-ast';

/** The PowerShell ErrorCategory values the stand-in uses. */
export type ErrorCategory =
  'InvalidArgument' | 'InvalidOperation' | 'InvalidData' | 'ObjectNotFound' | 'ConnectionError' | 'NotSpecified';

export class CmdletError extends Error {
  constructor(
    message: string,
    readonly category: ErrorCategory,
    /** The first half of PowerShell's FullyQualifiedErrorId (the shell appends the cmdlet name). */
    readonly errorId: string,
    /** The .NET exception PowerShell would report in CategoryInfo. */
    readonly exceptionType = 'InvalidOperationException',
    /** The token at fault when it is not the whole command, e.g. an unknown parameter. */
    readonly extent?: SourceExtent,
  ) {
    super(message);
    this.name = 'CmdletError';
  }
}

export class ParameterBindingError extends CmdletError {
  constructor(message: string, errorId: string, extent?: SourceExtent) {
    super(message, 'InvalidArgument', errorId, 'ParameterBindingException', extent);
    this.name = 'ParameterBindingError';
  }
}

export interface ErrorRecord {
  message: string;
  /** Where in the script text the error points. */
  extent: SourceExtent;
  /** Printed before the message, `<prefix> : <message>`: the cmdlet, or the unknown command's name. */
  prefix?: string;
  /** Parse errors print their position before the message, as PowerShell does. */
  isParseError?: boolean;
  categoryInfo: string;
  fullyQualifiedErrorId: string;
}

export function formatErrorRecord(script: string, record: ErrorRecord): string {
  const position = positionLines(script, record.extent);
  const message = record.prefix ? `${record.prefix} : ${record.message}` : record.message;
  const details = [
    `    + CategoryInfo          : ${record.categoryInfo}`,
    `    + FullyQualifiedErrorId : ${record.fullyQualifiedErrorId}`,
  ];
  const lines = record.isParseError ? [...position, record.message, ...details] : [message, ...position, ...details];
  return `${lines.join('\n')}\n`;
}

/** `At line:L char:C`, the line, and `~` under the extent (on that line only). */
function positionLines(script: string, extent: SourceExtent): string[] {
  const before = script.slice(0, extent.start).split(/\r\n|\r|\n/);
  const lineNumber = before.length;
  const column = before[before.length - 1].length;
  const lineText = script.split(/\r\n|\r|\n/)[lineNumber - 1] ?? '';
  const width = Math.max(1, Math.min(extent.end, extent.start + lineText.length - column) - extent.start);
  return [`At line:${lineNumber} char:${column + 1}`, `+ ${lineText}`, `+ ${' '.repeat(column)}${'~'.repeat(width)}`];
}
