/**
 * What an approver is shown for a held statement. They approve exactly what they saw, so the
 * display may hide values but never structure:
 *
 *  - Masking applies to literal values only (quoted strings, dollar-quoted strings, numbers;
 *    a dollar-quoted body of code — `DO $$…$$`, `… AS $$…$$` — is shown as code, masked the same way):
 *    the SQL is lexed the way PostgreSQL lexes it (nested comments, E'' escapes,
 *    standard_conforming_strings, $tag$ quotes, "identifiers"), each literal's content goes
 *    through the session's masker on its own, and a masked literal keeps its delimiters (quotes
 *    and dollars inside a masked value are dropped, so it can never seem to end early). A
 *    detector can therefore never swallow keywords, identifiers, comments or a second statement.
 *    Text the lexer cannot finish (an unterminated literal or comment) is masked as one literal
 *    up to the end: PostgreSQL rejects such a statement anyway.
 *  - Nothing can hide text: every line break PostgreSQL recognises (\n, \r, \r\n — a `--`
 *    comment ends at either) becomes a real line break, so text after a comment is never shown
 *    as part of it; other control characters, Unicode bidirectional overrides, zero-width
 *    characters and line/paragraph separators are shown as visible `<U+XXXX>` marks.
 */

export interface DisplayOptions {
  standardConformingStrings: boolean;
  /** Masks literal values (the session masker's text entry point); identity when no rules apply. */
  maskValues?: (values: string[]) => string[];
}

interface Span {
  /** Content start/end (without delimiters). */
  start: number;
  end: number;
  kind: "quoted" | "dollar" | "number";
  /** A dollar-quoted body of code (`DO $$…$$`, `AS $$…$$`): shown as SQL, only its own literals masked. */
  code?: boolean;
}

const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";
const isIdentStart = (c: string | undefined) => c !== undefined && (/[A-Za-z_]/.test(c) || c.charCodeAt(0) >= 0x80);
const isIdentPart = (c: string | undefined) => c !== undefined && (/[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) >= 0x80);
const DOLLAR_TAG = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** Literal spans of `sql`, as PostgreSQL's lexer finds them. */
export function literalSpans(sql: string, standardConformingStrings: boolean): Span[] {
  const spans: Span[] = [];
  const n = sql.length;
  let i = 0;
  /** The last keyword or identifier (lower case) and the first word of the current statement. */
  let lastWord = "";
  let firstWord = "";
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === ";") {
      lastWord = firstWord = "";
      i++;
      continue;
    }
    if (c === "-" && next === "-") {
      while (i < n && sql[i] !== "\n" && sql[i] !== "\r") i++;
      continue;
    }
    if (c === "/" && next === "*") {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") (depth++, (i += 2));
        else if (sql[i] === "*" && sql[i + 1] === "/") (depth--, (i += 2));
        else i++;
      }
      continue;
    }
    if (c === '"') {
      i++;
      while (i < n) {
        if (sql[i] === '"' && sql[i + 1] === '"') i += 2;
        else if (sql[i] === '"') break;
        else i++;
      }
      i++;
      continue;
    }
    if (c === "'") {
      // E'…' (and e'…') always takes backslash escapes; plain '…' only with standard_conforming_strings off.
      const prefix = i > 0 ? sql[i - 1]! : "";
      const escapes = !standardConformingStrings || ((prefix === "E" || prefix === "e") && !isIdentPart(sql[i - 2]));
      const start = i + 1;
      let j = start;
      for (;;) {
        if (j >= n) break;
        if (escapes && sql[j] === "\\") j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      spans.push({ start, end: Math.min(j, n), kind: "quoted" });
      i = j + 1;
      continue;
    }
    if (c === "$") {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 256))?.[0];
      if (tag && !(i > 0 && isIdentPart(sql[i - 1]))) {
        const start = i + tag.length;
        const close = sql.indexOf(tag, start);
        const end = close < 0 ? n : close;
        const code = lastWord === "do" || lastWord === "as" || firstWord === "do";
        spans.push({ start, end, kind: "dollar", ...(code ? { code } : {}) });
        lastWord = "";
        i = close < 0 ? n : close + tag.length;
        continue;
      }
      i++;
      while (i < n && /[0-9]/.test(sql[i]!)) i++; // $1: a parameter, not a number
      continue;
    }
    if (isIdentStart(c)) {
      const start = i;
      while (i < n && isIdentPart(sql[i])) i++;
      lastWord = sql.slice(start, i).toLowerCase();
      firstWord ||= lastWord;
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(next ?? ""))) {
      const start = i;
      while (i < n && /[0-9A-Za-z_.]/.test(sql[i]!)) {
        if ((sql[i] === "e" || sql[i] === "E") && (sql[i + 1] === "+" || sql[i + 1] === "-")) i++;
        i++;
      }
      spans.push({ start, end: i, kind: "number" });
      continue;
    }
    if (isSpace(c)) {
      i++;
      continue;
    }
    i++;
  }
  return spans;
}

/** The statement as approvers see it: literal values masked, nothing hidden (see the file header). */
export function approvalDisplayText(sql: string, opts: DisplayOptions): string {
  const mask = opts.maskValues;
  if (!mask) return visibleText(sql);
  const spans = literalSpans(sql, opts.standardConformingStrings).filter((s) => s.end > s.start);
  const values = spans.filter((s) => !s.code);
  const maskedValues = mask(values.map((s) => sql.slice(s.start, s.end)));
  const masked = spans.map((s) =>
    // Code is structure: its own literals are masked, never the code around them.
    s.code ? maskCode(sql.slice(s.start, s.end), opts) : maskedValues[values.indexOf(s)],
  );
  let out = "";
  let at = 0;
  spans.forEach((s, k) => {
    const original = sql.slice(s.start, s.end);
    let value = masked[k] ?? original;
    if (value !== original) {
      // A masked value must never look like the end of its literal.
      if (s.kind === "quoted") value = value.replace(/['\\]/g, "");
      if (s.kind === "dollar" && !s.code) value = value.replace(/\$/g, "");
      if (s.kind === "number") value = `'${value.replace(/['\\]/g, "")}'`;
    }
    out += sql.slice(at, s.start) + value;
    at = s.end;
  });
  return visibleText(out + sql.slice(at));
}

/** A code body (PL/pgSQL, SQL function), masked like a statement: only its own literals. */
function maskCode(body: string, opts: DisplayOptions): string {
  return approvalDisplayText(body, opts);
}

/** A bound parameter value as approvers see it (masked like any literal value). */
export function parameterDisplay(value: string | null, mask?: (values: string[]) => string[]): string {
  if (value === null) return "NULL";
  const shown = mask ? (mask([value])[0] ?? value) : value;
  // One line per parameter: a line break inside a value is shown as a mark, so a value can never look like another parameter.
  return `'${visibleText(shown).replace(/\n/g, "<U+000A>").replace(/\t/g, "<U+0009>").replace(/'/g, "''")}'`;
}

/** Line breaks as PostgreSQL sees them; every other invisible or reordering character made visible. */
export function visibleText(text: string): string {
  return text
    .replace(/\r\n?/g, "\n")
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]/g, (ch) => `<U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}>`);
}

/**
 * What approvers see of any protocol's request (the shared approval hold): every invisible or
 * reordering character as a mark, as visibleText does. Only `\n` (and `\r\n`) is shown as a line
 * break here: a lone `\r` ends no MySQL comment nor shell word, so it is a mark too (PostgreSQL's
 * display has already made its own `\r` a line break).
 */
export function visibleRequestText(text: string): string {
  return visibleText(text.replace(/\r(?!\n)/g, "<U+000D>"));
}
