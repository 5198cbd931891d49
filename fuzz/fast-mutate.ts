/**
 * The long run's input generator (worker.ts): the same input shapes as mutate.ts — random bytes or
 * text, seeds with 1–8 mutations (bit flips, interesting bytes, truncation, splices, int16/int32
 * length edits, repeats, insertions, deletions), seeds as they are — drawn from a small seeded PRNG
 * and applied in place in one preallocated buffer. fast-check's per-input machinery (arbitraries,
 * shrink trees, one object per mutation) made generation cost as much as most codecs; shrinking
 * is only useful in the test (fuzz.test.ts keeps fast-check), a finding of the long run is saved
 * as its bytes and reproduced from them alone.
 *
 * `next()` returns a view into the generator's buffer: valid until the next call (the runner
 * checks each input completely before asking for the next, and copies an input it reports).
 */
import { INT16S, INT32S, INTERESTING_BYTES, TEXT_SPECIALS } from "./mutate.ts";

/** sfc32: fast, 128 bits of state, good enough statistics for choosing mutations. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, n) (n ≤ 2^32). */
  below(n: number): number {
    return n <= 1 ? 0 : Math.floor((this.u32() / 4294967296) * n);
  }
}

const TEXT_SPECIAL_BYTES = new TextEncoder().encode(TEXT_SPECIALS);

export class FastInputs {
  private readonly rng: Prng;
  /** Room for one input plus the longest single growth (a repeat: 64 × 64 bytes) before it is cut to maxBytes. */
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private len = 0;

  constructor(
    private readonly kind: "bytes" | "text",
    private readonly seeds: readonly Uint8Array[],
    private readonly maxBytes: number,
    seed: number,
  ) {
    this.rng = new Prng(seed);
    this.buf = new Uint8Array(maxBytes + 64 * 64 + 16);
    this.view = new DataView(this.buf.buffer);
  }

  /** The next input (a view, valid until the next call). Weights as inputArb: 6 mutated, 3 random, 1 seed as is. */
  next(): Uint8Array {
    const r = this.seeds.length === 0 ? 6 : this.rng.below(10);
    if (r < 6 && this.seeds.length > 0) this.mutated();
    else if (r < 9 || this.seeds.length === 0) this.random();
    else return this.seeds[this.rng.below(this.seeds.length)]!.subarray(0, this.maxBytes);
    return this.buf.subarray(0, this.len);
  }

  private random(): void {
    if (this.kind === "bytes") {
      const n = this.rng.below(Math.min(this.maxBytes, 512) + 1);
      // Four random bytes per PRNG step, then about one in four replaced by an interesting byte.
      for (let i = 0; i < n; i += 4) {
        const r = this.rng.u32();
        this.buf[i] = r;
        this.buf[i + 1] = r >>> 8;
        this.buf[i + 2] = r >>> 16;
        this.buf[i + 3] = r >>> 24;
      }
      for (let k = n >> 2; k > 0; k--) this.buf[this.rng.below(n)] = INTERESTING_BYTES[this.rng.below(INTERESTING_BYTES.length)]!;
      this.len = n;
      return;
    }
    // Text: up to 256 characters, each a shell/SQL special or any code point (UTF-8 encoded;
    // a lone surrogate as U+FFFD, as TextEncoder writes it).
    const chars = this.rng.below(257);
    let o = 0;
    for (let i = 0; i < chars && o + 4 <= this.maxBytes; i++) {
      if (this.rng.below(2) === 0) {
        this.buf[o++] = TEXT_SPECIAL_BYTES[this.rng.below(TEXT_SPECIAL_BYTES.length)]!;
        continue;
      }
      const range = this.rng.below(4);
      let cp = range === 0 ? this.rng.below(0x80) : range === 1 ? 0x80 + this.rng.below(0x780) : range === 2 ? 0x800 + this.rng.below(0xf800) : 0x10000 + this.rng.below(0x100000);
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      o = writeUtf8(this.buf, o, cp);
    }
    this.len = o;
  }

  private mutated(): void {
    const seed = this.seeds[this.rng.below(this.seeds.length)]!;
    const n0 = Math.min(seed.length, this.maxBytes);
    this.buf.set(seed.subarray(0, n0));
    this.len = n0;
    const count = 1 + this.rng.below(8);
    for (let i = 0; i < count; i++) {
      this.mutateOnce();
      if (this.len > this.maxBytes) this.len = this.maxBytes;
    }
  }

  private mutateOnce(): void {
    const rng = this.rng;
    const n = this.len;
    const buf = this.buf;
    switch (rng.below(9)) {
      case 0: // flip one bit
        if (n > 0) buf[rng.below(n)]! ^= 1 << rng.below(8);
        return;
      case 1: {
        const value = rng.below(2) === 0 ? INTERESTING_BYTES[rng.below(INTERESTING_BYTES.length)]! : rng.below(256);
        if (n === 0) {
          buf[0] = value;
          this.len = 1;
        } else buf[rng.below(n)] = value;
        return;
      }
      case 2: // truncate
        this.len = rng.below(n + 1);
        return;
      case 3: { // splice a piece of another seed in
        const other = this.seeds[rng.below(this.seeds.length)]!;
        const from = other.length === 0 ? 0 : rng.below(other.length);
        const at = rng.below(n + 1);
        const piece = other.subarray(from, from + Math.min(rng.below(513), buf.length - at));
        this.insertAt(at, piece.length);
        buf.set(piece, at);
        return;
      }
      case 4: { // an int32 length field: absolute edge value or ±8 of what is there
        if (n < 4) return;
        const at = rng.below(n - 3);
        const value = rng.below(2) === 0 ? INT32S[rng.below(INT32S.length)]! : rng.below(17) - 8;
        this.view.setUint32(at, (rng.below(2) === 0 ? this.view.getUint32(at) + value : value) >>> 0);
        return;
      }
      case 5: // an int16 length field
        if (n >= 2) this.view.setUint16(rng.below(n - 1), INT16S[rng.below(INT16S.length)]!);
        return;
      case 6: { // repeat a piece (1–64 bytes) 1–64 times right after itself
        if (n === 0) return;
        const from = rng.below(n);
        const len = Math.min(1 + rng.below(64), n - from);
        const times = 1 + rng.below(64);
        const room = Math.min(len * times, this.maxBytes + 1 - n);
        if (room <= 0) return;
        this.insertAt(from + len, room);
        for (let k = 0; k < room; k++) buf[from + len + k] = buf[from + (k % len)]!;
        return;
      }
      case 7: { // insert 1–16 random bytes
        const count = 1 + rng.below(16);
        const at = rng.below(n + 1);
        this.insertAt(at, count);
        for (let k = 0; k < count && at + k < buf.length; k++) buf[at + k] = rng.u32() & 255;
        return;
      }
      default: { // delete 1–32 bytes
        if (n === 0) return;
        const at = rng.below(n);
        const len = Math.min(1 + rng.below(32), n - at);
        buf.copyWithin(at, at + len, n);
        this.len = n - len;
      }
    }
  }

  /** Opens a gap of `count` bytes at `at` (what moves past the buffer's end is dropped). */
  private insertAt(at: number, count: number): void {
    const cap = this.buf.length;
    const newLen = Math.min(this.len + count, cap);
    if (at + count < cap) this.buf.copyWithin(at + count, at, newLen - count);
    this.len = newLen;
  }
}

function writeUtf8(b: Uint8Array, o: number, cp: number): number {
  if (cp < 0x80) b[o++] = cp;
  else if (cp < 0x800) {
    b[o++] = 0xc0 | (cp >> 6);
    b[o++] = 0x80 | (cp & 63);
  } else if (cp < 0x10000) {
    b[o++] = 0xe0 | (cp >> 12);
    b[o++] = 0x80 | ((cp >> 6) & 63);
    b[o++] = 0x80 | (cp & 63);
  } else {
    b[o++] = 0xf0 | (cp >> 18);
    b[o++] = 0x80 | ((cp >> 12) & 63);
    b[o++] = 0x80 | ((cp >> 6) & 63);
    b[o++] = 0x80 | (cp & 63);
  }
  return o;
}
