/**
 * The JS framer the engine would use without WASM: the same contract as wasm/loader/pgframe.ts
 * (push a network chunk, get the complete messages contiguous plus a type/offset/length table,
 * an incomplete tail carried over, bounded message length) written as a plain length-prefix walk
 * over a growable buffer. The honest baseline for the WASM framer — pg-protocol's Parser also
 * decodes every message into objects, which the engine never needs.
 */
export class JsWalkerFramer {
  private buf = new Uint8Array(64 * 1024);
  private tail = 0;
  private batchEnd = 0;
  private table = new Uint32Array(4096 * 3);
  count = 0;

  constructor(readonly maxMessageBytes = 256 * 1024 * 1024) {}

  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.batchEnd);
  }
  type(i: number): number {
    return this.table[i * 3]!;
  }
  offset(i: number): number {
    return this.table[i * 3 + 1]!;
  }
  length(i: number): number {
    return this.table[i * 3 + 2]!;
  }

  push(chunk: Uint8Array): this {
    if (this.batchEnd > 0 && this.tail > 0) this.buf.copyWithin(0, this.batchEnd, this.batchEnd + this.tail);
    this.batchEnd = 0;
    const total = this.tail + chunk.length;
    if (total > this.buf.length) {
      const grown = new Uint8Array(Math.max(total, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.tail));
      this.buf = grown;
    }
    this.buf.set(chunk, this.tail);
    const b = this.buf;
    let off = 0;
    let n = 0;
    while (off + 5 <= total && n < 4096) {
      const len = ((b[off + 1]! << 24) | (b[off + 2]! << 16) | (b[off + 3]! << 8) | b[off + 4]!) >>> 0;
      if (len < 4 || len > this.maxMessageBytes) throw new Error("malformed message length");
      if (off + 1 + len > total) break;
      this.table[n * 3] = b[off]!;
      this.table[n * 3 + 1] = off;
      this.table[n * 3 + 2] = len + 1;
      n++;
      off += 1 + len;
    }
    this.count = n;
    this.batchEnd = off;
    this.tail = total - off;
    return this;
  }

  get hasBufferedMessage(): boolean {
    if (this.tail < 5) return false;
    const b = this.buf;
    const o = this.batchEnd;
    const len = ((b[o + 1]! << 24) | (b[o + 2]! << 16) | (b[o + 3]! << 8) | b[o + 4]!) >>> 0;
    return 1 + len <= this.tail;
  }

  drain(): this {
    return this.push(new Uint8Array(0));
  }
}
