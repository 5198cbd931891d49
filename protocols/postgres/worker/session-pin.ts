/**
 * Session pinning: the settings the gateway's decisions depend on are fixed for the whole session.
 * Every route a client can see to change one is refused (docs/SQL-CLASSIFIER.md, "Session state"):
 *
 *   SET / SET SESSION / SET LOCAL / RESET of a pinned name, SET NAMES, SET SCHEMA, RESET ALL,
 *   DISCARD ALL, SET ROLE, SET SESSION AUTHORIZATION, READ WRITE transaction modes (BEGIN,
 *   START TRANSACTION, SET TRANSACTION, SET SESSION CHARACTERISTICS), set_config() of a pinned
 *   name or of a name the gateway cannot read, any other mention of set_config, writes through
 *   the pg_settings view, and startup parameters that name a pinned setting or carry `options`.
 *
 * Lexing does not rely on this alone: classification is independent of standard_conforming_strings
 * (postgres-engine classifies under both values) and of the client encoding (client-encoding.ts).
 */
import type { ClassifiedStatement } from "../../../parsers/sql/types.ts";
import { callArguments, literalValue } from "../../../parsers/sql/function-actions.ts";
import { nextToken, skipSpaceAndComments } from "../../../parsers/sql/tokenizer.ts";
import { copyOutFormat, type CopyOutFormat } from "../codec/copy-options.ts";
import { isUnsafeEncoding } from "./client-encoding.ts";

/** Settings no statement may change (GUC names are case-insensitive). */
export const PINNED_SETTINGS: ReadonlySet<string> = new Set([
  "standard_conforming_strings", // lexing of '…' strings
  "backslash_quote", // lexing: whether \' is accepted
  "client_encoding", // how query bytes are read
  "search_path", // which function an unqualified name resolves to
  "role",
  "session_authorization",
  "default_transaction_read_only", // the connector's read-only wall
  "transaction_read_only",
  "session_replication_role", // disables triggers and rules
]);

/** The rule name recorded with a refusal by the pin. */
export const PIN_RULE = "gatehouse:session-pin";

/** Why the statements would change pinned session state, or null. `sql` is what was classified. */
export function pinViolation(sql: string, statements: readonly ClassifiedStatement[], scs: boolean): string | null {
  for (const stmt of statements) {
    const why = statementViolation(sql.slice(stmt.start, stmt.end));
    if (why) return why;
  }
  for (const stmt of statements) {
    if (stmt.command !== "COPY TO") continue;
    const why = copyEncodingViolation(copyOutFormat(sql.slice(stmt.start, stmt.end), { standardConformingStrings: scs }));
    if (why) return why;
  }
  const setConfig = setConfigViolation(sql, statements, scs);
  if (setConfig) return setConfig;
  // UPDATE pg_settings is SET by another name (the view's rule calls set_config), also inside dynamic SQL.
  const writesSettings = (s: ClassifiedStatement) => s.kind !== "read" || (s.parts ?? []).some((p) => p.kind !== "read" && !p.possible);
  if (statements.some((s) => writesSettings(s) && /pg_settings/i.test(sql.slice(s.start, s.end)))) {
    return "pg_settings may only be read: writing to it changes session settings";
  }
  return null;
}

/**
 * `COPY … TO STDOUT (ENCODING 'SJIS')` converts that COPY's output whatever client_encoding says.
 * In SJIS, BIG5, GBK, GB18030, UHC and JOHAB a character's second byte can be `\` (ソ is 0x83 0x5C),
 * which PostgreSQL does not escape: the masker would read it as an escape, join two fields and mask
 * every later field of the row by its neighbour's column rule. Refused like such a client_encoding;
 * an ENCODING option whose value is not read is refused too.
 */
function copyEncodingViolation(format: CopyOutFormat): string | null {
  if (format.encodingUnread) return "COPY … TO STDOUT with an ENCODING option the gateway cannot read is refused: the output's encoding decides how its fields are read";
  if (format.encoding !== undefined && isUnsafeEncoding(format.encoding)) {
    return `COPY … TO STDOUT ENCODING ${format.encoding} is refused: its multi-byte characters can contain ASCII bytes such as backslash, so the gateway could not read the COPY's fields exactly as the client does; use UTF8`;
  }
  return null;
}

/** Startup parameters a client may not send (they would set session state before any statement). */
export function startupViolation(parameters: Map<string, string>): string | null {
  for (const [name, value] of parameters) {
    const key = name.toLowerCase();
    if (key === "options" && value.trim() !== "") return "the startup parameter 'options' is refused: it would set session settings";
    if (key !== "client_encoding" && PINNED_SETTINGS.has(key)) return `the startup parameter '${name}' is refused: ${key} is pinned for the session`;
  }
  return null;
}

// ---------------------------------------------------------------- statements

type Token = { word: string } | { quoted: string } | { symbol: string };

/**
 * The statement's tokens, comments skipped (enough to read SET/RESET/BEGIN heads); null if
 * unreadable. Lexed by the one SQL tokenizer (parsers/sql/tokenizer.ts); values are not needed to
 * decide, so the tokens stop at the first string or dollar-quote (before lexing it: an unterminated
 * one still leaves the head readable).
 */
function tokens(text: string): Token[] | null {
  const out: Token[] = [];
  for (let i = 0; ; ) {
    const at = skipSpaceAndComments(text, i);
    if (at < 0) return null;
    if (at >= text.length) return out;
    const c = text[at]!;
    if (c === "'" || c === "$") {
      out.push({ symbol: c });
      return out;
    }
    if (/[EeBbXxNn]/.test(c) && text[at + 1] === "'") {
      out.push({ word: c.toLowerCase() }, { symbol: "'" });
      return out;
    }
    const t = nextToken(text, at, true);
    if (!t) return null;
    // U&"…" names and U&'…' strings are not read here: the caller refuses what it cannot read.
    if (t.value === "U&" || (t.kind === "word" && t.value.toLowerCase() === "u" && text[t.end] === "&")) return null;
    if (t.kind === "number") {
      // Numbers are never names: one symbol per digit or dot, so a word glued to a number
      // ("5read", "1.5begin") is still read as the word it is (as the server's lexer does).
      out.push({ symbol: c });
      i = at + 1;
      continue;
    }
    if (t.kind === "word") out.push({ word: t.value.toLowerCase() });
    else if (t.kind === "ident") out.push({ quoted: t.value });
    else out.push({ symbol: t.value });
    i = t.end;
  }
}

const word = (t: Token | undefined): string | null => (t && "word" in t ? t.word : null);

function nameOf(t: Token | undefined): string | null {
  if (!t) return null;
  if ("word" in t) return t.word;
  if ("quoted" in t) return t.quoted.toLowerCase(); // GUC names compare case-insensitively
  return null;
}

function hasReadWrite(ts: readonly Token[]): boolean {
  for (let i = 0; i + 1 < ts.length; i++) if (word(ts[i]) === "read" && word(ts[i + 1]) === "write") return true;
  return false;
}

const HEADS = new Set(["set", "reset", "discard", "begin", "start"]);

function statementViolation(text: string): string | null {
  const first = /^[A-Za-z]+/.exec(text)?.[0]?.toLowerCase();
  if (!first || !HEADS.has(first)) return null;
  const ts = tokens(text);
  if (!ts) return `a ${first.toUpperCase()} statement the gateway cannot read is refused while session settings are pinned`;
  const w1 = word(ts[1]);
  if (first === "begin" || first === "start") {
    return hasReadWrite(ts) ? "READ WRITE transactions are refused: the session's read-only mode is pinned" : null;
  }
  if (first === "discard") return w1 === "all" ? "DISCARD ALL is refused: it resets pinned session settings" : null;
  if (first === "reset") {
    if (w1 === "all") return "RESET ALL is refused: it resets pinned session settings";
    if (w1 === "session") return "RESET SESSION AUTHORIZATION is refused: the session's role is pinned";
    const name = ts.length === 2 ? nameOf(ts[1]) : dottedName(ts, 1);
    if (name === null) return "a RESET the gateway cannot read is refused while session settings are pinned";
    return PINNED_SETTINGS.has(name) ? `RESET ${name} is refused: ${name} is pinned for the session` : null;
  }
  // SET [SESSION | LOCAL] …
  let i = 1;
  if (w1 === "session" && word(ts[2]) === "characteristics") {
    return hasReadWrite(ts) ? "SET SESSION CHARACTERISTICS … READ WRITE is refused: the session's read-only mode is pinned" : null;
  }
  if (w1 === "session" && word(ts[2]) === "authorization") return "SET SESSION AUTHORIZATION is refused: the session's role is pinned";
  if (w1 === "session" || w1 === "local") i = 2;
  const head = word(ts[i]);
  if (head === "transaction") return hasReadWrite(ts) ? "SET TRANSACTION READ WRITE is refused: the session's read-only mode is pinned" : null;
  if (head === "role") return "SET ROLE is refused: the session's role is pinned";
  if (head === "names") return "SET NAMES is refused: client_encoding is pinned for the session";
  if (head === "schema") return "SET SCHEMA is refused: search_path is pinned for the session";
  if (head === "constraints" || (head === "time" && word(ts[i + 1]) === "zone") || head === "xml") return null;
  const name = dottedName(ts, i);
  if (name === null) return "a SET the gateway cannot read is refused while session settings are pinned";
  return PINNED_SETTINGS.has(name) ? `SET ${name} is refused: ${name} is pinned for the session` : null;
}

/** `name` or `a.b` at ts[i] (followed by `=`, TO, a value or the end); null when it is something else. */
function dottedName(ts: readonly Token[], i: number): string | null {
  let name = nameOf(ts[i]);
  if (name === null) return null;
  while (ts[i + 1] && "symbol" in ts[i + 1]! && (ts[i + 1] as { symbol: string }).symbol === ".") {
    const next = nameOf(ts[i + 2]);
    if (next === null) return null;
    name += "." + next;
    i += 2;
  }
  return name;
}

// ---------------------------------------------------------------- set_config

/**
 * set_config(name, value, is_local) may only name a setting that is not pinned, as one plain
 * literal. Every spelling of set_config in the text (in strings and comments too: SQL text can be
 * executed dynamically) must be such a checked call, or the query is refused.
 */
function setConfigViolation(sql: string, statements: readonly ClassifiedStatement[], scs: boolean): string | null {
  const mentions = (sql.match(/set_config/gi) ?? []).length;
  let checked = 0;
  for (const stmt of statements) {
    for (const call of stmt.calls ?? []) {
      if (call.name.toLowerCase() !== "set_config") continue;
      const args = callArguments(sql, call, scs);
      const name = args && args.length === 3 ? literalValue(args[0]!, scs) : null;
      if (name === null) return "set_config() is refused unless its first argument is a plain literal naming a setting that is not pinned";
      const key = name.trim().toLowerCase();
      if (PINNED_SETTINGS.has(key)) return `set_config('${key}', …) is refused: ${key} is pinned for the session`;
      if (!/^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)*$/.test(key)) return "set_config() is refused: its setting name is not a plain name";
      if (!call.quoted || sql.slice(call.start, call.end).toLowerCase() === "set_config") checked++;
    }
  }
  if (mentions > checked) return "set_config is mentioned where the gateway cannot check its arguments (in a string, a comment or dynamic SQL)";
  return null;
}
