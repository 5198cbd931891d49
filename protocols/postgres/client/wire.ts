/**
 * The few PostgreSQL wire-protocol pieces the client engine needs before the tunnel exists:
 * reading startup-phase packets and following backend message boundaries (ErrorResponse is
 * written with protocols/postgres/codec/codec.ts like everywhere else) (so a final error is never spliced into the middle of a message).
 * Pure codecs — no sockets here.
 */

import { MAX_STARTUP_PACKET_BYTES, PgProtocolError, parseStartupPacket, type StartupPacket } from "../codec/codec.ts";

// The startup parser and its error are the shared codec's (parsers/pg/codec.ts); re-exported for this engine's imports.
export { MAX_STARTUP_PACKET_BYTES, PgProtocolError, parseStartupPacket, type StartupPacket };

/**
 * Accumulates bytes until one whole startup-phase packet is available.
 * `push` returns the packet and any bytes that followed it, or undefined when more are needed.
 */
export class StartupPacketReader {
  private buf = new Uint8Array(0);

  push(chunk: Uint8Array): { packet: StartupPacket; rest: Uint8Array } | undefined {
    const merged = new Uint8Array(this.buf.length + chunk.length);
    merged.set(this.buf, 0);
    merged.set(chunk, this.buf.length);
    this.buf = merged;
    if (this.buf.length < 4) return undefined;
    const view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    const len = view.getInt32(0);
    if (len < 8 || len > MAX_STARTUP_PACKET_BYTES) throw new PgProtocolError(`invalid startup packet length ${len} (limit ${MAX_STARTUP_PACKET_BYTES} bytes)`);
    if (this.buf.length < len) return undefined;
    const bytes = this.buf.slice(0, len);
    const rest = this.buf.slice(len);
    this.buf = new Uint8Array(0);
    return { packet: parseStartupPacket(bytes), rest };
  }

  /** Bytes buffered that do not yet form a packet. */
  get pending(): number {
    return this.buf.length;
  }
}

/**
 * Follows backend message framing (type byte + int32 length) without buffering payloads, to know
 * whether the stream is at a message boundary and which complete message came last.
 */
export class BackendMessageTracker {
  /** Bytes of the current message header seen so far (0..5). */
  private header = new Uint8Array(5);
  private readonly headerView = new DataView(this.header.buffer);
  private headerFill = 0;
  /** Payload bytes still to skip in the current message. */
  private remaining = 0;
  private currentType = 0;
  /** Type byte of the last complete message, 0 when none. */
  lastType = 0;
  /** Bytes of a BackendKeyData ('K', pid + secret) being read; null outside one. */
  private key: number[] | null = null;
  /** The cancel keys the gateway handed to this connection (a CancelRequest must name one). */
  readonly backendKeys: { pid: number; secret: number }[] = [];

  get atBoundary(): boolean {
    return this.headerFill === 0 && this.remaining === 0;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - i);
        if (this.key) this.key.push(...chunk.subarray(i, i + take));
        this.remaining -= take;
        i += take;
        if (this.remaining === 0) {
          this.lastType = this.currentType;
          if (this.key) {
            const v = new DataView(Uint8Array.from(this.key).buffer);
            this.backendKeys.push({ pid: v.getUint32(0), secret: v.getUint32(4) });
            this.key = null;
          }
        }
        continue;
      }
      this.header[this.headerFill++] = chunk[i++]!;
      if (this.headerFill === 5) {
        this.headerFill = 0;
        this.currentType = this.header[0]!;
        const len = this.headerView.getInt32(1);
        this.remaining = Math.max(0, len - 4);
        this.key = this.currentType === 0x4b /* 'K' */ && len === 12 ? [] : null;
        if (this.remaining === 0) this.lastType = this.currentType;
      }
    }
  }
}
