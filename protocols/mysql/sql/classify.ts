/**
 * MySQL/MariaDB statement classifier: splits a COM_QUERY / COM_STMT_PREPARE text the way the
 * server does (lexer.ts, `;` outside quotes/comments) and classifies each statement into the
 * policy kinds PostgreSQL uses (parsers/sql/types.ts): read, write, ddl, privilege, procedural,
 * transaction, session, copy_external, admin, unknown — with function parts (execute for
 * possible stored functions, admin/write for dangerous built-ins, dynamic for SQL-executing
 * statements), flags, and the tables named (`objects`, informative).
 *
 * Fail closed: a statement is `unknown` when the lexer gives up, when it starts with a word the
 * table below does not know, or when it is a piece of a compound statement (BEGIN NOT ATOMIC,
 * IF/CASE/LOOP/WHILE/REPEAT/FOR blocks, stored-program bodies) — the server treats those as one
 * statement spanning `;`, the gateway sees their pieces, each classified by its own first word,
 * and the `END` piece is `unknown`, so a policy must allow `unknown` to let one through.
 *
 * Statements that change what the lexer depends on (sql_mode, the client/results character sets)
 * carry `pins`: session.ts decides whether the change is tracked exactly or refused.
 */
import type { ClassifiedStatement, FunctionCall, StatementFlag, StatementKind, StatementPart } from "../../../parsers/sql/types.ts";
import { LexError, lex, type HintComment, type Token } from "./lexer.ts";
import { hintsIn, type StatementHints } from "./hints.ts";
import type { Dialect } from "./dialect.ts";
import { classifyCall, MARIADB_DANGEROUS_FUNCTIONS } from "./functions.ts";
import { expandsEveryColumn } from "./taint.ts";

/** Session settings the gateway's view of the text depends on. */
export type PinnedSetting = "sql_mode" | "character_set_client" | "character_set_results" | "character_set_connection" | "names";

export interface PinChange {
  setting: PinnedSetting;
  /** The new value when it is a plain literal (string, word or DEFAULT), else null (not trackable). */
  value: string | null;
}

export interface MysqlStatement extends ClassifiedStatement {
  /** Tables named (as written, `db.table` when qualified), for display and recording. */
  objects: string[];
  /** Pinned session settings this statement changes. */
  pins?: PinChange[];
  /** Why the statement is `unknown` (lexer or classifier reason), for the refusal message. */
  reason?: string;
  /**
   * Why the statement's output shows a query plan (or the InnoDB monitor, which quotes locked
   * records' values the same way), for the trail; absent when it does not. See queryPlanShown.
   */
  queryPlan?: string;
  /**
   * A `*` expands to every column (after SELECT / DISTINCT / ALL / DISTINCTROW, a comma or `t.`),
   * or MySQL 8's `TABLE t` does: the server computes columns the statement does not name, virtual
   * generated ones included.
   */
  expandsStar?: boolean;
  /** Its optimizer hints (`/*+ SET_VAR(…) MAX_EXECUTION_TIME(…) *\/`), when it has any. */
  hints?: StatementHints;
}

const COMPOUND_OPENERS = new Set(["IF", "CASE", "LOOP", "WHILE", "REPEAT", "FOR", "ELSE", "ELSEIF", "END", "WHEN", "DECLARE", "LEAVE", "ITERATE", "RETURN", "OPEN", "FETCH", "CLOSE", "GOTO"]);

const PINNED_VARS: Record<string, PinnedSetting> = {
  SQL_MODE: "sql_mode",
  CHARACTER_SET_CLIENT: "character_set_client",
  CHARACTER_SET_RESULTS: "character_set_results",
  CHARACTER_SET_CONNECTION: "character_set_connection",
  COLLATION_CONNECTION: "character_set_connection",
};

/** Global-only or server-affecting variables a session SET still makes `admin`. */
/**
 * The target's own integrity checks (the second wall behind the gateway's decisions): a session
 * that turns one off may store rows that break the schema's foreign keys, unique keys or CHECK
 * constraints for everyone after it. Turning one off (anything but a literal 1 / ON) is `admin`:
 * a policy must allow sql.admin (and so the admin account) for it, not merely sql.session.
 */
const INTEGRITY_CHECK_VARS = new Set(["FOREIGN_KEY_CHECKS", "UNIQUE_CHECKS", "CHECK_CONSTRAINT_CHECKS"]);

function integrityChecksOff(name: string, value: string | null): boolean {
  return INTEGRITY_CHECK_VARS.has(name) && !(value !== null && ["1", "ON", "TRUE"].includes(value.toUpperCase()));
}

const ADMIN_SESSION_VARS = new Set(["SQL_LOG_BIN", "SQL_LOG_OFF", "PSEUDO_THREAD_ID", "GTID_DOMAIN_ID", "GTID_SEQ_NO", "SERVER_ID", "GTID_SLAVE_POS", "SKIP_REPLICATION", "WSREP_ON", "WSREP_OSU_METHOD"]);

interface Ctx {
  toks: Token[];
  sql: string;
  dialect: Dialect;
}

function stmt(kind: StatementKind, command: string, toks: Token[], extra: Partial<MysqlStatement> = {}): MysqlStatement {
  return { kind, command, start: toks[0]?.start ?? 0, end: toks[toks.length - 1]?.end ?? 0, flags: [], functions: [], objects: [], ...extra };
}

/**
 * The first part of these statements that runs SQL the gateway cannot read: an SQL-level dynamic
 * statement (PREPARE … FROM, EXECUTE, EXECUTE IMMEDIATE: the SQL is in a string or a variable), a
 * CALL or a stored function (their bodies), a trigger or event definition (its body runs later).
 * Definitions of views, functions and procedures run nothing now (a `name(` there is mostly a column
 * list) and are skipped: a view's body is read when the view is (the catalog), a function's when it
 * is called (refused). A statement the classifier could not classify (`unknown`: a compound
 * statement's pieces, `BEGIN NOT ATOMIC … END`, `IF … END IF`) is opaque too: whatever it wraps
 * (EXECUTE IMMEDIATE, a plan, a computed copy of a masked column) is out of the taint analysis' sight.
 */
export function opaquePart(statements: readonly MysqlStatement[]): StatementPart | undefined {
  for (const s of statements) {
    if (s.kind === "unknown") return { kind: "execute", command: s.command, flags: [], functions: [] };
    // A trigger's or event's body runs later, with its definer's rights, out of the gateway's sight.
    if (s.kind === "ddl" && /\b(TRIGGER|EVENT)\b/.test(s.command)) return { kind: "execute", command: s.command, flags: [], functions: [] };
    if (s.kind === "ddl" && /\b(VIEW|FUNCTION|PROCEDURE)\b/.test(s.command)) continue;
    const part = (s.parts ?? []).find((p) => p.kind === "dynamic" || p.kind === "execute");
    if (part) return part;
  }
  return undefined;
}

export function classifyMysql(sql: string, dialect: Dialect): MysqlStatement[] {
  let toks: Token[];
  const hintComments: HintComment[] = [];
  try {
    toks = lex(sql, dialect, hintComments);
  } catch (e) {
    if (!(e instanceof LexError)) throw e;
    return [{ kind: "unknown", command: "UNKNOWN", start: 0, end: sql.length, flags: [], functions: [], objects: [], reason: e.message }];
  }
  const pieces: Token[][] = [];
  let cur: Token[] = [];
  for (const t of toks) {
    if (t.type === "semicolon") {
      if (cur.length) pieces.push(cur);
      cur = [];
    } else cur.push(t);
  }
  if (cur.length) pieces.push(cur);
  return pieces.map((p, k) => withHints(classifyOne({ toks: p, sql, dialect }), hintComments, k ? pieces[k - 1]!.at(-1)!.end : 0, p.at(-1)!.end, dialect));
}

/**
 * Optimizer hints of the statement (a hint comment from the end of the statement before through
 * its last token: fail closed on where MySQL looks for them). `SET_VAR` of a pinned or server
 * setting is refused as `SET STATEMENT` of one is: the statement becomes `unknown`.
 */
function withHints(s: MysqlStatement, comments: readonly HintComment[], start: number, end: number, dialect: Dialect): MysqlStatement {
  if (!comments.length) return s;
  const hints = hintsIn(comments, start, end, dialect);
  if (!hints) return s;
  const refused = hints.unreadable || hints.setVars.some((v) => !!PINNED_VARS[v.name.toUpperCase()] || ADMIN_SESSION_VARS.has(v.name.toUpperCase()) || integrityChecksOff(v.name.toUpperCase(), v.value));
  if (refused) return { ...s, kind: "unknown", command: `${s.command} /*+ SET_VAR */`, reason: "an optimizer hint that sets a pinned or server setting, or that the gateway cannot read", hints };
  return { ...s, hints };
}

function word(t: Token | undefined, ...w: string[]): boolean {
  return !!t && t.type === "word" && w.includes(t.text);
}

function classifyOne(ctx: Ctx): MysqlStatement {
  const { toks } = ctx;
  const s = classifyHead(ctx);
  const plan = queryPlanShown(toks);
  if (plan) s.queryPlan = plan;
  if (expandsEveryColumn(toks)) s.expandsStar = true;
  // Function calls anywhere in the statement (subqueries, defaults, expressions).
  addCalls(s, toks);
  if (!s.objects.length) s.objects = tablesNamed(toks);
  return s;
}

function classifyHead(ctx: Ctx): MysqlStatement {
  const { toks } = ctx;
  let i = 0;
  while (toks[i]?.type === "op" && toks[i].text === "(") i++;
  const t0 = toks[i];
  const t1 = toks[i + 1];
  if (!t0) return stmt("unknown", "UNKNOWN", toks, { reason: "empty statement" });
  // A label `name:` opens a compound statement.
  if ((t0.type === "word" || t0.type === "ident") && t1?.type === "op" && t1.text === ":") return stmt("unknown", "COMPOUND STATEMENT", toks, { reason: "labelled compound statement" });
  if (t0.type !== "word") return stmt("unknown", "UNKNOWN", toks, { reason: `statement starts with ${t0.text}` });
  const w = t0.text;
  const rest = toks.slice(i + 1);
  switch (w) {
    case "SELECT":
    case "VALUES":
    case "TABLE":
      return classifySelect(toks, w);
    case "WITH":
      return classifyWith(ctx, i);
    case "DESCRIBE":
    case "DESC":
      // MySQL 8's DESCRIBE is EXPLAIN, ANALYZE included (`DESC ANALYZE DELETE …` runs the delete).
      if (explainOptions(toks, i + 1).analyze) return classifyExplain(ctx, i, false);
      return stmt("read", w, toks);
    case "SHOW":
    case "HELP":
    case "CHECKSUM":
      return stmt("read", w, toks);
    case "CHECK":
      return stmt("read", "CHECK TABLE", toks);
    case "HANDLER":
      return stmt("read", "HANDLER", toks);
    case "DO":
      return stmt("read", "DO", toks);
    case "EXPLAIN":
      return classifyExplain(ctx, i, false);
    case "ANALYZE":
      if (word(t1, "TABLE", "NO_WRITE_TO_BINLOG", "LOCAL")) return stmt("ddl", "ANALYZE TABLE", toks);
      return classifyExplain(ctx, i, true);
    case "INSERT":
    case "REPLACE":
      return stmt("write", w, toks, word(rest.find((t) => word(t, "SELECT")), "SELECT") ? { command: `${w} SELECT` } : {});
    case "UPDATE":
    case "DELETE": {
      const flags: StatementFlag[] = hasTopLevel(rest, "WHERE") ? [] : ["no-where"];
      return stmt("write", w, toks, { flags });
    }
    case "LOAD":
      if (word(t1, "INDEX")) return stmt("admin", "LOAD INDEX", toks);
      if (rest.some((t) => word(t, "LOCAL"))) return stmt("write", word(t1, "XML") ? "LOAD XML LOCAL" : "LOAD DATA LOCAL", toks);
      return stmt("copy_external", word(t1, "XML") ? "LOAD XML" : "LOAD DATA", toks);
    case "CALL":
      return stmt("procedural", "CALL", toks, { parts: [{ kind: "execute", command: "CALL", flags: [], functions: [procName(rest)] }] });
    case "PREPARE":
    case "EXECUTE":
    case "DEALLOCATE":
      if (w === "DEALLOCATE") return stmt("session", "DEALLOCATE PREPARE", toks);
      return stmt("procedural", word(t1, "IMMEDIATE") ? "EXECUTE IMMEDIATE" : w, toks, { parts: [{ kind: "dynamic", command: w, flags: [], functions: [] }] });
    case "CREATE":
    case "ALTER":
    case "DROP":
    case "RENAME":
      return classifyDdl(ctx, i);
    case "TRUNCATE":
    case "OPTIMIZE":
    case "REPAIR":
      return stmt("ddl", w === "TRUNCATE" ? "TRUNCATE TABLE" : `${w} TABLE`, toks);
    case "GRANT":
    case "REVOKE":
      return stmt("privilege", w, toks);
    case "KILL":
    case "SHUTDOWN":
    case "FLUSH":
    case "RESET":
    case "PURGE":
    case "CHANGE":
    case "INSTALL":
    case "UNINSTALL":
    case "CACHE":
    case "BINLOG":
    case "BACKUP":
    case "RESTART":
    case "CLONE":
      return stmt("admin", w, toks);
    case "START":
      if (word(t1, "TRANSACTION")) return stmt("transaction", "START TRANSACTION", toks);
      return stmt("admin", `START ${t1?.text ?? ""}`.trim(), toks);
    case "STOP":
      return stmt("admin", `STOP ${t1?.text ?? ""}`.trim(), toks);
    case "BEGIN":
      if (!t1 || (word(t1, "WORK") && toks.length === i + 2)) return stmt("transaction", "BEGIN", toks);
      return stmt("unknown", "COMPOUND STATEMENT", toks, { reason: "BEGIN … END compound statement" });
    case "COMMIT":
    case "ROLLBACK":
    case "SAVEPOINT":
    case "RELEASE":
    case "XA":
      return stmt("transaction", w, toks);
    case "LOCK":
      return stmt("session", "LOCK TABLES", toks, { flags: ["locks"] });
    case "UNLOCK":
      return stmt("session", "UNLOCK TABLES", toks);
    case "USE":
      return stmt("session", "USE", toks);
    case "SIGNAL":
    case "RESIGNAL":
    case "GET":
      return stmt("session", w, toks);
    case "SET":
      return classifySet(ctx, i);
  }
  if (COMPOUND_OPENERS.has(w)) return stmt("unknown", "COMPOUND STATEMENT", toks, { reason: `${w}: a piece of a compound statement` });
  return stmt("unknown", "UNKNOWN", toks, { reason: `unknown statement ${w}` });
}

function classifySelect(toks: Token[], command: string): MysqlStatement {
  const flags: StatementFlag[] = [];
  let kind: StatementKind = "read";
  let cmd = command;
  for (let j = 0; j < toks.length; j++) {
    const t = toks[j];
    if (word(t, "INTO")) {
      if (word(toks[j + 1], "OUTFILE", "DUMPFILE")) {
        kind = "copy_external";
        cmd = `SELECT INTO ${toks[j + 1].text}`;
      } else cmd = "SELECT INTO";
    }
    if ((word(t, "FOR") && word(toks[j + 1], "UPDATE", "SHARE")) || (word(t, "LOCK") && word(toks[j + 1], "IN"))) if (!flags.includes("locks")) flags.push("locks");
  }
  return stmt(kind, cmd, toks, { flags });
}

/** WITH [RECURSIVE] cte AS (…), … <main>: the main statement is the first top-level statement keyword. */
function classifyWith(ctx: Ctx, i: number): MysqlStatement {
  const { toks } = ctx;
  let depth = 0;
  for (let j = i + 1; j < toks.length; j++) {
    const t = toks[j];
    if (t.type === "op" && t.text === "(") depth++;
    else if (t.type === "op" && t.text === ")") depth--;
    else if (depth === 0 && word(t, "SELECT", "VALUES", "TABLE")) {
      const s = classifySelect(toks, "SELECT");
      return s;
    } else if (depth === 0 && word(t, "INSERT", "REPLACE", "UPDATE", "DELETE")) {
      return stmt("write", t.text, toks, { flags: t.text === "UPDATE" || t.text === "DELETE" ? (hasTopLevel(toks.slice(j), "WHERE") ? [] : ["no-where"]) : [] });
    }
  }
  return stmt("unknown", "WITH", toks, { reason: "WITH without a main statement" });
}

/**
 * EXPLAIN's options from `j` on — EXTENDED, PARTITIONS, ANALYZE (MySQL 8), FORMAT [=] name — and
 * where what they apply to starts. The one reader of them: classifyExplain and queryPlanShown.
 */
function explainOptions(toks: Token[], j: number): { next: number; options: boolean; analyze: boolean } {
  let options = false;
  let analyze = false;
  for (;;) {
    if (word(toks[j], "ANALYZE")) analyze = true;
    if (word(toks[j], "EXTENDED", "PARTITIONS", "ANALYZE")) j++;
    else if (word(toks[j], "FORMAT")) j += toks[j + 1]?.type === "op" && toks[j + 1].text === "=" ? 3 : 2;
    else break;
    options = true;
  }
  return { next: j, options, analyze };
}

/** What follows EXPLAIN / DESCRIBE when it plans a statement (anything else is `DESCRIBE table`). */
const PLANNED_STARTS = ["SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "WITH", "VALUES", "TABLE", "FOR"];

/**
 * Why a statement shows a query plan (or the InnoDB monitor), or undefined: EXPLAIN / DESCRIBE of a
 * statement (any FORMAT, EXTENDED, PARTITIONS, ANALYZE), `EXPLAIN FOR CONNECTION`, MariaDB's
 * `ANALYZE <statement>`, `SHOW EXPLAIN | ANALYZE FOR <thread>`, `SHOW ENGINE INNODB STATUS`. While
 * planning, the optimizer reads the row of a const table (a primary-key equality) and the plan
 * quotes the condition it substituted it into (measured on MariaDB 10.11: `EXPLAIN FORMAT=JSON
 * SELECT c.id FROM customers c NATURAL JOIN subscribers s WHERE c.id = 1` shows
 * `"attached_condition": "s.email = 'ada@example.com'"`, and EXPLAIN EXTENDED's note 1003 in SHOW
 * WARNINGS), under no column name and without the statement naming a masked column. Under column
 * rules the engine treats such a statement as naming a masked view (every column derived, the
 * diagnostics tainted after it: taint.ts withQueryPlan). `DESCRIBE customers` lists columns: no plan.
 */
function queryPlanShown(toks: Token[]): string | undefined {
  let i = 0;
  while (toks[i]?.type === "op" && toks[i].text === "(") i++;
  const t = toks[i];
  const next = toks[i + 1];
  if (word(t, "SHOW") && word(next, "EXPLAIN", "ANALYZE")) return `SHOW ${next!.text} (a query plan may quote values the optimizer read)`;
  // The InnoDB monitor (`SHOW ENGINE INNODB STATUS`, with PROCESS; `SHOW INNODB STATUS` of old
  // servers) prints the latest deadlock's statements and the locked records' key values.
  if (word(t, "SHOW") && word(next, "ENGINE", "INNODB")) return `SHOW ${next!.text} … (the storage engine's monitor quotes locked records' values)`;
  if (word(t, "ANALYZE") && !word(next, "TABLE", "TABLES", "NO_WRITE_TO_BINLOG", "LOCAL")) return "ANALYZE of a statement (a query plan may quote values the optimizer read)";
  if (!word(t, "EXPLAIN", "DESCRIBE", "DESC")) return undefined;
  const { next: j, options } = explainOptions(toks, i + 1);
  const first = toks[j];
  // Options, a statement or a parenthesised one make it a plan.
  if (options || word(first, ...PLANNED_STARTS) || (first?.type === "op" && first.text === "(")) return `${t!.text} of a statement (a query plan may quote values the optimizer read)`;
  return undefined;
}

/**
 * EXPLAIN/DESCRIBE <stmt> plans without running; ANALYZE <stmt> (MariaDB) and MySQL 8's EXPLAIN
 * ANALYZE <stmt> run it (MySQL 8.0.18+: SELECT, TABLE and multi-table UPDATE / DELETE), so they
 * are classified as the statement they run.
 */
function classifyExplain(ctx: Ctx, i: number, analyzeStatement: boolean): MysqlStatement {
  const { toks } = ctx;
  // Options: EXTENDED, PARTITIONS, ANALYZE, FORMAT=JSON…; then FOR CONNECTION n, a statement or a table.
  const { next: j, analyze: analyzeOption } = explainOptions(toks, i + 1);
  const analyze = analyzeStatement || analyzeOption;
  if (word(toks[j], "FOR") && word(toks[j + 1], "CONNECTION")) return stmt("admin", "EXPLAIN FOR CONNECTION", toks);
  const inner = toks.slice(j);
  if (!inner.length || (inner[0].type !== "word" && !(inner[0].type === "op" && inner[0].text === "("))) {
    // EXPLAIN tbl = DESCRIBE tbl.
    if (!analyze) return stmt("read", "EXPLAIN", toks);
    return stmt("unknown", "ANALYZE", toks, { reason: "ANALYZE of something the gateway cannot read" });
  }
  if (!analyze && inner[0].type === "word" && !["SELECT", "INSERT", "REPLACE", "UPDATE", "DELETE", "WITH", "VALUES", "TABLE"].includes(inner[0].text)) return stmt("read", "EXPLAIN", toks);
  const s = classifyOne({ ...ctx, toks: inner });
  if (!analyze) {
    // EXPLAIN does not run the statement, but the optimizer may evaluate constant function calls: keep the parts.
    return stmt(s.kind === "unknown" ? "unknown" : "read", "EXPLAIN", toks, { parts: s.parts, reason: s.reason });
  }
  return { ...s, start: toks[0].start, command: `ANALYZE ${s.command}`, flags: [...s.flags, "explain-analyze"] };
}

function classifyDdl(ctx: Ctx, i: number): MysqlStatement {
  const { toks } = ctx;
  const verb = toks[i].text;
  // Skip modifiers: OR REPLACE, TEMPORARY, DEFINER = x, ALGORITHM = x, SQL SECURITY x, ONLINE, IGNORE, AGGREGATE, UNIQUE…
  let j = i + 1;
  const modifiers = new Set(["OR", "REPLACE", "TEMPORARY", "ONLINE", "OFFLINE", "IGNORE", "AGGREGATE", "UNIQUE", "FULLTEXT", "SPATIAL", "SQL", "SECURITY", "DEFINER", "INVOKER", "ALGORITHM", "UNDEFINED", "MERGE", "TEMPTABLE", "IF", "NOT", "EXISTS", "CURRENT_USER"]);
  while (j < toks.length) {
    const t = toks[j];
    if (word(t, ...modifiers)) {
      j++;
      continue;
    }
    if (t.type === "op" && (t.text === "=" || t.text === "@" || t.text === "(" || t.text === ")")) {
      j++;
      continue;
    }
    if (word(toks[j - 1], "DEFINER") || (toks[j - 1]?.type === "op" && toks[j - 1].text === "=")) {
      // the definer's / algorithm's value (user@host arrives as ident/string/variable tokens)
      j++;
      while (toks[j]?.type === "variable") j++;
      continue;
    }
    break;
  }
  const obj = toks[j];
  const what = obj?.type === "word" ? obj.text : "";
  const command = `${verb} ${what}`.trim();
  switch (what) {
    case "USER":
    case "ROLE":
      return stmt("privilege", command, toks);
    case "SERVER":
    case "INSTANCE":
    case "LOGFILE":
    case "TABLESPACE":
    case "PLUGIN":
      return stmt("admin", command, toks);
    case "TABLE":
    case "TABLES":
    case "INDEX":
    case "VIEW":
    case "DATABASE":
    case "SCHEMA":
    case "DATABASES":
    case "EVENT":
    case "TRIGGER":
    case "PROCEDURE":
    case "FUNCTION":
    case "SEQUENCE":
    case "PACKAGE":
    case "SYNONYM":
      return stmt("ddl", command, toks);
    case "PREPARE":
      return stmt("session", "DEALLOCATE PREPARE", toks);
  }
  return stmt("unknown", command || verb, toks, { reason: `${command || verb} is not a statement the gateway classifies` });
}

/** SET …: user variables and session settings are `session`; pinned settings carry `pins`. */
function classifySet(ctx: Ctx, i: number): MysqlStatement {
  const { toks } = ctx;
  const t1 = toks[i + 1];
  if (word(t1, "PASSWORD", "ROLE")) return stmt("privilege", `SET ${t1!.text}`, toks);
  if (word(t1, "DEFAULT") && word(toks[i + 2], "ROLE")) return stmt("privilege", "SET DEFAULT ROLE", toks);
  if (word(t1, "TRANSACTION")) return stmt("transaction", "SET TRANSACTION", toks);
  if (word(t1, "GLOBAL")) return stmt("admin", "SET GLOBAL", toks);
  if (word(t1, "STATEMENT")) {
    // SET STATEMENT a=1, b=2 FOR <stmt>: the inner statement runs with those settings.
    const forAt = toks.findIndex((t, k) => k > i + 1 && word(t, "FOR") && depthAt(toks, k) === 0);
    if (forAt < 0) return stmt("unknown", "SET STATEMENT", toks, { reason: "SET STATEMENT without FOR" });
    const settings = assignments(toks.slice(i + 2, forAt));
    if (settings.some((a) => a.pin || a.admin || a.scope === "global")) return stmt("unknown", "SET STATEMENT", toks, { reason: "SET STATEMENT of a pinned or server setting" });
    const inner = classifyOne({ ...ctx, toks: toks.slice(forAt + 1) });
    return { ...inner, start: toks[0].start };
  }
  if (word(t1, "NAMES") || word(t1, "CHARSET") || (word(t1, "CHARACTER") && word(toks[i + 2], "SET"))) {
    const v = toks[word(t1, "CHARACTER") ? i + 3 : i + 2];
    const value = v && (v.type === "word" || v.type === "string" || v.type === "ident") ? v.value.toLowerCase() : null;
    return stmt("session", word(t1, "NAMES") ? "SET NAMES" : "SET CHARACTER SET", toks, { pins: [{ setting: "names", value }] });
  }
  const list = assignments(toks.slice(i + 1));
  if (!list.length) return stmt("unknown", "SET", toks, { reason: "SET the gateway cannot read" });
  const pins: PinChange[] = [];
  let kind: StatementKind = "session";
  for (const a of list) {
    if (a.scope === "global" || a.admin) kind = "admin";
    if (a.pin) pins.push({ setting: a.pin, value: a.value });
    if (a.unreadable) return stmt("unknown", "SET", toks, { reason: "SET the gateway cannot read" });
  }
  return stmt(kind, kind === "admin" ? "SET GLOBAL" : "SET", toks, pins.length ? { pins } : {});
}

interface Assignment {
  scope: "session" | "global" | "user";
  name: string;
  pin?: PinnedSetting;
  admin?: boolean;
  value: string | null;
  unreadable?: boolean;
}

/** Splits `a = 1, @@session.b := 2, GLOBAL c = 3` at top-level commas. */
function assignments(toks: Token[]): Assignment[] {
  const out: Assignment[] = [];
  let start = 0;
  for (let k = 0; k <= toks.length; k++) {
    if (k < toks.length && !(toks[k].type === "op" && toks[k].text === "," && depthAt(toks, k) === 0)) continue;
    const part = toks.slice(start, k);
    start = k + 1;
    if (!part.length) continue;
    let scope: Assignment["scope"] = "session";
    let p = 0;
    if (word(part[0], "GLOBAL", "PERSIST", "PERSIST_ONLY")) {
      scope = "global";
      p++;
    } else if (word(part[0], "SESSION", "LOCAL")) p++;
    const target = part[p];
    if (!target) {
      out.push({ scope, name: "", value: null, unreadable: true });
      continue;
    }
    let name = "";
    if (target.type === "variable") {
      const v = target.value;
      if (v.startsWith("@@")) {
        let n = v.slice(2).toUpperCase();
        if (n.startsWith("GLOBAL.")) {
          scope = "global";
          n = n.slice(7);
        } else if (n.startsWith("SESSION.") || n.startsWith("LOCAL.")) n = n.slice(n.indexOf(".") + 1);
        name = n;
        // `@@session.` then a quoted name: the lexer stops the variable at the dot.
        if (!name && part[p + 1]) name = part[p + 1].value.toUpperCase();
      } else {
        out.push({ scope: "user", name: v, value: null });
        continue;
      }
    } else if (target.type === "word" || target.type === "ident") name = target.value.toUpperCase();
    else {
      out.push({ scope, name: "", value: null, unreadable: true });
      continue;
    }
    // Structured names (keycache.key_buffer_size) are global caches.
    const dotted = part[p + 1]?.type === "op" && part[p + 1].text === ".";
    if (dotted) scope = "global";
    const eq = part.findIndex((t) => t.type === "op" && (t.text === "=" || t.text === ":="));
    const valueToks = eq >= 0 ? part.slice(eq + 1) : [];
    const value = valueToks.length === 1 && (valueToks[0].type === "string" || valueToks[0].type === "word" || valueToks[0].type === "number") ? valueToks[0].value : null;
    const pin = PINNED_VARS[name];
    out.push({ scope, name, value, pin, admin: ADMIN_SESSION_VARS.has(name) || integrityChecksOff(name, value), unreadable: eq < 0 && !dotted });
  }
  return out;
}

function depthAt(toks: Token[], k: number): number {
  let d = 0;
  for (let j = 0; j < k; j++) {
    if (toks[j].type === "op" && toks[j].text === "(") d++;
    else if (toks[j].type === "op" && toks[j].text === ")") d--;
  }
  return d;
}

function hasTopLevel(toks: Token[], w: string): boolean {
  let d = 0;
  for (const t of toks) {
    if (t.type === "op" && t.text === "(") d++;
    else if (t.type === "op" && t.text === ")") d--;
    else if (d === 0 && word(t, w)) return true;
  }
  return false;
}

function procName(rest: Token[]): string {
  const parts: string[] = [];
  for (const t of rest) {
    if (t.type === "word" || t.type === "ident") parts.push(t.value.toLowerCase());
    else if (t.type === "op" && t.text === ".") continue;
    else break;
  }
  return parts.join(".");
}

/** Words after which `name (` names a relation with its column list (`INSERT [INTO] t (a, b)`, `VIEW v (a)`), never a call. */
const BEFORE_COLUMN_LIST = new Set(["INTO", "INSERT", "REPLACE", "IGNORE", "LOW_PRIORITY", "DELAYED"]);

/**
 * Whether the `name (` at k is a relation and its column list rather than a call: after INSERT/
 * REPLACE [INTO] or VIEW (also `db.t (`), or a CTE's `t (a, b) AS (` — its parenthesis is followed
 * by AS and another parenthesis, which no call is.
 */
function isNameList(s: MysqlStatement, toks: Token[], k: number, qualified: boolean, closeAt: readonly number[]): boolean {
  const before = toks[qualified ? k - 3 : k - 1];
  // Only where the grammar puts a relation there: HIGH_PRIORITY, for one, also opens a SELECT's
  // expressions (`SELECT HIGH_PRIORITY f(1)`), so it is not in the list at all.
  if (before?.type === "word") {
    const w = before.value.toUpperCase();
    if (BEFORE_COLUMN_LIST.has(w) && /^(INSERT|REPLACE)\b/.test(s.command)) return true;
    if (w === "VIEW" && s.kind === "ddl" && /\bVIEW\b/.test(s.command)) return true;
  }
  const close = closeAt[k + 1] ?? -1;
  const after = toks[close + 2];
  return close > 0 && word(toks[close + 1], "AS") && after?.type === "op" && after.text === "(";
}

/** For each `(` its `)` (index → index; -1 when unbalanced), in one pass: callers look it up, never scan. */
function matchingParens(toks: readonly Token[]): number[] {
  const closeAt: number[] = new Array(toks.length).fill(-1);
  const open: number[] = [];
  toks.forEach((t, i) => {
    if (t.type !== "op") return;
    if (t.text === "(") open.push(i);
    else if (t.text === ")" && open.length > 0) closeAt[open.pop()!] = i;
  });
  return closeAt;
}

/** Every `name(`: dangerous built-ins and possible stored functions become parts; `NEXT VALUE FOR` too. */
function addCalls(s: MysqlStatement, toks: Token[]): void {
  const parts: StatementPart[] = [...(s.parts ?? [])];
  const calls: FunctionCall[] = [];
  let closeAt: number[] | undefined;
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k];
    if (word(t, "NEXT", "PREVIOUS") && word(toks[k + 1], "VALUE") && word(toks[k + 2], "FOR")) {
      if (t.text === "NEXT") parts.push({ kind: "write", command: "NEXT VALUE FOR", flags: [], functions: ["nextval"] });
      continue;
    }
    const next = toks[k + 1];
    if (!(next?.type === "op" && next.text === "(")) continue;
    if (t.type !== "word" && t.type !== "ident") continue;
    const prev = toks[k - 1];
    const qualified = prev?.type === "op" && prev.text === ".";
    if (isNameList(s, toks, k, qualified, (closeAt ??= matchingParens(toks)))) continue;
    // After a qualifier-less `.`? no; a name preceded by a type keyword position is still a call candidate.
    const upper = t.value.toUpperCase();
    const cls = classifyCall(upper, qualified, t.type === "ident");
    const name = qualified ? `${toks[k - 2]?.value ?? ""}.${t.value}`.toLowerCase() : t.value.toLowerCase();
    calls.push({ name, quoted: t.type === "ident", schema: qualified ? "other" : "", start: t.start, end: t.end });
    const seen = (kind: string, fn: string) => parts.some((x) => x.kind === kind && x.functions.length === 1 && x.functions[0] === fn);
    if (cls === "dangerous") {
      if (seen(MARIADB_DANGEROUS_FUNCTIONS[upper].kind, name)) continue;
      const d = MARIADB_DANGEROUS_FUNCTIONS[upper];
      if (!s.functions.includes(name)) s.functions.push(name);
      if (!s.flags.includes("dangerous-function")) s.flags.push("dangerous-function");
      parts.push({ kind: d.kind, command: upper, flags: ["dangerous-function"], functions: [name] });
    } else if (cls === "stored") {
      // In DDL a `name(` is mostly a column type or a constraint, and DDL is refused or allowed as a whole.
      if (s.kind === "ddl" && !qualified && t.type === "word" && !toks.some((x) => word(x, "SELECT"))) continue;
      if (!seen("execute", name)) parts.push({ kind: "execute", command: "FUNCTION CALL", flags: [], functions: [name] });
    }
  }
  if (calls.length) s.calls = calls;
  if (parts.length) s.parts = parts;
}

/** Table names after FROM/JOIN/INTO/UPDATE/TABLE (informative: shown to approvers and recorded). */
function tablesNamed(toks: Token[]): string[] {
  const out = new Set<string>();
  for (let k = 0; k < toks.length - 1; k++) {
    if (!word(toks[k], "FROM", "JOIN", "INTO", "UPDATE", "TABLE", "REPLACE") ) continue;
    let j = k + 1;
    const t = toks[j];
    if (!t || (t.type !== "word" && t.type !== "ident")) continue;
    if (t.type === "word" && ["SELECT", "OUTFILE", "DUMPFILE", "LOW_PRIORITY", "IGNORE", "IF", "DUAL"].includes(t.text)) continue;
    if (word(t, "TABLE") && toks[j + 1]) {
      j++;
      if (toks[j].type !== "word" && toks[j].type !== "ident") continue;
    }
    const named = toks[j];
    let name = named.value;
    if (toks[j + 1]?.type === "op" && toks[j + 1].text === "." && toks[j + 2]) {
      name += "." + toks[j + 2].value;
      j += 2;
    }
    out.add(name);
  }
  return [...out];
}
