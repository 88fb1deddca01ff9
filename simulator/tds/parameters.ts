/**
 * Decoding of RPC parameters: each one's TYPE_INFO and value as tedious (and other clients) send them, in the fixed,
 * N-, (max)/PLP and legacy forms, into a value with its SQL type.
 */
import {
  MAX_LENGTH_MARKER,
  PLP_NULL,
  PLP_UNKNOWN_LENGTH,
  SERVER_COLLATION,
  SHORT_NULL_LENGTH,
  TypeId,
} from './data-types';
import { MalformedPayload, type PayloadReader } from './payload';
import type { SqlType, SqlValue } from './session';
import {
  decodeCodePage1252,
  decodeDateTime,
  decodeDateTime2,
  decodeGuid,
  decodeNumeric,
  decodeSmallDateTime,
} from './value-codecs';

/** A parameter type the simulator does not decode; answered like SQL Server answers an unknown RPC data type. */
export class UnsupportedParameterType extends Error {
  constructor(readonly typeId: number) {
    super(`Data type 0x${typeId.toString(16).toUpperCase().padStart(2, '0')} is unknown.`);
    this.name = 'UnsupportedParameterType';
  }
}

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
      if (data.length === 4) return { type, value: decodeSmallDateTime(data.readUInt16LE(0), data.readUInt16LE(2)) };
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
