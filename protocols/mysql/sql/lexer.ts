/**
 * MySQL/MariaDB lexer — the gateway's view of how the server splits a COM_QUERY text into
 * tokens. It must see exactly what the server sees, so it follows the server's lexer
 * (sql/sql_lex.cc) where the classifier depends on it, and gives up (`LexError`) wherever the
 * server's behaviour is odd or depends on state the lexer does not have; the classifier then
 * answers `unknown`, which policy refuses (fail closed).
 *
 *  - `#…` and `-- ` comments (`--` followed by whitespace/control or end of input; `1--1` is 1 - -1)
 *  - `/* … *\/` comments, not nested
 *  - version comments `/*!…*\/` (MySQL) and `/*M!…*\/` (MariaDB): their contents are *code* when the
 *    server would execute them (dialect.ts decides by version; 1–4 or 7+ digit versions, or a
 *    version glued to a word, are refused), otherwise skipped up to the first `*\/` (textually,
 *    as the server does). A comment opened inside a version comment is refused.
 *  - `'…'` strings, `"…"` strings (identifiers under ANSI_QUOTES), `` `…` `` identifiers; doubled
 *    quotes; `\` escapes unless NO_BACKSLASH_ESCAPES
 *  - `@var`, `@'var'`, `@@sys.var`, `?`, `:=`
 */
import type { Dialect } from "./dialect.ts";
import { versionCommentExecuted } from "./dialect.ts";

export type TokenType =
  | "word" // keyword or unquoted identifier (also numbers-glued-to-letters like 1abc, which MySQL allows)
  | "number"
  | "ident" // `quoted` (or "quoted" under ANSI_QUOTES); `value` is the unquoted name
  | "string" // '…' or "…"; `value` is the unescaped text
  | "variable" // @name / @@name
  | "param" // ?
  | "op" // operators and punctuation, one token per operator
  | "semicolon";

export interface Token {
  type: TokenType;
  /** Source text (upper-cased for words, for easy keyword checks). */
  text: string;
  /** Unquoted/unescaped value for ident/string/variable tokens; the original spelling for words. */
  value: string;
  start: number;
  end: number;
  /** True when the token came from inside an executed version comment. */
  versioned?: boolean;
}

export class LexError extends Error {
  constructor(readonly at: number, message: string) {
    super(message);
    this.name = "LexError";
  }
}

const WORD = /[A-Za-z0-9_$\u0080-\uffff]/;
const SPACE = /[\s\u0000-\u001f]/; // what makes `--` a comment: whitespace or a control character

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && WORD.test(c);
}

/** An optimizer hint comment `/*+ … *\/` (MySQL 8, MariaDB 12): a comment to the lexer, code to the server (hints.ts). */
export interface HintComment {
  start: number;
  /** What is between `/*+` and `*\/`. */
  text: string;
}

/** `hints`, when given, receives every `/*+ … *\/` comment (wherever it is: fail closed). */
export function lex(sql: string, dialect: Dialect, hints?: HintComment[]): Token[] {
  const out: Token[] = [];
  let i = 0;
  let inVersion = false; // inside an executed /*! … */
  const n = sql.length;
  const push = (t: Omit<Token, "versioned">) => out.push(inVersion ? { ...t, versioned: true } : t);

  const readQuoted = (q: string, start: number, backslash: boolean): { value: string; end: number } => {
    let v = "";
    let j = start + 1;
    for (;;) {
      if (j >= n) throw new LexError(start, `unterminated ${q} quote`);
      const c = sql[j];
      if (backslash && c === "\\") {
        if (j + 1 >= n) throw new LexError(start, `unterminated ${q} quote`);
        const e = sql[j + 1];
        v += ({ n: "\n", t: "\t", r: "\r", "0": "\0", b: "\b", Z: "\x1a" } as Record<string, string>)[e] ?? e;
        j += 2;
        continue;
      }
      if (c === q) {
        if (sql[j + 1] === q) {
          v += q;
          j += 2;
          continue;
        }
        return { value: v, end: j + 1 };
      }
      v += c;
      j++;
    }
  };

  while (i < n) {
    const c = sql[i];
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    // Comments and version comments.
    if (c === "#") {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (c === "-" && sql[i + 1] === "-" && (i + 2 >= n || SPACE.test(sql[i + 2]))) {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      if (inVersion) throw new LexError(i, "a comment inside a version comment");
      const mariadb = sql[i + 2] === "M" && sql[i + 3] === "!";
      const version = sql[i + 2] === "!" || mariadb;
      if (version) {
        let j = i + (mariadb ? 4 : 3);
        const d0 = j;
        while (j < n && sql[j] >= "0" && sql[j] <= "9") j++;
        const digits = sql.slice(d0, j);
        if (digits.length && isWordChar(sql[j])) throw new LexError(i, "a version comment whose version runs into a word");
        const run = versionCommentExecuted(dialect, mariadb, digits);
        if (run === "refuse") throw new LexError(i, `version comment /*${mariadb ? "M" : ""}!${digits}: the gateway cannot tell whether the server runs it`);
        if (run === "code") {
          inVersion = true;
          i = j;
          continue;
        }
      }
      const close = sql.indexOf("*/", i + 2);
      if (close < 0) throw new LexError(i, "unterminated comment");
      if (sql[i + 2] === "+") hints?.push({ start: i, text: sql.slice(i + 3, close) });
      i = close + 2;
      continue;
    }
    if (inVersion && c === "*" && sql[i + 1] === "/") {
      inVersion = false;
      i += 2;
      continue;
    }
    if (c === ";") {
      push({ type: "semicolon", text: ";", value: ";", start: i, end: i + 1 });
      i++;
      continue;
    }
    if (c === "'" || (c === '"' && !dialect.ansiQuotes)) {
      const { value, end } = readQuoted(c, i, !dialect.noBackslashEscapes);
      push({ type: "string", text: sql.slice(i, end), value, start: i, end });
      i = end;
      continue;
    }
    if (c === "`" || (c === '"' && dialect.ansiQuotes)) {
      const { value, end } = readQuoted(c, i, false);
      push({ type: "ident", text: sql.slice(i, end), value, start: i, end });
      i = end;
      continue;
    }
    if (c === "@") {
      let j = i + 1;
      if (sql[j] === "@") j++;
      const q = sql[j];
      if (q === "'" || q === '"' || q === "`") {
        const { value, end } = readQuoted(q, j, q !== "`" && !dialect.noBackslashEscapes);
        push({ type: "variable", text: sql.slice(i, end), value: sql.slice(i, j) + value, start: i, end });
        i = end;
        continue;
      }
      while (j < n && (isWordChar(sql[j]) || sql[j] === "." )) j++;
      push({ type: "variable", text: sql.slice(i, j).toUpperCase(), value: sql.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (c === "?") {
      push({ type: "param", text: "?", value: "?", start: i, end: i + 1 });
      i++;
      continue;
    }
    if (isWordChar(c) || (c === "." && sql[i + 1] >= "0" && sql[i + 1] <= "9" && !(out.length && out[out.length - 1].end === i && out[out.length - 1].type !== "op"))) {
      let j = i;
      while (j < n && isWordChar(sql[j])) j++;
      // Numbers: digits, optional fraction and exponent (1.5e-3); a word that starts with digits
      // but has letters (1abc, 0x1F, 1e5) is one word token either way.
      const word = sql.slice(i, j);
      if (/^[0-9]*$/.test(word) && (sql[j] === "." || /^[0-9]+$/.test(word))) {
        let k = j;
        if (sql[k] === "." ) {
          k++;
          while (k < n && sql[k] >= "0" && sql[k] <= "9") k++;
        }
        if ((sql[k] === "e" || sql[k] === "E") && /[-+0-9]/.test(sql[k + 1] ?? "")) {
          k += 2;
          while (k < n && sql[k] >= "0" && sql[k] <= "9") k++;
        }
        push({ type: "number", text: sql.slice(i, k), value: sql.slice(i, k), start: i, end: k });
        i = k;
        continue;
      }
      push({ type: "word", text: word.toUpperCase(), value: word, start: i, end: j });
      i = j;
      continue;
    }
    // Multi-character operators the classifier cares about.
    const three = sql.slice(i, i + 3);
    const two = sql.slice(i, i + 2);
    const op = three === "<=>" ? three : [":=", "<=", ">=", "<>", "!=", "||", "&&", "<<", ">>", "->"].includes(two) ? (two === "->" && sql[i + 2] === ">" ? "->>" : two) : c;
    push({ type: "op", text: op, value: op, start: i, end: i + op.length });
    i += op.length;
  }
  if (inVersion) throw new LexError(n, "unterminated version comment");
  return out;
}
