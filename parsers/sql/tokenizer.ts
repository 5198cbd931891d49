/**
 * THE SQL tokenizer of the TypeScript side (the WASM classifier has its own lexer in AssemblyScript):
 * PostgreSQL's scan.l as far as the TS readers need it — the COPY-options reader
 * (parsers/pg/copy-options.ts), the classifier's argument reader (parsers/sql/function-actions.ts) and
 * PostgreSQL's session pinning (protocols/postgres/worker/session-pin.ts).
 * Comments (nested block comments, -- to a newline or carriage return), '…' with '' (and backslash escapes
 * for E'…' or with standard_conforming_strings off), B/X/N prefixes, U&'…'/U&"…", "…" identifiers,
 * $tag$…$tag$, $n parameters, numbers, words. Whatever it cannot lex is null: callers fail closed.
 */

export type Token = { kind: "word" | "string" | "ident" | "number" | "punct"; value: string; start: number; end: number };

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v";
const identStart = (c: string | undefined) => c !== undefined && (/[A-Za-z_]/.test(c) || c.charCodeAt(0) >= 0x80);
const identPart = (c: string | undefined) => c !== undefined && (/[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) >= 0x80);

/** End of a `--` comment at i: scan.l ends it at a newline or a carriage return (a lone `\r` too). */
export function lineCommentEnd(sql: string, i: number): number {
  const end = sql.slice(i).search(/[\n\r]/);
  return end < 0 ? sql.length : i + end + 1;
}

/** Where the next token starts at or after i (whitespace and comments skipped), or -1 inside an unterminated comment. */
export function skipSpaceAndComments(sql: string, i: number): number {
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (isSpace(c)) i++;
    else if (c === "-" && sql[i + 1] === "-") i = lineCommentEnd(sql, i);
    else if (c === "/" && sql[i + 1] === "*") {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) return -1;
    } else return i;
  }
  return i;
}

/**
 * The token at or after `from`: undefined at the end of the text, null when the text cannot be
 * lexed (unterminated literal or comment, a lone `$`).
 */
export function nextToken(sql: string, from: number, scs: boolean): Token | null | undefined {
  const n = sql.length;
  const i = skipSpaceAndComments(sql, from);
  if (i < 0) return null;
  if (i >= n) return undefined;
  /** A '…' string from the opening quote at q; backslash escapes when `escapes`. */
  const quoted = (q: number, escapes: boolean): { value: string; end: number } | null => {
    let j = q + 1;
    let value = "";
    while (j < n) {
      const c = sql[j]!;
      if (escapes && c === "\\") {
        if (j + 1 >= n) return null;
        const e = sql[j + 1]!;
        value += e === "t" ? "\t" : e === "n" ? "\n" : e === "r" ? "\r" : e === "b" ? "\b" : e === "f" ? "\f" : e;
        j += 2;
      } else if (c === "'") {
        if (sql[j + 1] === "'") {
          value += "'";
          j += 2;
        } else return { value, end: j + 1 };
      } else {
        value += c;
        j++;
      }
    }
    return null; // unterminated
  };
  const c = sql[i]!;
  if (c === "'" || (/[EeBbXxNn]/.test(c) && sql[i + 1] === "'")) {
    const q = c === "'" ? i : i + 1;
    const s = quoted(q, c === "E" || c === "e" || !scs);
    return s ? { kind: "string", value: s.value, start: i, end: s.end } : null;
  }
  if ((c === "U" || c === "u") && sql[i + 1] === "&" && (sql[i + 2] === "'" || sql[i + 2] === '"')) {
    // Unicode-escape literals: their value is not decoded here, only where they end.
    const close = sql[i + 2]!;
    let j = i + 3;
    while (j < n && !(sql[j] === close && sql[j + 1] !== close)) j += sql[j] === close ? 2 : 1;
    if (j >= n) return null;
    return { kind: "punct", value: "U&", start: i, end: j + 1 };
  }
  if (c === '"') {
    let j = i + 1;
    let value = "";
    for (;;) {
      if (j >= n) return null;
      if (sql[j] === '"') {
        if (sql[j + 1] === '"') {
          value += '"';
          j += 2;
          continue;
        }
        break;
      }
      value += sql[j++];
    }
    return { kind: "ident", value, start: i, end: j + 1 };
  }
  if (c === "$") {
    // $tag$…$tag$ (a string), or $1 (a parameter).
    let j = i + 1;
    if (/[0-9]/.test(sql[j] ?? "")) {
      while (/[0-9]/.test(sql[j] ?? "")) j++;
      return { kind: "punct", value: sql.slice(i, j), start: i, end: j };
    }
    if (identStart(sql[j])) while (identPart(sql[j]) && sql[j] !== "$") j++;
    if (sql[j] !== "$") return null;
    const tag = sql.slice(i, j + 1);
    const close = sql.indexOf(tag, j + 1);
    if (close < 0) return null;
    return { kind: "string", value: sql.slice(j + 1, close), start: i, end: close + tag.length };
  }
  if (identStart(c)) {
    let j = i;
    while (identPart(sql[j])) j++;
    return { kind: "word", value: sql.slice(i, j), start: i, end: j };
  }
  if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(sql[i + 1] ?? ""))) {
    let j = i;
    while (/[0-9A-Za-z_.]/.test(sql[j] ?? "")) j++;
    return { kind: "number", value: sql.slice(i, j), start: i, end: j };
  }
  return { kind: "punct", value: c, start: i, end: i + 1 };
}

/** Every token of the text, or null when it cannot be lexed. */
export function tokenize(sql: string, scs: boolean): Token[] | null {
  const out: Token[] = [];
  for (let i = 0; ; ) {
    const t = nextToken(sql, i, scs);
    if (t === undefined) return out;
    if (t === null) return null;
    out.push(t);
    i = t.end;
  }
}
