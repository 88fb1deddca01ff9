/**
 * The connection handshake: PRELOGIN request and answer ([MS-TDS] 2.2.6.5) with the encryption it settles,
 * LOGIN7 parsing (2.2.6.4) with TDS version and packet size negotiation, and the login response token streams
 * (2.2.2.2) for success and refusal.
 */
import { SERVER_COLLATION, TdsVersion } from './data-types';
import { bVarByte, bVarChar, MalformedPayload } from './payload';
import { DEFAULT_PACKET_SIZE } from './packets';
import type { LoginRequest, SqlMessage, SqlServerModel } from './session';
import {
  DoneStatus,
  doneToken,
  EnvChangeType,
  envChangeToken,
  loginAckToken,
  messageToken,
  type TokenContext,
} from './tokens';

const PreloginOption = {
  version: 0x00,
  encryption: 0x01,
  instance: 0x02,
  threadId: 0x03,
  mars: 0x04,
  terminator: 0xff,
} as const;
/** PRELOGIN ENCRYPTION values. */
const Encrypt = { off: 0x00, on: 0x01, notSupported: 0x02, required: 0x03 } as const;
/** OR'd onto a value to ask for client-certificate authentication, which no supported client does. */
const ENCRYPT_CLIENT_CERT = 0x80;
const MARS_OFF = 0x00;

/** What PRELOGIN settled: no encryption, the first LOGIN7 packet only, or the whole connection. */
export type NegotiatedEncryption = 'none' | 'login-only' | 'full';

/**
 * [MS-TDS]'s table for a server whose "Force Encryption" is off, which is SQL Server's default: a client that
 * offers encryption (ON) or requires it (REQ) gets the whole connection encrypted; one that leaves it OFF gets its
 * login encrypted only; one without TLS (NOT_SUP) gets none. A server without a certificate answers NOT_SUP, and a
 * client that needs encryption then gives up.
 */
function negotiateEncryption(
  clientOption: number,
  serverCanEncrypt: boolean,
): { answer: number; encryption: NegotiatedEncryption } {
  if (clientOption & ENCRYPT_CLIENT_CERT)
    throw new MalformedPayload('PRELOGIN asks for client-certificate authentication, which the simulator does not do');
  if (!serverCanEncrypt || clientOption === Encrypt.notSupported)
    return { answer: Encrypt.notSupported, encryption: 'none' };
  if (clientOption === Encrypt.off) return { answer: Encrypt.off, encryption: 'login-only' };
  if (clientOption === Encrypt.on || clientOption === Encrypt.required)
    return { answer: Encrypt.on, encryption: 'full' };
  throw new MalformedPayload(`PRELOGIN ENCRYPTION value 0x${clientOption.toString(16)} is not one [MS-TDS] defines`);
}

/** The PRELOGIN option table: option token → its data. */
function readPreloginOptions(payload: Buffer): Map<number, Buffer> {
  const options = new Map<number, Buffer>();
  for (let entry = 0; ; entry += 5) {
    if (entry >= payload.length) throw new MalformedPayload('PRELOGIN option table has no terminator');
    const token = payload[entry];
    if (token === PreloginOption.terminator) return options;
    if (entry + 5 > payload.length) throw new MalformedPayload('PRELOGIN option table is truncated');
    const offset = payload.readUInt16BE(entry + 1);
    const length = payload.readUInt16BE(entry + 3);
    if (offset + length > payload.length)
      throw new MalformedPayload(`PRELOGIN option 0x${token.toString(16)} points past the message`);
    options.set(token, payload.subarray(offset, offset + length));
  }
}

/**
 * The server's answer to a client's PRELOGIN: its version, the encryption settled, no MARS; and which encryption
 * follows. A request that is not a well-formed option table is a protocol violation.
 */
export function answerPrelogin(
  request: Buffer,
  serverVersion: SqlServerModel['version'],
  serverCanEncrypt: boolean,
): { response: Buffer; encryption: NegotiatedEncryption } {
  const offered = readPreloginOptions(request);
  if (!offered.has(PreloginOption.version)) throw new MalformedPayload('PRELOGIN without a VERSION option');
  // A client that sends no ENCRYPTION option leaves it off.
  const { answer, encryption } = negotiateEncryption(
    offered.get(PreloginOption.encryption)?.[0] ?? Encrypt.off,
    serverCanEncrypt,
  );
  const version = Buffer.alloc(6);
  version[0] = serverVersion.major;
  version[1] = serverVersion.minor;
  version.writeUInt16BE(serverVersion.build, 2);
  const options: [number, Buffer][] = [
    [PreloginOption.version, version],
    [PreloginOption.encryption, Buffer.from([answer])],
    [PreloginOption.instance, Buffer.from([0])],
    [PreloginOption.threadId, Buffer.alloc(0)],
    [PreloginOption.mars, Buffer.from([MARS_OFF])],
  ];
  const table = Buffer.alloc(options.length * 5 + 1);
  let dataOffset = table.length;
  options.forEach(([token, data], index) => {
    table[index * 5] = token;
    table.writeUInt16BE(dataOffset, index * 5 + 1);
    table.writeUInt16BE(data.length, index * 5 + 3);
    dataOffset += data.length;
  });
  table[table.length - 1] = PreloginOption.terminator;
  return { response: Buffer.concat([table, ...options.map(([, data]) => data)]), encryption };
}

export interface Login7 extends LoginRequest {
  /** The TDS version the client asked for. */
  tdsVersion: number;
  /** The packet size the client asked for (0: the server's choice). */
  packetSize: number;
}

/** Offsets of the (offset, character count) pairs in LOGIN7's fixed part. */
const Login7Field = { hostName: 36, userName: 40, password: 44, appName: 48, database: 68 } as const;
/** The fixed-part fields read here end at byte 72 (the fixed part is 94 bytes from TDS 7.1, 86 in TDS 7.0). */
const LOGIN7_FIELDS_END = 72;

export function parseLogin7(payload: Buffer): Login7 {
  if (payload.length < LOGIN7_FIELDS_END)
    throw new MalformedPayload(`LOGIN7 of ${payload.length} bytes is shorter than its fixed part`);
  const bytesAt = (field: number): Buffer => {
    const offset = payload.readUInt16LE(field);
    const length = payload.readUInt16LE(field + 2) * 2;
    if (offset + length > payload.length)
      throw new MalformedPayload(`LOGIN7 field at ${field} points past the message`);
    return payload.subarray(offset, offset + length);
  };
  return {
    tdsVersion: payload.readUInt32LE(4),
    packetSize: payload.readUInt32LE(8),
    clientProcessId: payload.readUInt32LE(16),
    hostName: bytesAt(Login7Field.hostName).toString('utf16le'),
    userName: bytesAt(Login7Field.userName).toString('utf16le'),
    password: deobfuscatePassword(bytesAt(Login7Field.password)),
    appName: bytesAt(Login7Field.appName).toString('utf16le'),
    database: bytesAt(Login7Field.database).toString('utf16le'),
  };
}

/** Clients swap the nibbles of every password byte and XOR it with 0xA5; this undoes that. */
function deobfuscatePassword(obfuscated: Buffer): string {
  const clear = Buffer.from(obfuscated);
  for (let index = 0; index < clear.length; index++) {
    const byte = clear[index] ^ 0xa5;
    clear[index] = ((byte & 0x0f) << 4) | (byte >> 4);
  }
  return clear.toString('utf16le');
}

const KNOWN_TDS_VERSIONS: readonly number[] = Object.values(TdsVersion);

/** The version the LOGINACK acknowledges: the client's when it is one tedious and FreeTDS know, else the nearest. */
export function negotiateTdsVersion(requested: number): number {
  if (KNOWN_TDS_VERSIONS.includes(requested)) return requested;
  return requested > TdsVersion.v7_4 ? TdsVersion.v7_4 : TdsVersion.v7_1;
}

/**
 * [MS-TDS]: the negotiated packet size lies in 512..32767; a client asking 0 gets the server default. SQL Server
 * caps it at 16383 on an encrypted connection (a packet must fit one TLS record).
 */
export function negotiatePacketSize(requested: number, encrypted: boolean): number {
  if (requested === 0) return DEFAULT_PACKET_SIZE;
  return Math.min(encrypted ? 16383 : 32767, Math.max(512, requested));
}

const PROGRAM_NAME = 'Microsoft SQL Server';
const LANGUAGE = 'us_english';

/** The token stream of a successful login, in the order SQL Server sends it. */
export function loginResponse(
  context: TokenContext,
  login: { database: string; packetSize: number; serverVersion: SqlServerModel['version'] },
): Buffer {
  return Buffer.concat([
    envChangeToken(EnvChangeType.database, bVarChar(login.database), bVarChar('')),
    messageToken(context, 'info', {
      number: 5701,
      state: 2,
      class: 0,
      message: `Changed database context to '${login.database}'.`,
    }),
    envChangeToken(EnvChangeType.collation, bVarByte(SERVER_COLLATION), bVarByte(Buffer.alloc(0))),
    envChangeToken(EnvChangeType.language, bVarChar(LANGUAGE), bVarChar('')),
    messageToken(context, 'info', {
      number: 5703,
      state: 1,
      class: 0,
      message: `Changed language setting to ${LANGUAGE}.`,
    }),
    loginAckToken(context.tdsVersion, PROGRAM_NAME, login.serverVersion),
    envChangeToken(EnvChangeType.packetSize, bVarChar(String(login.packetSize)), bVarChar(String(DEFAULT_PACKET_SIZE))),
    doneToken(context.tdsVersion, { status: DoneStatus.final }),
  ]);
}

/** The token stream of a refused login: the model's ERROR tokens and a DONE with DONE_ERROR. */
export function loginRefusedResponse(context: TokenContext, messages: SqlMessage[]): Buffer {
  return Buffer.concat([
    ...messages.map((message) => messageToken(context, 'error', message)),
    doneToken(context.tdsVersion, { status: DoneStatus.error }),
  ]);
}
