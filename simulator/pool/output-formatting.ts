/**
 * How the stand-in management shell prints what cmdlets return: PowerShell's list view (`Name : Value`) by default,
 * or JSON when the statement ends in `| ConvertTo-Json`, which is how adapters read results back. ConvertTo-Json
 * follows PowerShell 7: one object gives an object and several an array (always an array with -AsArray), two-space
 * indentation unless -Compress, and anything nested deeper than -Depth (default 2) written as its text.
 */
import { integerParameter, optional, switchParameter } from './parameter-binding';
import type { PlainValue } from './powershell-ast';

/** A cmdlet's output object: property names in PowerShell's order, plain values. */
export type OutputObject = Record<string, PlainValue>;

export const CONVERT_TO_JSON = 'ConvertTo-Json';

export const CONVERT_TO_JSON_PARAMETERS = {
  Depth: optional(integerParameter(0, 100)),
  Compress: optional(switchParameter),
  AsArray: optional(switchParameter),
};

export interface JsonOptions {
  depth: number;
  compress: boolean;
  asArray: boolean;
}

export const DEFAULT_JSON_DEPTH = 2;

/** The JSON text, or undefined when there is nothing to print (no objects, no -AsArray), as in PowerShell. */
export function convertToJson(objects: OutputObject[], options: JsonOptions): string | undefined {
  if (objects.length === 0 && !options.asArray) return undefined;
  const limited = objects.map((object) => limitDepth(object, 0, options.depth));
  const value = limited.length === 1 && !options.asArray ? limited[0] : limited;
  return options.compress ? JSON.stringify(value) : JSON.stringify(value, null, 2);
}

function limitDepth(value: PlainValue, level: number, depth: number): PlainValue {
  if (value === null || typeof value !== 'object') return value;
  if (level > depth) return displayText(value);
  if (Array.isArray(value)) return value.map((item) => limitDepth(item, level + 1, depth));
  return Object.fromEntries(Object.entries(value).map(([name, item]) => [name, limitDepth(item, level + 1, depth)]));
}

/** PowerShell's default view of objects with few properties, as Format-List shows them. */
export function formatList(objects: OutputObject[]): string {
  if (objects.length === 0) return '';
  const blocks = objects.map((object) => {
    const names = Object.keys(object);
    const width = Math.max(...names.map((name) => name.length));
    return names.map((name) => `${name.padEnd(width)} : ${displayText(object[name])}`).join('\n');
  });
  return `\n${blocks.join('\n\n')}\n\n\n`;
}

/** A value as PowerShell writes it as text: arrays as {a, b} in lists, booleans as True/False. */
function displayText(value: PlainValue): string {
  if (value === null) return '';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (Array.isArray(value)) return `{${value.map(displayText).join(', ')}}`;
  if (typeof value === 'object')
    return `@{${Object.entries(value)
      .map(([name, item]) => `${name}=${displayText(item)}`)
      .join('; ')}}`;
  return String(value);
}
