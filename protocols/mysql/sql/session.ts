/**
 * The pinned session state the MySQL classifier depends on (the same lesson as PostgreSQL's
 * standard_conforming_strings and client_encoding): the gateway's view of `sql_mode` and of the
 * client/results character sets must be exact, or statements are refused.
 *
 *  - At connect the engine reads the real values from the server (connector login) and starts
 *    from them; modes the lexer does not model (ORACLE, MSSQL, … which change the grammar) make
 *    the session refuse every statement.
 *  - Every OK/EOF carries SERVER_STATUS_NO_BACKSLASH_ESCAPES: `confirmStatus` checks it against
 *    the pinned view and the engine ends the session on a disagreement.
 *  - A statement that changes a pinned setting is allowed only when the change is exact: the only
 *    statement of its query, a literal value, and (for character sets) a UTF-8 one. The new value
 *    is applied when the server answers OK (`apply`), never before.
 *  - A statement that may change state invisibly (CALL, stored functions, dynamic SQL) marks the
 *    view unconfirmed: the engine re-reads the settings before the next statement.
 */
import type { Dialect } from "./dialect.ts";
import type { MysqlStatement, PinChange } from "./classify.ts";
import { SERVER_STATUS } from "../codec/constants.ts";

/** sql_mode flags the lexer models; every other *known* flag is lexically neutral. */
const LEXICAL_MODES = new Set(["ANSI_QUOTES", "NO_BACKSLASH_ESCAPES"]);
/** Flags (or combination modes) that change the grammar beyond what the classifier models. */
const UNSUPPORTED_MODES = new Set(["ORACLE", "MSSQL", "DB2", "MAXDB", "POSTGRESQL", "ANSI", "IGNORE_SPACE", "PIPES_AS_CONCAT", "EMPTY_STRING_IS_NULL", "SIMULTANEOUS_ASSIGNMENT", "TIME_ROUND_FRACTIONAL"]);
const NEUTRAL_MODES = new Set([
  "", "REAL_AS_FLOAT", "ONLY_FULL_GROUP_BY", "NO_UNSIGNED_SUBTRACTION", "NO_DIR_IN_CREATE", "NO_KEY_OPTIONS", "NO_TABLE_OPTIONS", "NO_FIELD_OPTIONS",
  "MYSQL323", "MYSQL40", "NO_AUTO_VALUE_ON_ZERO", "STRICT_TRANS_TABLES", "STRICT_ALL_TABLES", "NO_ZERO_IN_DATE", "NO_ZERO_DATE",
  "ALLOW_INVALID_DATES", "ERROR_FOR_DIVISION_BY_ZERO", "TRADITIONAL", "NO_AUTO_CREATE_USER", "HIGH_NOT_PRECEDENCE", "NO_ENGINE_SUBSTITUTION",
  "PAD_CHAR_TO_FULL_LENGTH", "NO_AUTO_CREATE_USER",
]);
/** Character sets whose bytes the gateway decodes exactly (UTF-8; utf8mb3 is a subset). */
const UTF8_CHARSETS = new Set(["utf8mb4", "utf8", "utf8mb3"]);

export interface PinnedState {
  sqlMode: string;
  charsetClient: string;
  charsetResults: string;
  charsetConnection: string;
}

export type ModeVerdict = { ok: true; ansiQuotes: boolean; noBackslashEscapes: boolean } | { ok: false; reason: string };

export function readSqlMode(mode: string): ModeVerdict {
  const flags = mode.toUpperCase().split(",").map((f) => f.trim());
  for (const f of flags) {
    if (UNSUPPORTED_MODES.has(f)) return { ok: false, reason: `sql_mode ${f} changes the SQL grammar; the gateway refuses it` };
    if (!LEXICAL_MODES.has(f) && !NEUTRAL_MODES.has(f)) return { ok: false, reason: `sql_mode flag ${f} is unknown to the gateway` };
  }
  return { ok: true, ansiQuotes: flags.includes("ANSI_QUOTES"), noBackslashEscapes: flags.includes("NO_BACKSLASH_ESCAPES") };
}

export function charsetOk(name: string | null): boolean {
  return name !== null && UTF8_CHARSETS.has(name.toLowerCase());
}

/** A statement that may change settings invisibly: CALL, stored functions, dynamic SQL, anything unclassified. */
function opaqueStatement(s: MysqlStatement): boolean {
  return s.kind === "procedural" || s.kind === "unknown" || (s.parts ?? []).some((p) => p.kind === "execute" || p.kind === "dynamic");
}

export class SessionPin {
  private state: PinnedState;
  private mode: { ansiQuotes: boolean; noBackslashEscapes: boolean };
  /** False after a statement that may have changed settings invisibly, until the engine re-reads them. */
  confirmed = true;

  constructor(private readonly server: Pick<Dialect, "flavor" | "version">, initial: PinnedState) {
    const v = readSqlMode(initial.sqlMode);
    if (!v.ok) throw new Error(v.reason);
    for (const cs of [initial.charsetClient, initial.charsetResults, initial.charsetConnection]) if (!charsetOk(cs)) throw new Error(`character set ${cs} is not one the gateway decodes exactly`);
    this.state = { ...initial };
    this.mode = v;
  }

  get dialect(): Dialect {
    return { ...this.server, ...this.mode };
  }

  get current(): Readonly<PinnedState> {
    return this.state;
  }

  /**
   * Whether a query with these statements may run as far as pinned state goes; null when fine,
   * else the refusal reason. Called before policy (a refused pin change is refused whatever the policy).
   */
  check(stmts: MysqlStatement[]): string | null {
    if (!this.confirmed) return "the session's settings are unconfirmed";
    // The re-read after opaque code runs before the client's next command, not between the
    // statements of one text: `EXECUTE IMMEDIATE 'SET sql_mode=…'; SELECT "…"` would be lexed with
    // the old mode, and `CALL p(); SELECT …` (p lifting max_statement_time) would run unbounded.
    // The pieces of one compound statement (`BEGIN NOT ATOMIC … END`, all `unknown`) are one statement to the server.
    const opaque = stmts.findIndex(opaqueStatement);
    if (opaque >= 0 && stmts.slice(opaque + 1).some((s) => s.kind !== "unknown")) return `${stmts[opaque]!.command} may change session settings the gateway cannot see: it must be the last statement of its query (the settings are re-read before anything else runs)`;
    const changes = stmts.flatMap((s) => s.pins ?? []);
    if (!changes.length) return null;
    if (stmts.length !== 1) return "a statement that changes sql_mode or a character set must be the only statement of its query";
    for (const c of changes) {
      const why = this.refuseChange(c);
      if (why) return why;
    }
    return null;
  }

  private refuseChange(c: PinChange): string | null {
    if (c.value === null) return `SET ${c.setting} to a value that is not a literal: the gateway cannot track it`;
    if (c.setting === "sql_mode") {
      if (c.value.toUpperCase() === "DEFAULT") return "SET sql_mode = DEFAULT: the gateway cannot know the server default";
      const v = readSqlMode(c.value);
      return v.ok ? null : v.reason;
    }
    return charsetOk(c.value) ? null : `character set ${c.value} is not one the gateway decodes exactly (use utf8mb4)`;
  }

  /** The server answered OK to a statement that `check` allowed: take its pinned changes. */
  apply(stmt: MysqlStatement): void {
    for (const c of stmt.pins ?? []) {
      if (c.value === null) continue;
      switch (c.setting) {
        case "sql_mode": {
          const v = readSqlMode(c.value);
          if (!v.ok) throw new Error(v.reason);
          this.state.sqlMode = c.value;
          this.mode = v;
          break;
        }
        case "names":
          this.state.charsetClient = this.state.charsetResults = this.state.charsetConnection = c.value;
          break;
        case "character_set_client":
          this.state.charsetClient = c.value;
          break;
        case "character_set_results":
          this.state.charsetResults = c.value;
          break;
        case "character_set_connection":
          this.state.charsetConnection = c.value;
          break;
      }
    }
  }

  /** After a statement whose effects the gateway cannot see (CALL, stored function, dynamic SQL). */
  markUnconfirmed(stmts: MysqlStatement[]): void {
    if (stmts.some(opaqueStatement)) this.confirmed = false;
  }

  /** The engine re-read the settings from the server. */
  confirm(actual: PinnedState): string | null {
    const v = readSqlMode(actual.sqlMode);
    if (!v.ok) return v.reason;
    for (const cs of [actual.charsetClient, actual.charsetResults, actual.charsetConnection]) if (!charsetOk(cs)) return `character set ${cs} is not one the gateway decodes exactly`;
    this.state = { ...actual };
    this.mode = v;
    this.confirmed = true;
    return null;
  }

  /** Every OK/EOF's status flags: NO_BACKSLASH_ESCAPES must match the pinned view. */
  confirmStatus(status: number): string | null {
    const nbe = (status & SERVER_STATUS.NO_BACKSLASH_ESCAPES) !== 0;
    if (nbe !== this.mode.noBackslashEscapes) return `server reports NO_BACKSLASH_ESCAPES ${nbe ? "on" : "off"}, the gateway's pinned view says ${this.mode.noBackslashEscapes ? "on" : "off"}`;
    return null;
  }
}
