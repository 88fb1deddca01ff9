/**
 * The primitives of a TDS message ([MS-TDS] 2.2.5.1): sequential little-endian reads over a client message, and the
 * length-prefixed strings (B_VARCHAR, US_VARCHAR, B_VARBYTE) written to one. A message shorter than it says is
 * MalformedPayload, which the connection treats as a protocol violation.
 */

/** A client message that does not follow [MS-TDS]; the connection treats it as a protocol violation. */
export class MalformedPayload extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPayload';
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
