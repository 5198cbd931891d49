/**
 * What a terminal would show: output bytes without the escape sequences and control bytes that a
 * terminal does not print. A secret printed as `ghp_abc` ESC[0m `def…`, or with `\r`, a
 * backspace or a cursor movement between its pieces, is contiguous on screen but not in the
 * bytes; detectors run over this view as well, and each match found here is mapped back to the
 * raw bytes it came from (escapes inside it included) and masked there.
 *
 * Removed: CSI (ESC [ … final byte), OSC (ESC ] … BEL or ESC \), other ESC sequences (ESC,
 * intermediates 0x20–0x2F, one final byte) and C0 controls other than TAB and LF (so `\r` too).
 * Backspace (0x08) and DEL (0x7F, what a terminal sends for the backspace key) remove the
 * character before them, as line editing does. Not modelled: cursor positioning that reorders
 * text on screen (e.g. printing the end of a line first); see docs/MASKING.md.
 */

export interface TerminalView {
  /** The visible bytes. */
  bytes: Uint8Array;
  /** map[i] = index in the raw bytes of visible byte i. */
  map: Int32Array;
}

const ESC = 0x1b;

/** Whether the bytes hold anything the view would remove (else the view is the bytes themselves). */
export function hasTerminalControls(raw: Uint8Array): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if ((c < 0x20 && c !== 0x0a && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** `enterIsNewline`: for typed input, where `\r` is the Enter key (a line end), not a carriage return. */
export function terminalView(raw: Uint8Array, enterIsNewline = false): TerminalView {
  const bytes = new Uint8Array(raw.length);
  const map = new Int32Array(raw.length);
  let n = 0;
  let i = 0;
  while (i < raw.length) {
    const c = raw[i]!;
    if (c === ESC) {
      i = skipEscape(raw, i);
      continue;
    }
    if (c === 0x08 || c === 0x7f) {
      if (n > 0 && bytes[n - 1] !== 0x0a) n--;
      i++;
      continue;
    }
    if (c < 0x20 && c !== 0x0a && c !== 0x09 && !(enterIsNewline && c === 0x0d)) {
      i++;
      continue;
    }
    bytes[n] = c === 0x0d ? 0x0a : c;
    map[n] = i;
    n++;
    i++;
  }
  return { bytes: bytes.subarray(0, n), map: map.subarray(0, n) };
}

/** Index just past the escape sequence starting at i (the end of the bytes when it is incomplete). */
function skipEscape(raw: Uint8Array, i: number): number {
  let k = i + 1;
  if (k >= raw.length) return raw.length;
  const kind = raw[k]!;
  if (kind === 0x5b) {
    // CSI: parameter and intermediate bytes 0x20–0x3F, then one final byte 0x40–0x7E
    k++;
    while (k < raw.length && raw[k]! >= 0x20 && raw[k]! <= 0x3f) k++;
    return Math.min(raw.length, k + 1);
  }
  if (kind === 0x5d || kind === 0x50 || kind === 0x5f || kind === 0x5e) {
    // OSC / DCS / APC / PM: until BEL or ST (ESC \)
    k++;
    while (k < raw.length) {
      if (raw[k] === 0x07) return k + 1;
      if (raw[k] === ESC && raw[k + 1] === 0x5c) return k + 2;
      k++;
    }
    return raw.length;
  }
  while (k < raw.length && raw[k]! >= 0x20 && raw[k]! <= 0x2f) k++;
  return Math.min(raw.length, k + 1);
}
