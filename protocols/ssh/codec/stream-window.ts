/**
 * Masking one output stream (one SSH channel's stdout, or its stderr, or typed input) that arrives
 * in pieces, with any pause between them, so that a secret is masked however it is split.
 *
 * The rule: **a byte is released only once no later byte can make it part of a match.** After
 * each piece the window finds the earliest *viable tail* — a suffix that, from a token start, fits
 * the shape of some enabled detector or custom pattern to its very end without being finished
 * (protocols/ssh/codec/match-shapes.ts) — and holds it back; everything before it is settled and is
 * masked and released at once. There is no timer: a pause releases nothing that could still be
 * the start of a secret (`printf ghp_ab; sleep 60; printf cd…` is masked), and output that cannot
 * be one (a prompt ending in `$ `, a line end) is never delayed. The price is latency on a word
 * that stops at the end of a write with no byte after it (an interactive prompt ending in a
 * word, a typed word echoed by a pty): it shows when the next byte arrives or the stream ends.
 *
 * Detectors see, besides the held bytes, the last `lookBehind` released bytes (token starts and
 * the context word of aws_secret_key), the *terminal view* (protocols/ssh/codec/terminal-view.ts), so
 * escape sequences, `\r` or backspaces inside a secret do not hide it, and the reversed lines and
 * decoded base64/hex runs (protocols/ssh/codec/encoded-views.ts). A PEM private key block
 * is held from its BEGIN line until its END line; a block longer than `maxPemHold` is released
 * with every line up to its END masked.
 *
 * Memory per stream is bounded: the held tail is at most `maxTail` bytes (a longer run is settled
 * by definition: no secret shape is that long but the unbounded ones, which are then masked as
 * far as they go), a PEM hold at most `maxPemHold`, plus `lookBehind`, plus the piece being added.
 *
 * `sameLength` replaces each match by as many `*` bytes as it has (SFTP file contents and file
 * transfer protocols over exec, whose framing counts bytes); otherwise the rule's style is used.
 */
import type { TextSpan } from "../../../wasm/loader/mask.ts";
import { viableTailStart, type Shape } from "./match-shapes.ts";
import { concat as concatParts } from "../../postgres/codec/codec.ts";
import { rawRange, terminalViews, type TerminalView } from "./terminal-view.ts";
import { encodedMatches, heldRunStart, reversedMatches, type SpanScanner } from "./encoded-views.ts";

export type { SpanScanner } from "./encoded-views.ts";

export interface StreamWindowOptions {
  shapes: readonly Shape[];
  sameLength?: boolean;
  /** Longest viable tail held back (default 16 KiB: long JWTs fit). */
  maxTail?: number;
  /** Longest PEM private key block held until its END line (default 65536 bytes). */
  maxPemHold?: number;
  /** Released bytes kept as detector context (default 128). */
  lookBehind?: number;
  /** Typed input: `\r` (Enter) ends a line in the terminal view. */
  input?: boolean;
  /**
   * false: release every write at once, masked with the look-back of the previous ones (for
   * request/response protocols whose output carries no host content; see transfer-mode.ts). A
   * secret split across two writes then has its first part released. Default true.
   */
  hold?: boolean;
}

export interface Match {
  start: number;
  end: number;
  rule: number;
  replacement: Uint8Array;
}

const EMPTY: Uint8Array = new Uint8Array(0);
const STAR = 0x2a;
const latin1 = new TextDecoder("latin1");
const PEM_BEGIN = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----/g;
const PEM_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----/;

export class StreamWindow {
  private ctx: Uint8Array = EMPTY;
  private held: Uint8Array = EMPTY;
  /** Inside a PEM block released before its END line: every line up to END is masked. */
  private pemOpen = false;
  private readonly maxTail: number;
  private readonly maxPemHold: number;
  private readonly lookBehind: number;

  constructor(
    private readonly scanner: SpanScanner,
    private readonly opts: StreamWindowOptions,
  ) {
    this.maxTail = opts.maxTail ?? 16384;
    this.maxPemHold = opts.maxPemHold ?? 65536;
    this.lookBehind = opts.lookBehind ?? 128;
  }

  /** Bytes held back right now (the trail records typed input's as a placeholder count; tests, limits). */
  get heldBytes(): number {
    return this.held.length;
  }

  /** Add a piece; returns the masked bytes that may be released now (possibly none). */
  push(bytes: Uint8Array): Uint8Array {
    return this.release(concat(this.held, bytes), false);
  }

  /** The stream ended (EOF, exit, close): release everything held, masked. */
  end(): Uint8Array {
    return this.held.length > 0 ? this.release(this.held, true) : EMPTY;
  }

  private release(buf: Uint8Array, final: boolean): Uint8Array {
    let prefix: Uint8Array = EMPTY;
    if (this.pemOpen) {
      const inside = this.maskInsidePem(buf, final);
      if (inside.rest === null) return inside.masked;
      prefix = inside.masked;
      buf = inside.rest;
    }
    const text = concat(this.ctx, buf);
    const base = this.ctx.length;
    const views = terminalViews(text, this.opts.input);

    let cut = text.length;
    if (!final && this.opts.hold !== false) {
      cut = Math.max(base, viableRawStart(text, views, this.opts.shapes, this.maxTail));
      const pem = openPemStart(text, views);
      if (pem >= 0 && text.length - pem <= this.maxPemHold) cut = Math.min(cut, Math.max(base, pem));
      else if (pem >= 0) {
        // Too long to hold: the detector masks it to the end of what is here, and every line up
        // to its END line is masked as it comes.
        cut = text.length;
        this.pemOpen = true;
      }
    }
    const matches = findMatches(this.scanner, text, views);
    // Never cut inside a match: it is released whole once it is settled. One that began in bytes
    // already released (only after a forced release) is masked to its end now.
    for (const m of matches) {
      if (m.start < cut && m.end > cut) cut = m.start >= base ? m.start : m.end;
    }
    // Bounded memory: beyond the limit, what is held is released masked as it stands.
    if (text.length - cut > this.maxPemHold + this.maxTail) cut = text.length;

    const out: Uint8Array[] = [prefix];
    let pos = base;
    const released: TextSpan[] = [];
    for (const m of matches) {
      if (m.end <= base || m.start >= cut) continue;
      if (m.start > pos) out.push(text.subarray(pos, m.start));
      out.push(this.opts.sameLength ? stars(m.end - Math.max(m.start, base)) : m.replacement);
      released.push({ rule: m.rule, start: m.start, end: m.end, outStart: 0, outEnd: 0 });
      pos = m.end;
    }
    if (cut > pos) out.push(text.subarray(pos, cut));
    this.scanner.count(released);

    const settled = text.subarray(0, cut);
    this.ctx = this.pemOpen ? EMPTY : settled.slice(Math.max(0, settled.length - this.lookBehind));
    this.held = text.slice(cut);
    return concatAll(out);
  }

  /**
   * Inside a PEM block released before its END line: every byte up to the end of the END line
   * becomes `*` (line ends kept, so lengths are unchanged). The unfinished last line is held (it
   * may be the start of the END line), bounded by maxTail. `rest` is what follows the block, or
   * null while still inside it.
   */
  private maskInsidePem(buf: Uint8Array, final: boolean): { masked: Uint8Array; rest: Uint8Array | null } {
    const m = PEM_END.exec(latin1.decode(buf));
    let upTo: number;
    if (m) upTo = m.index + m[0].length;
    else if (final) upTo = buf.length;
    else {
      upTo = buf.lastIndexOf(0x0a) + 1;
      if (buf.length - upTo > this.maxTail) upTo = buf.length;
    }
    const masked = buf.slice(0, upTo);
    for (let k = 0; k < masked.length; k++) if (masked[k] !== 0x0a) masked[k] = STAR;
    if (!m && !final) {
      this.held = buf.slice(upTo);
      return { masked, rest: null };
    }
    this.pemOpen = false;
    this.ctx = EMPTY;
    return { masked, rest: buf.subarray(upTo) };
  }
}

/**
 * Where the viable tail of `text` starts (text.length: none): the earliest of the raw bytes', their
 * terminal view's and an unfinished base64/hex run's (encoded-views.ts).
 */
export function viableRawStart(text: Uint8Array, views: readonly TerminalView[], shapes: readonly Shape[], maxTail: number): number {
  let start = Math.min(viableTailStart(text, shapes, 0, maxTail), heldRunStart(text));
  for (const view of views) {
    const v = viableTailStart(view.bytes, shapes, 0, maxTail);
    if (v < view.map.length) start = Math.min(start, rawRange(view, v, view.map.length).start);
    // The cursor was moved back: the next bytes continue the line from there.
    if (view.cursor !== undefined) {
      const w = viableTailStart(view.bytes.subarray(0, view.cursor), shapes, 0, maxTail);
      if (w < view.cursor) start = Math.min(start, rawRange(view, w, view.map.length).start);
    }
  }
  return start;
}

/**
 * Matches in the raw bytes, in their terminal view, in every line reversed and in base64/hex runs
 * decoded (encoded-views.ts) — each mapped back to the raw bytes it covers (escapes inside
 * included) — merged where they overlap, in order.
 */
export function findMatches(scanner: SpanScanner, text: Uint8Array, views: readonly TerminalView[] = terminalViews(text)): Match[] {
  const found: Match[] = [];
  const raw = scanner.scanText(text);
  for (const s of raw.spans) found.push({ start: s.start, end: s.end, rule: s.rule, replacement: raw.output.subarray(s.outStart, s.outEnd) });
  found.push(...reversedMatches(scanner, text), ...encodedMatches(scanner, text));
  for (const view of views) {
    const seen = scanner.scanText(view.bytes);
    for (const s of seen.spans) {
      found.push({ ...rawRange(view, s.start, s.end), rule: s.rule, replacement: seen.output.subarray(s.outStart, s.outEnd) });
    }
  }
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Match[] = [];
  for (const m of found) {
    const last = merged[merged.length - 1];
    if (last && m.start < last.end) last.end = Math.max(last.end, m.end);
    else merged.push({ ...m });
  }
  return merged;
}

/** Raw index of the BEGIN line of a PEM private key block without its END line yet (-1: none), in the bytes or a view. */
function openPemStart(text: Uint8Array, views: readonly TerminalView[]): number {
  let open = openPemIn(text);
  for (const view of views) {
    const v = openPemIn(view.bytes);
    if (v >= 0) open = open < 0 ? rawRange(view, v, view.map.length).start : Math.min(open, rawRange(view, v, view.map.length).start);
  }
  return open;
}

function openPemIn(bytes: Uint8Array): number {
  if (!bytes.includes(0x2d)) return -1;
  const text = latin1.decode(bytes);
  let open = -1;
  PEM_BEGIN.lastIndex = 0;
  for (let m = PEM_BEGIN.exec(text); m; m = PEM_BEGIN.exec(text)) open = PEM_END.test(text.slice(m.index)) ? -1 : m.index;
  return open;
}

function stars(n: number): Uint8Array {
  return new Uint8Array(n).fill(STAR);
}

/** Two byte runs joined; an empty side costs no copy. */
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  return concatParts([a, b]);
}

/** One part is returned as it is (no copy); more are joined. */
function concatAll(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0]! : concatParts(parts);
}
