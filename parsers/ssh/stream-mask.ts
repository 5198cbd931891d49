/**
 * Streaming masking for terminal/command output: the same detectors as SQL results run over a
 * text stream that arrives in arbitrary chunks, and a secret split across two chunks is still
 * masked.
 *
 * How: output is only released up to a *safe cut* — the last newline (detectors do not match
 * across lines), or, in a line longer than `maxHold`, the last blank before `maxHold` from the end;
 * the rest is carried over and masked together with what follows. A PEM block
 * (`-----BEGIN … PRIVATE KEY-----`) is held until its END line (bounded by `maxPemHold`). The
 * caller flushes the carry when the stream pauses (an interactive prompt has no newline) and at
 * end of stream, so interactivity costs at most the idle delay.
 */

export interface TextMaskFunction {
  (text: string): string;
}

export interface StreamingMaskerOptions {
  /** Longest carry without a newline (default 4096 characters). */
  maxHold?: number;
  /** Longest PEM block held waiting for its END line (default 16384 characters). */
  maxPemHold?: number;
}

const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/g;
const PEM_END = /-----END [A-Z0-9 ]*PRIVATE KEY-----/;

export class StreamingMasker {
  private carry = "";
  private readonly maxHold: number;
  private readonly maxPemHold: number;

  constructor(
    private readonly mask: TextMaskFunction,
    opts: StreamingMaskerOptions = {},
  ) {
    this.maxHold = opts.maxHold ?? 4096;
    this.maxPemHold = opts.maxPemHold ?? 16384;
  }

  /** Whether text is being held back (the caller arms its idle flush timer). */
  get pending(): boolean {
    return this.carry.length > 0;
  }

  /** Add a chunk; returns the masked text that may be released now. */
  push(text: string): string {
    const buf = this.carry + text;
    const cut = this.safeCut(buf);
    this.carry = buf.slice(cut);
    return cut > 0 ? this.mask(buf.slice(0, cut)) : "";
  }

  /** Release everything held (stream idle or ended). */
  flush(): string {
    const rest = this.carry;
    this.carry = "";
    return rest.length > 0 ? this.mask(rest) : "";
  }

  private safeCut(buf: string): number {
    // An open PEM block: hold from its BEGIN (bounded), so the whole block is masked at once.
    let openPem = -1;
    PEM_BEGIN.lastIndex = 0;
    for (let m = PEM_BEGIN.exec(buf); m; m = PEM_BEGIN.exec(buf)) {
      openPem = PEM_END.test(buf.slice(m.index)) ? -1 : m.index;
    }
    let limit = buf.length;
    if (openPem >= 0 && buf.length - openPem <= this.maxPemHold) limit = openPem;
    const nl = buf.lastIndexOf("\n", limit - 1);
    if (limit < buf.length) return nl >= 0 && nl < limit ? nl + 1 : limit === openPem ? this.lineStart(buf, openPem) : 0;
    if (nl >= 0 && buf.length - (nl + 1) <= this.maxHold) return nl + 1;
    if (buf.length - (nl + 1) <= this.maxHold) return 0;
    // A very long line: cut at a blank well before the end, else hard at maxHold from the end.
    const hardCut = buf.length - this.maxHold;
    const blank = Math.max(buf.lastIndexOf(" ", hardCut), buf.lastIndexOf("\t", hardCut));
    return blank > nl ? blank + 1 : hardCut;
  }

  private lineStart(buf: string, index: number): number {
    const nl = buf.lastIndexOf("\n", index - 1);
    return nl + 1;
  }
}
