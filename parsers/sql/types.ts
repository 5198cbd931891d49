/**
 * The SQL classifier's output (implemented in wasm/assembly, wrapped by wasm/loader/sql.ts).
 * Policy rules name these kinds as their `actions` for PostgreSQL resources.
 */
export type StatementKind =
  | "read" // SELECT (no INTO, no data-modifying CTE), SHOW, EXPLAIN without ANALYZE, VALUES, TABLE, FETCH/DECLARE of a read
  | "write" // INSERT, UPDATE, DELETE, MERGE, COPY FROM (client), SELECT INTO, CREATE TABLE AS, data-modifying CTEs
  | "ddl" // CREATE/ALTER/DROP/TRUNCATE/COMMENT/REINDEX/VACUUM/CLUSTER/...
  | "privilege" // GRANT, REVOKE, CREATE/ALTER/DROP ROLE|USER|GROUP, SET ROLE, SET SESSION AUTHORIZATION, RESET ROLE, ALTER DEFAULT PRIVILEGES, security-label…
  | "procedural" // DO, CALL, PREPARE, EXECUTE (prepared), LOAD
  | "transaction" // BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, SAVEPOINT, RELEASE, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED, ABORT
  | "session" // SET (non-role), RESET, SHOW is read, DISCARD, LISTEN, UNLISTEN, NOTIFY? (see docs), DEALLOCATE, CLOSE, FETCH, MOVE, CHECKPOINT…
  | "copy_external" // COPY ... TO/FROM PROGRAM, COPY to/from a server-side file
  | "admin" // (function parts only) calls that act on other sessions, the server, its files: pg_terminate_backend, pg_read_file, …
  | "execute" // (function parts only) calls of user-defined/extension functions and uncatalogued volatile built-ins
  | "dynamic" // (function parts only) calls that execute SQL text: query_to_xml, ts_stat, …
  | "unknown"; // anything the classifier cannot classify with certainty

export type StatementFlag =
  | "no-where" // UPDATE or DELETE without a WHERE clause
  | "data-modifying-cte" // WITH ... (INSERT|UPDATE|DELETE|MERGE) ...
  | "explain-analyze" // EXPLAIN ANALYZE <statement>: executes the statement
  | "dangerous-function" // calls a function on the dangerous list (see `functions`)
  | "select-into" // SELECT ... INTO (creates a table)
  | "locks"; // takes explicit row or table locks: SELECT ... FOR UPDATE/SHARE, LOCK TABLE

export interface ClassifiedStatement {
  kind: StatementKind;
  /** Upper-case command tag-like name: "SELECT", "INSERT", "CREATE TABLE", "COPY FROM", "SET ROLE", … */
  command: string;
  /** Offsets into the UTF-16 JS string given to classify() (the statement without its trailing `;`). */
  start: number;
  end: number;
  flags: StatementFlag[];
  /** Dangerous functions called, lower-case, as named in the text (e.g. "pg_read_file"). */
  functions: string[];
  /** Every `name(` of the statement (deduplicated), for function-level classification. */
  calls?: FunctionCall[];
  /**
   * Names after a `.` that are neither a qualified call nor a qualifier (`c.email`, `c.leak_row`,
   * `(expr).f`), deduplicated, as PostgreSQL resolves them: each is a column or, in attribute
   * notation, the call `f(x)`. Unquoted names lower-cased, quoted exact, `U&"…"` decoded.
   */
  attributes?: string[];
  /**
   * What the statement's function calls do beyond its own kind (parsers/sql/function-actions.ts):
   * one part per action (`write`, `admin`, `execute`, `dynamic`, …) and, for SQL-executing calls,
   * the statements of their literal SQL argument. A policy must allow the statement and every part.
   */
  parts?: StatementPart[];
}

export interface FunctionCall {
  /** As PostgreSQL resolves it: unquoted names lower-cased, quoted names exact, U&"…" decoded. */
  name: string;
  quoted: boolean;
  /** "" unqualified, "pg_catalog", or "other" (any other schema, or a qualifier the classifier could not see). */
  schema: "" | "pg_catalog" | "other";
  /** UTF-16 offsets of the name (inside the quotes for a quoted name) in the classified string. */
  start: number;
  end: number;
  /**
   * Unquoted names only: the token before the name — "" (statement start), "(", ")", ",", "[", "op",
   * a keyword of CALL_CONTEXT_KEYWORDS, "word" (another word) or "other". It tells whether an
   * unreserved keyword such as `key(` is a call or grammar (function-actions.ts, isSyntaxWord).
   */
  after?: string;
}

export interface StatementPart {
  kind: StatementKind;
  command: string;
  flags: StatementFlag[];
  /** The functions this part is about (lower-case for unquoted names). */
  functions: string[];
  /**
   * Names in attribute notation (`c.leak_row`) that are a column or a user function — the text
   * cannot tell. Deny and approve rules naming one of them decide the part; default deny does not.
   */
  possible?: true;
}

export interface ClassifyOptions {
  /** PostgreSQL's standard_conforming_strings (default on). Off: backslashes escape inside '...'. */
  standardConformingStrings?: boolean;
  /** Lower-case function names considered dangerous; defaults to DEFAULT_DANGEROUS_FUNCTIONS. */
  dangerousFunctions?: readonly string[];
  /**
   * Functions the session's catalogue knows outside pg_catalog (masking sessions read it): a name
   * of these in attribute notation (`c.leak_row`) is an `execute` part, not only a possible call.
   */
  userFunctions?: ReadonlySet<string>;
}

export interface SqlClassifier {
  /**
   * Split a simple-query string into statements and classify each one. Empty statements
   * (`;;`, comments only) are omitted. Never throws on any input: what it cannot lex
   * (unterminated quote or comment…) becomes a single `unknown` statement.
   */
  classify(sql: string, options?: ClassifyOptions): ClassifiedStatement[];
}
