/**
 * The byte forms of the values whose encoding is more than a width ([MS-TDS] 2.2.5.5), both ways: numeric (exact,
 * through bigint), datetime, smalldatetime, datetime2, uniqueidentifier, and varchar text in code page 1252.
 */
import { typeName, type SqlType, type SqlValue } from './session';

/** The TypeError for a value that does not fit its column type. */
export function valueMismatch(type: SqlType, value: SqlValue, expected: string): TypeError {
  const actual = Buffer.isBuffer(value) ? 'Buffer' : value instanceof Date ? 'Date' : typeof value;
  return new TypeError(`a ${typeName(type)} value must be ${expected}, got ${actual} ${String(value)}`);
}

// numeric: sign byte (1 = positive) + little-endian magnitude of the value scaled by 10^scale.

export function numericMagnitudeBytes(precision: number): number {
  if (precision <= 9) return 4;
  if (precision <= 19) return 8;
  if (precision <= 28) return 12;
  return 16;
}

export function encodeNumeric(type: Extract<SqlType, { kind: 'numeric' }>, value: SqlValue): Buffer {
  const text =
    typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value)) ? String(value) : value;
  if (typeof text !== 'string') throw valueMismatch(type, value, 'an exact decimal string');
  const parts = /^\s*([+-])?(\d*)(?:\.(\d*))?\s*$/.exec(text);
  if (!parts || (parts[2] === '' && (parts[3] ?? '') === ''))
    throw valueMismatch(type, value, 'an exact decimal string');
  const [, sign, whole, fraction = ''] = parts;
  let magnitude = BigInt((whole || '0') + fraction.slice(0, type.scale).padEnd(type.scale, '0'));
  // SQL Server rounds extra fractional digits half away from zero.
  if (fraction.length > type.scale && fraction.charCodeAt(type.scale) >= '5'.charCodeAt(0)) magnitude += 1n;
  if (magnitude >= 10n ** BigInt(type.precision)) {
    throw new RangeError(`${text} overflows ${typeName(type)}`);
  }
  const data = Buffer.alloc(1 + numericMagnitudeBytes(type.precision));
  data[0] = sign === '-' && magnitude !== 0n ? 0 : 1;
  for (let index = 1; index < data.length; index++) {
    data[index] = Number(magnitude & 0xffn);
    magnitude >>= 8n;
  }
  return data;
}

export function decodeNumeric(data: Buffer, scale: number): string {
  let magnitude = 0n;
  for (let index = data.length - 1; index >= 1; index--) magnitude = (magnitude << 8n) | BigInt(data[index]);
  const digits = magnitude.toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const text = scale > 0 ? `${whole}.${digits.slice(digits.length - scale)}` : whole;
  return data[0] === 1 || magnitude === 0n ? text : `-${text}`;
}

// datetime: days since 1900-01-01 (int32) + 1/300-second ticks since midnight (uint32).
// datetime2(s): time in 10^-s seconds since midnight (3, 4 or 5 bytes) + days since 0001-01-01 (3 bytes).

const MS_PER_DAY = 86_400_000;
const DATETIME_EPOCH_MS = Date.UTC(1900, 0, 1);
const TICKS_PER_DAY = 25_920_000;
/** Days from 0001-01-01 to 1970-01-01 in the proleptic Gregorian calendar (Date.UTC cannot express year 1). */
const DAYS_FROM_YEAR_1_TO_UNIX_EPOCH = 719_162;

export function encodeDateTime(date: Date): Buffer {
  const sinceEpoch = date.getTime() - DATETIME_EPOCH_MS;
  let days = Math.floor(sinceEpoch / MS_PER_DAY);
  let ticks = Math.round(((sinceEpoch - days * MS_PER_DAY) * 3) / 10);
  if (ticks === TICKS_PER_DAY) {
    days += 1;
    ticks = 0;
  }
  const data = Buffer.alloc(8);
  data.writeInt32LE(days, 0);
  data.writeUInt32LE(ticks, 4);
  return data;
}

export function decodeDateTime(days: number, ticks: number): Date {
  return new Date(DATETIME_EPOCH_MS + days * MS_PER_DAY + Math.round((ticks * 10) / 3));
}

/** smalldatetime: days since 1900-01-01 + minutes since midnight, both USHORT. */
export function decodeSmallDateTime(days: number, minutes: number): Date {
  return new Date(DATETIME_EPOCH_MS + days * MS_PER_DAY + minutes * 60_000);
}

function dateTime2TimeBytes(scale: number): number {
  if (scale <= 2) return 3;
  if (scale <= 4) return 4;
  return 5;
}

export function encodeDateTime2(date: Date, scale: number): Buffer {
  const unixDays = Math.floor(date.getTime() / MS_PER_DAY);
  const msOfDay = date.getTime() - unixDays * MS_PER_DAY;
  let units = scale >= 3 ? msOfDay * 10 ** (scale - 3) : Math.round(msOfDay / 10 ** (3 - scale));
  let days = unixDays + DAYS_FROM_YEAR_1_TO_UNIX_EPOCH;
  if (units === 86_400 * 10 ** scale) {
    days += 1;
    units = 0;
  }
  const timeBytes = dateTime2TimeBytes(scale);
  const data = Buffer.alloc(timeBytes + 3);
  data.writeUIntLE(units, 0, timeBytes);
  data.writeUIntLE(days, timeBytes, 3);
  return data;
}

/** datetime2 as SQL Server converts it to text: 'YYYY-MM-DD hh:mm:ss' and `scale` fractional digits. */
export function formatDateTime2(date: Date, scale: number): string {
  const step = 10 ** Math.max(0, 3 - scale);
  const iso = new Date(Math.round(date.getTime() / step) * step).toISOString();
  const fraction = iso.slice(20, 23).padEnd(7, '0').slice(0, scale);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${scale > 0 ? `.${fraction}` : ''}`;
}

export function decodeDateTime2(data: Buffer, scale: number): Date {
  const timeBytes = data.length - 3;
  const units = data.readUIntLE(0, timeBytes);
  const days = data.readUIntLE(timeBytes, 3);
  const msOfDay = scale >= 3 ? Math.floor(units / 10 ** (scale - 3)) : units * 10 ** (3 - scale);
  return new Date((days - DAYS_FROM_YEAR_1_TO_UNIX_EPOCH) * MS_PER_DAY + msOfDay);
}

// uniqueidentifier: the first three groups are stored little-endian.

const GUID_PATTERN = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

export function encodeGuid(text: string): Buffer {
  const groups = GUID_PATTERN.exec(text);
  if (!groups) throw new TypeError(`not a uniqueidentifier: ${text}`);
  const [, first, second, third, fourth, fifth] = groups;
  return Buffer.concat([
    Buffer.from(first, 'hex').reverse(),
    Buffer.from(second, 'hex').reverse(),
    Buffer.from(third, 'hex').reverse(),
    Buffer.from(fourth + fifth, 'hex'),
  ]);
}

export function decodeGuid(data: Buffer): string {
  const hex = (start: number, end: number, reversed: boolean): string => {
    const bytes = Buffer.from(data.subarray(start, end));
    return (reversed ? bytes.reverse() : bytes).toString('hex');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)]
    .join('-')
    .toUpperCase();
}

// varchar values use the server collation's code page 1252: Latin-1 except for 0x80..0x9F.

const CP1252_HIGH_CONTROL_RANGE = [
  0x20ac, 0x81, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8d, 0x017d,
  0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x9d,
  0x017e, 0x0178,
];
const CP1252_BYTE_BY_CODE_POINT = new Map(
  CP1252_HIGH_CONTROL_RANGE.map((codePoint, index) => [codePoint, 0x80 + index]),
);
const QUESTION_MARK = 0x3f;

export function encodeCodePage1252(text: string): Buffer {
  const bytes = Buffer.alloc(text.length);
  for (let index = 0; index < text.length; index++) {
    const codePoint = text.charCodeAt(index);
    const mapped = CP1252_BYTE_BY_CODE_POINT.get(codePoint);
    if (mapped !== undefined) bytes[index] = mapped;
    else if (codePoint < 0x80 || (codePoint >= 0xa0 && codePoint <= 0xff)) bytes[index] = codePoint;
    else bytes[index] = QUESTION_MARK; // what SQL Server stores for characters outside the code page
  }
  return bytes;
}

export function decodeCodePage1252(bytes: Buffer): string {
  let text = '';
  for (const byte of bytes) {
    text += String.fromCharCode(byte >= 0x80 && byte <= 0x9f ? CP1252_HIGH_CONTROL_RANGE[byte - 0x80] : byte);
  }
  return text;
}
