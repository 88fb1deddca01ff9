/**
 * How values look on the TDS wire ([MS-TDS] 2.2.5): the primitive encodings (integers, B_VARCHAR, US_VARCHAR), the
 * TDS versions that change some widths, TYPE_INFO and value encoding for result columns and RETURNVALUE tokens,
 * and decoding of RPC parameter TYPE_INFO + values as tedious (and other clients) send them.
 *
 * Columns use the nullable N-forms real SQL Server sends for catalog columns (INTN, BITN, DATETIMN, NUMERICN ...).
 * numeric values travel as exact decimal strings and bigint values as JS bigint, never through a JS number.
 */
import { typeName, type SqlType, type SqlValue } from './session';

/** TDS protocol versions as LOGIN7 and LOGINACK carry them. */
export const TdsVersion = {
  v7_1: 0x71000001,
  v7_2: 0x72090002,
  v7_3A: 0x730a0003,
  v7_3B: 0x730b0003,
  v7_4: 0x74000004,
} as const;

/**
 * TDS 7.2 widened DONE row counts to 8 bytes and ERROR/INFO line numbers and UserType to 4, added (max) types as PLP
 * streams and ALL_HEADERS in requests.
 */
export function isTds72OrLater(tdsVersion: number): boolean {
  return tdsVersion >= 0x72000000;
}

/** TDS 7.3 added the date and time types (datetime2). */
function isTds73OrLater(tdsVersion: number): boolean {
  return tdsVersion >= 0x73000000;
}

/** SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, comparison flags 0x0D, SQL sort id 52 (code page 1252). */
export const SERVER_COLLATION = Buffer.from([0x09, 0x04, 0xd0, 0x00, 0x34]);

/** A client message that does not follow [MS-TDS]; the connection treats it as a protocol violation. */
export class MalformedPayload extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPayload';
  }
}

/** A parameter type the simulator does not decode; answered like SQL Server answers an unknown RPC data type. */
export class UnsupportedParameterType extends Error {
  constructor(readonly typeId: number) {
    super(`Data type 0x${typeId.toString(16).toUpperCase().padStart(2, '0')} is unknown.`);
    this.name = 'UnsupportedParameterType';
  }
}

/** Sequential little-endian reads over one client message, failing loudly when the message is shorter than it says. */
export class PayloadReader {
  private offset = 0;

  constructor(private readonly payload: Buffer) {}

  get remaining(): number {
    return this.payload.length - this.offset;
  }

  uint8(): number {
    return this.payload.readUInt8(this.take(1));
  }

  uint16(): number {
    return this.payload.readUInt16LE(this.take(2));
  }

  uint32(): number {
    return this.payload.readUInt32LE(this.take(4));
  }

  int32(): number {
    return this.payload.readInt32LE(this.take(4));
  }

  bytes(length: number): Buffer {
    const start = this.take(length);
    return this.payload.subarray(start, start + length);
  }

  skip(length: number): void {
    this.take(length);
  }

  /** UCS-2LE text of a known character count. */
  ucs2(characters: number): string {
    return this.bytes(characters * 2).toString('utf16le');
  }

  /** B_VARCHAR: 1-byte character count + UCS-2LE. */
  bVarChar(): string {
    return this.ucs2(this.uint8());
  }

  /** US_VARCHAR: 2-byte character count + UCS-2LE. */
  usVarChar(): string {
    return this.ucs2(this.uint16());
  }

  private take(length: number): number {
    if (length > this.remaining) {
      throw new MalformedPayload(`message ends after ${this.payload.length} bytes, needed ${this.offset + length}`);
    }
    const start = this.offset;
    this.offset += length;
    return start;
  }
}

/** B_VARCHAR: 1-byte character count + UCS-2LE. */
export function bVarChar(text: string): Buffer {
  if (text.length > 0xff)
    throw new RangeError(`B_VARCHAR holds at most 255 characters, got ${text.length}: ${text.slice(0, 40)}…`);
  return Buffer.concat([Buffer.from([text.length]), Buffer.from(text, 'utf16le')]);
}

/** US_VARCHAR: 2-byte character count + UCS-2LE. */
export function usVarChar(text: string): Buffer {
  if (text.length > 0xffff) throw new RangeError(`US_VARCHAR holds at most 65535 characters, got ${text.length}`);
  const length = Buffer.alloc(2);
  length.writeUInt16LE(text.length);
  return Buffer.concat([length, Buffer.from(text, 'utf16le')]);
}

/** B_VARBYTE: 1-byte length + bytes. */
export function bVarByte(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

/** TYPE_INFO type bytes ([MS-TDS] 2.2.5.4). */
const TypeId = {
  guid: 0x24,
  intN: 0x26,
  dateTime2N: 0x2a,
  int1: 0x30,
  bit: 0x32,
  int2: 0x34,
  int4: 0x38,
  dateTime: 0x3d,
  float8: 0x3e,
  bitN: 0x68,
  decimalN: 0x6a,
  numericN: 0x6c,
  floatN: 0x6d,
  dateTimeN: 0x6f,
  int8: 0x7f,
  bigVarBinary: 0xa5,
  bigVarChar: 0xa7,
  bigBinary: 0xad,
  bigChar: 0xaf,
  nVarChar: 0xe7,
  nChar: 0xef,
} as const;

/** USHORT max length 0xFFFF marks a (max) type, whose values are PLP streams. */
const MAX_LENGTH_MARKER = 0xffff;
const SHORT_NULL_LENGTH = 0xffff;
const PLP_NULL = 0xffffffffffffffffn;
const PLP_UNKNOWN_LENGTH = 0xfffffffffffffffen;

// ---------------------------------------------------------------------------------------------------------------
// Column / RETURNVALUE encoding
//
// Clients older than a type get what SQL Server sends them: (max) types as NTEXT/TEXT/IMAGE before TDS 7.2, and
// datetime2 as nvarchar text ('2024-05-06 07:08:09.1230000') before TDS 7.3.

type VariableLengthType = Extract<SqlType, { length: number | 'max' }>;

/** The type itself when it is a (max) type the client must receive as NTEXT/TEXT/IMAGE. */
function legacyLob(type: SqlType, tdsVersion: number): VariableLengthType | undefined {
  return 'length' in type && type.length === 'max' && !isTds72OrLater(tdsVersion) ? type : undefined;
}

/** The scale of a datetime2 the client must receive as text. */
function dateTime2AsTextScale(type: SqlType, tdsVersion: number): number | undefined {
  return type.kind === 'datetime2' && !isTds73OrLater(tdsVersion) ? type.scale : undefined;
}

function dateTime2Text(scale: number): SqlType {
  return { kind: 'nvarchar', length: 19 + (scale > 0 ? scale + 1 : 0) };
}

const LegacyLobTypeId = { nvarchar: 0x63, varchar: 0x23, varbinary: 0x22 } as const;

/** TYPE_INFO of an output parameter (RETURNVALUE) of this type, as a client of this TDS version reads it. */
export function typeInfo(type: SqlType, tdsVersion: number): Buffer {
  const textScale = dateTime2AsTextScale(type, tdsVersion);
  if (textScale !== undefined) return typeInfo(dateTime2Text(textScale), tdsVersion);
  const lob = legacyLob(type, tdsVersion);
  if (lob) {
    const maxBytes = Buffer.alloc(4);
    maxBytes.writeInt32LE(lob.kind === 'nvarchar' ? 0x7ffffffe : 0x7fffffff);
    const collation = lob.kind === 'varbinary' ? [] : [SERVER_COLLATION];
    return Buffer.concat([Buffer.from([LegacyLobTypeId[lob.kind]]), maxBytes, ...collation]);
  }
  switch (type.kind) {
    case 'int':
      return Buffer.from([TypeId.intN, 4]);
    case 'bigint':
      return Buffer.from([TypeId.intN, 8]);
    case 'smallint':
      return Buffer.from([TypeId.intN, 2]);
    case 'tinyint':
      return Buffer.from([TypeId.intN, 1]);
    case 'bit':
      return Buffer.from([TypeId.bitN, 1]);
    case 'float':
      return Buffer.from([TypeId.floatN, 8]);
    case 'nvarchar':
      return Buffer.concat([Buffer.from([TypeId.nVarChar]), maxLength(type.length, 4000, 2), SERVER_COLLATION]);
    case 'varchar':
      return Buffer.concat([Buffer.from([TypeId.bigVarChar]), maxLength(type.length, 8000, 1), SERVER_COLLATION]);
    case 'varbinary':
      return Buffer.concat([Buffer.from([TypeId.bigVarBinary]), maxLength(type.length, 8000, 1)]);
    case 'numeric':
      if (type.precision < 1 || type.precision > 38 || type.scale < 0 || type.scale > type.precision) {
        throw new RangeError(`invalid numeric(${type.precision},${type.scale})`);
      }
      return Buffer.from([TypeId.numericN, 1 + numericMagnitudeBytes(type.precision), type.precision, type.scale]);
    case 'datetime':
      return Buffer.from([TypeId.dateTimeN, 8]);
    case 'datetime2':
      if (type.scale < 0 || type.scale > 7) throw new RangeError(`invalid datetime2(${type.scale})`);
      return Buffer.from([TypeId.dateTime2N, type.scale]);
    case 'uniqueidentifier':
      return Buffer.from([TypeId.guid, 16]);
  }
}

/** TYPE_INFO as COLMETADATA carries it: NTEXT/TEXT/IMAGE columns add a TableName (US_VARCHAR before TDS 7.2). */
export function columnTypeInfo(type: SqlType, tdsVersion: number): Buffer {
  const info = typeInfo(type, tdsVersion);
  return legacyLob(type, tdsVersion) ? Buffer.concat([info, usVarChar('')]) : info;
}

function maxLength(length: number | 'max', limit: number, bytesPerCharacter: number): Buffer {
  const encoded = Buffer.alloc(2);
  if (length === 'max') {
    encoded.writeUInt16LE(MAX_LENGTH_MARKER);
  } else {
    if (!Number.isInteger(length) || length < 1 || length > limit)
      throw new RangeError(`length ${length} is outside 1..${limit}`);
    encoded.writeUInt16LE(length * bytesPerCharacter);
  }
  return encoded;
}

/**
 * A value as it follows its TYPE_INFO in a ROW or RETURNVALUE token, for a client of this TDS version.
 * Throws TypeError when the value does not fit the type.
 */
export function encodeValue(type: SqlType, value: SqlValue, tdsVersion: number): Buffer {
  const textScale = dateTime2AsTextScale(type, tdsVersion);
  if (textScale !== undefined) {
    const text = value === null ? null : formatDateTime2(expectDate(type, value), textScale);
    return encodeValue(dateTime2Text(textScale), text, tdsVersion);
  }
  const lob = legacyLob(type, tdsVersion);
  if (lob) return encodeLegacyLob(lob, value);
  if (value === null) return encodeNull(type);
  switch (type.kind) {
    case 'int':
      return prefixedFixed(4, (buffer, at) => buffer.writeInt32LE(expectInteger(type, value), at));
    case 'smallint':
      return prefixedFixed(2, (buffer, at) => buffer.writeInt16LE(expectInteger(type, value), at));
    case 'tinyint':
      return prefixedFixed(1, (buffer, at) => buffer.writeUInt8(expectInteger(type, value), at));
    case 'bigint':
      return prefixedFixed(8, (buffer, at) => buffer.writeBigInt64LE(expectBigInt(type, value), at));
    case 'bit':
      if (typeof value !== 'boolean') throw valueMismatch(type, value, 'a boolean');
      return Buffer.from([1, value ? 1 : 0]);
    case 'float':
      if (typeof value !== 'number') throw valueMismatch(type, value, 'a number');
      return prefixedFixed(8, (buffer, at) => buffer.writeDoubleLE(value, at));
    case 'nvarchar':
    case 'varchar':
    case 'varbinary':
      return encodeVariableLength(type.length, variableLengthBytes(type, value));
    case 'numeric':
      return lengthPrefixed(encodeNumeric(type, value));
    case 'datetime':
      return lengthPrefixed(encodeDateTime(expectDate(type, value)));
    case 'datetime2':
      return lengthPrefixed(encodeDateTime2(expectDate(type, value), type.scale));
    case 'uniqueidentifier':
      if (typeof value !== 'string') throw valueMismatch(type, value, 'a GUID string');
      return lengthPrefixed(encodeGuid(value));
  }
}

function encodeNull(type: SqlType): Buffer {
  switch (type.kind) {
    case 'nvarchar':
    case 'varchar':
    case 'varbinary':
      if (type.length === 'max') return writeFixed(8, (buffer) => buffer.writeBigUInt64LE(PLP_NULL));
      return writeFixed(2, (buffer) => buffer.writeUInt16LE(SHORT_NULL_LENGTH));
    default:
      return Buffer.from([0]);
  }
}

function writeFixed(length: number, write: (buffer: Buffer) => void): Buffer {
  const buffer = Buffer.alloc(length);
  write(buffer);
  return buffer;
}

/** A fixed-size value behind its 1-byte length (INTN, FLTN ...), in one buffer: every row of every result has some. */
function prefixedFixed(length: number, write: (buffer: Buffer, at: number) => void): Buffer {
  const buffer = Buffer.allocUnsafe(1 + length);
  buffer[0] = length;
  write(buffer, 1);
  return buffer;
}

/** The 1-byte length prefix of the N-forms (INTN, DATETIMN, GUID, NUMERICN, DATETIME2 ...). */
function lengthPrefixed(data: Buffer): Buffer {
  return Buffer.concat([Buffer.from([data.length]), data]);
}

/** The bytes of an nvarchar (UCS-2LE), varchar (code page 1252) or varbinary value. */
function variableLengthBytes(type: VariableLengthType, value: SqlValue): Buffer {
  if (type.kind === 'varbinary') {
    if (!Buffer.isBuffer(value)) throw valueMismatch(type, value, 'a Buffer');
    return value;
  }
  if (typeof value !== 'string') throw valueMismatch(type, value, 'a string');
  return type.kind === 'nvarchar' ? Buffer.from(value, 'utf16le') : encodeCodePage1252(value);
}

/** USHORT length + bytes, or for (max) types a PLP stream with a known total length, in one chunk. */
function encodeVariableLength(length: number | 'max', data: Buffer): Buffer {
  if (length === 'max') {
    const total = writeFixed(8, (buffer) => buffer.writeBigUInt64LE(BigInt(data.length)));
    const terminator = Buffer.alloc(4);
    if (data.length === 0) return Buffer.concat([total, terminator]);
    const chunkLength = writeFixed(4, (buffer) => buffer.writeUInt32LE(data.length));
    return Buffer.concat([total, chunkLength, data, terminator]);
  }
  if (data.length >= SHORT_NULL_LENGTH) throw new RangeError(`${data.length} bytes do not fit a non-(max) column`);
  return Buffer.concat([writeFixed(2, (buffer) => buffer.writeUInt16LE(data.length)), data]);
}

/** NTEXT/TEXT/IMAGE value: text pointer (16 bytes; clients only test its presence), timestamp, LONG length, data. */
function encodeLegacyLob(type: VariableLengthType, value: SqlValue): Buffer {
  if (value === null) return Buffer.from([0]);
  const data = variableLengthBytes(type, value);
  const header = Buffer.alloc(1 + 16 + 8 + 4);
  header[0] = 16;
  header.writeInt32LE(data.length, 25);
  return Buffer.concat([header, data]);
}

function valueMismatch(type: SqlType, value: SqlValue, expected: string): TypeError {
  const actual = Buffer.isBuffer(value) ? 'Buffer' : value instanceof Date ? 'Date' : typeof value;
  return new TypeError(`a ${typeName(type)} value must be ${expected}, got ${actual} ${String(value)}`);
}

function expectInteger(type: SqlType, value: SqlValue): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw valueMismatch(type, value, 'an integer number');
  return value;
}

function expectBigInt(type: SqlType, value: SqlValue): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw valueMismatch(type, value, 'a bigint');
}

function expectDate(type: SqlType, value: SqlValue): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw valueMismatch(type, value, 'a valid Date');
  return value;
}

// numeric: sign byte (1 = positive) + little-endian magnitude of the value scaled by 10^scale.

function numericMagnitudeBytes(precision: number): number {
  if (precision <= 9) return 4;
  if (precision <= 19) return 8;
  if (precision <= 28) return 12;
  return 16;
}

function encodeNumeric(type: Extract<SqlType, { kind: 'numeric' }>, value: SqlValue): Buffer {
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

function decodeNumeric(data: Buffer, scale: number): string {
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

function encodeDateTime(date: Date): Buffer {
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

function decodeDateTime(days: number, ticks: number): Date {
  return new Date(DATETIME_EPOCH_MS + days * MS_PER_DAY + Math.round((ticks * 10) / 3));
}

function dateTime2TimeBytes(scale: number): number {
  if (scale <= 2) return 3;
  if (scale <= 4) return 4;
  return 5;
}

function encodeDateTime2(date: Date, scale: number): Buffer {
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
function formatDateTime2(date: Date, scale: number): string {
  const step = 10 ** Math.max(0, 3 - scale);
  const iso = new Date(Math.round(date.getTime() / step) * step).toISOString();
  const fraction = iso.slice(20, 23).padEnd(7, '0').slice(0, scale);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${scale > 0 ? `.${fraction}` : ''}`;
}

function decodeDateTime2(data: Buffer, scale: number): Date {
  const timeBytes = data.length - 3;
  const units = data.readUIntLE(0, timeBytes);
  const days = data.readUIntLE(timeBytes, 3);
  const msOfDay = scale >= 3 ? Math.floor(units / 10 ** (scale - 3)) : units * 10 ** (3 - scale);
  return new Date((days - DAYS_FROM_YEAR_1_TO_UNIX_EPOCH) * MS_PER_DAY + msOfDay);
}

// uniqueidentifier: the first three groups are stored little-endian.

const GUID_PATTERN = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

function encodeGuid(text: string): Buffer {
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

function decodeGuid(data: Buffer): string {
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

function encodeCodePage1252(text: string): Buffer {
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

function decodeCodePage1252(bytes: Buffer): string {
  let text = '';
  for (const byte of bytes) {
    text += String.fromCharCode(byte >= 0x80 && byte <= 0x9f ? CP1252_HIGH_CONTROL_RANGE[byte - 0x80] : byte);
  }
  return text;
}

// ---------------------------------------------------------------------------------------------------------------
// RPC parameter decoding

export interface TypedValue {
  type: SqlType;
  value: SqlValue;
}

/** Reads one parameter's TYPE_INFO and value, as they follow ParamName and StatusFlags in an RPC request. */
export function readTypedValue(reader: PayloadReader): TypedValue {
  const typeId = reader.uint8();
  switch (typeId) {
    case TypeId.int1:
      return { type: { kind: 'tinyint' }, value: reader.uint8() };
    case TypeId.int2:
      return { type: { kind: 'smallint' }, value: reader.bytes(2).readInt16LE() };
    case TypeId.int4:
      return { type: { kind: 'int' }, value: reader.int32() };
    case TypeId.int8:
      return { type: { kind: 'bigint' }, value: reader.bytes(8).readBigInt64LE() };
    case TypeId.bit:
      return { type: { kind: 'bit' }, value: reader.uint8() !== 0 };
    case TypeId.float8:
      return { type: { kind: 'float' }, value: reader.bytes(8).readDoubleLE() };
    case TypeId.dateTime:
      return { type: { kind: 'datetime' }, value: decodeDateTime(reader.int32(), reader.uint32()) };
    case TypeId.intN:
      return readIntN(reader);
    case TypeId.bitN: {
      reader.uint8();
      const data = readByteLengthValue(reader);
      return { type: { kind: 'bit' }, value: data && data[0] !== 0 };
    }
    case TypeId.floatN: {
      reader.uint8();
      const data = readByteLengthValue(reader);
      if (data === null) return { type: { kind: 'float' }, value: null };
      if (data.length === 4) return { type: { kind: 'float' }, value: data.readFloatLE() };
      if (data.length === 8) return { type: { kind: 'float' }, value: data.readDoubleLE() };
      throw new MalformedPayload(`FLTN value of ${data.length} bytes`);
    }
    case TypeId.dateTimeN: {
      reader.uint8();
      const data = readByteLengthValue(reader);
      const type: SqlType = { kind: 'datetime' };
      if (data === null) return { type, value: null };
      if (data.length === 8) return { type, value: decodeDateTime(data.readInt32LE(0), data.readUInt32LE(4)) };
      // smalldatetime: days since 1900-01-01 + minutes since midnight, both USHORT.
      if (data.length === 4)
        return {
          type,
          value: new Date(DATETIME_EPOCH_MS + data.readUInt16LE(0) * MS_PER_DAY + data.readUInt16LE(2) * 60_000),
        };
      throw new MalformedPayload(`DATETIMN value of ${data.length} bytes`);
    }
    case TypeId.dateTime2N: {
      const scale = reader.uint8();
      if (scale > 7) throw new MalformedPayload(`datetime2 scale ${scale}`);
      const data = readByteLengthValue(reader);
      return { type: { kind: 'datetime2', scale }, value: data && decodeDateTime2(data, scale) };
    }
    case TypeId.decimalN:
    case TypeId.numericN: {
      reader.uint8();
      const precision = reader.uint8();
      const scale = reader.uint8();
      const data = readByteLengthValue(reader);
      return { type: { kind: 'numeric', precision, scale }, value: data && decodeNumeric(data, scale) };
    }
    case TypeId.guid: {
      reader.uint8();
      const data = readByteLengthValue(reader);
      if (data !== null && data.length !== 16) throw new MalformedPayload(`GUID value of ${data.length} bytes`);
      return { type: { kind: 'uniqueidentifier' }, value: data && decodeGuid(data) };
    }
    case TypeId.nVarChar:
    case TypeId.nChar: {
      const declared = reader.uint16();
      reader.skip(SERVER_COLLATION.length);
      const length = declared === MAX_LENGTH_MARKER ? 'max' : Math.max(1, declared / 2);
      const data = readVariableLengthValue(reader, declared);
      return { type: { kind: 'nvarchar', length }, value: data && data.toString('utf16le') };
    }
    case TypeId.bigVarChar:
    case TypeId.bigChar: {
      const declared = reader.uint16();
      reader.skip(SERVER_COLLATION.length);
      const length = declared === MAX_LENGTH_MARKER ? 'max' : Math.max(1, declared);
      const data = readVariableLengthValue(reader, declared);
      return { type: { kind: 'varchar', length }, value: data && decodeCodePage1252(data) };
    }
    case TypeId.bigVarBinary:
    case TypeId.bigBinary: {
      const declared = reader.uint16();
      const length = declared === MAX_LENGTH_MARKER ? 'max' : Math.max(1, declared);
      const data = readVariableLengthValue(reader, declared);
      return { type: { kind: 'varbinary', length }, value: data && Buffer.from(data) };
    }
    default:
      throw new UnsupportedParameterType(typeId);
  }
}

function readIntN(reader: PayloadReader): TypedValue {
  const size = reader.uint8();
  const kinds = { 1: 'tinyint', 2: 'smallint', 4: 'int', 8: 'bigint' } as const;
  const kind = kinds[size as keyof typeof kinds];
  if (!kind) throw new MalformedPayload(`INTN of ${size} bytes`);
  const data = readByteLengthValue(reader);
  if (data === null) return { type: { kind }, value: null };
  if (data.length !== size) throw new MalformedPayload(`INTN(${size}) value of ${data.length} bytes`);
  const readers = {
    tinyint: () => data.readUInt8(),
    smallint: () => data.readInt16LE(),
    int: () => data.readInt32LE(),
    bigint: () => data.readBigInt64LE(),
  };
  return { type: { kind }, value: readers[kind]() };
}

/** The N-forms: 1-byte length, 0 meaning NULL. */
function readByteLengthValue(reader: PayloadReader): Buffer | null {
  const length = reader.uint8();
  return length === 0 ? null : reader.bytes(length);
}

/** USHORT length (0xFFFF = NULL), or a PLP stream when the declared length is the (max) marker. */
function readVariableLengthValue(reader: PayloadReader, declaredLength: number): Buffer | null {
  if (declaredLength !== MAX_LENGTH_MARKER) {
    const length = reader.uint16();
    return length === SHORT_NULL_LENGTH ? null : reader.bytes(length);
  }
  const total = reader.bytes(8).readBigUInt64LE();
  if (total === PLP_NULL) return null;
  const chunks: Buffer[] = [];
  for (let chunkLength = reader.uint32(); chunkLength !== 0; chunkLength = reader.uint32()) {
    chunks.push(reader.bytes(chunkLength));
  }
  const data = Buffer.concat(chunks);
  if (total !== PLP_UNKNOWN_LENGTH && BigInt(data.length) !== total) {
    throw new MalformedPayload(`PLP value announced ${total} bytes and carried ${data.length}`);
  }
  return data;
}
