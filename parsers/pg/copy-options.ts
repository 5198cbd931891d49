/**
 * Reads the output format of a `COPY … TO STDOUT` statement, so the masker can find fields in
 * CopyData (CopyOutResponse only says text or binary). Handles both option syntaxes:
 *   COPY t (a, b) TO STDOUT WITH (FORMAT csv, DELIMITER ';', QUOTE '"', NULL 'x', HEADER)
 *   COPY t TO STDOUT CSV DELIMITER ';' NULL 'x' HEADER          (pre-9.0 syntax psql's \copy emits)
 * Anything it cannot read leaves the defaults, and the masker treats rows of unknown shape
 * conservatively (docs/MASKING.md).
 */
export interface CopyOutFormat {
  format: "text" | "csv" | "binary";
  delimiter?: string;
  quote?: string;
  escape?: string;
  null?: string;
  /** Column names when the statement lists them: `COPY t (a, b) TO …`. */
  columns?: string[];
  /** Table name of `COPY t …` (not of `COPY (query) …`). */
  table?: string;
  /**
   * A query with the same output columns, as written in the statement: the inner query of
   * `COPY (query) TO`, or `SELECT * FROM <table>` (or its column list) for `COPY table TO`.
   */
  shapeQuery?: string;
}

type Token = { kind: "word" | "string" | "ident" | "punct"; value: string; start: number; end: number };

function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (/\s/.test(c)) i++;
    else if (c === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i++;
    } else if (c === "/" && sql[i + 1] === "*") {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === "'" || ((c === "E" || c === "e") && sql[i + 1] === "'")) {
      const escapes = c !== "'";
      let j = escapes ? i + 2 : i + 1;
      let value = "";
      while (j < sql.length) {
        if (escapes && sql[j] === "\\" && j + 1 < sql.length) {
          const n = sql[j + 1]!;
          value += n === "t" ? "\t" : n === "n" ? "\n" : n === "r" ? "\r" : n;
          j += 2;
        } else if (sql[j] === "'" && sql[j + 1] === "'") {
          value += "'";
          j += 2;
        } else if (sql[j] === "'") break;
        else value += sql[j++];
      }
      out.push({ kind: "string", value, start: i, end: j + 1 });
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      let value = "";
      while (j < sql.length) {
        if (sql[j] === '"' && sql[j + 1] === '"') {
          value += '"';
          j += 2;
        } else if (sql[j] === '"') break;
        else value += sql[j++];
      }
      out.push({ kind: "ident", value, start: i, end: j + 1 });
      i = j + 1;
    } else if (/[A-Za-z0-9_$.]/.test(c)) {
      let j = i;
      while (j < sql.length && /[A-Za-z0-9_$.]/.test(sql[j]!)) j++;
      out.push({ kind: "word", value: sql.slice(i, j), start: i, end: j });
      i = j;
    } else {
      out.push({ kind: "punct", value: c, start: i, end: i + 1 });
      i++;
    }
  }
  return out;
}

const isWord = (t: Token | undefined, w: string) => t?.kind === "word" && t.value.toLowerCase() === w;
const name = (t: Token) => (t.kind === "ident" ? t.value : t.value.toLowerCase());

export function copyOutFormat(sql: string): CopyOutFormat {
  const tokens = tokenize(sql);
  const out: CopyOutFormat = { format: "text" };
  let i = 0;
  if (!isWord(tokens[i], "copy")) return out;
  i++;
  let shapeQuery: string | undefined;
  if (tokens[i]?.value === "(") {
    // COPY (query) TO …: the balanced query.
    const open = tokens[i]!;
    let depth = 0;
    for (; i < tokens.length; i++) {
      if (tokens[i]!.value === "(" && tokens[i]!.kind === "punct") depth++;
      else if (tokens[i]!.value === ")" && tokens[i]!.kind === "punct" && --depth === 0) {
        shapeQuery = sql.slice(open.end, tokens[i]!.start);
        i++;
        break;
      }
    }
  } else if (tokens[i]) {
    // The table as written, schema-qualified and quoted parts included (`"Sales".orders`).
    const first = tokens[i]!;
    let last = first;
    while (tokens[i + 1] && (tokens[i + 1]!.value === "." || last.value.endsWith(".") || (tokens[i + 1]!.kind === "ident" && last.value === "."))) last = tokens[++i]!;
    const tableText = sql.slice(first.start, last.end);
    out.table = last.kind === "ident" ? last.value : last.value.toLowerCase().split(".").pop();
    i++;
    let columnText = "*";
    if (tokens[i]?.value === "(" && tokens[i]!.kind === "punct") {
      const open = tokens[i]!;
      const columns: string[] = [];
      for (i++; i < tokens.length && tokens[i]!.value !== ")"; i++) if (tokens[i]!.kind !== "punct") columns.push(name(tokens[i]!));
      columnText = sql.slice(open.end, tokens[i]?.start ?? sql.length);
      i++;
      out.columns = columns;
    }
    shapeQuery = `SELECT ${columnText} FROM ${tableText}`;
  }
  while (i < tokens.length && !isWord(tokens[i], "stdout")) i++;
  i++;
  if (isWord(tokens[i], "with")) i++;
  const option = (key: string, value: Token | undefined) => {
    const v = value?.value;
    switch (key) {
      case "format":
        if (v && /^(csv|text|binary)$/i.test(v)) out.format = v.toLowerCase() as CopyOutFormat["format"];
        break;
      case "csv":
        out.format = "csv";
        break;
      case "binary":
        out.format = "binary";
        break;
      case "delimiter":
        if (v !== undefined) out.delimiter = v;
        break;
      case "quote":
        if (v !== undefined) out.quote = v;
        break;
      case "escape":
        if (v !== undefined) out.escape = v;
        break;
      case "null":
        if (v !== undefined) out.null = v;
        break;
    }
  };
  if (tokens[i]?.value === "(") {
    // New syntax: (name value, …)
    for (i++; i < tokens.length && tokens[i]!.value !== ")"; i++) {
      const key = tokens[i]!.value.toLowerCase();
      const next = tokens[i + 1];
      if (next && next.value !== "," && next.value !== ")") {
        option(key, next);
        i++;
      } else option(key, undefined);
      if (tokens[i + 1]?.value === ",") i++;
    }
  } else {
    // Old syntax: CSV, DELIMITER [AS] 'x', NULL [AS] 'x', QUOTE [AS] 'x', ESCAPE [AS] 'x', BINARY, HEADER
    for (; i < tokens.length; i++) {
      const key = tokens[i]!.value.toLowerCase();
      if (key === "csv" || key === "binary") option(key, undefined);
      else if (["delimiter", "null", "quote", "escape"].includes(key)) {
        let j = i + 1;
        if (isWord(tokens[j], "as")) j++;
        option(key, tokens[j]);
        i = j;
      }
    }
  }
  if (shapeQuery !== undefined && out.format !== "binary") out.shapeQuery = shapeQuery;
  if (shapeQuery !== undefined && out.format !== "binary") out.shapeQuery = shapeQuery;
  return out;
}
