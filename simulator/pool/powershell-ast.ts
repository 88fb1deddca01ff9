/**
 * What the stand-in management shell's PowerShell parser (powershell.ts) makes of a script: statements of pipelines
 * of commands with their parameters and values, each with its place in the text, and the parse error PowerShell
 * would raise.
 */

/** Offsets into the script text, end exclusive. */
export interface SourceExtent {
  start: number;
  end: number;
}

export type PsValue =
  | { kind: 'string'; value: string; extent: SourceExtent }
  | { kind: 'number'; value: number; extent: SourceExtent }
  | { kind: 'boolean'; value: boolean; extent: SourceExtent }
  | { kind: 'null'; extent: SourceExtent }
  | { kind: 'array'; items: PsValue[]; extent: SourceExtent }
  | { kind: 'hashtable'; entries: PsHashtableEntry[]; extent: SourceExtent };

export interface PsHashtableEntry {
  key: string;
  value: PsValue;
}

/** `-Name`, `-Name:value` (argument attached), or a value; which parameter a value binds to is the binder's business. */
export type PsCommandElement =
  | { kind: 'parameter'; name: string; argument?: PsValue; extent: SourceExtent }
  | { kind: 'argument'; value: PsValue; extent: SourceExtent };

export interface PsCommand {
  name: string;
  elements: PsCommandElement[];
  extent: SourceExtent;
}

export interface PsPipeline {
  commands: PsCommand[];
  extent: SourceExtent;
}

export interface PsScript {
  text: string;
  statements: PsPipeline[];
}

/** A value as plain JSON: what the invocation log records and what cmdlets convert from. */
export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };

export class PowerShellParseError extends Error {
  constructor(
    /** PowerShell's FullyQualifiedErrorId where PowerShell has one, e.g. TerminatorExpectedAtEndOfString. */
    readonly errorId: string,
    message: string,
    readonly extent: SourceExtent,
  ) {
    super(message);
    this.name = 'PowerShellParseError';
  }
}

export function plainValue(value: PsValue): PlainValue {
  switch (value.kind) {
    case 'string':
    case 'number':
    case 'boolean':
      return value.value;
    case 'null':
      return null;
    case 'array':
      return value.items.map(plainValue);
    case 'hashtable':
      return Object.fromEntries(value.entries.map((entry) => [entry.key, plainValue(entry.value)]));
  }
}
