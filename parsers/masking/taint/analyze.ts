/**
 * Taint analysis of one SQL string (a simple query or a Parse): can any value it returns — a
 * result column, an error or notice text, a notification, a setting — be computed from a masked
 * column? Lexical and fail closed: it never proves a value clean, it only finds every way the
 * statement could reach masked data:
 *
 *  - a masked column's name (any column glob of a rule, by its column part, in any spelling the
 *    lexer can read — quoted or not, inside strings too);
 *  - the name of a table that has a masked column (whole-row references `c`, `c.*`,
 *    `row_to_json(c)`, `TABLE customers`, NATURAL joins all need it in the statement);
 *  - an object whose definition is not in the statement: views and materialized views that may
 *    read masked tables, user functions, SQL-running built-ins (query_to_xml, ts_stat, dblink…),
 *    DO, CALL, EXECUTE (a prepared statement; also under EXPLAIN and CREATE TABLE AS), FETCH and MOVE (a cursor), and anything the lexer could not read;
 *  - COMMIT / END after a tainted statement declared a WITH HOLD cursor: their messages only —
 *    COMMIT runs the cursor's query (`declare c cursor with hold for select api_token::int …`
 *    fails at COMMIT, quoting the value).
 *
 * The worker then masks every result column that is not a plain reference to an unmasked base
 * table column (RowDescription's table OID + attribute number say which are) with the derived
 * rule, and masks error, notice, notification and setting texts while the statement runs.
 *
 * It also decides two refusals: a tainted statement that writes (a table, a setting, a
 * notification, a large object — values could be laundered out of the masker's sight), and with
 * `predicates: refuse`, masked data used in WHERE / JOIN … ON / USING / NATURAL / ORDER BY /
 * GROUP BY / HAVING / PARTITION BY / DISTINCT ON (boolean and ordering oracles), and a tainted
 * statement with INTERSECT / EXCEPT / UNION [DISTINCT] / SELECT DISTINCT (row-count oracles).
 */
import { sqlWords, type SqlWord } from "./sql-words.ts";

export interface TaintCatalog {
  /** Rule index the column globs give a column of this name (table unknown), or -1. */
  columnRule(column: string): number;
  /** Relations (lower-case or exact names) with at least one masked column → the first such rule. */
  maskedTables: ReadonlyMap<string, number>;
  /** Views, materialized views and other relations whose content may derive from masked columns. */
  taintingRelations: ReadonlySet<string>;
  /** Functions outside pg_catalog/information_schema (they may read any table). */
  userFunctions: ReadonlySet<string>;
  /** Operators outside pg_catalog/information_schema whose function is not C or internal code (`1 === 1` runs it unnamed). */
  userOperators: ReadonlySet<string>;
  /**
   * Relations with row-level-security policies: a policy's expression runs unseen (no function
   * context when written inline), and a failed cast in it quotes what it read. Their messages are tainted.
   */
  policyRelations?: ReadonlySet<string>;
  /** Every relation name the catalogue knew at session start (a name not in it may be a view created since). */
  knownRelations: ReadonlySet<string>;
  /** Column names of every relation of this name (any schema) the catalogue knew, or undefined. */
  relationColumns(relation: string): ReadonlySet<string> | undefined;
  /** Rule used when the source is opaque (the first rule with column globs). */
  defaultRule: number;
}

export interface Taint {
  /** The rule the value may derive from (the first found; derived values are always redacted). */
  rule: number;
  /** Why, for the trail: e.g. ["column email", "table customers", "function f"]. Never values. */
  sources: string[];
  /**
   * Only the server's messages are tainted, not the result columns: a write into a table with
   * masked columns returns no derived value, but its triggers, constraint errors and notices may
   * echo the stored rows.
   */
  messagesOnly?: boolean;
}

export interface TaintVerdict {
  taint: Taint | null;
  /** A reason to refuse the statement, or null. */
  refusal: string | null;
  /** Functions and procedures this statement may create or rename (they taint like user functions from now on). */
  defines?: string[];
  /** The statement may declare a WITH HOLD cursor (its query runs at COMMIT). */
  holdCursor?: boolean;
}

export interface AnalyzeOptions {
  standardConformingStrings?: boolean;
  /** `masking.predicates: refuse` */
  refusePredicates?: boolean;
  /** The classifier's statement kinds of this string (write/ddl/… with taint are refused). */
  kinds?: readonly string[];
  /** An opaque tainted statement (DO, CALL, user function…) ran earlier in this session: settings may hold masked values. */
  settingsTainted?: boolean;
  /** A tainted statement of this session may have declared a WITH HOLD cursor: COMMIT may run its query. */
  holdCursors?: boolean;
}

/**
 * Built-ins that run SQL given as text or read a table named by a string, and relations or
 * functions whose values are copies of other data (column statistics, statement text).
 */
const SQL_RUNNING_FUNCTIONS = new Set([
  "query_to_xml", "query_to_xmlschema", "query_to_xml_and_xmlschema", "cursor_to_xml", "cursor_to_xmlschema",
  "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema", "schema_to_xml", "schema_to_xmlschema",
  "schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
  "ts_stat", "ts_rewrite", "dblink", "dblink_exec", "dblink_open", "dblink_fetch", "dblink_send_query", "dblink_get_result",
  "pg_stats", "pg_stats_ext", "pg_stats_ext_exprs", "pg_statistic", "pg_statistic_ext_data",
  "pg_read_file", "pg_read_binary_file", "lo_get", "loread", "lo_export",
  // other sessions' statement text, literals included (`… where api_token = '…'`)
  "pg_stat_activity", "pg_stat_get_activity", "pg_stat_get_backend_activity", "pg_stat_statements",
]);

/** Longer statements are not analysed: all their computed columns are derived (and writes refused). */
const MAX_ANALYSED = 1 << 20;

/** Set operations: PostgreSQL reports their result columns as computed (no table OID). */
const SET_OPERATIONS = new Set(["union", "intersect", "except"]);

/** Statements whose source is elsewhere (a body, a prepared statement, a cursor: MOVE runs its query as FETCH does). */
const OPAQUE_COMMANDS = new Set(["do", "call", "execute", "fetch", "move"]);
/**
 * Statements that end a transaction by committing it: COMMIT materialises every WITH HOLD cursor
 * declared in it, i.e. runs that cursor's query, so its errors (a failed cast of a masked value)
 * come back as COMMIT's. After a tainted statement that may have declared one, their messages are
 * tainted (not before: a commit also reports settings and delivers the session's notifications).
 */
const COMMITTING_COMMANDS = new Set(["commit", "end"]);

/** Ways a statement can store or send a value past the masker (refused when tainted). */
const SINK_FUNCTIONS = new Set([
  "set_config", "pg_notify", "lo_from_bytea", "lo_put", "lo_import", "lo_export", "lowrite", "lo_create",
  "pg_logical_emit_message", "dblink_exec", "pg_file_write", "notify",
]);
const WRITING_KINDS = new Set(["write", "ddl", "privilege", "copy_external"]);
/** Words of a DO body / SQL text that write somewhere a later statement can read. */
const BODY_WRITES = new Set(["insert", "update", "delete", "merge", "copy", "create", "alter", "grant", "comment", "truncate", "listen"]);
/** Ways to read settings (a DO block or function may have set one from masked data). */
const SETTING_READERS = new Set(["current_setting", "show", "pg_settings", "pg_show_all_settings"]);

/** Clause keywords after which expressions compare, order or group values. */
const PREDICATE_START = new Set(["where", "on", "using", "having", "natural", "qualify", "when"]);
const PREDICATE_BY = new Set(["order", "group", "partition"]);
const PREDICATE_END = new Set(["select", "from", "join", "limit", "offset", "union", "intersect", "except", "returning", "window", "into", "values", "set", "then", "else", "end"]);
/** Words that can follow a table reference and are not its alias. */
/** `COPY t FROM STDIN` / `PROGRAM`: not relations. */
const COPY_ENDPOINTS = new Set(["stdin", "stdout", "program"]);
/** Words after a write target that are not its alias. */
const NOT_TARGET_ALIAS = new Set(["to", "from", "select", "default", "overriding", "query"]);
const NOT_ALIAS = new Set([
  "where", "join", "inner", "left", "right", "full", "cross", "natural", "on", "using", "group", "order", "having",
  "limit", "offset", "union", "intersect", "except", "window", "for", "fetch", "tablesample", "returning", "set",
  "values", "lateral", "into", "and", "or", "not", "with", "only", "as",
]);

export function analyzeTaint(sql: string, catalog: TaintCatalog, options: AnalyzeOptions = {}): TaintVerdict {
  if (sql.length > MAX_ANALYSED) {
    const taint = { rule: catalog.defaultRule, sources: ["statement too long to analyse"] };
    const writes = options.kinds?.find((k) => WRITING_KINDS.has(k));
    return { taint, refusal: writes || options.refusePredicates ? "statement too long to analyse for masked data" : null, holdCursor: true };
  }
  const { words, operators, opaque } = sqlWords(sql, options.standardConformingStrings ?? true);
  const sources: string[] = [];
  let rule = -1;
  const add = (why: string, r: number) => {
    if (!sources.includes(why) && sources.length < 16) sources.push(why);
    if (rule < 0) rule = r;
  };
  if (opaque) add(`unreadable SQL (${opaque})`, catalog.defaultRule);
  // A user operator calls its function without naming it (`select 1 === 1`). Any run of operator
  // characters holding one taints (scan.l may split a run: `===-1` is `===` and `-1`).
  let operatorHit = false;
  for (const run of operators) {
    for (const op of catalog.userOperators) {
      if (!run.includes(op)) continue;
      add(`operator ${op}`, catalog.defaultRule);
      operatorHit = true;
      break;
    }
  }

  // Aliases of tables with masked columns (`from customers c`): the alias alone is a whole row.
  const rowNames = new Map<string, number>();
  let sink: string | null = null;
  let predicateHit: string | null = null;
  // INTERSECT / EXCEPT / UNION [DISTINCT] and SELECT DISTINCT compare whole rows: `select email from
  // customers intersect select 'guess'` answers a row exactly when the guess is someone's e-mail,
  // `select distinct email = 'guess' from customers` two rows instead of one (measured) — the row
  // count is the equality test a WHERE would be. UNION ALL and count(distinct …) (one row, its
  // value masked) compare nothing the client sees.
  let rowComparison: string | null = null;
  // Predicate context per parenthesis depth (a sub-select inside a WHERE is still a predicate).
  const pred: boolean[] = [false];
  let nested = operatorHit;
  const ddl = options.kinds?.some((k) => k === "ddl" || k === "privilege") ?? false;
  const { slots, targets, aliases } = relationSlots(words);
  const localNames = new Set<string>();
  const hasNatural = words.some((w) => w.kind === "ident" && w.text === "natural");
  // A masked table named where a FROM list names relations (a plain read of it is not a taint by itself).
  let maskedRef = -1;
  // A masked table written to (`update customers c set … = c.x`): its alias is a row too.
  let maskedTarget = -1;
  words.forEach((w, k) => {
    if (w.kind !== "punct" && w.kind !== "string-word") {
      // CTE names: `x AS (`, `x (a, b) AS (`
      let j = k + 1;
      const lead = words[k - 1]?.text;
      if ((lead === "with" || lead === "recursive" || lead === ",") && words[j]?.text === "(" && words[j]!.kind === "punct") {
        while (j < words.length && !(words[j]!.text === ")" && words[j]!.kind === "punct" && words[j]!.depth === w.depth)) j++;
        j++;
      }
      if (words[j]?.text === "as" && words[j + 1]?.text === "(") localNames.add(w.text);
    }
    const r = slots.has(k) ? catalog.maskedTables.get(w.text) : undefined;
    if (r !== undefined && maskedRef < 0) maskedRef = r;
    const t = targets.has(k) ? catalog.maskedTables.get(w.text) : undefined;
    if (t !== undefined && maskedTarget < 0) maskedTarget = t;
  });
  // With a masked table in the statement, every FROM-item alias (`customers c`, `(select * from
  // customers) t`, `(customers join orders using (id)) j`) may stand for a row holding masked values.
  const rowRule = maskedRef >= 0 ? maskedRef : maskedTarget;
  if (rowRule >= 0) for (const a of aliases) rowNames.set(words[a]!.text, rowRule);
  // Column names of the relations the statement names: `c.name` is a column, anything else after a
  // row (`c.row_to_json`, `customers.to_jsonb`, `c.concat`) is a function called with the whole row.
  // Asked only for a qualified name (no set of every column built per statement).
  const isStatementColumn = (column: string): boolean => {
    for (const k of slots) if (catalog.relationColumns(words[k]!.text)?.has(column)) return true;
    for (const k of targets) if (catalog.relationColumns(words[k]!.text)?.has(column)) return true;
    return false;
  };

  for (let k = 0; k < words.length; k++) {
    const w = words[k]!;
    if (w.kind === "number") {
      // `ORDER BY 2` / `GROUP BY 1`: a masked column may sit at that position (an ordering oracle)
      const lead = words[k - 1];
      if (lead && (lead.text === "by" || lead.text === ",") && byClause(words, k)) predicateHit ??= `ordinal ${w.text} in ORDER BY / GROUP BY`;
      continue;
    }
    if (w.kind === "punct") {
      if (w.text === "(") pred[w.depth + 1] = false;
      // `*` / `t.*` expand to masked columns inside sub-queries, CTEs and row values. Not count(*),
      // not a multiplication, not a top-level `select *` / `select t.*` (plain columns, masked by their own rule).
      if (w.text === "*" && maskedRef >= 0 && isStarExpansion(words, k)) add("all columns (*) of a table with masked columns", maskedRef);
      continue;
    }
    const name = w.text;
    const prev = words[k - 1];
    const next = words[k + 1];
    const afterDot = prev?.text === "." && prev.kind === "punct";
    const isCall = next?.text === "(" && next.kind === "punct";
    if (w.kind === "ident") {
      if (PREDICATE_START.has(name)) pred[w.depth] = true;
      else if (PREDICATE_BY.has(name) && next?.text === "by") pred[w.depth] = true;
      else if (name === "distinct" && next?.text === "on") pred[w.depth] = true;
      else if (PREDICATE_END.has(name)) pred[w.depth] = false;
      if (name === "select" && w.depth > 0) nested = true;
      if (name === "with" && k === 0) nested = true;
      if (SET_OPERATIONS.has(name) && !(name === "union" && next?.text === "all")) rowComparison ??= name.toUpperCase();
      if (name === "distinct" && prev?.text === "select" && next?.text !== "on") rowComparison ??= "SELECT DISTINCT";
      if (maskedRef >= 0 && SET_OPERATIONS.has(name)) add(`${name.toUpperCase()} over a table with masked columns`, maskedRef);
      if (OPAQUE_COMMANDS.has(name) && (k === 0 || words[k - 1]!.text === ";")) add(`${name.toUpperCase()} statement`, catalog.defaultRule);
      // `EXPLAIN ANALYZE EXECUTE p` runs the prepared statement (its errors quote the values), as
      // does `CREATE TABLE t AS EXECUTE p`
      else if (name === "execute" && (prev?.text === "as" || statementLead(words, k) === "explain")) add("EXECUTE statement", catalog.defaultRule);
    }
    let inPredicate = false;
    for (let d = 0; d <= w.depth && !inPredicate; d++) inPredicate = pred[d] === true;
    if (slots.has(k) && !isCall && !(next?.text === "." && next.kind === "punct")) {
      if (!catalog.knownRelations.has(name) && !localNames.has(name) && !NOT_ALIAS.has(name) && !COPY_ENDPOINTS.has(name)) {
        add(`relation ${name} (not in the catalogue read at session start)`, catalog.defaultRule);
        nested = true;
      }
    }
    let found: string | null = null;
    // Words inside strings do not read anything by themselves (psql's `\d customers` matches
    // '^(customers)$'); strings that run as SQL do so through DO, a function body or a SQL-running
    // built-in, each a taint of its own.
    const columnRule = w.kind === "string-word" ? -1 : catalog.columnRule(name);
    if (columnRule >= 0) {
      found = `column ${name}`;
      add(found, columnRule);
    }
    const tableRule = w.kind === "string-word" ? undefined : (catalog.maskedTables.get(name) ?? (w.kind === "ident" ? undefined : catalog.maskedTables.get(name.toLowerCase())));
    const relationSlot = slots.has(k) || targets.has(k);
    const qualified = next?.text === "." && next.kind === "punct" && words[k + 2] !== undefined && words[k + 2]!.kind !== "punct";
    if (tableRule !== undefined) {
      if (slots.has(k)) {
        let a = k + 1;
        if (words[a]?.text === "*" && words[a]!.kind === "punct") a++; // `customers * t(…)`: with descendants
        if (words[a]?.text === "as") a++;
        if (words[a + 1]?.text === "(" || words[a]?.text === "(") add(`table ${name} with renamed columns`, tableRule);
      } else if (!relationSlot && !qualified) {
        found = `row ${name}`;
        add(found, tableRule);
      }
      // `(table customers) s(…)`, `with s(…) as (table customers)`: TABLE inside a statement is `select *`
      // under names the statement chooses; only a statement that is just `TABLE customers` keeps stored columns.
      let t = afterDot ? k - 3 : k - 1;
      if (words[t]?.text === "only" && words[t]!.kind === "ident") t--;
      if (words[t]?.text === "table" && words[t]!.kind === "ident" && t > 0 && words[t - 1]!.text !== ";") add(`all columns (TABLE) of ${name}`, tableRule);
      if (hasNatural) add(`table ${name} in a NATURAL join`, tableRule);
    } else if (rowNames.has(name) && aliases.has(k) && next?.text === "(" && next.kind === "punct") {
      // a column alias list on a FROM item (`(…) s(i, n, e)`): its columns are masked ones under new names
      add(`columns renamed by ${name}(…)`, rowNames.get(name)!);
    }
    if (w.kind !== "string-word" && qualified && !aliases.has(k) && !slots.has(k + 2) && !targets.has(k + 2)) {
      // Attribute notation: PostgreSQL reads `c.f` as `f(c)` when f is not a column of c, so
      // `c.row_to_json`, `customers.to_jsonb`, `c.concat`, `c.quote_literal` are the whole row.
      const field = words[k + 2]!;
      const r = tableRule ?? rowNames.get(name);
      if (r !== undefined && !isStatementColumn(field.text)) {
        found = `row ${name} (.${field.text} is not a column: a function of the whole row)`;
        add(found, r);
      }
    }
    if (tableRule === undefined && rowNames.has(name) && w.kind !== "string-word" && !aliases.has(k) && !qualified) {
      // an alias used as a value (`c`, `c.*`, `row_to_json(c)`), not as `c.column`
      found = `row ${name}`;
      add(found, rowNames.get(name)!);
    }
    if (catalog.taintingRelations.has(name)) {
      found = `view ${name}`;
      add(found, catalog.defaultRule);
      nested = true;
    }
    // DDL that names a user function without calling it (`CREATE OPERATOR === (FUNCTION = f, …)`,
    // `CREATE TYPE … (INPUT = f)`) makes something that runs it under another name. (Named with
    // an argument list, `f(…)`, it already taints as a call does, `DROP FUNCTION f(int)` included.)
    if (ddl && !isCall && w.kind !== "string-word" && catalog.userFunctions.has(name)) {
      found = `function ${name} (named in DDL)`;
      add(found, catalog.defaultRule);
    }
    // `o.leak` is `leak(o)`: a user function called in attribute notation
    if (afterDot && !isCall && w.kind !== "string-word" && catalog.userFunctions.has(name)) {
      found = `function ${name}`;
      add(found, catalog.defaultRule);
      nested = true;
    }
    if (isCall || w.kind === "string-word") {
      if (catalog.userFunctions.has(name) && isCall) {
        found = `function ${name}`;
        add(found, catalog.defaultRule);
        nested = true;
      }
      if (SQL_RUNNING_FUNCTIONS.has(name)) {
        found = `function ${name}`;
        add(found, catalog.defaultRule);
        nested = true;
      }
    } else if (SQL_RUNNING_FUNCTIONS.has(name) && !afterDot) {
      // pg_stats & co. as relations
      found = `relation ${name}`;
      add(found, catalog.defaultRule);
    }
    if (SINK_FUNCTIONS.has(name) && (isCall || name === "notify" || w.kind === "string-word")) sink ??= name;
    // A body run by DO / a function given as text that writes: it could store masked values where a later plain read finds them.
    if (w.kind === "string-word" && BODY_WRITES.has(name)) sink ??= `a body that writes (${name})`;
    if (options.settingsTainted && SETTING_READERS.has(name)) add(`settings possibly set from masked data (${name})`, catalog.defaultRule);
    if (found && inPredicate && w.kind !== "string-word") predicateHit ??= found;
  }

  let taint: Taint | null = sources.length > 0 ? { rule: rule < 0 ? catalog.defaultRule : rule, sources } : null;
  let refusal: string | null = null;
  const writes = options.kinds?.find((k) => WRITING_KINDS.has(k));
  // A write that reads a table with masked columns at all (`insert into t select * from customers`)
  // would store its values where a plain read no longer sees them as masked.
  if (writes && !taint && maskedRef >= 0) refusal = `a ${writes} statement may not read a table with masked columns`;
  if (taint) {
    if (writes) refusal = `a ${writes} statement may not use masked data (${taint.sources[0]})`;
    else if (sink) refusal = `${sink} may not be given masked data (${taint.sources[0]})`;
    else if (options.refusePredicates) {
      if (predicateHit) refusal = `masked data in a predicate or ordering clause (${predicateHit}); this policy refuses them`;
      else if (rowComparison) refusal = `masked data compared as whole rows (${rowComparison}: the row count tells whether a guess is right); this policy refuses them`;
      else if (nested && pred.length > 0 && hasPredicateClause(words)) refusal = `masked data reached through a sub-query, view or function, with a predicate or ordering clause; this policy refuses them`;
    }
  }
  if (!taint && maskedTarget >= 0) taint = { rule: maskedTarget, sources: ["writes a table with masked columns (its messages may echo rows)"], messagesOnly: true };
  const policed = catalog.policyRelations?.size ? words.find((w) => w.kind !== "string-word" && catalog.policyRelations!.has(w.text)) : undefined;
  if (!taint && policed) taint = { rule: catalog.defaultRule, sources: [`relation ${policed.text} with row-level-security policies (its messages may echo what they read)`], messagesOnly: true };
  if (!taint && options.holdCursors && words.some((w, k) => w.kind === "ident" && COMMITTING_COMMANDS.has(w.text) && (k === 0 || words[k - 1]!.text === ";"))) {
    taint = { rule: catalog.defaultRule, sources: ["COMMIT (runs the queries of WITH HOLD cursors)"], messagesOnly: true };
  }
  // any `with hold` (whatever the statement: fail closed), or SQL the lexer could not read
  const holdCursor = opaque !== null || words.some((w, k) => w.text === "hold" && words[k - 1]?.text === "with");
  const defines = definedRoutines(words);
  return { taint, refusal, ...(defines.length > 0 ? { defines } : {}), ...(holdCursor ? { holdCursor } : {}) };
}

/** The first word of the statement word k belongs to (statements are split by `;`). */
function statementLead(words: readonly SqlWord[], k: number): string | undefined {
  let j = k;
  while (j > 0 && words[j - 1]!.text !== ";") j--;
  return words[j]?.text;
}

/** Names after CREATE [OR REPLACE] FUNCTION|PROCEDURE|AGGREGATE and RENAME TO — in statements and in bodies. */
function definedRoutines(words: readonly SqlWord[]): string[] {
  const out: string[] = [];
  words.forEach((w, k) => {
    if (w.text === "rename" && words[k + 1]?.text === "to" && words[k + 2]) out.push(words[k + 2]!.text);
    if (!["function", "procedure", "aggregate"].includes(w.text)) return;
    let j = k + 1;
    while (words[j + 1]?.text === "." && words[j + 1]!.kind !== "string-word") j += 2; // schema.name
    const name = words[j];
    if (name && name.text !== "(" && name.kind !== "punct") out.push(name.text);
  });
  return out;
}

/**
 * Words where a FROM list (or TABLE) names a relation: after FROM, JOIN, ONLY, TABLE, LATERAL, or
 * a comma of a FROM list at the same depth; schema-qualified names too (the word after the dot).
 */
function relationSlots(words: readonly SqlWord[]): { slots: Set<number>; targets: Set<number>; aliases: Set<number> } {
  const slots = new Set<number>();
  const targets = new Set<number>();
  const aliases = new Set<number>();
  const from: boolean[] = [false];
  // Inside parentheses, FROM is a clause only after a SELECT there (not `substring(x from 2)`, `trim(from c)`).
  const query: boolean[] = [true];
  words.forEach((w, k) => {
    if (w.kind === "punct") {
      if (w.text === "(") {
        from[w.depth + 1] = false;
        query[w.depth + 1] = false;
      }
      return;
    }
    if (w.kind === "string-word") return;
    // an alias: after a relation name or a parenthesised FROM item, optionally after AS
    let b = words[k - 1]?.text === "as" && words[k - 1]!.kind === "ident" ? k - 2 : k - 1;
    if (words[b]?.text === "*" && words[b]!.kind === "punct" && slots.has(b - 1)) b--; // `customers * c`
    const before = words[b];
    if (from[w.depth] && before && !NOT_ALIAS.has(w.text) && (slots.has(b) || (before.kind === "punct" && before.text === ")" && before.depth === w.depth))) aliases.add(k);
    if (targets.has(b) && !NOT_ALIAS.has(w.text) && !NOT_TARGET_ALIAS.has(w.text)) aliases.add(k);
    // the table a statement writes to or copies (`insert into t`, `update t`, `copy t`): a relation, not a row value
    const target = words[k - 1]?.text === "." && words[k - 1]!.kind === "punct" ? words[k - 3] : words[k - 1];
    if (target?.kind === "ident" && ["into", "update", "copy"].includes(target.text) && !(words[k + 1]?.text === "." && words[k + 1]!.kind === "punct")) targets.add(k);
    if (["select", "delete", "update", "with", "values"].includes(w.text)) query[w.depth] = true;
    if ((w.text === "from" && query[w.depth]) || w.text === "join" || w.text === "table") from[w.depth] = true;
    else if (PREDICATE_START.has(w.text) || PREDICATE_END.has(w.text) || PREDICATE_BY.has(w.text)) from[w.depth] = false;
    if (!from[w.depth] || (words[k + 1]?.text === "." && words[k + 1]!.kind === "punct")) return;
    const prior = words[k - 1]?.text === "." && words[k - 1]!.kind === "punct" ? words[k - 3] : words[k - 1];
    if (prior && ((prior.kind === "ident" && ["from", "join", "only", "table", "lateral"].includes(prior.text)) || (prior.kind === "punct" && prior.text === ","))) slots.add(k);
  });
  return { slots, targets, aliases };
}

/** Is word k inside an ORDER BY / GROUP BY list at its depth (after `by`, before another clause)? */
function byClause(words: readonly SqlWord[], k: number): boolean {
  const depth = words[k]!.depth;
  for (let j = k - 1; j >= 0; j--) {
    const w = words[j]!;
    if (w.depth < depth) return false;
    if (w.depth > depth || w.kind !== "ident") continue;
    if (w.text === "by") return words[j - 1]?.text === "order" || words[j - 1]?.text === "group";
    if (PREDICATE_START.has(w.text) || PREDICATE_END.has(w.text)) return false;
  }
  return false;
}

function isStarExpansion(words: readonly SqlWord[], k: number): boolean {
  const prev = words[k - 1];
  if (!prev) return false;
  const dotted = prev.kind === "punct" && prev.text === ".";
  const lead = dotted ? words[k - 3] : prev;
  const listStart = lead !== undefined && ((lead.kind === "ident" && ["select", "distinct", "all"].includes(lead.text)) || (lead.kind === "punct" && lead.text === ","));
  if (!dotted && !listStart) return false; // a multiplication, count(*)
  return words[k]!.depth > 0 || !listStart;
}

function hasPredicateClause(words: readonly SqlWord[]): boolean {
  return words.some((w, k) => w.kind === "ident" && (PREDICATE_START.has(w.text) || (PREDICATE_BY.has(w.text) && words[k + 1]?.text === "by")));
}
