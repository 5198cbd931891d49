/**
 * Derived-value analysis of a MySQL statement (the MySQL side of docs/MASKING.md "Derived values"),
 * lexical and fail closed. A statement is *tainted* when one of its identifiers (bare or
 * backticked, also inside executed version comments) names a masked column by any column glob, or
 * when the gateway cannot lex it. In a tainted statement every result column without its own
 * column rule is derived (always redacted) — except, in a *plain* statement (one SELECT, no
 * sub-query, no set operation), a column the server reports with an original table and column
 * (a stored value: `id` next to `email`). MySQL's column definitions cannot tell a base table
 * from a view or a derived table (`(select lower(email) e from customers) t` reports `t.e`),
 * which is why a sub-query or a set operation makes every unruled column derived.
 *
 * Views: the engine's catalog snapshot (worker/catalog.ts) tells which names are masked views
 * (`isMaskedView`); naming one makes every column of the statement derived.
 */
import { lex, LexError, type Token } from "./lexer.ts";
import type { Dialect } from "./dialect.ts";

export interface Taint {
  /** One SELECT without sub-queries or set operations: columns with an original table/column are stored values. */
  plain: boolean;
  /** What made the statement tainted (for the trail; never values). */
  sources: string[];
  /** A masked view is named: its columns look stored (`v`.`e`), so every column is derived. */
  maskedView: boolean;
  /**
   * A statement naming masked data assigns a user variable (`SELECT email INTO @x`, `SET @x =
   * (SELECT email …)`, `@x := email`) or selects INTO a file: the value would leave masking
   * (a later `SELECT @x` names nothing masked).
   */
  assigns: boolean;
  /**
   * Why a statement of the text uses masked data in a predicate or ordering clause (WHERE, JOIN …
   * ON / USING, NATURAL, ORDER BY, GROUP BY, HAVING, PARTITION BY, CASE WHEN, an ordinal `ORDER BY
   * 2`), or reaches masked data through a sub-query, set operation or masked view *and* has such a
   * clause (an alias could launder it); null when none does. Refused under `mask: { predicates:
   * refuse }` (boolean and ordering oracles, docs/MASKING.md).
   */
  predicate: string | null;
}

/** Words that open a predicate context at their parenthesis depth (`ORDER`/`GROUP`/`PARTITION` when followed by BY). */
const PREDICATE_START = new Set(["WHERE", "ON", "USING", "HAVING", "NATURAL", "WHEN"]);
const PREDICATE_BY = new Set(["ORDER", "GROUP", "PARTITION"]);
const PREDICATE_END = new Set(["SELECT", "FROM", "JOIN", "STRAIGHT_JOIN", "LIMIT", "OFFSET", "UNION", "INTERSECT", "EXCEPT", "MINUS", "RETURNING", "WINDOW", "INTO", "VALUES", "SET", "THEN", "ELSE", "END", "FOR", "LOCK"]);

const SET_OPERATIONS = new Set(["UNION", "INTERSECT", "EXCEPT", "MINUS"]);

/**
 * Tables the server fills with copies of column *values*, read back under column names no rule
 * names. Value statistics: MariaDB's engine-independent statistics (`mysql.column_stats`:
 * min_value, max_value and, from 10.8, JSON histograms of the values) and MySQL 8's histograms
 * (`information_schema.COLUMN_STATISTICS`): `ANALYZE TABLE customers PERSISTENT FOR COLUMNS
 * (email)` (or a DBA's nightly ANALYZE) copies masked values there under `min_value`. The
 * optimizer trace (`information_schema.OPTIMIZER_TRACE`, any account after `SET
 * optimizer_trace='enabled=on'`): the optimizer reads a const table's row while planning and
 * writes the substituted condition (`n.body = 'ada@example.com'`) into the trace of the statement
 * before, which the next statement of a multi-statement text reads. The words of a FULLTEXT index
 * (`information_schema.INNODB_FT_INDEX_TABLE` / `_CACHE`: with PROCESS, of the table a DBA set
 * `innodb_ft_aux_table` to; `FULLTEXT (email)` gives `ada`, `example`). The key values of locked
 * records (`information_schema.INNODB_LOCKS.LOCK_DATA` in MariaDB, MySQL 8's
 * `performance_schema.data_locks`: with PROCESS, during a lock wait two sessions can make with
 * `… FOR UPDATE` through a unique index over email: `'ada@…'`). Naming one taints the
 * statement as a masked view does: every column without its own rule is derived. Matched by name
 * alone, qualified or not (`USE mysql` then a bare `column_stats`), so an application table of that
 * name is redacted too — fail closed, as PostgreSQL's pg_stats & co. are
 * (parsers/masking/taint/analyze.ts).
 */
const VALUE_COPY_TABLES = new Map([
  ["column_stats", "value statistics"],
  ["column_statistics", "value statistics"],
  ["optimizer_trace", "optimizer trace"],
  ["innodb_ft_index_table", "full-text index words"],
  ["innodb_ft_index_cache", "full-text index words"],
  ["innodb_locks", "lock data"],
  ["data_locks", "lock data"],
  // Statement texts of other sessions (and this one's): their literals are the values a WHERE
  // compared or an INSERT stored (`… WHERE email = 'ada@…'`, measured in PROCESSLIST.INFO while
  // the statement waited on a lock), readable without PROCESS for every session of the same
  // account — every gateway session of an access level shares it. `SHOW [FULL] PROCESSLIST` is the
  // word itself; sys's `session` view is matched where it is a relation (sessionRelationAt).
  ["processlist", "statement texts"],
  ["x$processlist", "statement texts"],
  ["x$session", "statement texts"],
  ["threads", "statement texts"],
  ["innodb_trx", "statement texts"],
  ["events_statements_current", "statement texts"],
  ["events_statements_history", "statement texts"],
  ["events_statements_history_long", "statement texts"],
  ["events_statements_summary_by_digest", "statement texts"],
  ["prepared_statements_instances", "statement texts"],
  ["general_log", "statement texts"],
  ["slow_log", "statement texts"],
  ["query_cache_info", "statement texts"],
  // `SHOW BINLOG | RELAYLOG EVENTS` (with BINLOG MONITOR / REPLICATION privileges): every write's text
  ["binlog", "statement texts"],
  ["relaylog", "statement texts"],
]);

/**
 * `session` names sys's view of the sessions' statements only as a relation: qualified
 * (`sys.session`) or after FROM / JOIN / a comma of a FROM list — not `SET SESSION x = 1`.
 */
function sessionRelationAt(toks: readonly Token[], i: number): boolean {
  const t = toks[i]!;
  if ((t.type !== "word" && t.type !== "ident") || t.value.toLowerCase() !== "session") return false;
  const prev = toks[i - 1];
  if (prev?.type === "op" && prev.text === ".") return true;
  return prev?.type === "word" && (prev.text === "FROM" || prev.text === "JOIN");
}
const QUERY_STARTS = new Set(["SELECT", "WITH", "VALUES", "TABLE"]);

/**
 * Where MySQL 8's `TABLE t` query (`SELECT * FROM t` without a `*`) starts, in one pass: at the start
 * of a statement, after `(`, after a set operation, or after an INSERT/REPLACE target (`INSERT INTO
 * t2 TABLE t`, `INSERT INTO t2 (a, b) TABLE t`). Not the TABLE of DDL (`CREATE TABLE`, `LOCK TABLE` …).
 */
export function tableQueryStarts(toks: readonly Token[]): Set<number> {
  const starts = new Set<number>();
  let first: Token | undefined;
  toks.forEach((t, i) => {
    const prev = toks[i - 1];
    if (!prev || prev.type === "semicolon") first = t;
    if (t.type !== "word" || t.text !== "TABLE") return;
    const inInsert = first?.type === "word" && (first.text === "INSERT" || first.text === "REPLACE");
    const opens =
      !prev ||
      prev.type === "semicolon" ||
      (prev.type === "op" && (prev.text === "(" || (prev.text === ")" && inInsert))) ||
      (prev.type === "word" && ["UNION", "EXCEPT", "INTERSECT", "MINUS", "ALL", "DISTINCT"].includes(prev.text)) ||
      ((prev.type === "ident" || (prev.type === "word" && !TABLE_KEYWORDS_BEFORE.has(prev.text))) && inInsert);
    if (opens) starts.add(i);
  });
  return starts;
}

/** Whether the `*` at `i` expands to every column: after SELECT / DISTINCT / ALL / DISTINCTROW, a comma, or `t.` (not `count(*)`, not a product). */
export function starExpandsAt(toks: readonly Token[], i: number): boolean {
  const t = toks[i];
  const prev = toks[i - 1];
  if (t?.type !== "op" || t.text !== "*" || !prev) return false;
  if (prev.type === "word") return ["SELECT", "DISTINCT", "ALL", "DISTINCTROW"].includes(prev.text);
  return prev.type === "op" && (prev.text === "," || prev.text === ".");
}

/** Whether a statement's tokens read every column without naming them: an expanding `*`, or MySQL 8's `TABLE t`. */
export function expandsEveryColumn(toks: readonly Token[]): boolean {
  return tableQueryStarts(toks).size > 0 || toks.some((_, i) => starExpandsAt(toks, i));
}

/** Words TABLE follows in DDL and administration statements (never a `TABLE t` query). */
const TABLE_KEYWORDS_BEFORE = new Set(["CREATE", "ALTER", "DROP", "TRUNCATE", "RENAME", "LOCK", "TEMPORARY", "SHOW", "CHECK", "REPAIR", "OPTIMIZE", "ANALYZE", "CHECKSUM", "FLUSH", "REPLACE", "IMPORT", "WITH", "OR", "INTO", "INSERT"]);

/**
 * `nestedStars`: column rules apply (the engine passes `hasColumnRules`): what reaches columns
 * without naming them taints too — a `*` inside a sub-query or CTE, or beside a top-level set
 * operation, MySQL 8's `TABLE t` there, and NATURAL JOIN.
 */
export function analyzeTaint(sql: string, dialect: Dialect, namesMasked: (identifier: string) => boolean, isMaskedView: (identifier: string) => boolean = () => false, nestedStars = false): Taint | null {
  let toks;
  try {
    toks = lex(sql, dialect);
  } catch (e) {
    if (!(e instanceof LexError)) throw e;
    return { plain: false, sources: ["statement text the gateway cannot lex"], maskedView: true, assigns: true, predicate: "statement text the gateway cannot lex" };
  }
  const sources = new Set<string>();
  let maskedView = false;
  let assigns = false;
  let predicate: string | null = null;
  // Per statement: does it name masked data, assign a variable or select INTO, nest, have a predicate clause?
  let stmtMasked = false;
  let stmtAssigns = false;
  let stmtNested = false;
  let stmtMaskedView = false;
  let stmtPredicateClause = false;
  let stmtOrdinal: string | null = null;
  // A `*` at the top level and a set operation in the same statement: `SELECT 1, 2, 3 UNION SELECT *
  // FROM customers` gives the masked values under the first branch's names (`3`) and no origin.
  let stmtStar = false;
  let stmtHead: Token | undefined;
  let stmtSetOperation = false;
  // INTERSECT / EXCEPT / MINUS and UNION [DISTINCT] compare whole rows: `SELECT email FROM customers
  // INTERSECT SELECT 'ada@…'` answers a row exactly when the guess is someone's e-mail (measured),
  // an equality test as `WHERE email = 'ada@…'` is. UNION ALL compares nothing.
  let stmtComparingSetOperation = false;
  // SELECT DISTINCT / DISTINCTROW compares whole result rows the same way: `SELECT DISTINCT email =
  // 'guess' FROM customers` answers two rows exactly when the guess is someone's e-mail (measured).
  // An aggregate's DISTINCT (`COUNT(DISTINCT email)`, after its parenthesis) answers one row whatever
  // the guess and is not one.
  let stmtDistinct = false;
  // Predicate context per parenthesis depth (a sub-select inside a WHERE is still a predicate).
  let depth = 0;
  let pred: boolean[] = [false];
  const inPredicate = () => pred.slice(0, depth + 1).some(Boolean);
  const endStatement = () => {
    if (stmtStar && stmtSetOperation) {
      sources.add("all columns (*) in a set operation");
      stmtMasked = true;
    }
    if (stmtMasked && stmtAssigns) assigns = true;
    // With a `*` the position may be a masked column's (`SELECT * FROM customers ORDER BY 3`).
    if (stmtStar && !stmtMasked && stmtOrdinal) sources.add("all columns (*) ordered or grouped by position");
    if ((stmtMasked || stmtStar) && stmtOrdinal) predicate ??= stmtOrdinal;
    if (stmtMasked && stmtPredicateClause && (stmtNested || stmtMaskedView)) predicate ??= "masked data reached through a sub-query, set operation or masked view, with a predicate or ordering clause";
    if ((stmtMasked || stmtStar) && stmtComparingSetOperation) predicate ??= "INTERSECT / EXCEPT / UNION DISTINCT compares whole rows, masked values among them";
    if ((stmtMasked || stmtStar) && stmtDistinct) predicate ??= "SELECT DISTINCT compares whole rows, masked values among them";
    stmtMasked = stmtAssigns = stmtNested = stmtMaskedView = stmtPredicateClause = stmtStar = stmtSetOperation = stmtComparingSetOperation = stmtDistinct = false;
    stmtOrdinal = null;
    depth = 0;
    pred = [false];
  };
  // Per statement of a multi-statement text: one SELECT each, no nesting, no set operation.
  let selects = 0;
  let nested = false;
  const tableQueries = nestedStars ? tableQueryStarts(toks) : null;
  toks.forEach((t, i) => {
    if (t.type === "op" && t.text === "(") pred[++depth] = false;
    if (t.type === "op" && t.text === ")" && depth > 0) pred.length = depth--;
    if (t.type === "word") {
      const next = toks[i + 1];
      if (PREDICATE_START.has(t.text)) pred[depth] = stmtPredicateClause = true;
      else if (PREDICATE_BY.has(t.text) && next?.type === "word" && next.text === "BY") pred[depth] = stmtPredicateClause = true;
      else if (PREDICATE_END.has(t.text)) pred[depth] = false;
    }
    // `ORDER BY 2` / `GROUP BY 1`: a masked column may sit at that position (an ordering oracle).
    if (t.type === "number" && inPredicate()) {
      const lead = toks[i - 1];
      if (lead && ((lead.type === "word" && lead.text === "BY") || (lead.type === "op" && lead.text === ","))) {
        const by = toks.slice(0, i).reverse().find((x) => x.type === "word" && (x.text === "BY" || PREDICATE_START.has(x.text)));
        if (by?.text === "BY") stmtOrdinal ??= `ordinal ${t.text} in ORDER BY / GROUP BY`;
      }
    }
    // `*` inside a sub-query or CTE expands to masked columns without naming them
    // (`WITH t (a, b, c) AS (SELECT * FROM customers) SELECT lower(c) FROM t`); with column rules it taints.
    if (tableQueries?.has(i) && (depth > 0 || stmtNested || selects > 0 || i > 0)) {
      sources.add("all columns (TABLE t) inside a sub-query, set operation or write");
      stmtMasked = true;
    }
    if (nestedStars && starExpandsAt(toks, i)) {
      if (depth > 0) {
        sources.add("all columns (*) inside a sub-query or CTE");
        stmtMasked = true;
      } else stmtStar = true;
    }
    // NATURAL JOIN compares every column of the same name without naming it, and a derived table
    // can carry any name as a string alias (`NATURAL JOIN (SELECT 1 AS 'email') x`): the comparison
    // is an oracle, and its conversion warnings quote the masked values (`Truncated incorrect
    // DECIMAL value: 'ada@…'`, measured). With column rules it reads masked data in a predicate.
    // (A view stores it as `join … on(c.email = x.email)`: the catalog reads the names.) It hands
    // out no value under a column of its own, so it does not count as assigning one.
    // `HANDLER t READ <index> = (…)` / `… <index> FIRST|NEXT`: compares or orders by the index's key
    // columns, which the statement does not name (a unique key over email is an equality oracle).
    if (i === 0 || toks[i - 1]!.type === "semicolon") stmtHead = t;
    // `CHECKSUM TABLE t` hashes every column of every row, masked ones among them, without naming
    // one: comparing it with the checksum of a table of guesses (same column types, rows copied
    // from the readable columns) tells whether the guesses are the masked values (an equality
    // oracle, measured). With column rules its columns are derived (the checksum NULL) and under
    // `predicates: refuse` it is refused.
    if (nestedStars && t === stmtHead && t.type === "word" && t.text === "CHECKSUM") {
      sources.add("CHECKSUM TABLE (a hash of every column, masked ones among them)");
      maskedView = stmtMaskedView = stmtMasked = true;
      predicate ??= "CHECKSUM TABLE compares every column's values";
    }
    if (nestedStars && t.type === "word" && t.text === "READ" && stmtHead?.type === "word" && stmtHead.text === "HANDLER") {
      const index = toks[i + 1];
      if (index && !(index.type === "word" && ["FIRST", "NEXT", "PREV", "LAST"].includes(index.text))) {
        sources.add("HANDLER … READ through an index (its key columns)");
        predicate ??= "HANDLER … READ through an index compares or orders by its key columns";
      }
    }
    if (nestedStars && t.type === "word" && t.text === "NATURAL") {
      sources.add("NATURAL JOIN (compares the columns of the same name, masked ones among them)");
      predicate ??= "NATURAL JOIN compares columns the statement does not name";
    }
    if ((t.type === "word" || t.type === "ident") && namesMasked(t.value)) {
      const view = isMaskedView(t.value);
      sources.add(`${view ? "view" : "column"} ${t.value.toLowerCase()}`);
      if (view) maskedView = stmtMaskedView = true;
      stmtMasked = true;
      if (inPredicate() && !view) predicate ??= `${t.value.toLowerCase()} in a predicate or ordering clause`;
    }
    // Not the session variable of the same name (`SET optimizer_trace = 'enabled=on'`): reading is what is masked.
    const setting = toks[i + 1]?.type === "op" && (toks[i + 1]!.text === "=" || toks[i + 1]!.text === ":=");
    const copies = (t.type === "word" || t.type === "ident") && !setting ? (VALUE_COPY_TABLES.get(t.value.toLowerCase()) ?? (sessionRelationAt(toks, i) ? "statement texts" : undefined)) : undefined;
    if (copies) {
      sources.add(`${copies} ${t.value.toLowerCase()}`);
      maskedView = stmtMaskedView = true;
      stmtMasked = true;
    }
    if (t.type === "op" && t.text === ":=") stmtAssigns = true;
    if (t.type === "word" && (t.text === "INTO" || (t.text === "SET" && i === 0) || (t.text === "SET" && toks[i - 1]?.type === "semicolon"))) stmtAssigns = true;
    if (t.type === "semicolon") {
      selects = 0;
      endStatement();
      return;
    }
    if (t.type !== "word") return;
    if (t.text === "SELECT" && ++selects > 1) nested = stmtNested = true;
    if ((t.text === "DISTINCT" || t.text === "DISTINCTROW") && !(toks[i - 1]?.type === "op" && toks[i - 1]!.text === "(") && !SET_OPERATIONS.has(toks[i - 1]?.text ?? "")) stmtDistinct = true;
    if (SET_OPERATIONS.has(t.text)) {
      nested = stmtNested = true;
      const next = toks[i + 1];
      if (!(t.text === "UNION" && next?.type === "word" && next.text === "ALL")) stmtComparingSetOperation = true;
      // Its result columns are named after the first branch (a star inside parentheses taints already).
      if (depth === 0) stmtSetOperation = true;
    }
    if (QUERY_STARTS.has(t.text) && toks[i - 1]?.type === "op" && toks[i - 1]!.text === "(") nested = stmtNested = true;
  });
  endStatement();
  if (sources.size === 0) return null;
  return { plain: !nested, sources: [...sources], maskedView, assigns, predicate };
}

/**
 * The first masked table a DDL statement of this text names (bare, backticked, `db.`-qualified, in
 * any letter case, also inside executed version comments), with the statement's command; null when
 * none does. `isMaskedTable` says which names the rules' `table.column` globs give a table part.
 * Views and DROP/TRUNCATE are not counted: a view stores no values (its body is read through the
 * catalog), and dropping or emptying a table moves nothing. A text that cannot be lexed counts
 * (fail closed) when any statement of it is DDL.
 */
export function ddlNamingMaskedTable(sql: string, dialect: Dialect, statements: readonly { kind: string; command: string; start: number; end: number }[], isMaskedTable: (identifier: string) => boolean): { command: string; table: string } | null {
  const ddl = statements.filter((s) => s.kind === "ddl" && !/\b(VIEW|DROP|TRUNCATE)\b/.test(s.command));
  if (ddl.length === 0) return null;
  let toks;
  try {
    toks = lex(sql, dialect);
  } catch (e) {
    if (!(e instanceof LexError)) throw e;
    return { command: ddl[0]!.command, table: "(a statement the gateway cannot lex)" };
  }
  for (const t of toks) {
    if ((t.type !== "word" && t.type !== "ident") || !isMaskedTable(t.value)) continue;
    const s = ddl.find((d) => t.start >= d.start && t.start < Math.max(d.end, d.start + 1));
    if (s) return { command: s.command, table: t.value };
  }
  return null;
}

/** Reserved words that can never name a relation unquoted (skipped when asking the catalog about a statement's names). */
const RESERVED = new Set(["SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "NULL", "AS", "ON", "JOIN", "LEFT", "RIGHT", "INNER", "OUTER", "CROSS", "GROUP", "ORDER", "BY", "HAVING", "LIMIT", "UNION", "ALL", "DISTINCT", "INSERT", "INTO", "VALUES", "UPDATE", "SET", "DELETE", "IN", "IS", "LIKE", "BETWEEN", "CASE", "WHEN", "THEN", "ELSE", "END", "ASC", "DESC", "WITH", "EXISTS", "TRUE", "FALSE", "USING", "CREATE", "DROP", "ALTER", "TABLE", "VIEW", "SHOW", "EXPLAIN", "DESCRIBE", "REPLACE", "IF", "INDEX", "KEY", "PRIMARY", "DEFAULT", "CAST", "CONVERT", "COUNT", "INTERVAL", "FOR", "LOCK", "READ", "WRITE", "USE", "DATABASE", "SCHEMA", "GRANT", "REVOKE", "TO", "RENAME", "CALL", "BEGIN", "COMMIT", "ROLLBACK", "START", "TRANSACTION"]);

/**
 * Every name a statement text uses (unquoted words that are not reserved, backticked identifiers),
 * as spelt: the relations among them are what the catalog is re-read for. Null when the text
 * cannot be lexed (the taint analysis refuses or redacts it anyway).
 */
export function namedIdentifiers(sql: string, dialect: Dialect): Set<string> | null {
  let toks;
  try {
    toks = lex(sql, dialect);
  } catch (e) {
    if (!(e instanceof LexError)) throw e;
    return null;
  }
  const names = new Set<string>();
  // Diagnostics statements read no relation, and a catalog query before them would clear the very
  // list they show (any statement that uses a table resets it): they name nothing.
  const starts = toks.filter((t, i) => t.type === "word" && (i === 0 || toks[i - 1]!.type === "semicolon"));
  const diagnostics = (t: (typeof toks)[number]) => {
    const next = toks[toks.indexOf(t) + 1];
    return next?.type === "word" && ((t.text === "SHOW" && ["WARNINGS", "ERRORS", "COUNT"].includes(next.text)) || (t.text === "GET" && ["DIAGNOSTICS", "CURRENT", "STACKED"].includes(next.text)));
  };
  if (starts.length > 0 && starts.every(diagnostics) && starts.length === toks.filter((t) => t.type === "semicolon").length + (toks.at(-1)?.type === "semicolon" ? 0 : 1)) return names;
  for (const t of toks) {
    // As spelt: the server resolves relation names exactly (case-sensitive unless lower_case_table_names).
    if (t.type === "ident" || (t.type === "word" && !RESERVED.has(t.text))) names.add(t.value);
  }
  return names;
}

/**
 * `taint` (or none) with the reason a statement shows a query plan added (classify.ts `queryPlan`):
 * every column derived, as for a masked view; `assigns` when the plan-showing statement stores its
 * output in a variable (`EXPLAIN FORMAT=JSON INTO @v …`), which the engine refuses.
 */
export function withQueryPlan(taint: Taint | null, reason: string, assigns = false): Taint {
  return { plain: false, sources: [...(taint?.sources ?? []), reason], maskedView: true, assigns: assigns || (taint?.assigns ?? false), predicate: taint?.predicate ?? null };
}
