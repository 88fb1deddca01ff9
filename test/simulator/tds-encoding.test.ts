/**
 * The TDS layer without a connection: packet framing and reassembly, and value encodings (a column's TYPE_INFO and
 * value decode back through the RPC parameter reader).
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeValue, TdsVersion, typeInfo } from '../../simulator/tds/data-types';
import { readTypedValue } from '../../simulator/tds/parameters';
import { PayloadReader } from '../../simulator/tds/payload';
import { frameMessage, MessageAssembler } from '../../simulator/tds/packets';
import type { SqlType, SqlValue } from '../../simulator/tds/session';
import { HOST, startFixtureServer } from './fixtures/tds-server';

describe('TDS packet framing', () => {
  /** A client packet: header + data. */
  function packet(type: number, status: number, data: Buffer): Buffer {
    const header = Buffer.from([type, status, 0, 0, 0, 0, 1, 0]);
    header.writeUInt16BE(8 + data.length, 2);
    return Buffer.concat([header, data]);
  }

  it('reassembles messages from packets however TCP splits or joins them', () => {
    const stream = Buffer.concat([
      packet(0x01, 0x00, Buffer.from('first ')),
      packet(0x01, 0x01, Buffer.from('batch')),
      packet(0x06, 0x01, Buffer.alloc(0)),
      packet(0x03, 0x00, Buffer.from('abandoned')),
      packet(0x03, 0x03, Buffer.alloc(0)),
    ]);
    const expected = [
      { type: 0x01, payload: Buffer.from('first batch'), ignored: false },
      { type: 0x06, payload: Buffer.alloc(0), ignored: false },
      { type: 0x03, payload: Buffer.from('abandoned'), ignored: true },
    ];
    expect(new MessageAssembler().push(stream)).toEqual(expected);

    const byteByByte = new MessageAssembler();
    const messages = [...stream].flatMap((byte) => byteByByte.push(Buffer.from([byte])));
    expect(messages).toEqual(expected);
  });

  it('splits a server message into packets of the negotiated size', () => {
    const payload = Buffer.alloc(10_000, 0x5a);
    const framed = frameMessage(payload, { packetSize: 4096, spid: 57 });
    const headers = [0, 4096, 8192].map((offset) => framed.subarray(offset, offset + 8));
    expect(
      headers.map((header) => [header[0], header[1], header.readUInt16BE(2), header.readUInt16BE(4), header[6]]),
    ).toEqual([
      [0x04, 0x00, 4096, 57, 1],
      [0x04, 0x00, 4096, 57, 2],
      [0x04, 0x01, 10_000 - 2 * 4088 + 8, 57, 3],
    ]);
    expect(framed.length).toBe(10_000 + 3 * 8);
  });

  it('answers a PRELOGIN that arrives one byte per TCP segment, without encryption', async () => {
    const { server } = await startFixtureServer();
    try {
      const socket = net.connect(server.port, HOST);
      socket.setNoDelay(true);
      await new Promise((resolve) => socket.once('connect', resolve));
      const options = Buffer.from([
        0x00, 0x00, 0x0b, 0x00, 0x06, 0x01, 0x00, 0x11, 0x00, 0x01, 0xff, 19, 0, 0, 0, 0, 0, 0x02,
      ]);
      const response = new Promise<Buffer>((resolve) => socket.once('data', resolve));
      for (const byte of packet(0x12, 0x01, options)) {
        socket.write(Buffer.from([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
      const [message] = new MessageAssembler().push(await response);
      socket.destroy();
      // Option table: VERSION, ENCRYPTION, ... ; ENCRYPTION's data is ENCRYPT_NOT_SUP.
      expect(message.payload[5]).toBe(0x01);
      expect(message.payload[message.payload.readUInt16BE(6)]).toBe(0x02);
      expect(message.payload.subarray(message.payload.readUInt16BE(1), message.payload.readUInt16BE(1) + 4)).toEqual(
        Buffer.from([16, 0, 0x10, 0x6d]),
      );
    } finally {
      await server.close();
    }
  });
});

describe('TDS value encodings', () => {
  // A column's TYPE_INFO + value has the layout of an RPC parameter's, so decoding what was encoded must give it back.
  const cases: [SqlType, SqlValue][] = [
    [{ kind: 'numeric', precision: 38, scale: 10 }, '-1234567890123456789012345678.0123456789'],
    [{ kind: 'numeric', precision: 25, scale: 0 }, '34000000016700001'],
    [{ kind: 'numeric', precision: 9, scale: 4 }, '0.0005'],
    [{ kind: 'numeric', precision: 19, scale: 2 }, null],
    [{ kind: 'bigint' }, -9223372036854775808n],
    [{ kind: 'smallint' }, -32768],
    [{ kind: 'tinyint' }, 255],
    [{ kind: 'datetime' }, new Date('1753-01-01T00:00:00.000Z')],
    [{ kind: 'datetime2', scale: 7 }, new Date('0001-01-01T00:00:00.000Z')],
    [{ kind: 'datetime2', scale: 3 }, new Date('9999-12-31T23:59:59.999Z')],
    [{ kind: 'nvarchar', length: 'max' }, ''],
    [{ kind: 'varbinary', length: 'max' }, Buffer.alloc(0)],
    [{ kind: 'varbinary', length: 'max' }, null],
    [{ kind: 'varchar', length: 10 }, 'ŠŽ€ ok'],
    [{ kind: 'uniqueidentifier' }, null],
  ];

  it.each(cases)('round-trips %o', (type, value) => {
    const encoded = Buffer.concat([typeInfo(type, TdsVersion.v7_4), encodeValue(type, value, TdsVersion.v7_4)]);
    const reader = new PayloadReader(encoded);
    expect(readTypedValue(reader)).toEqual({ type, value });
    expect(reader.remaining).toBe(0);
  });

  it('rounds numeric digits beyond the scale half away from zero, and refuses values wider than the precision', () => {
    const type: SqlType = { kind: 'numeric', precision: 5, scale: 2 };
    const decoded = (value: string): SqlValue =>
      readTypedValue(
        new PayloadReader(Buffer.concat([typeInfo(type, TdsVersion.v7_4), encodeValue(type, value, TdsVersion.v7_4)])),
      ).value;
    expect(decoded('-1.005')).toBe('-1.01');
    expect(decoded('1.004')).toBe('1.00');
    expect(() => encodeValue(type, '1000.00', TdsVersion.v7_4)).toThrow(RangeError);
    expect(() => encodeValue(type, 12, TdsVersion.v7_4)).not.toThrow();
    expect(() => encodeValue({ kind: 'int' }, '12', TdsVersion.v7_4)).toThrow(TypeError);
  });
});
