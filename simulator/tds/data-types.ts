/**
 * How values look on the TDS wire ([MS-TDS] 2.2.5): the TDS versions that change some widths, the type bytes, and
 * TYPE_INFO and value encoding for result columns and RETURNVALUE tokens. The byte forms of single values are in
 * value-codecs.ts, message primitives in payload.ts, and the decoding of RPC parameters in parameters.ts.
 *
 * Columns use the nullable N-forms real SQL Server sends for catalog columns (INTN, BITN, DATETIMN, NUMERICN ...).
 * numeric values travel as exact decimal strings and bigint values as JS bigint, never through a JS number.
 */
import { usVarChar } from './payload';
import type { SqlType, SqlValue } from './session';
import {
  encodeCodePage1252,
  encodeDateTime,
  encodeDateTime2,
  encodeGuid,
  encodeNumeric,
  formatDateTime2,
  numericMagnitudeBytes,
  valueMismatch,
} from './value-codecs';

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

/** TYPE_INFO type bytes ([MS-TDS] 2.2.5.4). */
export const TypeId = {
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
export const MAX_LENGTH_MARKER = 0xffff;
export const SHORT_NULL_LENGTH = 0xffff;
export const PLP_NULL = 0xffffffffffffffffn;
export const PLP_UNKNOWN_LENGTH = 0xfffffffffffffffen;

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
