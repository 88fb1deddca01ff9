/**
 * The TDS listener of one simulated SQL Server instance: accepts TCP connections and runs, per socket, PRELOGIN →
 * (TLS handshake) → LOGIN7 → a loop of SQL_BATCH / RPC requests (one at a time, as a non-MARS server does) handed to
 * the model's SqlSession, with ATTENTION (cancel, client timeout) honoured while a request runs. With a certificate
 * it encrypts as SQL Server does (encryption.ts); without one it answers PRELOGIN "encryption not supported".
 *
 * close() stops listening and drops every open connection: that is how the simulator stops an instance.
 */
import net from 'node:net';
import { TdsVersion } from './data-types';
import { MalformedPayload } from './payload';
import { serverTls, TdsEncryption, type ServerTls, type TlsCredentials } from './encryption';
import {
  answerPrelogin,
  loginRefusedResponse,
  loginResponse,
  negotiatePacketSize,
  negotiateTdsVersion,
  parseLogin7,
} from './login';
import {
  DEFAULT_PACKET_SIZE,
  frameMessage,
  MalformedPacket,
  MessageAssembler,
  PacketType,
  type IncomingMessage,
} from './packets';
import { readRpcRequest, readSqlBatch, UnreadableRpcParameter } from './requests';
import { LoginRefused, type RpcCall, type SqlMessage, type SqlServerModel, type SqlSession } from './session';
import { attentionAcknowledgement, DoneStatus, doneToken, TokenResponse, type TokenContext } from './tokens';

export interface TdsServer {
  /** The bound port (the one the OS chose when options.port was 0). */
  readonly port: number;
  /** Stops listening and destroys every open connection; resolves once the port refuses connections. */
  close(): Promise<void>;
  /** Open client connections, logged in or not. */
  connectionCount(): number;
}

export async function startTdsServer(
  model: SqlServerModel,
  options: { host: string; port: number; tls?: TlsCredentials },
): Promise<TdsServer> {
  const contexts = options.tls ? serverTls(options.tls) : undefined;
  /** Each open connection, with a promise that settles once its socket closed and its session was closed. */
  const connections = new Map<TdsConnection, Promise<void>>();
  const server = net.createServer((socket) => {
    const connection = new TdsConnection(socket, model, contexts);
    connections.set(
      connection,
      new Promise((resolve) =>
        socket.once('close', () => {
          connections.delete(connection);
          resolve();
        }),
      ),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string')
    throw new Error(`TDS server bound to an unexpected address: ${String(address)}`);

  let closing: Promise<void> | undefined;
  return {
    port: address.port,
    connectionCount: () => connections.size,
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise<void>((resolve, reject) =>
          server.close((error) => (error ? reject(error) : resolve())),
        );
        const dropped = [...connections.values()];
        for (const connection of connections.keys()) connection.destroy();
        await Promise.all([stopped, ...dropped]);
      })()),
  };
}

type Phase = 'prelogin' | 'login' | 'loggedIn' | 'closed';

/** TLS records start with a content type byte: 0x16 is a handshake (a TDS 8.0 client's ClientHello). */
const TLS_HANDSHAKE_RECORD = 0x16;

/** The request that is executing, and whether the client asked to stop it. */
interface RunningRequest {
  controller: AbortController;
  attentionReceived: boolean;
}

/** Errors the simulator raises itself use 50000 (the RAISERROR range), so no real SQL Server error is mimicked. */
const SIMULATOR_ERROR_NUMBER = 50000;

class TdsConnection {
  private readonly assembler = new MessageAssembler();
  private readonly pending: IncomingMessage[] = [];
  private phase: Phase = 'prelogin';
  private processing = false;
  private running: RunningRequest | undefined;
  /**
   * The controller of the next request. Requests run one at a time, so one controller serves them all until a
   * request is cancelled (an aborted signal stays aborted): then the next request gets a new one.
   */
  private nextController = new AbortController();
  private session: SqlSession | undefined;
  private tdsVersion: number = TdsVersion.v7_4;
  private packetSize = DEFAULT_PACKET_SIZE;
  private encryption?: TdsEncryption;

  constructor(
    private readonly socket: net.Socket,
    private readonly model: SqlServerModel,
    private readonly tlsContexts: ServerTls | undefined,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // A reset or refused write just ends the connection; 'close' follows and does the cleanup.
    socket.on('error', () => undefined);
    socket.once('close', () => this.closed());
  }

  destroy(): void {
    this.socket.destroy();
  }

  private get tokenContext(): TokenContext {
    return { tdsVersion: this.tdsVersion, serverName: this.model.serverName };
  }

  /** Bytes from the socket: TLS records go to the encryption, which hands back clear TDS bytes. */
  private receive(chunk: Buffer): void {
    if (this.phase === 'prelogin' && !this.encryption && chunk[0] === TLS_HANDSHAKE_RECORD && this.tlsContexts) {
      // TDS 8.0: TLS first, PRELOGIN inside it.
      this.startEncryption('strict');
    }
    if (this.encryption?.takesRawBytes) this.encryption.rawBytes(chunk);
    else this.receiveClear(chunk);
  }

  private receiveClear(chunk: Buffer): void {
    let messages: IncomingMessage[];
    try {
      messages = this.assembler.push(chunk);
    } catch (error) {
      this.protocolViolation(error);
      return;
    }
    for (const message of messages) {
      if (this.encryption?.handshaking) {
        if (message.type !== PacketType.prelogin)
          return this.protocolViolation(
            new MalformedPacket(
              `expected a PRELOGIN packet of the TLS handshake, got type 0x${message.type.toString(16)}`,
            ),
          );
        this.encryption!.handshakeMessage(message.payload);
        continue;
      }
      // ATTENTION must reach the request that is running now, not wait behind it. Starting each request as soon
      // as it is queued means a request and its ATTENTION in the same read still meet in that order.
      if (message.type === PacketType.attention && this.phase === 'loggedIn') {
        this.attention();
      } else {
        this.pending.push(message);
        void this.processPending();
      }
    }
  }

  private attention(): void {
    if (this.running) {
      this.running.attentionReceived = true;
      this.running.controller.abort(new Error('the client sent ATTENTION'));
    } else {
      // The request already answered (the ATTENTION crossed its response): acknowledge on its own.
      this.send(attentionAcknowledgement(this.tdsVersion));
    }
  }

  /** Handles queued messages one at a time, in arrival order. */
  private async processPending(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      for (let message = this.pending.shift(); message && this.phase !== 'closed'; message = this.pending.shift()) {
        await this.handle(message);
      }
    } catch (error) {
      this.protocolViolation(error);
    } finally {
      this.processing = false;
    }
  }

  private async handle(message: IncomingMessage): Promise<void> {
    switch (this.phase) {
      case 'prelogin':
        if (message.type === PacketType.prelogin) {
          const strict = this.encryption?.mode === 'strict';
          const { response, encryption } = answerPrelogin(message.payload, this.model.version, !!this.tlsContexts);
          this.send(response);
          if (!strict && encryption !== 'none') this.startEncryption(encryption);
          this.phase = 'login';
          return;
        }
        // A client may skip PRELOGIN and log in at once.
        return this.login(message);
      case 'login':
        return this.login(message);
      case 'loggedIn':
        return this.request(message);
      case 'closed':
        return;
    }
  }

  private async login(message: IncomingMessage): Promise<void> {
    if (message.type !== PacketType.login7)
      throw new MalformedPacket(`expected LOGIN7, got message type 0x${message.type.toString(16)}`);
    const login = parseLogin7(message.payload);
    this.tdsVersion = negotiateTdsVersion(login.tdsVersion);
    let session: SqlSession;
    try {
      session = await this.model.login(
        {
          userName: login.userName,
          password: login.password,
          database: login.database,
          appName: login.appName,
          hostName: login.hostName,
          clientProcessId: login.clientProcessId,
        },
        {
          remoteAddress: this.socket.remoteAddress ?? '',
          remotePort: this.socket.remotePort ?? 0,
          localAddress: this.socket.localAddress ?? '',
          localPort: this.socket.localPort ?? 0,
          encryption: this.encryption?.mode ?? 'none',
        },
        { terminate: () => this.socket.destroy() },
      );
    } catch (error) {
      const messages = error instanceof LoginRefused ? error.messages : [this.internalError(error)];
      this.send(loginRefusedResponse(this.tokenContext, messages));
      this.socket.end();
      this.phase = 'closed';
      return;
    }
    if (this.phase === 'closed') {
      // The client went away while the model was logging it in.
      session.close();
      return;
    }
    this.session = session;
    const packetSize = negotiatePacketSize(login.packetSize, this.encryption?.encryptsOutgoing ?? false);
    this.send(
      loginResponse(this.tokenContext, { database: session.database, packetSize, serverVersion: this.model.version }),
    );
    // [MS-TDS]: the new size applies from the message after the login response.
    this.packetSize = packetSize;
    this.phase = 'loggedIn';
  }

  private async request(message: IncomingMessage): Promise<void> {
    if (message.ignored) {
      // [MS-TDS] 2.2.1.7: the client abandoned the request; it gets a single DONE and no attention ack.
      this.send(doneToken(this.tdsVersion, { status: DoneStatus.final }));
      return;
    }
    switch (message.type) {
      case PacketType.sqlBatch: {
        const sql = readSqlBatch(message.payload, this.tdsVersion);
        return this.execute(new TokenResponse(this.tokenContext), (session, out, signal) =>
          session.executeBatch(sql, out, signal),
        );
      }
      case PacketType.rpc: {
        let call: RpcCall;
        try {
          call = readRpcRequest(message.payload, this.tdsVersion);
        } catch (error) {
          if (!(error instanceof UnreadableRpcParameter)) throw error;
          const response = new TokenResponse(this.tokenContext);
          response.error({ number: 8009, state: 1, class: 16, message: error.message });
          this.send(response.finish());
          return;
        }
        return this.execute(new TokenResponse(this.tokenContext, call.parameters), (session, out, signal) =>
          session.executeRpc(call, out, signal),
        );
      }
      case PacketType.transactionManager: {
        const response = new TokenResponse(this.tokenContext);
        response.error({
          number: SIMULATOR_ERROR_NUMBER,
          state: 1,
          class: 16,
          message:
            'pchat-dr simulator: transaction manager requests (client-side BEGIN/COMMIT TRANSACTION) are not supported.',
        });
        this.send(response.finish());
        return;
      }
      default:
        throw new MalformedPacket(`unexpected message type 0x${message.type.toString(16)} after login`);
    }
  }

  private async execute(
    response: TokenResponse,
    run: (session: SqlSession, out: TokenResponse, signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const session = this.session;
    if (!session) throw new Error('a request arrived before the session existed');
    if (this.nextController.signal.aborted) this.nextController = new AbortController();
    const running: RunningRequest = { controller: this.nextController, attentionReceived: false };
    this.running = running;
    try {
      await run(session, response, running.controller.signal);
    } catch (error) {
      if (this.phase !== 'closed') response.error(this.internalError(error));
    } finally {
      this.running = undefined;
    }
    if (this.phase === 'closed') return;
    // The response and the attention ack go out as two messages: tedious reads the first as the cancelled
    // request's answer and completes the cancel only on a later message holding DONE_ATTN.
    this.send(response.finish());
    if (running.attentionReceived) this.send(attentionAcknowledgement(this.tdsVersion));
  }

  /** A failure inside the simulator: logged for whoever runs it, reported to the client as SQL Server would an error. */
  private internalError(error: unknown): SqlMessage {
    const detail = error instanceof Error ? error.message : String(error);
    process.stderr.write(
      `pchat-dr simulator internal error on ${this.model.serverName}: ${error instanceof Error ? error.stack : detail}\n`,
    );
    return {
      number: SIMULATOR_ERROR_NUMBER,
      state: 1,
      class: 16,
      message: `pchat-dr simulator internal error: ${detail}`,
    };
  }

  private protocolViolation(error: unknown): void {
    if (!(error instanceof MalformedPacket || error instanceof MalformedPayload)) {
      this.internalError(error);
    } else {
      const client = `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
      process.stderr.write(
        `pchat-dr simulator ${this.model.serverName}: closing connection from ${client}: ${error.message}\n`,
      );
    }
    this.socket.destroy();
  }

  private send(tokens: Buffer): void {
    if (this.socket.destroyed) return;
    const packets = frameMessage(tokens, { packetSize: this.packetSize, spid: this.session?.spid ?? 0 });
    if (this.encryption?.encryptsOutgoing) this.encryption.write(packets);
    else this.socket.write(packets);
  }

  private startEncryption(mode: 'login-only' | 'full' | 'strict'): void {
    this.encryption = new TdsEncryption({
      socket: this.socket,
      contexts: this.tlsContexts!,
      mode,
      onClear: (bytes) => this.receiveClear(bytes),
      onFailure: (error) => {
        // A client that refuses the certificate ends the handshake with an alert: nothing to report but the end.
        const client = `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
        if (!this.encryption?.handshaking)
          process.stderr.write(
            `pchat-dr simulator ${this.model.serverName}: TLS failure with ${client}: ${error.message}\n`,
          );
        this.socket.destroy();
      },
    });
  }

  private closed(): void {
    this.encryption?.destroy();
    this.phase = 'closed';
    this.pending.length = 0;
    this.running?.controller.abort(new Error('the client connection closed'));
    const session = this.session;
    this.session = undefined;
    if (!session) return;
    try {
      session.close();
    } catch (error) {
      this.internalError(error);
    }
  }
}
