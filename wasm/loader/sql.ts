/**
 * JS side of the WASM SQL classifier (wasm/assembly/sql.ts). Runtime-neutral: the caller provides
 * the compiled WebAssembly.Module (the worker imports the .wasm file; Node uses loadWasmModule).
 *
 * Arena layout per call, above arenaBase(): [UTF-8 query | function list | statement rows | function rows].
 * The query is encoded straight into WASM memory (TextEncoder.encodeInto); the rows come back as
 * byte offsets, converted here to offsets into the JS string.
 */
import type { ClassifiedStatement, ClassifyOptions, FunctionCall, SqlClassifier, StatementFlag, StatementKind } from "../../parsers/sql/types.ts";
import { DEFAULT_DANGEROUS_FUNCTIONS } from "../../parsers/sql/dangerous-functions.ts";
import { CALL_CONTEXT_KEYWORDS, statementParts } from "../../parsers/sql/function-actions.ts";

interface SqlExports {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  arenaBase(): number;
  classify(
    input: number, len: number, list: number, listLen: number, options: number,
    out: number, outCap: number, fns: number, fnCap: number,
  ): number;
  kwLookup(ptr: number, len: number): number;
}

export class SqlClassifierError extends Error {
  override name = "SqlClassifierError";
}

/** Kind codes, in the order of wasm/assembly/sql/classify.ts KIND_*. */
export const KINDS: readonly StatementKind[] = [
  "read", "write", "ddl", "privilege", "procedural", "transaction", "session", "copy_external", "unknown",
];

/** Flag bits, in the order of classify.ts FLAG_*. */
export const FLAGS: readonly StatementFlag[] = [
  "no-where", "data-modifying-cte", "explain-analyze", "dangerous-function", "select-into", "locks",
];

/** Command codes, in the order of classify.ts CMD_*. CREATE/ALTER/DROP get the object appended. */
export const COMMANDS: readonly string[] = [
  "", "SELECT", "SELECT INTO", "INSERT", "UPDATE", "DELETE", "MERGE", "SHOW", "EXPLAIN", "COPY FROM", "COPY TO",
  "CREATE", "ALTER", "DROP", "CREATE TABLE AS", "TRUNCATE", "COMMENT", "REINDEX", "VACUUM", "ANALYZE", "CLUSTER",
  "REFRESH MATERIALIZED VIEW", "IMPORT FOREIGN SCHEMA", "LOCK TABLE", "GRANT", "REVOKE", "SET ROLE",
  "SET SESSION AUTHORIZATION", "SECURITY LABEL", "REASSIGN OWNED", "DROP OWNED", "DO", "CALL", "PREPARE", "EXECUTE",
  "LOAD", "BEGIN", "START TRANSACTION", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PREPARE TRANSACTION",
  "COMMIT PREPARED", "ROLLBACK PREPARED", "SET", "RESET", "DISCARD", "LISTEN", "UNLISTEN", "NOTIFY", "DEALLOCATE",
  "DECLARE CURSOR", "FETCH", "MOVE", "CLOSE", "CHECKPOINT", "SET TRANSACTION", "SET CONSTRAINTS",
];

/** Object codes, in the order of classify.ts OBJ_*. */
export const OBJECTS: readonly string[] = [
  "", "TABLE", "INDEX", "VIEW", "MATERIALIZED VIEW", "SEQUENCE", "SCHEMA", "FUNCTION", "PROCEDURE", "ROUTINE",
  "AGGREGATE", "TRIGGER", "EVENT TRIGGER", "TYPE", "DOMAIN", "EXTENSION", "DATABASE", "TABLESPACE", "ROLE", "USER",
  "GROUP", "USER MAPPING", "POLICY", "RULE", "SERVER", "FOREIGN TABLE", "FOREIGN DATA WRAPPER", "PUBLICATION",
  "SUBSCRIPTION", "COLLATION", "CONVERSION", "OPERATOR", "OPERATOR CLASS", "OPERATOR FAMILY", "CAST", "LANGUAGE",
  "TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE", "STATISTICS",
  "ACCESS METHOD", "TRANSFORM", "DEFAULT PRIVILEGES", "SYSTEM", "LARGE OBJECT",
];

const T_IDENT = 1;
const T_QIDENT = 2;
const T_OP = 11;
const T_LPAREN = 12;
const T_RPAREN = 13;
const T_LBRACKET = 14;
const T_COMMA = 17;
const T_DOT = 18;
/** Function-row type bits (classify.ts CALL_ROW): a call row, its qualifier code and UESCAPE character. */
const CALL_ROW = 1 << 24;
const CALLS_TRUNCATED_BIT = 64;
const QUALIFIERS: readonly FunctionCall["schema"][] = ["", "pg_catalog", "other"];
const STMT_ROW_INTS = 8;
const FN_ROW_INTS = 4;
const PAGE = 65536;
const FUNCTION_NAME = /^[a-z_][a-z0-9_$]*\*?$/;

/** The function list as the WASM side reads it: lower-case names separated by "\n". */
function encodeList(names: readonly string[]): Uint8Array {
  for (const name of names) {
    if (!FUNCTION_NAME.test(name)) throw new SqlClassifierError(`invalid dangerous function name: ${JSON.stringify(name)}`);
  }
  return new TextEncoder().encode(names.join("\n"));
}

/** UTF-8 byte offset -> UTF-16 offset, for a string that is not pure ASCII. */
function byteToUtf16Map(text: string, byteLength: number): Uint32Array {
  const map = new Uint32Array(byteLength + 1);
  let b = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    map[b] = i;
    if (c < 0x80) b += 1;
    else if (c < 0x800) b += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        b += 4;
        i++;
      } else {
        b += 3; // lone surrogate -> U+FFFD
      }
    } else b += 3;
  }
  map[b] = text.length;
  return map;
}

const ASCII_UPPER = /[A-Z]+/g;
/** An unquoted word at the start of a string (scan.l identifier characters). */
const WORD = /^[A-Za-z_\x80-\uffff][A-Za-z_0-9$\x80-\uffff]*/;

/**
 * The WebAssembly.Instance constructor, typed here: this file compiles under the worker's types
 * (which have the WebAssembly globals) and Node's (@types/node declares only the namespace).
 */
type InstanceCtor = new (module: WebAssembly.Module, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
const WasmInstance = (globalThis as unknown as { WebAssembly: { Instance: InstanceCtor } }).WebAssembly.Instance;

export function createSqlClassifier(module: WebAssembly.Module): SqlClassifier {
  const instance = new WasmInstance(module, {
    env: {
      abort: () => {
        throw new SqlClassifierError("wasm abort");
      },
    },
  });
  const wasm = instance.exports as unknown as SqlExports;
  const base = wasm.arenaBase();
  const encoder = new TextEncoder();
  let stmtCap = 256;
  let fnCap = 256;
  let lastNames: readonly string[] | undefined;
  let lastList: Uint8Array = new Uint8Array(0);

  function ensureMemory(end: number): void {
    const have = wasm.memory.buffer.byteLength;
    if (end > have) wasm.memory.grow(Math.ceil((end - have) / PAGE));
  }

  /** Statements with their calls; parts are added by classify (recursively, depth-limited, for SQL in literals). */
  function classifyStatements(sql: string, options: ClassifyOptions): ClassifiedStatement[] {
    if (typeof sql !== "string") throw new SqlClassifierError("sql must be a string");
    const names = options.dangerousFunctions ?? DEFAULT_DANGEROUS_FUNCTIONS;
    if (names !== lastNames) {
      lastList = encodeList(names);
      lastNames = names;
    }
    const scsOff = options.standardConformingStrings === false;
    const maxBytes = sql.length * 3;
    ensureMemory(base + maxBytes);
    const { written } = encoder.encodeInto(sql, new Uint8Array(wasm.memory.buffer, base, maxBytes));
    const listPtr = base + written;
    let count: number;
    let stmtPtr: number;
    let fnPtr: number;
    for (;;) {
      stmtPtr = (listPtr + lastList.length + 7) & ~7;
      fnPtr = stmtPtr + stmtCap * STMT_ROW_INTS * 4;
      ensureMemory(fnPtr + fnCap * FN_ROW_INTS * 4);
      new Uint8Array(wasm.memory.buffer, listPtr, lastList.length).set(lastList);
      count = wasm.classify(base, written, listPtr, lastList.length, scsOff ? 1 : 0, stmtPtr, stmtCap, fnPtr, fnCap);
      if (count === -1) stmtCap *= 4;
      else if (count === -2) fnCap *= 4;
      else break;
    }
    const rows = new Int32Array(wasm.memory.buffer, stmtPtr, count * STMT_ROW_INTS);
    const fnRows = new Int32Array(wasm.memory.buffer, fnPtr, fnCap * FN_ROW_INTS);
    const map = written === sql.length ? undefined : byteToUtf16Map(sql, written);
    const at = (byte: number): number => (map ? map[byte]! : byte);
    const result: ClassifiedStatement[] = new Array(count);
    for (let s = 0; s < count; s++) {
      const r = s * STMT_ROW_INTS;
      const cmd = rows[r + 1]!;
      const obj = rows[r + 2]!;
      const start = at(rows[r + 3]!);
      const end = at(rows[r + 4]!);
      const flagBits = rows[r + 5]!;
      const flags: StatementFlag[] = [];
      for (let b = 0; b < FLAGS.length; b++) if (flagBits & (1 << b)) flags.push(FLAGS[b]!);
      const functions: string[] = [];
      const calls: FunctionCall[] = [];
      const attributes: string[] = [];
      // Too many distinct calls to report them all: an unnamed call of another schema fails closed.
      if (flagBits & CALLS_TRUNCATED_BIT) calls.push({ name: "", quoted: true, schema: "other", start, end: start });
      for (let f = rows[r + 6]!, n = rows[r + 7]!; n > 0; f++, n--) {
        const fr = f * FN_ROW_INTS;
        const tag = fnRows[fr + 3]!;
        if (tag & CALL_ROW && ((tag >> 25) & 0x1f) === T_DOT && ((tag >> 8) & 0xff) === 0) {
          // attribute notation `x.f` (classify.ts recordAttribute); a U&"…" name the decoder rejects is ""
          const name = callOf(sql, at(fnRows[fr]!), at(fnRows[fr + 1]!), tag, "").name;
          if (!attributes.includes(name)) attributes.push(name);
          continue;
        }
        if (tag & CALL_ROW) {
          const prev = fnRows[fr + 2]!;
          calls.push(callOf(sql, at(fnRows[fr]!), at(fnRows[fr + 1]!), tag, prev < 0 ? "" : WORD.exec(sql.slice(at(prev), at(prev) + 64))?.[0] ?? ""));
          continue;
        }
        const type = tag;
        let name: string;
        if (type === T_IDENT) name = sql.slice(at(fnRows[fr]!), at(fnRows[fr + 1]!)).replace(ASCII_UPPER, (m) => m.toLowerCase());
        else if (type === T_QIDENT) name = sql.slice(at(fnRows[fr]!), at(fnRows[fr + 1]!)).replaceAll('""', '"');
        else name = names[fnRows[fr + 2]!]!; // U&"..." identifier: report the list entry it matched
        if (!functions.includes(name)) functions.push(name);
      }
      let command = COMMANDS[cmd] ?? "";
      if (obj > 0) command = `${command} ${OBJECTS[obj] ?? ""}`;
      if (command === "") command = firstWord(sql.slice(start, end));
      result[s] = { kind: KINDS[rows[r]!] ?? "unknown", command, start, end, flags, functions, calls, ...(attributes.length ? { attributes } : {}) };
    }
    return result;
  }

  function classify(sql: string, options: ClassifyOptions = {}): ClassifiedStatement[] {
    const result = classifyStatements(sql, options);
    const scs = options.standardConformingStrings !== false;
    const inner = (text: string) => classifyStatements(text, options);
    for (const stmt of result) stmt.parts = statementParts(stmt, sql, { standardConformingStrings: scs, userFunctions: options.userFunctions }, inner);
    return result;
  }

  return { classify };
}

/** A call row: the name as PostgreSQL resolves it (unquoted folded to lower case, U&"…" decoded). */
function callOf(sql: string, start: number, end: number, tag: number, prevWord: string): FunctionCall {
  const type = tag & 0xff;
  const schema = QUALIFIERS[(tag >> 8) & 0xff] ?? "other";
  const body = sql.slice(start, end);
  if (type === T_IDENT) return { name: body.replace(ASCII_UPPER, (m) => m.toLowerCase()), quoted: false, schema, start, end, after: tokenBefore((tag >> 25) & 0x1f, prevWord) };
  if (type === T_QIDENT) return { name: body.replaceAll('""', '"'), quoted: true, schema, start, end };
  const name = decodeUnicodeIdentifier(body, String.fromCharCode((tag >> 16) & 0xff));
  // An escape the decoder rejects is a syntax error in PostgreSQL; report an unknown name (fails closed).
  return { name: name ?? "", quoted: true, schema: name === null ? "other" : schema, start, end };
}

/** What precedes an unquoted call (FunctionCall.after), from the lexer's token type (lexer.ts T_*). */
function tokenBefore(type: number, prevWord: string): string {
  switch (type) {
    case 0: return ""; // the statement's start
    case T_IDENT: {
      const word = prevWord.replace(ASCII_UPPER, (m) => m.toLowerCase());
      return CALL_CONTEXT_KEYWORDS.includes(word) ? word : "word";
    }
    case T_OP: return "op";
    case T_LPAREN: return "(";
    case T_RPAREN: return ")";
    case T_LBRACKET: return "[";
    case T_COMMA: return ",";
    default: return "other";
  }
}

/** Decodes the body of U&"…" with escape character `esc` (\XXXX, \+XXXXXX, doubled esc, ""), or null. */
function decodeUnicodeIdentifier(body: string, esc: string): string | null {
  let out = "";
  for (let i = 0; i < body.length; ) {
    const c = body[i]!;
    if (c === '"') {
      out += '"';
      i += 2;
    } else if (c === esc) {
      if (body[i + 1] === esc) {
        out += esc;
        i += 2;
        continue;
      }
      const long = body[i + 1] === "+";
      const hex = body.slice(i + (long ? 2 : 1), i + (long ? 8 : 5));
      if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== (long ? 6 : 4)) return null;
      const cp = Number.parseInt(hex, 16);
      if (cp > 0x10ffff || cp === 0) return null;
      out += String.fromCodePoint(cp);
      i += long ? 8 : 5;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Command of an unrecognised statement: its first word, upper-cased (or "UNKNOWN"). */
function firstWord(text: string): string {
  const m = /^[A-Za-z_]+/.exec(text);
  return m ? m[0].toUpperCase() : "UNKNOWN";
}

/** Test hook: the keyword id the WASM side gives an identifier (0 = not a keyword). */
export function keywordIdForTest(module: WebAssembly.Module, word: string): number {
  const instance = new WasmInstance(module, { env: { abort: () => {} } });
  const wasm = instance.exports as unknown as SqlExports;
  const bytes = new TextEncoder().encode(word);
  const base = wasm.arenaBase();
  new Uint8Array(wasm.memory.buffer, base, bytes.length).set(bytes);
  return wasm.kwLookup(base, bytes.length);
}
