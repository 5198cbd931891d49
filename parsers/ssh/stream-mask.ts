/**
 * Streaming masking for terminal/command output: the same detectors as SQL results run over a
 * byte stream that arrives in arbitrary chunks, and a secret split across two chunks is still
 * masked.
 *
 * Works on bytes, not decoded text: unmatched bytes pass through exactly (binary protocols spoken
 * over exec, such as rsync or tar, are not corrupted by a decode/encode round trip); only spans a
 * detector matches are rewritten.
 *
 * How: output is only released up to a *safe cut* — the last newline (detectors do not match
 * across lines; 0x0A never occurs inside a UTF-8 sequence), or, in a line longer than `maxHold`,
 * the last blank before `maxHold` from the end; the rest is carried over and masked together with
 * what follows. A PEM block (`-----BEGIN … PRIVATE KEY-----`) is held until its END line (bounded
 * by `maxPemHold`). The caller flushes the carry when the stream pauses (an interactive prompt
 * has no newline) and at end of stream, so interactivity costs at most the idle delay.
 */

export type ByteMaskFunction = (bytes: Uint8Array) => Uint8Array;

export interface StreamingMaskerOptions {
  /** Longest carry without a newline (default 4096 bytes). */
  maxHold?: number;
  /** Longest PEM block held waiting for its END line (default 16384 bytes). */
  maxPemHold?: number;
}

const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/g;
const PEM_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/;
const NL = 0x0a;
const EMPTY = new Uint8Array(0);
const latin1 = new TextDecoder("latin1");

export class StreamingMasker {
  private carry: Uint8Array = EMPTY;
  private readonly maxHold: number;
  private readonly maxPemHold: number;

  constructor(
    private readonly mask: ByteMaskFunction,
    opts: StreamingMaskerOptions = {},
  ) {
    this.maxHold = opts.maxHold ?? 4096;
    this.maxPemHold = opts.maxPemHold ?? 16384;
  }

  /** Whether bytes are being held back (the caller arms its idle flush timer). */
  get pending(): boolean {
    return this.carry.length > 0;
  }

  /** Add a chunk; returns the masked bytes that may be released now. */
  push(bytes: Uint8Array): Uint8Array {
    let buf: Uint8Array;
    if (this.carry.length === 0) buf = bytes;
    else {
      buf = new Uint8Array(this.carry.length + bytes.length);
      buf.set(this.carry);
      buf.set(bytes, this.carry.length);
    }
    const cut = this.safeCut(buf);
    this.carry = buf.slice(cut);
    return cut > 0 ? this.mask(buf.subarray(0, cut)) : EMPTY;
  }

  /** Release everything held (stream idle or ended). */
  flush(): Uint8Array {
    const rest = this.carry;
    this.carry = EMPTY;
    return rest.length > 0 ? this.mask(rest) : EMPTY;
  }

  private safeCut(buf: Uint8Array): number {
    // An open PEM block: hold from its BEGIN (bounded), so the whole block is masked at once.
    // latin1 maps bytes 1:1 to characters, so string offsets are byte offsets.
    let openPem = -1;
    if (buf.includes(0x2d /* '-' */)) {
      const text = latin1.decode(buf);
      PEM_BEGIN.lastIndex = 0;
      for (let m = PEM_BEGIN.exec(text); m; m = PEM_BEGIN.exec(text)) {
        openPem = PEM_END.test(text.slice(m.index)) ? -1 : m.index;
      }
    }
    let limit = buf.length;
    if (openPem >= 0 && buf.length - openPem <= this.maxPemHold) limit = openPem;
    const nl = buf.lastIndexOf(NL, limit - 1);
    if (limit < buf.length) return nl >= 0 && nl < limit ? nl + 1 : 0;
    if (nl >= 0 && buf.length - (nl + 1) <= this.maxHold) return nl + 1;
    if (buf.length - (nl + 1) <= this.maxHold) return 0;
    // A very long line: cut at a blank well before the end, else hard at maxHold from the end.
    const hardCut = buf.length - this.maxHold;
    const blank = Math.max(buf.lastIndexOf(0x20, hardCut), buf.lastIndexOf(0x09, hardCut));
    return blank > nl ? blank + 1 : hardCut;
  }
}
