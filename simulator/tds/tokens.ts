/**
 * Server→client tokens ([MS-TDS] 2.2.7) and TokenResponse, the ResponseWriter that turns one request's engine
 * calls into a token stream: it buffers the tokens, then applies the DONE rules when the response is complete
 * (DONE_MORE on all but the last DONE, DONE_ERROR after an ERROR, DONE_COUNT when a row count is known, DONEINPROC
 * inside an RPC and a closing DONEPROC).
 */
import { columnTypeInfo, encodeValue, isTds72OrLater, typeInfo } from './data-types';
import { bVarChar, usVarChar } from './payload';
import type { Column, ResponseWriter, RpcParameter, SqlMessage, SqlType, SqlValue } from './session';

const TokenId = {
  returnStatus: 0x79,
  colMetadata: 0x81,
  error: 0xaa,
  info: 0xab,
  returnValue: 0xac,
  loginAck: 0xad,
  row: 0xd1,
  envChange: 0xe3,
  done: 0xfd,
  doneProc: 0xfe,
  doneInProc: 0xff,
} as const;

export const DoneStatus = { final: 0x00, more: 0x01, error: 0x02, count: 0x10, attention: 0x20 } as const;

/** CurCmd values SQL Server puts in DONE tokens; clients do not interpret them. */
const CurrentCommand = { none: 0x00, select: 0xc1, execute: 0xe0 } as const;

export const EnvChangeType = { database: 1, language: 2, packetSize: 4, collation: 7 } as const;

/** What the token encodings depend on: the negotiated TDS version and the server name in ERROR/INFO tokens. */
export interface TokenContext {
  tdsVersion: number;
  serverName: string;
}

type DoneTokenId = typeof TokenId.done | typeof TokenId.doneProc | typeof TokenId.doneInProc;

export function doneToken(
  tdsVersion: number,
  done: { token?: DoneTokenId; status: number; currentCommand?: number; rowCount?: number },
): Buffer {
  const wide = isTds72OrLater(tdsVersion);
  const token = Buffer.alloc(5 + (wide ? 8 : 4));
  token[0] = done.token ?? TokenId.done;
  token.writeUInt16LE(done.status, 1);
  token.writeUInt16LE(done.currentCommand ?? CurrentCommand.none, 3);
  if (wide) token.writeBigUInt64LE(BigInt(done.rowCount ?? 0), 5);
  else token.writeUInt32LE(done.rowCount ?? 0, 5);
  return token;
}

/** The acknowledgement of an ATTENTION: a message of its own holding just this DONE. */
export function attentionAcknowledgement(tdsVersion: number): Buffer {
  return doneToken(tdsVersion, { status: DoneStatus.attention });
}

/** A token whose USHORT Length covers everything after it. */
function lengthPrefixedToken(tokenId: number, body: Buffer[]): Buffer {
  const data = Buffer.concat(body);
  if (data.length > 0xffff)
    throw new RangeError(`token 0x${tokenId.toString(16)} body of ${data.length} bytes exceeds USHORT`);
  const header = Buffer.alloc(3);
  header[0] = tokenId;
  header.writeUInt16LE(data.length, 1);
  return Buffer.concat([header, data]);
}

/** ENVCHANGE carrying B_VARCHAR or B_VARBYTE new/old values (already encoded). */
export function envChangeToken(type: number, newValue: Buffer, oldValue: Buffer): Buffer {
  return lengthPrefixedToken(TokenId.envChange, [Buffer.from([type]), newValue, oldValue]);
}

/** SQL Server caps message texts (RAISERROR: 2047 characters); the cap keeps the token within its USHORT Length. */
const MAX_MESSAGE_CHARACTERS = 2047;

export function messageToken(context: TokenContext, kind: 'error' | 'info', message: SqlMessage): Buffer {
  const fixed = Buffer.alloc(6);
  fixed.writeInt32LE(message.number, 0);
  fixed[4] = message.state;
  fixed[5] = message.class;
  const lineNumber = Buffer.alloc(isTds72OrLater(context.tdsVersion) ? 4 : 2);
  if (lineNumber.length === 4) lineNumber.writeUInt32LE(message.lineNumber ?? 1);
  else lineNumber.writeUInt16LE(message.lineNumber ?? 1);
  return lengthPrefixedToken(kind === 'error' ? TokenId.error : TokenId.info, [
    fixed,
    usVarChar(message.message.slice(0, MAX_MESSAGE_CHARACTERS)),
    bVarChar(context.serverName),
    bVarChar(message.procName ?? ''),
    lineNumber,
  ]);
}

export function loginAckToken(
  tdsVersion: number,
  programName: string,
  version: { major: number; minor: number; build: number },
): Buffer {
  const interfaceAndVersion = Buffer.alloc(5);
  interfaceAndVersion[0] = 1; // SQL_TSQL
  interfaceAndVersion.writeUInt32BE(tdsVersion, 1); // the one big-endian field of the token
  const programVersion = Buffer.from([version.major, version.minor, version.build >> 8, version.build & 0xff]);
  return lengthPrefixedToken(TokenId.loginAck, [interfaceAndVersion, bVarChar(programName), programVersion]);
}

const NULLABLE_FLAG = 0x0001;

/** UserType (0: not a user-defined type) and Flags, which precede TYPE_INFO in COLMETADATA and RETURNVALUE. */
function userTypeAndFlags(tdsVersion: number, nullable: boolean): Buffer {
  const wide = isTds72OrLater(tdsVersion);
  const data = Buffer.alloc((wide ? 4 : 2) + 2);
  data.writeUInt16LE(nullable ? NULLABLE_FLAG : 0, wide ? 4 : 2);
  return data;
}

export function colMetadataToken(tdsVersion: number, columns: Column[]): Buffer {
  if (columns.length === 0 || columns.length >= 0xffff)
    throw new RangeError(`a result set needs 1..65534 columns, got ${columns.length}`);
  const count = Buffer.alloc(3);
  count[0] = TokenId.colMetadata;
  count.writeUInt16LE(columns.length, 1);
  const described = columns.map((column) =>
    Buffer.concat([
      userTypeAndFlags(tdsVersion, column.nullable ?? true),
      columnTypeInfo(column.type, tdsVersion),
      bVarChar(column.name),
    ]),
  );
  return Buffer.concat([count, ...described]);
}

export function rowToken(tdsVersion: number, columns: Column[], row: SqlValue[]): Buffer {
  if (row.length !== columns.length)
    throw new RangeError(`a row of ${row.length} values for ${columns.length} columns`);
  return Buffer.concat([
    Buffer.from([TokenId.row]),
    ...columns.map((column, index) => {
      try {
        return encodeValue(column.type, row[index], tdsVersion);
      } catch (error) {
        if (error instanceof Error) error.message = `column ${column.name || index + 1}: ${error.message}`;
        throw error;
      }
    }),
  ]);
}

export function returnStatusToken(status: number): Buffer {
  const token = Buffer.alloc(5);
  token[0] = TokenId.returnStatus;
  token.writeInt32LE(status, 1);
  return token;
}

export function returnValueToken(
  tdsVersion: number,
  ordinal: number,
  name: string,
  type: SqlType,
  value: SqlValue,
): Buffer {
  const header = Buffer.alloc(3);
  header[0] = TokenId.returnValue;
  header.writeUInt16LE(ordinal, 1);
  const OUTPUT_PARAMETER_STATUS = 0x01;
  return Buffer.concat([
    header,
    bVarChar(name.startsWith('@') ? name : `@${name}`),
    Buffer.from([OUTPUT_PARAMETER_STATUS]),
    userTypeAndFlags(tdsVersion, true),
    typeInfo(type, tdsVersion),
    encodeValue(type, value, tdsVersion),
  ]);
}

/** A DONE-family token whose status is settled only when the response is complete. */
interface PendingDone {
  token: DoneTokenId;
  status: number;
  currentCommand: number;
  rowCount: number;
}

/**
 * The ResponseWriter for one SQL_BATCH or RPC request. The engine calls it while the request runs; finish() returns
 * the complete token stream, to be sent as one message.
 */
export class TokenResponse implements ResponseWriter {
  private readonly parts: (Buffer | PendingDone)[] = [];
  private errorSinceLastDone = false;
  private anyError = false;
  private finished = false;

  /** `rpcParameters`: the call's parameters for an RPC request (ordinals of RETURNVALUE), undefined for a batch. */
  constructor(
    private readonly context: TokenContext,
    private readonly rpcParameters?: RpcParameter[],
  ) {}

  resultSet(columns: Column[], rows: SqlValue[][]): void {
    this.append(
      colMetadataToken(this.context.tdsVersion, columns),
      ...rows.map((row) => rowToken(this.context.tdsVersion, columns, row)),
    );
    this.appendDone(DoneStatus.count, CurrentCommand.select, rows.length);
  }

  done(rowCount?: number): void {
    this.appendDone(rowCount === undefined ? DoneStatus.final : DoneStatus.count, CurrentCommand.none, rowCount ?? 0);
  }

  info(message: SqlMessage): void {
    this.append(messageToken(this.context, 'info', message));
  }

  error(message: SqlMessage): void {
    this.append(messageToken(this.context, 'error', message));
    this.errorSinceLastDone = true;
    this.anyError = true;
  }

  databaseChanged(newDatabase: string, oldDatabase: string): void {
    this.append(envChangeToken(EnvChangeType.database, bVarChar(newDatabase), bVarChar(oldDatabase)));
  }

  returnStatus(status: number): void {
    this.append(returnStatusToken(status));
  }

  outputParameter(name: string, type: SqlType, value: SqlValue): void {
    const bare = name.replace(/^@/, '').toLowerCase();
    const ordinal =
      this.rpcParameters?.findIndex((parameter) => parameter.name.replace(/^@/, '').toLowerCase() === bare) ?? -1;
    this.append(returnValueToken(this.context.tdsVersion, Math.max(ordinal, 0), name, type, value));
  }

  /** The whole token stream; the writer accepts no more calls afterwards. */
  finish(): Buffer {
    this.assertOpen();
    const isRpc = this.rpcParameters !== undefined;
    if (isRpc) {
      this.parts.push({
        token: TokenId.doneProc,
        status: this.anyError ? DoneStatus.error : DoneStatus.final,
        currentCommand: CurrentCommand.execute,
        rowCount: 0,
      });
    } else if (!this.endsWithDone()) {
      this.appendDone(DoneStatus.final, CurrentCommand.none, 0);
    }
    this.finished = true;
    const lastDone = this.parts.length - 1;
    return Buffer.concat(
      this.parts.map((part, index) =>
        Buffer.isBuffer(part)
          ? part
          : doneToken(this.context.tdsVersion, {
              ...part,
              status: index === lastDone ? part.status : part.status | DoneStatus.more,
            }),
      ),
    );
  }

  private appendDone(status: number, currentCommand: number, rowCount: number): void {
    this.assertOpen();
    const token = this.rpcParameters === undefined ? TokenId.done : TokenId.doneInProc;
    this.parts.push({
      token,
      status: this.errorSinceLastDone ? status | DoneStatus.error : status,
      currentCommand,
      rowCount,
    });
    this.errorSinceLastDone = false;
  }

  private append(...tokens: Buffer[]): void {
    this.assertOpen();
    this.parts.push(...tokens);
  }

  private endsWithDone(): boolean {
    const last = this.parts[this.parts.length - 1];
    return last !== undefined && !Buffer.isBuffer(last);
  }

  private assertOpen(): void {
    if (this.finished)
      throw new Error('the response was already sent: a statement wrote to it after its execute call resolved');
  }
}
