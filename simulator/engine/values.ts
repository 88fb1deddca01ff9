/**
 * Value semantics of the T-SQL subset: comparison under a case-insensitive collation, exact decimal arithmetic for
 * numeric(25,0) LSNs, CAST/CONVERT, LIKE. A value always travels with its SQL type.
 */
import type { SqlType, SqlValue } from '../tds/session';
import { errors } from './errors';

export interface Typed {
  value: SqlValue;
  type: SqlType;
}

export const NVARCHAR_128: SqlType = { kind: 'nvarchar', length: 128 };
export const INT: SqlType = { kind: 'int' };
export const BIGINT: SqlType = { kind: 'bigint' };
export const BIT: SqlType = { kind: 'bit' };
export const DATETIME: SqlType = { kind: 'datetime' };
export const DATETIME2: SqlType = { kind: 'datetime2', scale: 7 };
export const GUID: SqlType = { kind: 'uniqueidentifier' };
export const LSN: SqlType = { kind: 'numeric', precision: 25, scale: 0 };
export const nvarchar = (length: number | 'max'): SqlType => ({ kind: 'nvarchar', length });

export function isNumericType(type: SqlType): boolean {
  return ['int', 'bigint', 'smallint', 'tinyint', 'bit', 'float', 'numeric'].includes(type.kind);
}

export function isStringType(type: SqlType): boolean {
  return type.kind === 'nvarchar' || type.kind === 'varchar';
}

/** SQL Server's 'yyyy-mm-dd hh:mi:ss.mmm' (CONVERT style 121), the form casts of dates to strings produce. */
export function formatDateTime(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** A numeric value as an exact decimal string. */
function decimalText(value: SqlValue): string {
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw errors.conversionFailed(String(value), 'numeric');
    return Number.isInteger(value) ? BigInt(value).toString() : String(value);
  }
  const text = String(value).trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(text)) throw errors.conversionFailed(text, 'numeric');
  return text;
}

/** Compares two decimal strings exactly. */
function compareDecimals(a: string, b: string): number {
  const split = (text: string) => {
    const negative = text.startsWith('-');
    const [whole, fraction = ''] = text.replace(/^[+-]/, '').split('.');
    return { negative, whole: whole || '0', fraction };
  };
  const left = split(a);
  const right = split(b);
  const scale = Math.max(left.fraction.length, right.fraction.length);
  const scaled = (part: ReturnType<typeof split>) => {
    const magnitude = BigInt(part.whole + part.fraction.padEnd(scale, '0'));
    return part.negative ? -magnitude : magnitude;
  };
  const difference = scaled(left) - scaled(right);
  return difference === 0n ? 0 : difference < 0n ? -1 : 1;
}

/** Collation SQL_Latin1_General_CP1_CI_AS: case-insensitive, trailing spaces ignored. */
function compareStrings(a: string, b: string): number {
  const left = a.replace(/\s+$/, '').toLowerCase();
  const right = b.replace(/\s+$/, '').toLowerCase();
  return left < right ? -1 : left > right ? 1 : 0;
}

/** -1, 0, 1, or null when either side is NULL (unknown). */
export function compare(a: Typed, b: Typed): number | null {
  if (a.value === null || b.value === null) return null;
  if (a.value instanceof Date || b.value instanceof Date) {
    const left = toDate(a.value).getTime();
    const right = toDate(b.value).getTime();
    return left === right ? 0 : left < right ? -1 : 1;
  }
  if (isNumericType(a.type) || isNumericType(b.type)) {
    if (a.type.kind === 'float' || b.type.kind === 'float') {
      const left = Number(decimalText(a.value));
      const right = Number(decimalText(b.value));
      return left === right ? 0 : left < right ? -1 : 1;
    }
    return compareDecimals(decimalText(a.value), decimalText(b.value));
  }
  return compareStrings(String(a.value), String(b.value));
}

function toDate(value: SqlValue): Date {
  if (value instanceof Date) return value;
  const parsed = new Date(
    `${String(value).trim().replace(' ', 'T')}${/[zZ]|[+-]\d\d:\d\d$/.test(String(value)) ? '' : 'Z'}`,
  );
  if (Number.isNaN(parsed.getTime())) throw errors.conversionFailed(String(value), 'datetime');
  return parsed;
}

export function castValue(input: Typed, type: SqlType): SqlValue {
  const value = input.value;
  if (value === null) return null;
  switch (type.kind) {
    case 'nvarchar':
    case 'varchar': {
      let text: string;
      if (value instanceof Date) text = formatDateTime(value);
      else if (typeof value === 'boolean') text = value ? '1' : '0';
      else if (Buffer.isBuffer(value)) text = value.toString('latin1');
      else text = String(value);
      return typeof type.length === 'number' ? text.slice(0, type.length) : text;
    }
    case 'int':
    case 'smallint':
    case 'tinyint': {
      // Every parameter of every request is cast to its declared type: numbers need no detour through text.
      if (typeof value === 'number' && Number.isFinite(value)) return Math.trunc(value);
      const text = decimalText(value);
      const number = Math.trunc(Number(text));
      if (!Number.isFinite(number)) throw errors.conversionFailed(text, type.kind);
      return number;
    }
    case 'bigint':
      return BigInt(decimalText(value).split('.')[0]);
    case 'float':
      return Number(decimalText(value));
    case 'bit':
      if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
      return compareDecimals(decimalText(value), '0') !== 0;
    case 'numeric': {
      const text = decimalText(value);
      if (type.scale === 0) return text.split('.')[0].replace(/^\+/, '');
      const [whole, fraction = ''] = text.split('.');
      return `${whole}.${fraction.padEnd(type.scale, '0').slice(0, type.scale)}`;
    }
    case 'datetime':
    case 'datetime2':
      return toDate(value);
    case 'uniqueidentifier': {
      const text = String(value).trim().toUpperCase();
      if (!/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/.test(text))
        throw errors.conversionFailed(String(value), 'uniqueidentifier');
      return text;
    }
    case 'varbinary':
      return Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'latin1');
  }
}

/** T-SQL LIKE: % any run, _ one character, [abc] sets; case-insensitive. */
export function likeMatches(value: string, pattern: string): boolean {
  let source = '^';
  for (let index = 0; index < pattern.length; index++) {
    const char = pattern[index];
    if (char === '%') source += '[\\s\\S]*';
    else if (char === '_') source += '[\\s\\S]';
    else if (char === '[') {
      const end = pattern.indexOf(']', index + 1);
      if (end === -1) source += '\\[';
      else {
        const set = pattern.slice(index + 1, end);
        source += set.startsWith('^') ? `[^${escapeSet(set.slice(1))}]` : `[${escapeSet(set)}]`;
        index = end;
      }
    } else source += char.replace(/[.*+?^${}()|\\/\]]/g, '\\$&');
  }
  return new RegExp(`${source}$`, 'i').test(value.replace(/\s+$/, ''));
}

function escapeSet(set: string): string {
  return set.replace(/[\\\]]/g, '\\$&');
}

/** Three-valued logic: NULL (unknown) is not true. */
export function isTrue(value: SqlValue): boolean {
  return value === true || value === 1;
}
