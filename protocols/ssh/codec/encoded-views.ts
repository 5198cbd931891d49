/**
 * Trivial encodings of a secret that a command can print without trying hard: each line reversed
 * (`rev`), base64 (`base64`, wrapped at any width) and hex (`xxd -p`; dumps with offsets or
 * spaces such as `xxd` or `od` are not covered). The detectors run over these decoded views too,
 * and a match found in a view masks the raw bytes it was decoded from.
 *
 * Base64 and hex runs may be wrapped: a line end inside a run is skipped when the line before it
 * is at least MIN_RUN characters of the run's alphabet. Every alignment is tried (4 for base64,
 * 2 for hex), so a run that started long before the bytes being looked at is still decoded right.
 * A run that reaches the end of the bytes seen so far may still grow into an encoded secret: the
 * stream window holds its last RUN_HOLD bytes (heldRunStart) — more than any encoded secret, so
 * one that crosses the point where the run was released was seen whole before it.
 */

import type { TextScan, TextSpan } from "../../../wasm/loader/mask.ts";

/** The masker's span-reporting scan (wasm/loader/mask.ts `TextScanningMasker`). */
export interface SpanScanner {
  scanText(text: Uint8Array): TextScan;
  count(spans: readonly TextSpan[]): void;
}

export interface ViewSpan {
  /** Raw byte range the match was decoded from. */
  start: number;
  end: number;
  rule: number;
  replacement: Uint8Array;
}

type SpanScan = Pick<SpanScanner, "scanText">;

const MIN_RUN = 16;
/** Longest tail of an unfinished base64/hex run held back (an encoded secret is ≤ ~430 bytes). */
const RUN_HOLD = 1024;

const B64 = new Int16Array(256).fill(-1);
for (const [k, c] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].entries()) B64[c.charCodeAt(0)] = k;
B64["-".charCodeAt(0)] = 62; // base64url
B64["_".charCodeAt(0)] = 63;
const HEX = new Int16Array(256).fill(-1);
for (const [k, c] of [..."0123456789abcdef"].entries()) {
  HEX[c.charCodeAt(0)] = k;
  HEX[c.toUpperCase().charCodeAt(0)] = k;
}


/** Matches in every line reversed, mapped back to the raw bytes. */
export function reversedMatches(scanner: SpanScan, text: Uint8Array): ViewSpan[] {
  const rev = new Uint8Array(text.length);
  const lineStart = new Int32Array(text.length);
  let a = 0;
  for (let i = 0; i <= text.length; i++) {
    if (i === text.length || text[i] === 0x0a) {
      for (let k = a; k < i; k++) {
        rev[k] = text[a + i - 1 - k]!;
        lineStart[k] = a;
      }
      if (i < text.length) {
        rev[i] = 0x0a;
        lineStart[i] = i;
      }
      a = i + 1;
    }
  }
  const lineEnd = (k: number) => {
    let e = k;
    while (e < text.length && text[e] !== 0x0a) e++;
    return e;
  };
  const toRaw = (k: number) => (text[k] === 0x0a ? k : lineStart[k]! + lineEnd(k) - 1 - k);
  const scan = scanner.scanText(rev);
  return scan.spans.map((s) => {
    const x = toRaw(s.start);
    const y = toRaw(s.end - 1);
    return { start: Math.min(x, y), end: Math.max(x, y) + 1, rule: s.rule, replacement: scan.output.subarray(s.outStart, s.outEnd) };
  });
}

interface Run {
  /** The run's characters (line ends of wrapped runs removed). */
  chars: Uint8Array;
  /** Raw index of each character. */
  at: (k: number) => number;
}

/**
 * Runs of an alphabet (a 256-entry table, ≥ 0 = in it) at least MIN_RUN long; a line end inside
 * a run is skipped when the line before it is at least MIN_RUN characters of the run.
 */
function runs(text: Uint8Array, table: Int16Array): Run[] {
  const out: Run[] = [];
  let i = 0;
  while (i < text.length) {
    if (table[text[i]!]! < 0) {
      i++;
      continue;
    }
    const start = i;
    const pieces: Array<[number, number]> = [];
    for (;;) {
      const from = i;
      while (i < text.length && table[text[i]!]! >= 0) i++;
      pieces.push([from, i]);
      const nl = text[i] === 0x0d && text[i + 1] === 0x0a ? 2 : text[i] === 0x0a ? 1 : 0;
      if (nl === 0 || i - from < MIN_RUN || i + nl >= text.length || table[text[i + nl]!]! < 0) break;
      i += nl;
    }
    const length = pieces.reduce((n, [x, y]) => n + y - x, 0);
    if (length < MIN_RUN) continue;
    if (pieces.length === 1) {
      out.push({ chars: text.subarray(start, i), at: (k) => start + k });
      continue;
    }
    const chars = new Uint8Array(length);
    const at = new Int32Array(length);
    let n = 0;
    for (const [x, y] of pieces) {
      for (let k = x; k < y; k++) {
        chars[n] = text[k]!;
        at[n++] = k;
      }
    }
    out.push({ chars, at: (k) => at[k]! });
  }
  return out;
}

function decodeBase64(chars: Uint8Array, from: number) {
  const bytes = new Uint8Array(Math.floor(((chars.length - from) * 3) / 4) + 3);
  let n = 0;
  for (let k = from; k + 1 < chars.length; k += 4) {
    const q0 = B64[chars[k]!]!;
    const q1 = B64[chars[k + 1]!]!;
    const q2 = k + 2 < chars.length ? B64[chars[k + 2]!]! : -1;
    const q3 = k + 3 < chars.length ? B64[chars[k + 3]!]! : -1;
    bytes[n++] = (q0 << 2) | (q1 >> 4);
    if (q2 < 0) break;
    bytes[n++] = ((q1 & 15) << 4) | (q2 >> 2);
    if (q3 < 0) break;
    bytes[n++] = ((q2 & 3) << 6) | q3;
  }
  return { bytes: bytes.subarray(0, n), charOf: (b: number) => from + Math.floor(b / 3) * 4 };
}

function decodeHex(chars: Uint8Array, from: number) {
  const bytes = new Uint8Array(Math.floor((chars.length - from) / 2));
  let n = 0;
  for (let k = from; k + 1 < chars.length; k += 2) bytes[n++] = (HEX[chars[k]!]! << 4) | HEX[chars[k + 1]!]!;
  return { bytes: bytes.subarray(0, n), charOf: (b: number) => from + b * 2 };
}

interface Decoded {
  run: Run;
  width: number;
  bytes: Uint8Array;
  charOf: (byte: number) => number;
  /** Where its bytes start in the combined buffer. */
  at: number;
}

/**
 * Matches in the base64 and hex decodings of the runs in `text`, mapped back to the raw bytes.
 * All decodings (every run, every alignment) are scanned in one call, each on its own line.
 */
export function encodedMatches(scanner: SpanScan, text: Uint8Array): ViewSpan[] {
  const decoded: Decoded[] = [];
  let total = 0;
  const add = (run: Run, width: number, decode: typeof decodeBase64) => {
    for (let offset = 0; offset < width; offset++) {
      const { bytes, charOf } = decode(run.chars, offset);
      if (bytes.length < 8) continue;
      decoded.push({ run, width, bytes, charOf, at: total });
      total += bytes.length + 1;
    }
  };
  for (const run of runs(text, B64)) add(run, 4, decodeBase64);
  for (const run of runs(text, HEX)) add(run, 2, decodeHex);
  if (decoded.length === 0) return [];
  const combined = new Uint8Array(total).fill(0x0a);
  for (const d of decoded) combined.set(d.bytes, d.at);
  const scan = scanner.scanText(combined);
  const found: ViewSpan[] = [];
  let k = 0;
  for (const s of scan.spans) {
    while (k + 1 < decoded.length && decoded[k + 1]!.at <= s.start) k++;
    const d = decoded[k]!;
    const first = d.charOf(s.start - d.at);
    const last = Math.min(d.run.chars.length - 1, d.charOf(Math.min(s.end, d.at + d.bytes.length) - 1 - d.at) + d.width - 1);
    found.push({ start: d.run.at(first), end: d.run.at(last) + 1, rule: s.rule, replacement: scan.output.subarray(s.outStart, s.outEnd) });
  }
  return found;
}

/**
 * Where the held part of an unfinished base64/hex run at the end of `text` starts (its last
 * RUN_HOLD bytes), or text.length when the text does not end inside a run.
 */
export function heldRunStart(text: Uint8Array): number {
  let i = text.length;
  // '=' is padding: only at the very end of a run (it is not part of runs: decoding stops there).
  while (i > 0 && text[i - 1] === 0x3d) i--;
  while (i > 0) {
    const c = text[i - 1]!;
    if (B64[c]! >= 0) {
      i--;
      continue;
    }
    if (c !== 0x0a) break;
    // A line end after a long enough line of the alphabet may be a wrap inside the run.
    let j = i - 1;
    if (j > 0 && text[j - 1] === 0x0d) j--;
    let before = 0;
    while (j - before > 0 && B64[text[j - before - 1]!]! >= 0) before++;
    if (before < MIN_RUN) break;
    i = j;
  }
  return i === text.length ? i : Math.max(i, text.length - RUN_HOLD);
}
