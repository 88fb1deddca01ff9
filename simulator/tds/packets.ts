/**
 * TDS packet framing ([MS-TDS] 2.2.3.1): reassembles client messages from the packets that arrive on a socket, in
 * whatever pieces TCP delivers them, and splits server messages into packets of the negotiated size.
 *
 * Header (8 bytes): Type, Status (0x01 EOM = last packet of the message, 0x02 IGNORE), Length (big-endian, header
 * included), SPID (big-endian), PacketID (1, 2, … per message), Window (0).
 */

export const PacketType = {
  sqlBatch: 0x01,
  rpc: 0x03,
  tabularResult: 0x04,
  attention: 0x06,
  transactionManager: 0x0e,
  login7: 0x10,
  prelogin: 0x12,
} as const;

const PacketStatus = { endOfMessage: 0x01, ignore: 0x02 } as const;

const PACKET_HEADER_LENGTH = 8;
/** Before LOGIN7 negotiates a size, both sides use 4096-byte packets. */
export const DEFAULT_PACKET_SIZE = 4096;

export interface IncomingMessage {
  type: number;
  payload: Buffer;
  /** The client abandoned this message (IGNORE bit): it must not run, and gets a single DONE in answer. */
  ignored: boolean;
}

/** The byte stream is not TDS packets; the connection cannot continue. */
export class MalformedPacket extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPacket';
  }
}

/** Turns socket reads into complete client messages. */
export class MessageAssembler {
  private unread: Buffer = Buffer.alloc(0);
  private packetsOfCurrentMessage: Buffer[] = [];
  private currentType = 0;
  private currentIgnored = false;

  /** Consumes one socket read and returns the messages it completed, in order. */
  push(chunk: Buffer): IncomingMessage[] {
    // Only a partial packet is ever left unread, so this copy stays smaller than one packet.
    this.unread = this.unread.length === 0 ? chunk : Buffer.concat([this.unread, chunk]);
    const completed: IncomingMessage[] = [];
    while (this.unread.length >= PACKET_HEADER_LENGTH) {
      const length = this.unread.readUInt16BE(2);
      if (length < PACKET_HEADER_LENGTH)
        throw new MalformedPacket(`packet length ${length} is shorter than its header`);
      if (this.unread.length < length) break;
      const type = this.unread[0];
      const status = this.unread[1];
      if (this.packetsOfCurrentMessage.length === 0) {
        this.currentType = type;
        this.currentIgnored = false;
      }
      this.packetsOfCurrentMessage.push(this.unread.subarray(PACKET_HEADER_LENGTH, length));
      if (status & PacketStatus.ignore) this.currentIgnored = true;
      this.unread = this.unread.subarray(length);
      if (status & PacketStatus.endOfMessage) {
        const packets = this.packetsOfCurrentMessage;
        completed.push({
          type: this.currentType,
          // A one-packet message (most requests) needs no copy.
          payload: packets.length === 1 ? packets[0] : Buffer.concat(packets),
          ignored: this.currentIgnored,
        });
        this.packetsOfCurrentMessage = [];
      }
    }
    return completed;
  }
}

/** One server→client message (a tabular result unless told) as the bytes of its packets, for one socket write. */
export function frameMessage(payload: Buffer, options: { packetSize: number; spid: number; type?: number }): Buffer {
  const dataPerPacket = options.packetSize - PACKET_HEADER_LENGTH;
  const packetCount = Math.max(1, Math.ceil(payload.length / dataPerPacket));
  // Written in place, headers and data: most answers are one packet, and this is one copy per answer.
  const framed = Buffer.allocUnsafe(payload.length + packetCount * PACKET_HEADER_LENGTH);
  for (let index = 0, at = 0; index < packetCount; index++) {
    const data = payload.subarray(index * dataPerPacket, (index + 1) * dataPerPacket);
    framed[at] = options.type ?? PacketType.tabularResult;
    framed[at + 1] = index === packetCount - 1 ? PacketStatus.endOfMessage : 0;
    framed.writeUInt16BE(PACKET_HEADER_LENGTH + data.length, at + 2);
    framed.writeUInt16BE(options.spid, at + 4);
    framed[at + 6] = (index + 1) % 256;
    framed[at + 7] = 0;
    data.copy(framed, at + PACKET_HEADER_LENGTH);
    at += PACKET_HEADER_LENGTH + data.length;
  }
  return framed;
}
