/**
 * Function-level classification: what a statement's function calls do, as policy actions.
 *
 * A statement's action is the most dangerous of its parts. The classifier reports every `name(`
 * of a statement (FunctionCall); each call gets an action:
 *
 *   read     immutable/stable built-ins (pg_proc, parsers/sql/pg-functions.generated.ts) and the
 *            volatile built-ins known to have no effect outside the statement (random, pg_sleep…);
 *            volatile ones still form a `read` part naming them, so `functions: [pg_sleep]` can deny them
 *   write    sequences, large objects, advisory locks, index maintenance, transaction IDs (txid_current)
 *   session  set_config, setseed, pg_notify (session state / other listeners)
 *   admin    other backends, the server process, server files, replication, statistics
 *   dynamic  functions that execute SQL text (query_to_xml family, ts_stat, ts_rewrite, cursor_to_xml…)
 *   execute  everything else: user-defined or extension functions (dblink too), names qualified by a schema
 *            other than pg_catalog, quoted names that differ from the built-in spelling, and
 *            volatile built-ins not curated here
 *
 * A `dynamic` call whose SQL argument is one plain literal adds the statements of that literal
 * (classified recursively, up to MAX_DEPTH); any other argument adds an `unknown` part, which only
 * a rule that names `unknown` allows.
 */
import { IMMUTABLE, STABLE, VOLATILE } from "./pg-functions.generated.ts";
import type { ClassifiedStatement, FunctionCall, StatementKind, StatementPart } from "./types.ts";
import { lineCommentEnd, nextToken } from "./tokenizer.ts";

export type FunctionAction = Extract<StatementKind, "read" | "write" | "session" | "admin" | "execute" | "dynamic">;

const words = (s: string): Set<string> => new Set(s.split(/\s+/).filter(Boolean));

const CATALOGUED_READ = words(IMMUTABLE + " " + STABLE);
const CATALOGUED_VOLATILE = words(VOLATILE);

/** Curated side effects of pg_catalog functions (prefix entries end in `*`). Checked before volatility. */
const CURATED: ReadonlyArray<[string, FunctionAction]> = [
  // SQL text executed by the server
  ["query_to_xml", "dynamic"], ["query_to_xmlschema", "dynamic"], ["query_to_xml_and_xmlschema", "dynamic"],
  ["cursor_to_xml", "dynamic"], ["cursor_to_xmlschema", "dynamic"], ["ts_stat", "dynamic"], ["ts_rewrite", "dynamic"],
  // data and locks
  ["nextval", "write"], ["setval", "write"], ["lo_import", "admin"], ["lo_export", "admin"], ["lo_*", "write"],
  ["loread", "write"], ["lowrite", "write"], ["pg_advisory_*", "write"], ["pg_try_advisory_*", "write"],
  ["brin_summarize_*", "write"], ["brin_desummarize_range", "write"], ["gin_clean_pending_list", "write"],
  ["pg_logical_emit_message", "write"],
  // stable, but they assign the transaction an ID (burns XIDs, writes WAL at commit) even in a READ ONLY transaction
  ["txid_current", "write"], ["pg_current_xact_id", "write"],
  // session state and other sessions' listeners
  ["set_config", "session"], ["setseed", "session"], ["pg_notify", "session"],
  // other backends, the server, its files, replication, statistics, upgrade hooks
  ["pg_terminate_backend", "admin"], ["pg_cancel_backend", "admin"], ["pg_reload_conf", "admin"],
  ["pg_rotate_logfile", "admin"], ["pg_promote", "admin"], ["pg_switch_wal", "admin"], ["pg_create_restore_point", "admin"],
  ["pg_backup_*", "admin"], ["pg_log_backend_memory_contexts", "admin"], ["pg_log_standby_snapshot", "admin"],
  ["pg_read_file", "admin"], ["pg_read_binary_file", "admin"], ["pg_ls_*", "admin"], ["pg_stat_file", "admin"],
  ["pg_file_*", "admin"], ["pg_write_*", "admin"], ["pg_current_logfile", "admin"], ["pg_show_all_file_settings", "admin"],
  ["pg_hba_file_rules", "admin"], ["pg_ident_file_mappings", "admin"], ["pg_import_system_collations", "admin"],
  ["pg_create_*", "admin"], ["pg_drop_replication_slot", "admin"], ["pg_copy_*_replication_slot", "admin"],
  ["pg_logical_slot_*", "admin"], ["pg_replication_slot_advance", "admin"], ["pg_sync_replication_slots", "admin"],
  ["pg_replication_origin_*", "admin"], ["pg_wal_replay_*", "admin"], ["pg_stat_reset*", "admin"],
  ["pg_restore_*_stats", "admin"], ["pg_clear_*_stats", "admin"], ["pg_nextoid", "admin"],
  ["pg_stop_making_pinned_objects", "admin"], ["binary_upgrade_*", "admin"], ["pg_extension_config_dump", "admin"],
  ["plpgsql_*", "admin"], ["fmgr_*", "admin"], // language validators (fmgr_c_validator loads a library)
];

/** Volatile built-ins that only read, or only compute (checked against the catalogue in the unit test). */
const HARMLESS_VOLATILE = words(`
  random random_normal clock_timestamp timeofday gen_random_uuid uuidv4 uuidv7 array_sample
  array_shuffle currval lastval current_query pg_is_in_recovery pg_jit_available pg_database_size pg_relation_size
  pg_table_size pg_indexes_size pg_total_relation_size pg_tablespace_size pg_blocking_pids
  pg_safe_snapshot_blocking_pids pg_lock_status pg_stat_have_stats pg_partition_tree pg_partition_ancestors
  pg_current_wal_lsn pg_current_wal_flush_lsn pg_current_wal_insert_lsn pg_last_wal_receive_lsn
  pg_last_wal_replay_lsn pg_last_xact_replay_timestamp pg_last_committed_xact pg_is_wal_replay_paused
  pg_get_wal_replay_pause_state pg_control_checkpoint pg_control_init pg_control_recovery pg_control_system
  pg_xact_status txid_status pg_xact_commit_timestamp pg_xact_commit_timestamp_origin pg_prepared_xact
  pg_notification_queue_usage pg_collation_actual_version pg_database_collation_actual_version
  pg_sequence_last_value pg_get_sequence_data pg_stat_clear_snapshot pg_stat_force_next_flush
  pg_available_wal_summaries pg_wal_summary_contents pg_get_wal_summarizer_state pg_get_wal_resource_managers
  pg_get_multixact_members pg_isolation_test_session_is_blocked pg_export_snapshot
  pg_show_replication_origin_status pg_get_backend_memory_contexts pg_get_shmem_allocations
  pg_get_shmem_allocations_numa pg_get_aios pg_get_loaded_modules pg_get_wait_events
  pg_stat_get_io pg_stat_get_backend_io pg_stat_get_backend_wal pg_stat_get_recovery_prefetch
  pg_stat_get_xact_blocks_fetched pg_stat_get_xact_blocks_hit pg_stat_get_xact_function_calls
  pg_stat_get_xact_function_self_time pg_stat_get_xact_function_total_time pg_stat_get_xact_numscans
  pg_stat_get_xact_tuples_deleted pg_stat_get_xact_tuples_fetched pg_stat_get_xact_tuples_hot_updated
  pg_stat_get_xact_tuples_inserted pg_stat_get_xact_tuples_newpage_updated pg_stat_get_xact_tuples_returned
  pg_stat_get_xact_tuples_updated bernoulli system amvalidate pg_sleep pg_sleep_for pg_sleep_until
`);

/**
 * Words PostgreSQL's grammar reads as syntax when an unquoted one precedes `(`: the reserved and
 * column-name keywords (never a plain function name), and a few unreserved or type/function-name
 * keywords whose grammar use can follow the same tokens as a call (`ON CONFLICT (` like `ON f(`,
 * `NOT MATERIALIZED (`, `GROUP BY CUBE (`, `a NOT LIKE (`, COPY options …). A user function with
 * one of these names is seen only when called quoted or qualified (docs: Limits).
 */
const SYNTAX_WORDS = words(`
  all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create
  current_catalog current_date current_role current_time current_timestamp current_user default deferrable desc
  distinct do else end except false fetch for foreign from grant group having in initially intersect into lateral
  leading limit localtime localtimestamp not null offset on only or order placing primary references returning
  select session_user some symmetric system_user table then to trailing true union unique user using variadic
  when where window with
  between bigint bit boolean char character coalesce dec decimal exists extract float greatest grouping inout int
  integer interval json json_array json_arrayagg json_exists json_object json_objectagg json_query json_scalar
  json_serialize json_table json_value least merge_action national nchar none normalize nullif numeric out overlay
  position precision real row setof smallint substring time timestamp treat trim values varchar xmlattributes
  xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable
  is isnull notnull like ilike similar overlaps conflict materialized rollup cube insert update operator
  stdin stdout force_quote force_not_null force_null
`);

/**
 * Unreserved and type/function-name keywords that are grammar before `(` only after the end of an
 * expression or a clause word (`count(*) OVER (`, `t LEFT JOIN (`, `UPDATE t SET (a) =`,
 * `ORDER BY (`, `FETCH FIRST (`, `EXPLAIN (`): where an expression can start — after `(`, `,`,
 * `[`, an operator or one of CALL_CONTEXT_KEYWORDS — PostgreSQL reads them as a function call, and
 * so does this classifier (`SELECT key(1)` calls somebody's function `key`).
 */
const CONTEXT_SYNTAX_WORDS = words(`
  cross full inner join left natural outer right tablesample
  over filter set by varying sets explain copy zone escape of key columns nested path passing include rows range
  groups partition matched nothing first next repeatable
`);

/** Keywords after which an expression, and so a function call, can start. */
export const CALL_CONTEXT_KEYWORDS: readonly string[] = [
  ...words(`select where and or not then else when having returning distinct from join lateral on using by limit
  offset between symmetric asymmetric like ilike to case default escape all zone first next variadic leading
  trailing both placing for passing ref value key document content`),
];

const EXPRESSION_START = new Set(["(", ",", "[", "op", ...CALL_CONTEXT_KEYWORDS]);

/**
 * After `)` an expression can start too (`DISTINCT ON (a) f(`, `OPERATOR(pg_catalog.+) f(`):
 * there only these words are grammar (`count(*) OVER (`, `(a JOIN b) JOIN (`, `REPEATABLE (`).
 */
const AFTER_PAREN_SYNTAX = words("over filter join repeatable escape");

function curated(name: string): FunctionAction | undefined {
  for (const [pattern, action] of CURATED) {
    if (pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern) {
      // `pg_copy_*_replication_slot`, `pg_restore_*_stats`: a `*` in the middle
      return action;
    }
    if (pattern.includes("*") && !pattern.endsWith("*")) {
      const [head, tail] = pattern.split("*") as [string, string];
      if (name.startsWith(head) && name.endsWith(tail) && name.length >= head.length + tail.length) return action;
    }
  }
  return undefined;
}

/** Is this call really grammar (`IN (`, `OVER (` …) rather than a function call? */
export function isSyntaxWord(call: FunctionCall): boolean {
  if (call.quoted || call.schema !== "") return false;
  if (SYNTAX_WORDS.has(call.name)) return true;
  if (!CONTEXT_SYNTAX_WORDS.has(call.name)) return false;
  return call.after === ")" ? AFTER_PAREN_SYNTAX.has(call.name) : !EXPRESSION_START.has(call.after ?? "");
}

/** The action of one call (syntax words are not calls: filter them with isSyntaxWord first). */
export function functionAction(call: FunctionCall): FunctionAction {
  if (call.schema === "other" || call.name === "") return "execute";
  const known = CATALOGUED_READ.has(call.name) || CATALOGUED_VOLATILE.has(call.name);
  if (!known) return "execute";
  const side = curated(call.name);
  if (side) return side;
  if (CATALOGUED_VOLATILE.has(call.name) && !HARMLESS_VOLATILE.has(call.name)) return "execute";
  return "read";
}

/** Which argument of a SQL-executing function holds the SQL text (by argument count), or null. */
function sqlArgumentIndex(name: string, argCount: number): number | null {
  if (name.startsWith("query_to_xml") || name === "ts_stat") return 0;
  if (name === "ts_rewrite") return argCount === 2 ? 1 : -1;
  return null; // cursor_to_xml (a cursor name), dblink (another server): nothing to classify here
}

const MAX_DEPTH = 4;

/**
 * Two-phase commit outlives the session: PREPARE TRANSACTION keeps the transaction (its locks, its
 * snapshot holding back vacuum) after the client leaves, and COMMIT/ROLLBACK PREPARED finish a
 * transaction some other session prepared. A `transaction` grant alone must not allow that.
 */
const TWO_PHASE_COMMANDS = new Set(["PREPARE TRANSACTION", "COMMIT PREPARED", "ROLLBACK PREPARED"]);

export type Classify = (sql: string) => ClassifiedStatement[];

/**
 * The parts of a statement beyond its own kind. Only statements that run or plan their expressions
 * get parts: reads and writes (incl. COPY (query) and EXPLAIN; an EXPLAIN without ANALYZE only
 * plans, so its volatile built-ins are left out), and two-phase commit (a `write` part). DDL,
 * privilege, procedural… statements need those (broader) grants anyway.
 */
export function statementParts(stmt: ClassifiedStatement, sql: string, options: { standardConformingStrings: boolean; userFunctions?: ReadonlySet<string> }, classify: Classify, depth = 0): StatementPart[] {
  if (TWO_PHASE_COMMANDS.has(stmt.command)) return [{ kind: "write", command: stmt.command, flags: [], functions: [] }];
  if (stmt.kind !== "read" && stmt.kind !== "write") return [];
  // EXPLAIN without ANALYZE does not run the statement, but the planner does evaluate immutable
  // calls (constant folding) and stable ones (selectivity estimates) with constant arguments: a
  // user function declared IMMUTABLE runs. Only volatile built-ins are never evaluated there.
  const planOnly = stmt.command === "EXPLAIN" && !stmt.flags.includes("explain-analyze");
  const byAction = new Map<FunctionAction, string[]>();
  const inner: StatementPart[] = [];
  for (const call of stmt.calls ?? []) {
    if (isSyntaxWord(call)) continue;
    const action = functionAction(call);
    if (planOnly && action !== "execute" && CATALOGUED_VOLATILE.has(call.name)) continue;
    if (action === "read" && !CATALOGUED_VOLATILE.has(call.name)) continue;
    const list = byAction.get(action) ?? [];
    if (!list.includes(call.name)) list.push(call.name);
    byAction.set(action, list);
    if (action !== "dynamic") continue;
    const args = callArguments(sql, call, options.standardConformingStrings);
    const index = args ? sqlArgumentIndex(call.name, args.length) : null;
    if (index === -1) continue; // e.g. ts_rewrite(query, target, substitute): no SQL text
    // Only arguments after plain literals are trusted to start where PostgreSQL starts them.
    const before = index !== null && args ? args.slice(0, index) : [];
    const trusted = before.every((a) => literalValue(a.replace(/::\s*tsquery$/i, ""), options.standardConformingStrings) !== null);
    const text = index !== null && args && index < args.length && trusted ? literalValue(args[index]!, options.standardConformingStrings) : null;
    if (text === null || depth >= MAX_DEPTH) {
      inner.push({ kind: "unknown", command: `${stmt.command} (SQL text of ${call.name} is not a plain literal)`, flags: [], functions: [call.name] });
      continue;
    }
    for (const s of classify(text)) {
      s.parts = statementParts(s, text, options, classify, depth + 1);
      inner.push({ kind: s.kind, command: `${s.command} (inside ${call.name})`, flags: [...s.flags], functions: [...s.functions] });
      inner.push(...s.parts);
    }
  }
  // Attribute notation `x.f` calls `f(x)` when `f` is not a column of `x` — any expression in
  // parentheses too: `('my_seq'::regclass).nextval`, `(1234).pg_log_backend_memory_contexts`,
  // `c.leak_row` over a row. Built-in names are decided as calls (a column of that name is then
  // over-approximated as its call, which is harmless for every built-in that only reads).
  const possible: string[] = [];
  for (const name of stmt.attributes ?? []) {
    if (!CATALOGUED_READ.has(name) && !CATALOGUED_VOLATILE.has(name)) {
      // Somebody's function or a column: only the session's catalogue can tell (a function it
      // knows is an execute part); otherwise a possible call that only deny/approve rules naming
      // the function decide (parsers/policy/engine.ts), never default deny.
      if (options.userFunctions?.has(name)) addAction(byAction, "execute", name);
      else if (!possible.includes(name)) possible.push(name);
      continue;
    }
    const action = functionAction({ name, quoted: false, schema: "", start: 0, end: 0 });
    if (planOnly && action !== "execute" && CATALOGUED_VOLATILE.has(name)) continue;
    if (action === "read" && !CATALOGUED_VOLATILE.has(name)) continue;
    // `('select …'::text).ts_stat`: SQL text the argument reader cannot see
    if (action === "dynamic") inner.push({ kind: "unknown", command: `${stmt.command} (SQL text of ${name} in attribute notation)`, flags: [], functions: [name] });
    addAction(byAction, action, name);
  }
  const parts: StatementPart[] = [];
  for (const [action, functions] of byAction) parts.push({ kind: action, command: stmt.command, flags: [], functions });
  if (possible.length > 0) parts.push({ kind: "execute", command: stmt.command, flags: [], functions: possible, possible: true });
  return [...parts, ...inner];
}

function addAction(byAction: Map<FunctionAction, string[]>, action: FunctionAction, name: string): void {
  const list = byAction.get(action) ?? [];
  if (!list.includes(name)) list.push(name);
  byAction.set(action, list);
}

// ---- argument extraction (a small scanner for the argument list of one call) ----

/**
 * The raw texts of the call's arguments (split at top-level commas), or null when the text after
 * the name is not a plain `( … )` the scanner understands.
 */
export function callArguments(sql: string, call: FunctionCall, scs: boolean): string[] | null {
  let i = call.end;
  if (call.quoted) i++; // closing quote
  const open = nextToken(sql, i, scs);
  // `U&"name" UESCAPE '!'` (…): the name's spelling is not the plain one; not read here.
  if (!open || open.kind !== "punct" || open.value !== "(") return null;
  const args: string[] = [];
  let depth = 0;
  let start = open.end;
  for (let t = nextToken(sql, open.end, scs); t; t = nextToken(sql, t.end, scs)) {
    if (t.kind !== "punct") continue;
    if (t.value === "(") depth++;
    else if (t.value === ")") {
      if (depth === 0) {
        const last = sql.slice(start, t.start).trim();
        if (last !== "" || args.length > 0) args.push(last);
        return args;
      }
      depth--;
    } else if (t.value === "," && depth === 0) {
      args.push(sql.slice(start, t.start).trim());
      start = t.end;
    }
  }
  return null; // unterminated token or no closing parenthesis
}

// The tokenizer is shared with the COPY-options reader; lineCommentEnd stays importable from here.
export { lineCommentEnd };

/**
 * The value of an argument that is exactly one plain string literal — `'…'` (with `''`; no
 * backslash when standard_conforming_strings is off) or `$tag$…$tag$` — else null. E'', U&'',
 * continuations, casts and expressions are not trusted.
 */
export function literalValue(arg: string, scs: boolean): string | null {
  const plain = /^'((?:[^']|'')*)'$/s.exec(arg);
  if (plain) {
    if (!scs && plain[1]!.includes("\\")) return null;
    return plain[1]!.replaceAll("''", "'");
  }
  const dollar = /^(\$(?:[A-Za-z_\x80-\uffff][A-Za-z_0-9\x80-\uffff]*)?\$)([\s\S]*)\1$/.exec(arg);
  if (dollar && !dollar[2]!.includes(dollar[1]!)) return dollar[2]!;
  return null;
}
