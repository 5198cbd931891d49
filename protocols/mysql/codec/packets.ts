/**
 * MySQL packet framing: int<3> payload length, int<1> sequence id, payload. A payload of exactly
 * 0xffffff bytes continues in the next packet (same logical packet, next sequence id), ending with
 * a shorter one (possibly empty). The framer is incremental (any split of the byte stream gives
 * the same packets) and bounded: it holds at most one logical packet, and a logical packet above
 * `maxPacket` is refused before it is buffered (MysqlCodecError "too-large").
 */
import { MysqlCodecError } from "./errors.ts";

export const MAX_PHYSICAL_PAYLOAD = 0xffffff;

export interface Packet {
  /** Sequence id of the first physical packet. */
  seq: number;
  /** Sequence id of the last physical packet (seq + continuations). */
  lastSeq: number;
  payload: Uint8Array;
}

export class PacketFramer {
  private pending: Uint8Array[] = [];
  private pendingLen = 0;
  /** Parts of the logical packet being assembled. */
  private parts: Uint8Array[] = [];
  private partsLen = 0;
  private firstSeq = -1;

  constructor(private readonly maxPacket = 64 * 1024 * 1024) {}

  /** Bytes buffered but not yet returned as packets. */
  get buffered(): number {
    return this.pendingLen + this.partsLen;
  }

  push(chunk: Uint8Array): Packet[] {
    if (chunk.length) {
      this.pending.push(chunk);
      this.pendingLen += chunk.length;
    }
    const out: Packet[] = [];
    for (;;) {
      if (this.pendingLen < 4) break;
      const head = this.peek(4);
      const len = head[0] | (head[1] << 8) | (head[2] << 16);
      const seq = head[3];
      if (this.partsLen + len > this.maxPacket) throw new MysqlCodecError("too-large", `packet of more than ${this.maxPacket} bytes`);
      if (this.pendingLen < 4 + len) break;
      this.take(4);
      const body = this.take(len);
      if (this.firstSeq < 0) this.firstSeq = seq;
      else if (seq !== ((this.firstSeq + this.parts.length) & 0xff)) throw new MysqlCodecError("sequence", `continuation packet has sequence id ${seq}`);
      this.parts.push(body);
      this.partsLen += len;
      if (len === MAX_PHYSICAL_PAYLOAD) continue;
      const payload = this.parts.length === 1 ? this.parts[0] : concat(this.parts, this.partsLen);
      out.push({ seq: this.firstSeq, lastSeq: seq, payload });
      this.parts = [];
      this.partsLen = 0;
      this.firstSeq = -1;
    }
    return out;
  }

  private peek(n: number): Uint8Array {
    if (this.pending[0].length >= n) return this.pending[0].subarray(0, n);
    return concat(this.pending, n);
  }

  private take(n: number): Uint8Array {
    const first = this.pending[0];
    if (first && first.length >= n) {
      const v = first.subarray(0, n);
      if (first.length === n) this.pending.shift();
      else this.pending[0] = first.subarray(n);
      this.pendingLen -= n;
      return v;
    }
    const v = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.pending[0];
      const k = Math.min(c.length, n - off);
      v.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.pending.shift();
      else this.pending[0] = c.subarray(k);
    }
    this.pendingLen -= n;
    return v;
  }
}

export function concat(parts: Uint8Array[], total = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    const k = Math.min(p.length, total - off);
    out.set(p.subarray(0, k), off);
    off += k;
    if (off >= total) break;
  }
  return out;
}

/** Encodes one logical packet (split into 0xffffff-byte physical packets as needed). */
export function encodePacket(seq: number, payload: Uint8Array): Uint8Array {
  const pieces = Math.floor(payload.length / MAX_PHYSICAL_PAYLOAD) + 1;
  const out = new Uint8Array(payload.length + 4 * pieces);
  let src = 0;
  let dst = 0;
  for (let i = 0; i < pieces; i++) {
    const len = Math.min(MAX_PHYSICAL_PAYLOAD, payload.length - src);
    out[dst] = len & 0xff;
    out[dst + 1] = (len >>> 8) & 0xff;
    out[dst + 2] = (len >>> 16) & 0xff;
    out[dst + 3] = (seq + i) & 0xff;
    out.set(payload.subarray(src, src + len), dst + 4);
    src += len;
    dst += 4 + len;
  }
  return out;
}

/** The sequence id after a logical packet of this length sent with `seq`. */
export function nextSeq(seq: number, payloadLength: number): number {
  return (seq + Math.floor(payloadLength / MAX_PHYSICAL_PAYLOAD) + 1) & 0xff;
}
