/**
 * Decoding of client requests after login: SQL_BATCH ([MS-TDS] 2.2.6.7) and RPC (2.2.6.6), both preceded by
 * ALL_HEADERS from TDS 7.2 on (2.2.5.3). mssql's request.query() arrives as RPC ProcID 10 (sp_executesql),
 * request.execute() as an RPC by name, request.batch() as SQL_BATCH.
 */
import { isTds72OrLater } from './data-types';
import { readTypedValue, UnsupportedParameterType } from './parameters';
import { MalformedPayload, PayloadReader } from './payload';
import type { RpcCall, RpcParameter } from './session';

/** Well-known procedures an RPC may name by ProcID instead of by name. */
const PROCEDURE_BY_ID: Readonly<Record<number, string>> = {
  1: 'sp_cursor',
  2: 'sp_cursoropen',
  3: 'sp_cursorprepare',
  4: 'sp_cursorexecute',
  5: 'sp_cursorprepexec',
  6: 'sp_cursorunprepare',
  7: 'sp_cursorfetch',
  8: 'sp_cursoroption',
  9: 'sp_cursorclose',
  10: 'sp_executesql',
  11: 'sp_prepare',
  12: 'sp_execute',
  13: 'sp_prepexec',
  14: 'sp_prepexecrpc',
  15: 'sp_unprepare',
};

const PROC_ID_MARKER = 0xffff;
const BY_REF_VALUE = 0x01;

/** A parameter the simulator cannot decode; SQL Server answers this with error 8009 and keeps the connection. */
export class UnreadableRpcParameter extends Error {
  constructor(
    readonly ordinal: number,
    readonly parameterName: string,
    cause: UnsupportedParameterType,
  ) {
    super(
      `The incoming tabular data stream (TDS) remote procedure call (RPC) protocol stream is incorrect. ` +
        `Parameter ${ordinal} ("${parameterName}"): ${cause.message}`,
    );
    this.name = 'UnreadableRpcParameter';
  }
}

/** ALL_HEADERS: a DWORD total length (itself included) and headers the simulator does not need (transaction descriptor). */
function skipAllHeaders(reader: PayloadReader, tdsVersion: number): void {
  if (!isTds72OrLater(tdsVersion)) return;
  const totalLength = reader.uint32();
  if (totalLength < 4) throw new MalformedPayload(`ALL_HEADERS TotalLength ${totalLength}`);
  reader.skip(totalLength - 4);
}

export function readSqlBatch(payload: Buffer, tdsVersion: number): string {
  const reader = new PayloadReader(payload);
  skipAllHeaders(reader, tdsVersion);
  if (reader.remaining % 2 !== 0) throw new MalformedPayload('SQL_BATCH text has an odd number of bytes');
  return reader.ucs2(reader.remaining / 2);
}

export function readRpcRequest(payload: Buffer, tdsVersion: number): RpcCall {
  const reader = new PayloadReader(payload);
  skipAllHeaders(reader, tdsVersion);
  const nameLength = reader.uint16();
  let procedure: string;
  if (nameLength === PROC_ID_MARKER) {
    const procId = reader.uint16();
    procedure = PROCEDURE_BY_ID[procId] ?? '';
    if (!procedure) throw new MalformedPayload(`RPC ProcID ${procId} is not a well-known procedure`);
  } else {
    procedure = reader.ucs2(nameLength);
  }
  reader.uint16(); // OptionFlags (WithRecomp, NoMetaData, ReuseMetaData) change nothing the simulator sends
  const parameters: RpcParameter[] = [];
  while (reader.remaining > 0) {
    const name = reader.bVarChar();
    const status = reader.uint8();
    try {
      const { type, value } = readTypedValue(reader);
      parameters.push({ name, type, value, output: (status & BY_REF_VALUE) !== 0 });
    } catch (error) {
      if (error instanceof UnsupportedParameterType)
        throw new UnreadableRpcParameter(parameters.length + 1, name, error);
      throw error;
    }
  }
  return { procedure, parameters };
}
