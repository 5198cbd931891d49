/**
 * Reads the output format of a `COPY … TO STDOUT` statement, so the masker can find fields in
 * CopyData (CopyOutResponse only says text or binary). Handles both option syntaxes:
 *   COPY t (a, b) TO STDOUT WITH (FORMAT csv, DELIMITER ';', QUOTE '"', NULL 'x', HEADER)
 *   COPY t TO STDOUT CSV DELIMITER ';' NULL 'x' HEADER          (pre-9.0 syntax psql's \copy emits)
 * Anything it cannot read leaves the defaults, and the masker treats rows of unknown shape
 * conservatively (docs/MASKING.md).
 *
 * `header` is different: it lets the first CopyData row through unmasked, so it is only reported
 * when the whole statement was read exactly as PostgreSQL's grammar reads it (gram.y CopyStmt) —
 * lexing like the server (nested comments, dollar quotes, E'' strings, standard_conforming_strings),
 * option lists skipped whole (`FORCE QUOTE header` names a column, `NULL 'HEADER'` is a string),
 * no duplicate options, nothing left over. Any doubt means no header: the header line is then
 * masked like a row, which is safe.
 */
import type { CopyFormatOptions } from "../../../parsers/masking/config.ts";
import { tokenize, type Token } from "../../../parsers/sql/tokenizer.ts";
export interface CopyOutFormat extends Omit<CopyFormatOptions, "header"> {
  format: "text" | "csv" | "binary";
  // delimiter, quote, escape, null as written; columns only when the statement lists them
  // (`COPY t (a, b) TO …`); table only for `COPY t …`, not `COPY (query) …`.
  /**
   * A query with the same output columns, as written in the statement: the inner query of
   * `COPY (query) TO`, or `SELECT * FROM <table>` (or its column list) for `COPY table TO`.
   */
  shapeQuery?: string;
  /**
   * Where the output goes: `stdout` (to the client: `TO STDOUT`, or `TO STDIN`, which the grammar
   * treats alike), `elsewhere` (a file, a program, or a `COPY … FROM`), `unknown` (not read).
   */
  target: "stdout" | "elsewhere" | "unknown";
  /** The ENCODING option, when given (COPY converts its output to it, whatever client_encoding says). */
  encoding?: string;
  /** An ENCODING option is (or may be) there but its value was not read: the output encoding is unknown. */
  encodingUnread?: true;
  /**
   * HEADER is on for a text/CSV COPY to the client, and the statement was read with certainty
   * (and without an ENCODING option: the masker walks the header row byte-wise as ASCII-safe text).
   */
  header?: true;
}

export interface CopyOptionsContext {
  /** The session's standard_conforming_strings (default on). Off: backslashes escape inside '…'. */
  standardConformingStrings?: boolean;
}

const isWord = (t: Token | undefined, w: string) => t?.kind === "word" && t.value.toLowerCase() === w;
const isPunct = (t: Token | undefined, p: string) => t?.kind === "punct" && t.value === p;
/** An identifier as PostgreSQL stores it: unquoted words fold to lower case. */
const name = (t: Token) => (t.kind === "ident" ? t.value : t.value.toLowerCase());
const isName = (t: Token | undefined): t is Token => t?.kind === "word" || t?.kind === "ident";

/** HEADER's argument for COPY TO: on for none, 1, true, on (PostgreSQL's defGetBoolean). */
function headerOn(arg: Token | undefined): boolean {
  if (arg === undefined) return true;
  if (arg.kind === "number") return arg.value === "1";
  if (arg.kind === "word" || arg.kind === "string" || arg.kind === "ident") return /^(true|on)$/i.test(arg.value);
  return false; // MATCH (COPY FROM only), anything else: no header
}

export function copyOutFormat(sql: string, context: CopyOptionsContext = {}): CopyOutFormat {
  const out: CopyOutFormat = { format: "text", target: "unknown" };
  const tokens = tokenize(sql, context.standardConformingStrings !== false);
  if (!tokens) return out;
  let i = 0;
  let exact = true;
  let header = false;
  if (!isWord(tokens[i], "copy")) return out;
  i++;
  const seen = new Set<string>();
  const option = (key: string, arg: Token | undefined) => {
    if (seen.has(key)) exact = false; // PostgreSQL refuses redundant options
    seen.add(key);
    const v = arg?.value;
    switch (key) {
      case "format":
        if (v && /^(csv|text|binary)$/i.test(v)) out.format = v.toLowerCase() as CopyOutFormat["format"];
        else exact = false;
        break;
      case "header":
        header = headerOn(arg);
        break;
      case "encoding":
        // `(ENCODING 'SJIS')` and `(ENCODING sjis)` both name it (copy_generic_opt_arg)
        if (v !== undefined && (arg!.kind === "string" || arg!.kind === "word" || arg!.kind === "ident")) out.encoding = v;
        else out.encodingUnread = true;
        if (arg?.kind !== "string") exact = false;
        break;
      case "delimiter":
      case "quote":
      case "escape":
      case "null":
        if (v !== undefined && arg!.kind === "string") out[key] = v;
        else exact = false;
        break;
    }
  };
  const keyword = (value: string): Token => ({ kind: "word", value, start: 0, end: 0 });
  if (isWord(tokens[i], "binary")) {
    option("format", keyword("binary")); // COPY BINARY t TO … (old syntax)
    i++;
  }
  let shapeQuery: string | undefined;
  if (isPunct(tokens[i], "(")) {
    // COPY (query) TO …: the balanced query.
    const open = tokens[i]!;
    let depth = 0;
    for (; i < tokens.length; i++) {
      if (isPunct(tokens[i], "(")) depth++;
      else if (isPunct(tokens[i], ")") && --depth === 0) {
        shapeQuery = sql.slice(open.end, tokens[i]!.start);
        i++;
        break;
      }
    }
    if (depth !== 0) return out;
  } else if (isName(tokens[i])) {
    // The table as written, schema-qualified and quoted parts included (`"Sales".orders`).
    const first = tokens[i]!;
    let last = first;
    while (isPunct(tokens[i + 1], ".") && isName(tokens[i + 2])) {
      last = tokens[i + 2]!;
      i += 2;
    }
    i++;
    const tableText = sql.slice(first.start, last.end);
    out.table = name(last);
    let columnText = "*";
    if (isPunct(tokens[i], "(")) {
      // ( name [, name …] )
      const open = tokens[i]!;
      const columns: string[] = [];
      for (i++; ; i += 2) {
        if (!isName(tokens[i])) return out;
        columns.push(name(tokens[i]!));
        if (isPunct(tokens[i + 1], ")")) break;
        if (!isPunct(tokens[i + 1], ",")) return out;
      }
      i++;
      columnText = sql.slice(open.end, tokens[i]!.start);
      i++;
      out.columns = columns;
    }
    shapeQuery = `SELECT ${columnText} FROM ${tableText}`;
  } else return out;

  if (isWord(tokens[i], "from")) {
    out.target = "elsewhere";
    return out;
  }
  if (!isWord(tokens[i], "to")) return out;
  i++;
  if (isWord(tokens[i], "program") || tokens[i]?.kind === "string") {
    out.target = "elsewhere";
    return out;
  }
  // STDIN and STDOUT both mean "the client" in the grammar (copy_file_name).
  if (!isWord(tokens[i], "stdout") && !isWord(tokens[i], "stdin")) return out;
  out.target = "stdout";
  i++;
  // Fail closed on the output encoding: any ENCODING word among the options that the reading
  // below does not reach as the option (an option list it stops in) leaves it unread.
  const optionsFrom = i;

  // copy_delimiter: [USING] DELIMITERS 'x'
  if (isWord(tokens[i], "using") && isWord(tokens[i + 1], "delimiters")) i++;
  if (isWord(tokens[i], "delimiters")) {
    option("delimiter", tokens[i + 1]);
    i += 2;
  }
  if (isWord(tokens[i], "with")) i++;

  if (isPunct(tokens[i], "(")) {
    // New syntax: ( name [arg] [, …] ), arg = a word/string/number, a signed number, *, or a
    // parenthesised list (FORCE_QUOTE (a, header) — skipped whole).
    i++;
    for (;;) {
      const key = tokens[i];
      if (!isName(key)) {
        exact = false;
        break;
      }
      i++;
      let arg: Token | undefined;
      const t = tokens[i];
      if (isPunct(t, "(")) {
        for (i++; i < tokens.length && !isPunct(tokens[i], ")"); i++) {
          if (isPunct(tokens[i], "(")) exact = false;
        }
        i++;
        arg = { kind: "punct", value: "(list)", start: 0, end: 0 };
      } else if (isPunct(t, "+") || isPunct(t, "-")) {
        arg = { kind: "punct", value: "signed", start: 0, end: 0 };
        i += tokens[i + 1]?.kind === "number" ? 2 : 1;
      } else if (t && !isPunct(t, ",") && !isPunct(t, ")")) {
        arg = t;
        i++;
      }
      option(name(key), arg);
      if (isPunct(tokens[i], ",")) {
        i++;
        continue;
      }
      if (isPunct(tokens[i], ")")) i++;
      else exact = false;
      break;
    }
  } else {
    // Old syntax: BINARY | FREEZE | CSV | HEADER | DELIMITER [AS] 'x' | NULL [AS] 'x' | QUOTE [AS] 'x'
    // | ESCAPE [AS] 'x' | FORCE QUOTE cols|* | FORCE NOT NULL cols|* | FORCE NULL cols|* | ENCODING 'x'
    const columnList = () => {
      if (isPunct(tokens[i], "*")) {
        i++;
        return;
      }
      if (!isName(tokens[i])) {
        exact = false;
        return;
      }
      i++;
      while (isPunct(tokens[i], ",") && isName(tokens[i + 1])) i += 2;
    };
    while (exact && i < tokens.length) {
      const t = tokens[i]!;
      const key = t.kind === "word" ? t.value.toLowerCase() : "";
      i++;
      if (key === "binary" || key === "csv") option("format", keyword(key));
      else if (key === "header" || key === "freeze") option(key, undefined);
      else if (key === "delimiter" || key === "null" || key === "quote" || key === "escape") {
        if (isWord(tokens[i], "as")) i++;
        option(key, tokens[i]);
        i++;
      } else if (key === "encoding") {
        option(key, tokens[i]);
        i++;
      } else if (key === "force") {
        let which: string;
        if (isWord(tokens[i], "quote")) which = "force_quote";
        else if (isWord(tokens[i], "not") && isWord(tokens[i + 1], "null")) which = "force_not_null";
        else if (isWord(tokens[i], "null")) which = "force_null";
        else {
          exact = false;
          break;
        }
        i += which === "force_not_null" ? 2 : 1;
        option(which, undefined);
        columnList(); // FORCE QUOTE header: a column named header, not the HEADER option
      } else exact = false;
    }
  }
  if (i < tokens.length) exact = false; // something after the options we did not read
  if (out.target === "stdout" && out.encoding === undefined && tokens.slice(optionsFrom).some((t) => isWord(t, "encoding") || (t.kind === "ident" && t.value === "encoding"))) out.encodingUnread = true;
  if (shapeQuery !== undefined) out.shapeQuery = shapeQuery; // binary too: the probe gives the field types
  if (exact && header && out.format !== "binary" && out.encoding === undefined) out.header = true;
  return out;
}
