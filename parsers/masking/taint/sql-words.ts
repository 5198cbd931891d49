/**
 * The words of a SQL string, as the taint analysis needs them: identifiers (unquoted ones folded
 * to lower case as PostgreSQL folds them, quoted ones exact), the punctuation that shapes a query
 * (parentheses, dots, commas, `*`, `;`), and — fail closed — the words inside every string
 * literal, dollar-quoted body and comment-free E'' string, because a DO block, EXECUTE or
 * query_to_xml() runs SQL that is only a string to the outer statement.
 *
 * Not a full PostgreSQL lexer: it only has to never miss a word. Where it cannot decide (a
 * Unicode identifier U&"…", an unterminated quote) it says so in `opaque`, and the
 * analysis then treats the statement as reading masked data.
 */

export interface SqlWord {
  /** Identifier text (folded unless quoted), the punctuation character, or the number as written. */
  text: string;
  kind: "ident" | "quoted" | "punct" | "string-word" | "number";
  /** Parenthesis depth at the word. */
  depth: number;
}

export interface SqlWords {
  words: SqlWord[];
  /** Runs of operator characters outside strings and comments (`===`, `<->`, `||`), as written. */
  operators: string[];
  /** Something the lexer could not read with certainty (why), or null. */
  opaque: string | null;
}

const isIdentStart = (c: number) => (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 0x80;
const isIdentPart = (c: number) => isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
const IDENT_PART = { test: (ch: string) => isIdentPart(ch.charCodeAt(0)) };
const OP_CHARS = "~!@#^&|`?+-*/%<>=";
const WORD_IN_STRING = /[A-Za-z_][A-Za-z0-9_$]*/g;

export function sqlWords(sql: string, standardConformingStrings = true): SqlWords {
  const words: SqlWord[] = [];
  let opaque: string | null = null;
  let depth = 0;
  const n = sql.length;
  let i = 0;
  const operators: string[] = [];
  // the operator run being read (scan.l's {op_chars}+; a comment start ends it) and where it ends
  let run = "";
  let runEnd = -1;
  const stringWords = (body: string) => {
    // a body written as SQL may spell names with Unicode escapes (U&"\0065mail", or U&"!0065mail" UESCAPE '!')
    if (/[Uu]&["']/.test(body)) opaque ??= "Unicode escapes in a string body";
    for (const m of body.matchAll(WORD_IN_STRING)) words.push({ text: m[0].toLowerCase(), kind: "string-word", depth });
    // A string may hold SQL that quotes identifiers itself ("Email"): keep those exact too.
    for (const m of body.matchAll(/"((?:[^"]|"")+)"/g)) words.push({ text: m[1]!.replace(/""/g, '"'), kind: "string-word", depth });
  };
  while (i < n) {
    const c = sql[i]!;
    // comments
    if (c === "-" && sql[i + 1] === "-") {
      // scan.l: a -- comment ends at a newline, and a carriage return is a newline too
      i += 2;
      while (i < n && sql[i] !== "\n" && sql[i] !== "\r") i++;
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      let level = 1;
      i += 2;
      while (i < n && level > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") (level++, (i += 2));
        else if (sql[i] === "*" && sql[i + 1] === "/") (level--, (i += 2));
        else i++;
      }
      if (level > 0) opaque ??= "unterminated comment";
      continue;
    }
    // strings: '…', E'…', U&'…', B'…', X'…', N'…'
    const prefix = c !== "'" && (sql[i + 1] === "'" || sql[i + 1] === "&") ? /^(?:[EeBbXxNn]|[Uu]&)'/.exec(sql.slice(i, i + 3)) : null;
    if (c === "'" || (prefix && !(i > 0 && IDENT_PART.test(sql[i - 1]!)))) {
      const escapes = prefix ? /^[Ee]/.test(prefix[0]) || !standardConformingStrings : !standardConformingStrings;
      let j = i + (prefix ? prefix[0].length : 1);
      let body = "";
      for (;;) {
        if (j >= n) {
          opaque ??= "unterminated string";
          break;
        }
        const d = sql[j]!;
        if (escapes && d === "\\") {
          body += sql.slice(j, j + 2);
          j += 2;
          continue;
        }
        if (d === "'") {
          if (sql[j + 1] === "'") {
            body += "'";
            j += 2;
            continue;
          }
          j++;
          break;
        }
        body += d;
        j++;
      }
      if (escapes && /\\[0-7xuU]/.test(body)) opaque ??= "escaped characters in a string";
      if (prefix && /^[Uu]/.test(prefix[0]) && body.includes("\\")) opaque ??= "Unicode escapes in a string";
      stringWords(body);
      i = j;
      continue;
    }
    // dollar quotes
    if (c === "$") {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 66));
      if (tag && !(i > 0 && IDENT_PART.test(sql[i - 1]!))) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        const body = sql.slice(i + tag[0].length, close < 0 ? n : close);
        if (close < 0) opaque ??= "unterminated dollar quote";
        stringWords(body);
        i = close < 0 ? n : close + tag[0].length;
        continue;
      }
    }
    // quoted identifiers (U&"…" may spell any name with escapes)
    if (c === '"' || ((c === "U" || c === "u") && sql[i + 1] === "&" && sql[i + 2] === '"')) {
      const unicode = c !== '"';
      let j = i + (unicode ? 3 : 1);
      let text = "";
      for (;;) {
        if (j >= n) {
          opaque ??= "unterminated quoted identifier";
          break;
        }
        if (sql[j] === '"') {
          if (sql[j + 1] === '"') {
            text += '"';
            j += 2;
            continue;
          }
          j++;
          break;
        }
        text += sql[j];
        j++;
      }
      // any U&"…": a UESCAPE clause after it may make any character the escape (U&"!0065mail" UESCAPE '!')
      if (unicode) opaque ??= "Unicode identifier";
      words.push({ text, kind: "quoted", depth });
      // Either spelling may name the object: a quoted lower-case name equals the unquoted one.
      i = j;
      continue;
    }
    if (isIdentStart(sql.charCodeAt(i))) {
      let j = i + 1;
      while (j < n && isIdentPart(sql.charCodeAt(j))) j++;
      words.push({ text: sql.slice(i, j).toLowerCase(), kind: "ident", depth });
      i = j;
      continue;
    }
    if (c >= "0" && c <= "9") {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z_.]/.test(sql[j]!)) j++;
      words.push({ text: sql.slice(i, j), kind: "number", depth });
      i = j;
      continue;
    }
    if (c === "(") {
      words.push({ text: c, kind: "punct", depth });
      depth++;
    } else if (c === ")") {
      depth = Math.max(0, depth - 1);
      words.push({ text: c, kind: "punct", depth });
    } else if (c === "." || c === "," || c === "*" || c === ";" || c === "[") {
      words.push({ text: c, kind: "punct", depth });
    }
    if (OP_CHARS.includes(c)) {
      if (runEnd !== i && run) operators.push(run);
      run = runEnd === i ? run + c : c;
      runEnd = i + 1;
    }
    i++;
  }
  if (run) operators.push(run);
  return { words, operators, opaque };
}
