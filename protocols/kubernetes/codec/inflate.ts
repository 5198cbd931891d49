/**
 * A small, bounded DEFLATE decoder (RFC 1951) for SPDY header blocks, runtime-neutral (Workers'
 * DecompressionStream cannot take a preset dictionary, and SPDY's shared zlib context needs one).
 * Structure after Mark Adler's puff.c: canonical Huffman tables as counts + sorted symbols.
 *
 * SPDY peers (Go's spdystream, as kubectl uses it) compress every header block with one zlib
 * context per direction and end each block with a sync flush (an empty stored block), so each
 * header block is a whole number of DEFLATE blocks ending on a byte boundary: `inflateBlocks`
 * decodes exactly that and keeps the last 32 KiB (initially the preset dictionary) for the next
 * block's back-references. Anything else — input ending inside a block, a back-reference before
 * the window, bad codes, over-subscribed or incomplete tables, output over the bound — throws.
 */
export class InflateError extends Error {}

const MAXBITS = 15;
const WINDOW = 32 * 1024;

interface Huffman {
  count: Uint16Array;
  symbol: Uint16Array;
}

const LBASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LEXT = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DBASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DEXT = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** Build a table; returns the number of unused codes (0 = complete, < 0 = over-subscribed). */
function construct(h: Huffman, lengths: ArrayLike<number>, offset: number, n: number): number {
  h.count.fill(0);
  for (let s = 0; s < n; s++) h.count[lengths[offset + s]!]!++;
  if (h.count[0] === n) return 0;
  let left = 1;
  for (let len = 1; len <= MAXBITS; len++) {
    left <<= 1;
    left -= h.count[len]!;
    if (left < 0) return left;
  }
  const offs = new Uint16Array(MAXBITS + 1);
  for (let len = 1; len < MAXBITS; len++) offs[len + 1] = offs[len]! + h.count[len]!;
  for (let s = 0; s < n; s++) {
    const l = lengths[offset + s]!;
    if (l !== 0) h.symbol[offs[l]!++] = s;
  }
  return left;
}

const table = (n: number): Huffman => ({ count: new Uint16Array(MAXBITS + 1), symbol: new Uint16Array(n) });

const FIXED = (() => {
  const lengths = new Uint8Array(288 + 30);
  lengths.fill(8, 0, 144);
  lengths.fill(9, 144, 256);
  lengths.fill(7, 256, 280);
  lengths.fill(8, 280, 288);
  lengths.fill(5, 288, 318);
  const len = table(288);
  const dist = table(30);
  construct(len, lengths, 0, 288);
  construct(dist, lengths, 288, 30);
  return { len, dist };
})();

class Decoder {
  pos = 0;
  private bitbuf = 0;
  private bitcnt = 0;
  /** The window, then this call's output: one buffer sized for the bound (no per-byte growth). */
  readonly buf: Uint8Array;
  len: number;
  readonly start: number;

  constructor(
    private readonly input: Uint8Array,
    window: Uint8Array,
    private readonly maxOutput: number,
  ) {
    this.buf = new Uint8Array(window.length + maxOutput);
    this.buf.set(window);
    this.start = window.length;
    this.len = window.length;
  }

  bits(need: number): number {
    let val = this.bitbuf;
    while (this.bitcnt < need) {
      if (this.pos >= this.input.length) throw new InflateError("the compressed header block ends inside a DEFLATE block (not flushed)");
      val |= this.input[this.pos++]! << this.bitcnt;
      this.bitcnt += 8;
    }
    this.bitbuf = val >>> need;
    this.bitcnt -= need;
    return val & ((1 << need) - 1);
  }

  /** After a block: nothing left over but padding bits of the last byte. */
  atEnd(): boolean {
    return this.pos >= this.input.length && this.bitcnt < 8;
  }

  private emit(byte: number): void {
    if (this.len - this.start >= this.maxOutput) throw new InflateError(`a header block inflates to more than ${this.maxOutput} bytes`);
    this.buf[this.len++] = byte;
  }

  stored(): void {
    this.bitbuf = 0;
    this.bitcnt = 0;
    if (this.pos + 4 > this.input.length) throw new InflateError("a stored block's length is cut off");
    const i = this.input;
    const len = i[this.pos]! | (i[this.pos + 1]! << 8);
    const nlen = i[this.pos + 2]! | (i[this.pos + 3]! << 8);
    this.pos += 4;
    if (len !== (~nlen & 0xffff)) throw new InflateError("a stored block's length does not match its complement");
    if (this.pos + len > i.length) throw new InflateError("a stored block is cut off");
    for (let k = 0; k < len; k++) this.emit(i[this.pos + k]!);
    this.pos += len;
  }

  private decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= MAXBITS; len++) {
      code |= this.bits(1);
      const count = h.count[len]!;
      if (code - count < first) return h.symbol[index + (code - first)]!;
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    throw new InflateError("an invalid Huffman code");
  }

  codes(len: Huffman, dist: Huffman): void {
    for (;;) {
      let sym = this.decode(len);
      if (sym < 256) {
        this.emit(sym);
        continue;
      }
      if (sym === 256) return;
      sym -= 257;
      if (sym >= 29) throw new InflateError("an invalid length symbol");
      const n = LBASE[sym]! + this.bits(LEXT[sym]!);
      const ds = this.decode(dist);
      if (ds >= 30) throw new InflateError("an invalid distance symbol");
      const d = DBASE[ds]! + this.bits(DEXT[ds]!);
      if (d > this.len || d > WINDOW) throw new InflateError("a back-reference before the start of the window");
      for (let k = 0; k < n; k++) this.emit(this.buf[this.len - d]!);
    }
  }

  dynamic(): void {
    const nlen = this.bits(5) + 257;
    const ndist = this.bits(5) + 1;
    const ncode = this.bits(4) + 4;
    if (nlen > 286 || ndist > 30) throw new InflateError("too many length or distance codes");
    const lengths = new Uint8Array(320);
    for (let k = 0; k < ncode; k++) lengths[ORDER[k]!] = this.bits(3);
    const lencode = table(288);
    const distcode = table(30);
    if (construct(lencode, lengths, 0, 19) !== 0) throw new InflateError("an incomplete code-length code");
    let index = 0;
    while (index < nlen + ndist) {
      let sym = this.decode(lencode);
      if (sym < 16) {
        lengths[index++] = sym;
        continue;
      }
      let value = 0;
      if (sym === 16) {
        if (index === 0) throw new InflateError("a repeat with no previous length");
        value = lengths[index - 1]!;
        sym = 3 + this.bits(2);
      } else if (sym === 17) sym = 3 + this.bits(3);
      else sym = 11 + this.bits(7);
      if (index + sym > nlen + ndist) throw new InflateError("too many code lengths");
      while (sym--) lengths[index++] = value;
    }
    if (lengths[256] === 0) throw new InflateError("no end-of-block code");
    let err = construct(lencode, lengths, 0, nlen);
    if (err < 0 || (err > 0 && nlen - lencode.count[0]! !== 1)) throw new InflateError("an incomplete literal/length code");
    err = construct(distcode, lengths, nlen, ndist);
    if (err < 0 || (err > 0 && ndist - distcode.count[0]! !== 1)) throw new InflateError("an incomplete distance code");
    this.codes(lencode, distcode);
  }
}

export interface InflateResult {
  /** The bytes these blocks decode to. */
  output: Uint8Array;
  /** The last 32 KiB of everything decoded so far (the dictionary first): the next call's window. */
  window: Uint8Array;
  /** A final block (BFINAL) was read: the stream has ended. */
  final: boolean;
}

/**
 * Decode `input` — whole DEFLATE blocks, ending on a byte boundary — against `window` (the
 * history: the preset dictionary, then earlier output). At most `maxOutput` bytes.
 */
export function inflateBlocks(input: Uint8Array, window: Uint8Array, maxOutput: number): InflateResult {
  const d = new Decoder(input, window.length > WINDOW ? window.subarray(window.length - WINDOW) : window, maxOutput);
  let final = false;
  do {
    final = d.bits(1) === 1;
    const type = d.bits(2);
    if (type === 0) d.stored();
    else if (type === 1) d.codes(FIXED.len, FIXED.dist);
    else if (type === 2) d.dynamic();
    else throw new InflateError("an invalid block type");
  } while (!final && !d.atEnd());
  if (!d.atEnd()) throw new InflateError("bytes after the final DEFLATE block");
  return { output: d.buf.slice(d.start, d.len), window: d.buf.slice(Math.max(0, d.len - WINDOW), d.len), final };
}
