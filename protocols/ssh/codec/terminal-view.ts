/**
 * What a terminal would show: output bytes without the escape sequences and control bytes that a
 * terminal does not print. A secret printed as `ghp_abc` ESC[0m `def…`, or with `\r`, a
 * backspace or a cursor movement between its pieces, is contiguous on screen but not in the
 * bytes; detectors run over this view as well, and each match found here is mapped back to the
 * raw bytes it came from (escapes inside it included) and masked there.
 *
 * Two views are scanned: the bytes with escapes and controls stripped (`\r` joins, backspace
 * erases: what a log viewer shows), and a small model of one terminal line: printable bytes land at the cursor (overwriting what is
 * there), `\r` returns to the start of the line, backspace and CSI `D` move the cursor back, CSI
 * `C` forward (past the end of the line: a gap), CSI `G` to a column; other escape sequences (CSI,
 * OSC … BEL or ESC \, ESC + intermediates + final) and other C0 controls print nothing. In typed
 * input, `\r` is Enter (a line end) and DEL erases the character before it. Not modelled: moving
 * to other lines (CSI A/B/H), insert/delete-character modes; what they could assemble on screen
 * from pieces that are not contiguous in the bytes is not found (docs/SSH.md).
 */

export interface TerminalView {
  /** The visible bytes. */
  bytes: Uint8Array;
  /** Where the next character would land, when that is not the end (the screen model after a cursor move back): what follows it may still be overwritten. */
  cursor?: number;
  /** map[i] = index in the raw bytes of visible byte i. */
  map: Int32Array;
}

const ESC = 0x1b;

/** Whether the bytes hold anything the view would remove (else the view is the bytes themselves). */
function hasTerminalControls(raw: Uint8Array): boolean {
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if ((c < 0x20 && c !== 0x0a && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/**
 * The bytes with every escape sequence and control byte other than TAB and LF removed (so `\r`
 * joins what it separates, as a log viewer that drops it would show it), backspace removing the
 * character before it (DEL too, in typed input).
 */
function strippedView(raw: Uint8Array, enterIsNewline: boolean): TerminalView {
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
    if (c === 0x08 || (c === 0x7f && enterIsNewline)) {
      if (n > 0 && bytes[n - 1] !== 0x0a) n--;
    } else if (c >= 0x20 && c !== 0x7f) {
      bytes[n] = c;
      map[n++] = i;
    } else if (c === 0x0a || c === 0x09 || (c === 0x0d && enterIsNewline)) {
      bytes[n] = c === 0x0d ? 0x0a : c;
      map[n++] = i;
    }
    i++;
  }
  return { bytes: bytes.subarray(0, n), map: map.subarray(0, n) };
}

/**
 * The views to scan besides the raw bytes: none when there is no control byte; else the stripped
 * view and the screen view (a line model with a cursor). `input`: typed input, where `\r` is
 * Enter (a line end) and DEL erases the character before it.
 */
export function terminalViews(raw: Uint8Array, input = false): TerminalView[] {
  return hasTerminalControls(raw) ? [strippedView(raw, input), screenView(raw, input)] : [];
}

/** `enterIsNewline`: for typed input, where `\r` is the Enter key (a line end), not a carriage return. */
/** What one terminal line would show (see the top of the file). */
function screenView(raw: Uint8Array, enterIsNewline: boolean): TerminalView {
  const bytes = new Uint8Array(raw.length);
  const map = new Int32Array(raw.length);
  let n = 0; // view length
  let cursor = 0; // where the next character lands (overwrites within the current line)
  let lineStart = 0;
  const put = (c: number, at: number) => {
    if (cursor < n) {
      bytes[cursor] = c;
      map[cursor] = at;
      cursor++;
      return;
    }
    if (n === raw.length) return; // only cursor-forward gaps could outgrow the raw bytes
    bytes[n] = c;
    map[n] = at;
    n++;
    cursor = n;
  };
  let i = 0;
  while (i < raw.length) {
    const c = raw[i]!;
    if (c === ESC) {
      const end = skipEscape(raw, i);
      if (raw[i + 1] === 0x5b && end <= raw.length) {
        const final = raw[end - 1]!;
        const count = Math.max(1, parseInt(String.fromCharCode(...raw.subarray(i + 2, end - 1)), 10) || 1);
        if (final === 0x44) cursor = Math.max(lineStart, cursor - count); // CUB: cursor back
        else if (final === 0x43) {
          // CUF: cursor forward; past the end of the line the screen shows a gap
          if (cursor + count <= n) cursor += count;
          else {
            cursor = n;
            put(0x20, i);
          }
        } else if (final === 0x47) cursor = Math.min(n, lineStart + count - 1); // CHA: to column
      }
      i = end;
      continue;
    }
    if (c === 0x0a || (c === 0x0d && enterIsNewline)) {
      cursor = n;
      put(0x0a, i);
      lineStart = n;
    } else if (c === 0x0d) cursor = lineStart;
    else if (c === 0x08) cursor = Math.max(lineStart, cursor - 1);
    else if (c === 0x7f) {
      // DEL: typed, it erases the character before (line editing); a terminal ignores it in output.
      if (enterIsNewline && n > lineStart && cursor === n) cursor = --n;
    } else if (c >= 0x20 || c === 0x09) put(c, i);
    i++;
  }
  return { bytes: bytes.subarray(0, n), map: map.subarray(0, n), ...(cursor < n ? { cursor } : {}) };
}

/** The raw range [start, end) that view bytes [from, to) came from (overwrites make the map non-monotonic). */
export function rawRange(view: TerminalView, from: number, to: number): { start: number; end: number } {
  let start = Number.MAX_SAFE_INTEGER;
  let end = -1;
  for (let k = from; k < to; k++) {
    start = Math.min(start, view.map[k]!);
    end = Math.max(end, view.map[k]! + 1);
  }
  return { start, end };
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
