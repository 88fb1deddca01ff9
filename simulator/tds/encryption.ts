/**
 * TLS inside TDS, the three ways SQL Server does it ([MS-TDS] 2.2.6.5, 3.2.5.2, 3.3.5.2):
 *
 * - full: PRELOGIN settled ENCRYPT_ON. The TLS handshake travels inside PRELOGIN packets (the client's flights as
 *   PRELOGIN messages, each answered by one PRELOGIN message holding the server's flight); afterwards TLS records
 *   travel bare on TCP and carry every TDS packet both ways. tedious (mssql) with `encrypt: true` does this.
 * - login-only: PRELOGIN settled ENCRYPT_OFF. Same handshake, then only the first TDS packet of LOGIN7 is
 *   encrypted; everything after it, both ways, is clear text. FreeTDS does this by default.
 * - strict (TDS 8.0): the client starts TLS at once, before PRELOGIN (ALPN tds/8.0), and everything is encrypted.
 *   tedious with `encrypt: 'strict'` does this.
 *
 * Node's TLS engine runs over an adapter stream that decides where its records go: wrapped in PRELOGIN packets
 * during a TDS 7.x handshake, bare once it is done, nowhere after login-only encryption ended. Like SQL Server
 * for TDS 7.x, only TLS 1.2 is offered there (a TLS 1.3 server would send session tickets after the client thinks
 * the handshake is over); TDS 8.0 allows TLS 1.3.
 */
import { constants } from 'node:crypto';
import type net from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import { frameMessage, PacketType } from './packets';

/** A server certificate and its key, PEM. */
export interface TlsCredentials {
  key: string;
  cert: string;
}

export type EncryptionMode = 'login-only' | 'full' | 'strict';

/** The secure contexts of one server: TDS 7.x (TLS 1.2 only) and TDS 8.0 (TLS 1.2 and 1.3). */
export interface ServerTls {
  tds7: tls.SecureContext;
  tds8: tls.SecureContext;
}

export function serverTls(credentials: TlsCredentials): ServerTls {
  // No session tickets: nothing may follow the handshake's last flight.
  const secureOptions = constants.SSL_OP_NO_TICKET;
  return {
    tds7: tls.createSecureContext({ ...credentials, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', secureOptions }),
    tds8: tls.createSecureContext({ ...credentials, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3', secureOptions }),
  };
}

/** Where the TLS engine's records go now. */
type Outgoing = 'wrapped' | 'bare' | 'discarded';

/** The TLS engine's "socket": records in from the client, records out according to the current routing. */
class RecordStream extends Duplex {
  outgoing: Outgoing = 'wrapped';
  private wrapped: Buffer[] = [];
  private flushScheduled = false;

  constructor(private readonly socket: net.Socket) {
    super();
  }

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.outgoing === 'bare') {
      if (!this.socket.destroyed) this.socket.write(chunk);
    } else if (this.outgoing === 'wrapped') {
      this.wrapped.push(chunk);
      // The engine writes a whole flight in one go; it leaves as one PRELOGIN message, which is what clients wait
      // for (tedious reads exactly one message per flight it sent).
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flushWrapped());
      }
    }
    callback();
  }

  /** Records from the client, for the engine. */
  deliver(records: Buffer): void {
    this.push(records);
  }

  private flushWrapped(): void {
    this.flushScheduled = false;
    if (this.wrapped.length === 0 || this.socket.destroyed) return;
    const flight = Buffer.concat(this.wrapped);
    this.wrapped = [];
    // Packets of at most 4096 bytes: some clients (go-mssqldb, python-tds) refuse larger ones before login.
    this.socket.write(frameMessage(flight, { packetSize: 4096, spid: 0, type: PacketType.prelogin }));
  }
}

const TLS_RECORD_HEADER = 5;
const TLS_APPLICATION_DATA = 0x17;
const TDS_PACKET_HEADER = 8;

/**
 * The encryption of one TDS connection, from the handshake on. The connection hands it what arrives on the socket
 * (rawBytes, or the payload of PRELOGIN messages during a TDS 7.x handshake) and gets clear TDS bytes back through
 * `onClear`; it sends through write() while `encryptsOutgoing`.
 */
export class TdsEncryption {
  private readonly records: RecordStream;
  private readonly engine: tls.TLSSocket;
  private handshakeDone = false;
  /** login-only: client bytes not yet given to TLS, and what TLS decrypted so far. */
  private loginOnly?: { pending: Buffer; decrypted: Buffer; awaitingClear: boolean; ended: boolean };

  constructor(
    private readonly options: {
      socket: net.Socket;
      contexts: ServerTls;
      mode: EncryptionMode;
      /** Clear TDS bytes, in order: decrypted ones, and after login-only encryption ended, the client's own. */
      onClear: (bytes: Buffer) => void;
      onFailure: (error: Error) => void;
    },
  ) {
    this.records = new RecordStream(options.socket);
    if (options.mode === 'strict') this.records.outgoing = 'bare';
    if (options.mode === 'login-only')
      this.loginOnly = { pending: Buffer.alloc(0), decrypted: Buffer.alloc(0), awaitingClear: false, ended: false };
    this.engine = new tls.TLSSocket(this.records, {
      isServer: true,
      secureContext: options.mode === 'strict' ? options.contexts.tds8 : options.contexts.tds7,
      ...(options.mode === 'strict' ? { ALPNProtocols: ['tds/8.0'] } : {}),
    });
    this.engine.on('secure', () => (this.handshakeDone = true));
    this.engine.on('data', (clear: Buffer) => this.decrypted(clear));
    this.engine.on('error', (error: Error) => options.onFailure(error));
  }

  get mode(): EncryptionMode {
    return this.options.mode;
  }

  /** TDS 7.x: the handshake is under way, in PRELOGIN packets. */
  get handshaking(): boolean {
    return this.options.mode !== 'strict' && !this.handshakeDone;
  }

  /** True while bytes from the socket are TLS records rather than TDS packets. */
  get takesRawBytes(): boolean {
    if (this.options.mode === 'strict') return true;
    if (this.loginOnly?.ended) return false;
    return this.handshakeDone;
  }

  /** Whether the server's TDS messages go through TLS now (full and strict, once the handshake is done). */
  get encryptsOutgoing(): boolean {
    return this.options.mode !== 'login-only' && (this.handshakeDone || this.options.mode === 'strict');
  }

  /** TDS 7.x: the TLS payload of a PRELOGIN message of the handshake. */
  handshakeMessage(payload: Buffer): void {
    this.records.deliver(payload);
  }

  /** Bytes from the socket while takesRawBytes. */
  rawBytes(chunk: Buffer): void {
    // The client sends bare records only once it has the server's last flight: from now on records go out bare.
    if (this.records.outgoing === 'wrapped') this.records.outgoing = 'bare';
    if (!this.loginOnly) {
      this.records.deliver(chunk);
      return;
    }
    this.loginOnly.pending = Buffer.concat([this.loginOnly.pending, chunk]);
    this.feedLoginRecords();
  }

  write(bytes: Buffer): void {
    this.engine.write(bytes);
  }

  destroy(): void {
    // No close_notify: after login-only encryption it would land in the clear-text stream.
    this.records.outgoing = 'discarded';
    this.engine.destroy();
  }

  private decrypted(clear: Buffer): void {
    const loginOnly = this.loginOnly;
    if (!loginOnly) {
      this.options.onClear(clear);
      return;
    }
    loginOnly.decrypted = Buffer.concat([loginOnly.decrypted, clear]);
    loginOnly.awaitingClear = false;
    this.feedLoginRecords();
  }

  /**
   * login-only: give TLS one whole record at a time until the first TDS packet is decrypted; then encryption ends,
   * and that packet and everything after it (the rest of a long LOGIN7, later requests) is clear text.
   */
  private feedLoginRecords(): void {
    const state = this.loginOnly!;
    if (state.ended || state.awaitingClear) return;
    const packet = state.decrypted;
    if (packet.length >= TDS_PACKET_HEADER && packet.length >= packet.readUInt16BE(2)) {
      state.ended = true;
      this.records.outgoing = 'discarded';
      const rest = state.pending;
      state.pending = Buffer.alloc(0);
      this.options.onClear(packet);
      if (rest.length > 0) this.options.onClear(rest);
      return;
    }
    if (state.pending.length < TLS_RECORD_HEADER) return;
    const recordLength = TLS_RECORD_HEADER + state.pending.readUInt16BE(3);
    if (state.pending.length < recordLength) return;
    const record = state.pending.subarray(0, recordLength);
    state.pending = state.pending.subarray(recordLength);
    state.awaitingClear = record[0] === TLS_APPLICATION_DATA;
    this.records.deliver(record);
    if (!state.awaitingClear) this.feedLoginRecords();
  }
}
