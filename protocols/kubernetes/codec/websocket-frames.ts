/**
 * A passive reader of one direction of a WebSocket connection (RFC 6455 framing): bytes in, whole
 * data messages out (continuations joined, client masking removed). Control frames (ping, pong,
 * close) are skipped, or, with `keepControl`, returned in order (a reader that re-frames what it
 * relays must relay them too). It never writes: the gateway reads the exec/attach stream it relays.
 * Anything that is not valid framing — a client frame without a mask, a server frame with one,
 * reserved bits (no extension was negotiated), a message over the bound — throws.
 */
import { concatBytes } from "../../../parsers/encoding/bytes.ts";

export class WebSocketFrameError extends Error {}

export interface WebSocketMessage {
  binary: boolean;
  data: Uint8Array;
  /** A control frame (0x8 close, 0x9 ping, 0xa pong); only with `keepControl`. */
  control?: number;
}

export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export class WebSocketMessageReader {
  private buffer = new Uint8Array(0);
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  private messageOpcode: number | null = null;
  closed = false;

  constructor(
    private readonly fromClient: boolean,
    private readonly opts: { keepControl?: boolean } = {},
  ) {}

  /** Every byte pushed so far belonged to whole messages (no frame or message is half read). */
  idle(): boolean {
    return this.buffer.length === 0 && this.parts.length === 0;
  }

  /** Messages completed by these bytes: `{ binary, data }` in order (`control`: a control frame's opcode, with keepControl). */
  push(bytes: Uint8Array): WebSocketMessage[] {
    const joined = new Uint8Array(this.buffer.length + bytes.length);
    joined.set(this.buffer);
    joined.set(bytes, this.buffer.length);
    const out: WebSocketMessage[] = [];
    let o = 0;
    for (;;) {
      if (joined.length - o < 2) break;
      const b0 = joined[o]!;
      const b1 = joined[o + 1]!;
      if ((b0 & 0x70) !== 0) throw new WebSocketFrameError("reserved bits set (no extension was negotiated)");
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const masked = (b1 & 0x80) !== 0;
      if (masked !== this.fromClient) throw new WebSocketFrameError(this.fromClient ? "a client frame without a mask" : "a server frame with a mask");
      let len = b1 & 0x7f;
      let p = o + 2;
      if (len === 126) {
        if (joined.length - p < 2) break;
        len = (joined[p]! << 8) | joined[p + 1]!;
        p += 2;
      } else if (len === 127) {
        if (joined.length - p < 8) break;
        const hi = (joined[p]! << 24) | (joined[p + 1]! << 16) | (joined[p + 2]! << 8) | joined[p + 3]!;
        if (hi !== 0) throw new WebSocketFrameError("a frame larger than 4 GiB");
        len = ((joined[p + 4]! << 24) >>> 0) + ((joined[p + 5]! << 16) | (joined[p + 6]! << 8) | joined[p + 7]!);
        p += 8;
      }
      if (len > MAX_MESSAGE_BYTES) throw new WebSocketFrameError(`a frame of ${len} bytes (at most ${MAX_MESSAGE_BYTES})`);
      const maskAt = p;
      if (masked) p += 4;
      if (joined.length - p < len) break;
      const payload = joined.slice(p, p + len);
      if (masked) for (let i = 0; i < payload.length; i++) payload[i]! ^= joined[maskAt + (i & 3)]!;
      o = p + len;
      if (opcode >= 0x8) {
        if (!fin || len > 125) throw new WebSocketFrameError("a fragmented or oversized control frame");
        if (opcode === 0x8) this.closed = true;
        else if (opcode !== 0x9 && opcode !== 0xa) throw new WebSocketFrameError(`unknown control opcode ${opcode}`);
        if (this.opts.keepControl) out.push({ binary: false, data: payload, control: opcode });
        continue;
      }
      if (opcode === 0x0) {
        if (this.messageOpcode === null) throw new WebSocketFrameError("a continuation frame outside a message");
      } else if (opcode === 0x1 || opcode === 0x2) {
        if (this.messageOpcode !== null) throw new WebSocketFrameError("a new message inside a fragmented one");
        this.messageOpcode = opcode;
      } else throw new WebSocketFrameError(`unknown opcode ${opcode}`);
      this.partBytes += payload.length;
      if (this.partBytes > MAX_MESSAGE_BYTES) throw new WebSocketFrameError(`a message over ${MAX_MESSAGE_BYTES} bytes`);
      this.parts.push(payload);
      if (fin) {
        const data = this.parts.length === 1 ? this.parts[0]! : concatBytes(this.parts);
        out.push({ binary: this.messageOpcode === 0x2, data });
        this.parts = [];
        this.partBytes = 0;
        this.messageOpcode = null;
      }
    }
    this.buffer = joined.slice(o);
    return out;
  }
}


/**
 * One frame with FIN: `opcode` and `payload`, masked when it goes to the server (a client's
 * frames must be; the key is random, as RFC 6455 § 5.3 asks of clients).
 */
export function encodeFrame(opcode: number, payload: Uint8Array, masked: boolean): Uint8Array {
  const n = payload.length;
  const len = n < 126 ? [n | (masked ? 0x80 : 0)] : n < 65_536 ? [126 | (masked ? 0x80 : 0), n >> 8, n & 255] : [127 | (masked ? 0x80 : 0), 0, 0, 0, 0, (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  const head = [0x80 | opcode, ...len];
  const out = new Uint8Array(head.length + (masked ? 4 : 0) + n);
  out.set(head);
  if (!masked) {
    out.set(payload, head.length);
    return out;
  }
  const key = crypto.getRandomValues(new Uint8Array(4));
  out.set(key, head.length);
  const at = head.length + 4;
  for (let i = 0; i < n; i++) out[at + i] = payload[i]! ^ key[i & 3]!;
  return out;
}

/** One unmasked binary message, as a server sends it (the gateway speaking for the API server). */
export function serverBinaryMessage(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? [0x82, n] : n < 65_536 ? [0x82, 126, n >> 8, n & 255] : null;
  if (!head) throw new WebSocketFrameError("a gateway message over 64 KiB");
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/**
 * One unmasked frame with FIN set, as a server sends it, of any size up to the reader's bound:
 * a data message (0x2 binary) or a control frame (its payload as received, at most 125 bytes).
 */
export function serverFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  if (opcode >= 0x8 && n > 125) throw new WebSocketFrameError("a control frame over 125 bytes");
  if (n > MAX_MESSAGE_BYTES) throw new WebSocketFrameError(`a message over ${MAX_MESSAGE_BYTES} bytes`);
  const b0 = 0x80 | opcode;
  const head = n < 126 ? [b0, n] : n < 65_536 ? [b0, 126, n >> 8, n & 255] : [b0, 127, 0, 0, 0, 0, (n >>> 24) & 255, (n >> 16) & 255, (n >> 8) & 255, n & 255];
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(payload, head.length);
  return out;
}
