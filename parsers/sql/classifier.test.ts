/**
 * Unit tests of the WASM SQL classifier: each lexical rule, each kind and flag, and the inputs an
 * attacker controlling the pipeline would try. (The differential test against PostgreSQL's own
 * parser is in differential.test.ts.)
 */
import { describe, it, expect } from "vitest";
import { createSqlClassifier } from "../../wasm/loader/sql.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import type { ClassifiedStatement, ClassifyOptions, StatementKind } from "./types.ts";

const classifier = createSqlClassifier(loadWasmModule("sql"));
const classify = (sql: string, options?: ClassifyOptions): ClassifiedStatement[] => classifier.classify(sql, options);
const kinds = (sql: string, options?: ClassifyOptions): StatementKind[] => classify(sql, options).map((s) => s.kind);
const one = (sql: string, options?: ClassifyOptions): ClassifiedStatement => {
  const out = classify(sql, options);
  expect(out, sql).toHaveLength(1);
  return out[0]!;
};
const texts = (sql: string, options?: ClassifyOptions): string[] => classify(sql, options).map((s) => sql.slice(s.start, s.end));

describe("lexer: statement boundaries", () => {
  it("splits at top-level semicolons and omits empty statements", () => {
    expect(texts("SELECT 1; SELECT 2;;  ; /* only a comment */ ; -- c\n")).toEqual(["SELECT 1", "SELECT 2"]);
    expect(classify("")).toEqual([]);
    expect(classify("  ;; -- nothing\n /* here */ ")).toEqual([]);
  });

  it("single-quoted strings with '' doubling", () => {
    expect(texts("SELECT 'a;''b'; SELECT 2")).toEqual(["SELECT 'a;''b'", "SELECT 2"]);
  });

  it("E'' strings: a backslash escapes the next character, so \\' does not end the string", () => {
    expect(texts("SELECT E'\\'; DROP TABLE x; --'")).toEqual(["SELECT E'\\'; DROP TABLE x; --'"]);
    expect(texts("SELECT e'\\\\'; DROP TABLE x")).toEqual(["SELECT e'\\\\'", "DROP TABLE x"]);
    expect(texts("SELECT E'a''b;c'")).toHaveLength(1);
  });

  it("standard_conforming_strings: on (default) backslash is literal in '...'; off it escapes", () => {
    const sql = "SELECT '\\'; DROP TABLE x; --'";
    expect(kinds(sql)).toEqual(["read", "ddl"]);
    expect(kinds(sql, { standardConformingStrings: true })).toEqual(["read", "ddl"]);
    expect(kinds(sql, { standardConformingStrings: false })).toEqual(["read"]);
    // the mirror image: with scs off the backslash swallows a quote, so the DROP is real
    const sql2 = "SELECT 'a\\''; DROP TABLE x; --'";
    expect(kinds(sql2, { standardConformingStrings: true })).toEqual(["read"]);
    expect(kinds(sql2, { standardConformingStrings: false })).toEqual(["read", "ddl"]);
  });

  it("N'' strings follow standard_conforming_strings; B'' and X'' end at the first quote", () => {
    expect(kinds("SELECT N'\\'; DROP TABLE x; --'", { standardConformingStrings: false })).toEqual(["read"]);
    expect(kinds("SELECT N'\\'; DROP TABLE x; --'")).toEqual(["read", "ddl"]);
    expect(texts("SELECT B'101', X'1f'; SELECT 2")).toEqual(["SELECT B'101', X'1f'", "SELECT 2"]);
    // B'1' then a new plain string: with scs off the \' is an escape inside that second string
    expect(kinds("SELECT B'1''\\'' ; DROP TABLE t; --'", { standardConformingStrings: false })).toEqual(["read", "ddl"]);
    expect(kinds("SELECT B'1''\\'' ; DROP TABLE t; --'")).toEqual(["read"]);
  });

  it("U&'' strings and U&\"\" identifiers (with UESCAPE) have only doubling, no backslash escapes", () => {
    expect(texts("SELECT U&'\\0041\\'; SELECT 2")).toEqual(["SELECT U&'\\0041\\'", "SELECT 2"]);
    expect(texts("SELECT U&'!0041' UESCAPE '!'; SELECT U&\"d\\0061t\" FROM t")).toHaveLength(2);
  });

  it("string continuation across a newline keeps the E'' mode of the first part", () => {
    // PostgreSQL: E'x' <newline> '\'' is ONE E-string "x'": the ; after it ends the statement
    expect(kinds("SELECT E'x'\n'\\''; DROP TABLE t; --'")).toEqual(["read", "ddl"]);
    // without a newline the second literal is a separate (plain) string
    expect(kinds("SELECT E'x' '\\''; DROP TABLE t; --'")).toEqual(["read"]);
  });

  it("a continuation across a -- comment is version-dependent in PostgreSQL: unknown", () => {
    expect(kinds("SELECT 'a' -- c\n'b'")).toEqual(["unknown"]);
  });

  it("dollar quotes: $$, $tag$, tags do not nest, $1 is a parameter, a$b$ is an identifier", () => {
    expect(texts("SELECT $$a;b$$; SELECT 2")).toEqual(["SELECT $$a;b$$", "SELECT 2"]);
    expect(texts("SELECT $t$ $$ ; $T$ ; $t$; SELECT 2")).toEqual(["SELECT $t$ $$ ; $T$ ; $t$", "SELECT 2"]);
    expect(texts("SELECT $1, $2; SELECT $3")).toEqual(["SELECT $1, $2", "SELECT $3"]);
    expect(texts("SELECT a$b$; SELECT 2 $x$")).toEqual(["SELECT a$b$", "SELECT 2 $x$"]);
    expect(texts("SELECT $1$$; SELECT$$")).toEqual(["SELECT $1$$; SELECT$$"]);
    expect(kinds("SELECT $_a1$ x $_a1$")).toEqual(["read"]);
  });

  it("quoted identifiers with \"\"", () => {
    expect(texts('SELECT "a;""b" FROM "t;"; SELECT 2')).toEqual(['SELECT "a;""b" FROM "t;"', "SELECT 2"]);
  });

  it("nested /* */ comments and -- comments", () => {
    expect(texts("SELECT /* a /* b ; */ c ; */ 1; SELECT 2")).toEqual(["SELECT /* a /* b ; */ c ; */ 1", "SELECT 2"]);
    expect(texts("SELECT 1 -- ; DROP TABLE x\n; SELECT 2")).toEqual(["SELECT 1", "SELECT 2"]);
    expect(texts("SELECT 1 -- ; DROP TABLE x\r; SELECT 2")).toEqual(["SELECT 1", "SELECT 2"]);
  });

  it("an operator stops where a comment starts (*/* and <-- )", () => {
    expect(texts("SELECT 2 */* ; */ 3; SELECT 4")).toEqual(["SELECT 2 */* ; */ 3", "SELECT 4"]);
    expect(texts("SELECT 2 <-- ; DROP\n 3; SELECT 4")).toEqual(["SELECT 2 <-- ; DROP\n 3", "SELECT 4"]);
  });

  it("unterminated strings, identifiers, dollar quotes and comments: one unknown statement to the end", () => {
    for (const tail of ["'abc; DROP TABLE x", "E'abc\\'; DROP TABLE x", '"abc; DROP TABLE x', "$q$ abc; DROP TABLE x $Q$", "/* a /* b */ ; DROP TABLE x", "U&'x; DROP", "B'0101; DROP"]) {
      const sql = `SELECT 1; SELECT ${tail}`;
      const out = classify(sql);
      expect(out.map((s) => s.kind), sql).toEqual(["read", "unknown"]);
      expect(out[1]!.end).toBe(sql.length);
    }
    expect(kinds("/* never closed; DROP TABLE x")).toEqual(["unknown"]);
  });

  it("parentheses: a `;` inside parens is not a split point (only CREATE RULE allows it)", () => {
    expect(kinds("SELECT (1; DROP TABLE x)")).toEqual(["unknown"]);
    expect(kinds("CREATE RULE r AS ON UPDATE TO t DO ALSO (INSERT INTO log VALUES (1); NOTIFY t)")).toEqual(["ddl"]);
    expect(kinds("SELECT (1")).toEqual(["unknown"]);
    expect(kinds("SELECT 1); DROP TABLE x")).toEqual(["unknown", "ddl"]);
  });

  it("BEGIN ATOMIC bodies keep their semicolons; the statement after END is separate", () => {
    const sql = "CREATE FUNCTION f(x int) RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END; SELECT 2; END; DROP TABLE t";
    const out = classify(sql);
    expect(out.map((s) => [s.kind, s.command])).toEqual([["ddl", "CREATE FUNCTION"], ["ddl", "DROP TABLE"]]);
    expect(sql.slice(out[0]!.start, out[0]!.end)).toMatch(/SELECT 2; END$/);
    expect(kinds("CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END")).toEqual(["ddl"]);
    // never closed: unknown to the end, never a split into reads
    expect(kinds("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; GRANT ALL ON t TO public")).toEqual(["unknown"]);
    // "begin atomic" inside the parameter list (a parameter named begin of type atomic) is not a body
    expect(kinds("CREATE FUNCTION f(begin atomic) RETURNS int LANGUAGE sql RETURN 1; GRANT ALL ON t TO public; END")).toEqual(["ddl", "privilege", "transaction"]);
    // BEGIN ATOMIC outside CREATE FUNCTION/PROCEDURE does not open a body
    expect(kinds("BEGIN; SELECT 1; END")).toEqual(["transaction", "read", "transaction"]);
  });

  it("keywords are ASCII case-insensitive; non-ASCII text is fine and offsets are JS string offsets", () => {
    expect(one("SeLeCt 1").kind).toBe("read");
    expect(one("dElEtE FROM t").kind).toBe("write");
    const sql = "SELECT 'é😀' AS \"列\"; UPDATE t SET a = 'ü' WHERE id = 1";
    const out = classify(sql);
    expect(out.map((s) => sql.slice(s.start, s.end))).toEqual(["SELECT 'é😀' AS \"列\"", "UPDATE t SET a = 'ü' WHERE id = 1"]);
  });

  it("NUL bytes make the statement unknown (PostgreSQL would end the query text there)", () => {
    expect(kinds("SELECT 1\u0000; DROP TABLE x")).toEqual(["unknown", "ddl"]);
    expect(kinds("SELECT '\u0000'")).toEqual(["unknown"]);
    expect(kinds("SELECT 1 /* \u0000 */")).toEqual(["unknown"]);
  });

  it("characters PostgreSQL rejects make the statement unknown", () => {
    expect(kinds("SELECT 1 \\gset")).toEqual(["unknown"]);
    expect(kinds("SELECT $abc FROM t")).toEqual(["unknown"]);
    expect(kinds("SELECT {1}")).toEqual(["unknown"]);
  });
});

describe("kinds", () => {
  const cases: Array<[string, StatementKind, string]> = [
    ["SELECT * FROM t", "read", "SELECT"],
    ["VALUES (1), (2)", "read", "SELECT"],
    ["TABLE t", "read", "SELECT"],
    ["(SELECT 1) UNION (SELECT 2)", "read", "SELECT"],
    ["WITH x AS (SELECT 1) SELECT * FROM x", "read", "SELECT"],
    ["SHOW search_path", "read", "SHOW"],
    ["EXPLAIN SELECT 1", "read", "EXPLAIN"],
    ["EXPLAIN DELETE FROM t", "read", "EXPLAIN"],
    ["INSERT INTO t VALUES (1)", "write", "INSERT"],
    ["UPDATE t SET a = 1 WHERE b", "write", "UPDATE"],
    ["DELETE FROM t WHERE a = 1", "write", "DELETE"],
    ["MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "write", "MERGE"],
    ["COPY t FROM STDIN", "write", "COPY FROM"],
    ["COPY t (a, b) FROM stdin WITH (FORMAT csv)", "write", "COPY FROM"],
    ["COPY t TO STDOUT", "read", "COPY TO"],
    ["COPY (SELECT 1) TO STDOUT", "read", "COPY TO"],
    ["COPY (DELETE FROM t RETURNING *) TO STDOUT", "write", "COPY TO"],
    ["COPY t FROM PROGRAM 'curl x'", "copy_external", "COPY FROM"],
    ["COPY t TO PROGRAM 'gzip > /tmp/x'", "copy_external", "COPY TO"],
    ["COPY t FROM '/etc/passwd'", "copy_external", "COPY FROM"],
    ["COPY (SELECT 1) TO '/tmp/x'", "copy_external", "COPY TO"],
    ["COPY t TO E'/tmp/x'", "copy_external", "COPY TO"],
    ["SELECT * INTO t2 FROM t", "write", "SELECT INTO"],
    ["CREATE TABLE t2 AS SELECT * FROM t", "write", "CREATE TABLE AS"],
    ["CREATE TEMP TABLE t2 AS EXECUTE p", "write", "CREATE TABLE AS"],
    ["REFRESH MATERIALIZED VIEW CONCURRENTLY mv", "write", "REFRESH MATERIALIZED VIEW"],
    ["LOCK TABLE t IN ACCESS EXCLUSIVE MODE", "write", "LOCK TABLE"],
    ["CREATE TABLE t (id int)", "ddl", "CREATE TABLE"],
    ["CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)", "ddl", "CREATE INDEX"],
    ["CREATE MATERIALIZED VIEW mv AS SELECT 1", "ddl", "CREATE MATERIALIZED VIEW"],
    ["CREATE OR REPLACE FUNCTION f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", "ddl", "CREATE FUNCTION"],
    ["ALTER TABLE t ADD COLUMN b int", "ddl", "ALTER TABLE"],
    ["DROP TABLE t", "ddl", "DROP TABLE"],
    ["TRUNCATE t", "ddl", "TRUNCATE"],
    ["COMMENT ON TABLE t IS 'x'", "ddl", "COMMENT"],
    ["REINDEX TABLE t", "ddl", "REINDEX"],
    ["VACUUM FULL t", "ddl", "VACUUM"],
    ["ANALYZE t", "ddl", "ANALYZE"],
    ["CLUSTER t USING i", "ddl", "CLUSTER"],
    ["ALTER SYSTEM SET work_mem = '1GB'", "ddl", "ALTER SYSTEM"],
    ["GRANT SELECT ON t TO u", "privilege", "GRANT"],
    ["REVOKE ALL ON t FROM u", "privilege", "REVOKE"],
    ["CREATE ROLE r LOGIN", "privilege", "CREATE ROLE"],
    ["CREATE USER u WITH PASSWORD 'x'", "privilege", "CREATE USER"],
    ["ALTER USER u WITH SUPERUSER", "privilege", "ALTER USER"],
    ["DROP GROUP g", "privilege", "DROP GROUP"],
    ["CREATE USER MAPPING FOR u SERVER s", "privilege", "CREATE USER MAPPING"],
    ["SET ROLE admin", "privilege", "SET ROLE"],
    ["SET LOCAL ROLE admin", "privilege", "SET ROLE"],
    ["SET role = 'admin'", "privilege", "SET ROLE"],
    ['SET "ROLE" TO admin', "privilege", "SET ROLE"],
    ["SET SESSION AUTHORIZATION admin", "privilege", "SET SESSION AUTHORIZATION"],
    ["SET session_authorization = 'admin'", "privilege", "SET SESSION AUTHORIZATION"],
    ["RESET ROLE", "privilege", "RESET"],
    ["RESET SESSION AUTHORIZATION", "privilege", "RESET"],
    ["RESET ALL", "privilege", "RESET"],
    ["DISCARD ALL", "privilege", "DISCARD"],
    ["ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO u", "privilege", "ALTER DEFAULT PRIVILEGES"],
    ["SECURITY LABEL ON TABLE t IS 'x'", "privilege", "SECURITY LABEL"],
    ["REASSIGN OWNED BY a TO b", "privilege", "REASSIGN OWNED"],
    ["DROP OWNED BY a", "privilege", "DROP OWNED"],
    ["ALTER TABLE t OWNER TO admin", "privilege", "ALTER TABLE"],
    ["ALTER FUNCTION f() OWNER TO admin", "privilege", "ALTER FUNCTION"],
    ["CREATE POLICY p ON t USING (true)", "privilege", "CREATE POLICY"],
    ["CREATE SCHEMA s AUTHORIZATION admin", "privilege", "CREATE SCHEMA"],
    ["CREATE SCHEMA s CREATE TABLE t (a int) GRANT SELECT ON t TO public", "privilege", "CREATE SCHEMA"],
    ["DO $$ BEGIN NULL; END $$", "procedural", "DO"],
    ["CALL p(1)", "procedural", "CALL"],
    ["PREPARE q AS DELETE FROM t", "procedural", "PREPARE"],
    ["EXECUTE q(1)", "procedural", "EXECUTE"],
    ["LOAD 'auto_explain'", "procedural", "LOAD"],
    ["BEGIN", "transaction", "BEGIN"],
    ["START TRANSACTION READ ONLY", "transaction", "START TRANSACTION"],
    ["COMMIT", "transaction", "COMMIT"],
    ["END", "transaction", "COMMIT"],
    ["ROLLBACK TO SAVEPOINT s", "transaction", "ROLLBACK"],
    ["ABORT", "transaction", "ROLLBACK"],
    ["SAVEPOINT s", "transaction", "SAVEPOINT"],
    ["RELEASE SAVEPOINT s", "transaction", "RELEASE"],
    ["PREPARE TRANSACTION 'x'", "transaction", "PREPARE TRANSACTION"],
    ["COMMIT PREPARED 'x'", "transaction", "COMMIT PREPARED"],
    ["ROLLBACK PREPARED 'x'", "transaction", "ROLLBACK PREPARED"],
    ["SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "transaction", "SET TRANSACTION"],
    ["SET CONSTRAINTS ALL DEFERRED", "transaction", "SET CONSTRAINTS"],
    ["SET search_path TO app", "session", "SET"],
    ["SET TIME ZONE 'UTC'", "session", "SET"],
    ['SET U&"rol\\0065" = admin', "unknown", "SET"],
    ['RESET U&"rol\\0065"', "unknown", "RESET"],
    ["RESET search_path", "session", "RESET"],
    ["DISCARD PLANS", "session", "DISCARD"],
    ["LISTEN ch", "session", "LISTEN"],
    ["UNLISTEN *", "session", "UNLISTEN"],
    ["NOTIFY ch, 'x'", "session", "NOTIFY"],
    ["DEALLOCATE ALL", "session", "DEALLOCATE"],
    ["FETCH 10 FROM c", "session", "FETCH"],
    ["MOVE NEXT IN c", "session", "MOVE"],
    ["CLOSE c", "session", "CLOSE"],
    ["CHECKPOINT", "session", "CHECKPOINT"],
    ["DECLARE c CURSOR FOR SELECT 1", "read", "DECLARE CURSOR"],
    ["DECLARE c NO SCROLL CURSOR WITH HOLD FOR SELECT * FROM t FOR UPDATE", "write", "DECLARE CURSOR"],
    ["FROBNICATE the database", "unknown", "FROBNICATE"],
    ["CREATE WIDGET w", "unknown", "CREATE"],
    ["123", "unknown", "UNKNOWN"],
  ];
  for (const [sql, kind, command] of cases) {
    it(`${sql} -> ${kind} (${command})`, () => {
      const s = one(sql);
      expect([s.kind, s.command]).toEqual([kind, command]);
    });
  }
});

describe("flags", () => {
  it("no-where: UPDATE/DELETE without WHERE, also inside CTEs and EXPLAIN ANALYZE", () => {
    expect(one("UPDATE t SET a = 1").flags).toContain("no-where");
    expect(one("DELETE FROM t").flags).toContain("no-where");
    expect(one("DELETE FROM t RETURNING *").flags).toContain("no-where");
    expect(one("UPDATE t SET a = (SELECT b FROM u WHERE u.id = 1)").flags).toContain("no-where");
    expect(one("UPDATE t SET a = 1 WHERE id = 2").flags).not.toContain("no-where");
    expect(one("DELETE FROM t WHERE CURRENT OF c").flags).not.toContain("no-where");
    expect(one("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d").flags).toContain("no-where");
    expect(one("WITH d AS (DELETE FROM t WHERE x RETURNING *) SELECT * FROM d").flags).not.toContain("no-where");
    expect(one("EXPLAIN ANALYZE DELETE FROM t").flags).toEqual(["no-where", "explain-analyze"]);
    expect(one("INSERT INTO t SELECT * FROM u").flags).not.toContain("no-where");
  });

  it("data-modifying-cte: WITH ... (INSERT|UPDATE|DELETE|MERGE) makes the statement a write", () => {
    for (const sql of [
      "WITH x AS (DELETE FROM t WHERE a RETURNING *) SELECT * FROM x",
      "WITH a AS (SELECT 1), b AS MATERIALIZED (INSERT INTO t VALUES (1) RETURNING 1) SELECT * FROM a",
      "WITH x AS NOT MATERIALIZED (UPDATE t SET a = 1 WHERE b RETURNING a) SELECT 1",
      "WITH RECURSIVE x AS (SELECT 1), y AS (MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE RETURNING 1) SELECT 1",
      "WITH /* c */ x AS ( -- c\n DELETE FROM t WHERE a RETURNING *) SELECT * FROM x",
      "WITH a AS (WITH b AS (SELECT 1) DELETE FROM t WHERE x RETURNING 1) SELECT * FROM a",
    ]) {
      const s = one(sql);
      expect([s.kind, s.flags.includes("data-modifying-cte")], sql).toEqual(["write", true]);
    }
    const main = one("WITH x AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM x)");
    expect([main.kind, main.command, main.flags]).toEqual(["write", "DELETE", []]);
  });

  it("explain-analyze: EXPLAIN ANALYZE runs the statement, in both syntaxes", () => {
    const e = (sql: string) => {
      const s = one(sql);
      return [s.kind, s.flags.includes("explain-analyze")];
    };
    expect(e("EXPLAIN ANALYZE DELETE FROM t WHERE a")).toEqual(["write", true]);
    expect(e("EXPLAIN ANALYSE VERBOSE UPDATE t SET a = 1 WHERE b")).toEqual(["write", true]);
    expect(e("EXPLAIN (ANALYZE) INSERT INTO t VALUES (1)")).toEqual(["write", true]);
    expect(e("EXPLAIN (ANALYZE true, BUFFERS) DELETE FROM t WHERE a")).toEqual(["write", true]);
    expect(e("EXPLAIN (costs off, analyze on) DELETE FROM t WHERE a")).toEqual(["write", true]);
    expect(e("EXPLAIN (\"analyze\") DELETE FROM t WHERE a")).toEqual(["write", true]);
    expect(e("EXPLAIN (ANALYZE 1) DELETE FROM t WHERE a")).toEqual(["write", true]);
    expect(e('EXPLAIN (U&"an\\0061lyze") DELETE FROM t WHERE a')).toEqual(["write", true]);
    expect(e("EXPLAIN (ANALYZE U&'false') DELETE FROM t WHERE a")).toEqual(["write", true]);
    expect(e("EXPLAIN (ANALYZE maybe) DELETE FROM t WHERE a")).toEqual(["write", true]);
    expect(e("EXPLAIN (ANALYZE false) DELETE FROM t WHERE a")).toEqual(["read", false]);
    expect(e("EXPLAIN (ANALYZE off, costs off) DELETE FROM t WHERE a")).toEqual(["read", false]);
    expect(e("EXPLAIN (ANALYZE 'false') DELETE FROM t WHERE a")).toEqual(["read", false]);
    expect(e("EXPLAIN (ANALYZE 0) DELETE FROM t WHERE a")).toEqual(["read", false]);
    expect(e("EXPLAIN (ANALYZE false, ANALYZE) DELETE FROM t WHERE a")).toEqual(["write", true]);
    expect(e("EXPLAIN ANALYZE SELECT 1")).toEqual(["read", true]);
    expect(e("EXPLAIN ANALYZE SELECT nextval('s')")).toEqual(["write", true]);
    expect(e("EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1")).toEqual(["write", true]);
    expect(e("EXPLAIN ANALYZE EXECUTE q")).toEqual(["procedural", true]);
    expect(e("EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING 1) SELECT 1")).toEqual(["write", true]);
    expect(e("EXPLAIN ANALYZE FROBNICATE")).toEqual(["unknown", false]);
  });

  it("dangerous-function: configurable names, prefixes, quoting, schema qualification, unicode escapes", () => {
    const f = (sql: string, options?: ClassifyOptions) => {
      const s = one(sql, options);
      return [s.flags.includes("dangerous-function"), s.functions];
    };
    expect(f("SELECT pg_read_file('/etc/passwd')")).toEqual([true, ["pg_read_file"]]);
    expect(f("SELECT PG_READ_FILE('/etc/passwd')")).toEqual([true, ["pg_read_file"]]);
    expect(f("SELECT pg_catalog.pg_read_binary_file('x'), pg_ls_dir('.')")).toEqual([true, ["pg_read_binary_file", "pg_ls_dir"]]);
    expect(f('SELECT "pg_catalog"."pg_stat_file"(\'x\')')).toEqual([true, ["pg_stat_file"]]);
    expect(f("SELECT pg_read_file /* c */ ('x')")).toEqual([true, ["pg_read_file"]]);
    expect(f("SELECT * FROM t WHERE a = lo_import('/etc/passwd')")).toEqual([true, ["lo_import"]]);
    expect(f("SELECT dblink_exec('c', 'DELETE FROM t')")).toEqual([true, ["dblink_exec"]]);
    expect(f("SELECT pg_terminate_backend(1), pg_cancel_backend(2), pg_reload_conf(), pg_rotate_logfile()")[1]).toEqual([
      "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    ]);
    expect(f("SELECT set_config('search_path', 'x', false)")).toEqual([true, ["set_config"]]);
    expect(f('SELECT U&"pg\\005fread\\005Ffile"(\'x\')')).toEqual([true, ["pg_read_file"]]);
    expect(f('SELECT U&"pg!005fread!005ffile" UESCAPE \'!\' (\'x\')')).toEqual([true, ["pg_read_file"]]);
    expect(f("SELECT \"PG_READ_FILE\"('x')")).toEqual([false, []]); // a different (nonexistent) function
    expect(f("SELECT 'pg_read_file(1)', pg_read_filex(1)")).toEqual([false, []]);
    expect(f("SELECT my_func(1)", { dangerousFunctions: ["my_func"] })).toEqual([true, ["my_func"]]);
    expect(f("SELECT my_prefix_x(1)", { dangerousFunctions: ["my_prefix_*"] })).toEqual([true, ["my_prefix_x"]]);
    expect(f("SELECT pg_read_file('x')", { dangerousFunctions: [] })).toEqual([false, []]);
    // defining or naming a relation is not a call
    expect(f("CREATE TABLE lo_items (id int)")).toEqual([false, []]);
    expect(f("INSERT INTO public.lo_items (id) VALUES (1)")).toEqual([false, []]);
    expect(f("DROP FUNCTION pg_read_file(text)")).toEqual([false, []]);
    // the statement kind is kept; the flag carries the danger
    expect(one("SELECT pg_read_file('x')").kind).toBe("read");
    expect(one("INSERT INTO t SELECT pg_read_file('x')").kind).toBe("write");
  });

  it("dangerous-function list entries are validated", () => {
    expect(() => classify("SELECT 1", { dangerousFunctions: ["bad name"] })).toThrow(/invalid dangerous function name/);
    expect(() => classify("SELECT 1", { dangerousFunctions: ["Upper"] })).toThrow(/invalid dangerous function name/);
  });

  it("set_config of role / session_authorization (or of a computed name) is a privilege statement", () => {
    expect(one("SELECT set_config('role', 'postgres', false)").kind).toBe("privilege");
    expect(one("SELECT set_config('ROLE', 'postgres', false)").kind).toBe("privilege");
    expect(one("SELECT pg_catalog.set_config('session_authorization', 'x', false)").kind).toBe("privilege");
    expect(one("SELECT set_config($$role$$, 'x', false)").kind).toBe("privilege");
    expect(one("SELECT set_config(lower('ROLE'), 'x', false)").kind).toBe("privilege");
    expect(one("SELECT set_config('ro' || 'le', 'x', false)").kind).toBe("privilege");
    expect(one("SELECT set_config(E'\\x72ole', 'x', false)").kind).toBe("privilege");
    expect(one("SELECT set_config('r\\ole', 'x', false)", { standardConformingStrings: false }).kind).toBe("privilege");
    expect(one("SELECT set_config('ro'\n'le', 'x', false)").kind).toBe("privilege");
    expect(one("SELECT set_config($1, $2, false)").kind).toBe("privilege");
    expect(one("UPDATE t SET a = set_config('role', 'x', false) WHERE b").kind).toBe("privilege");
    const s = one("SELECT set_config('statement_timeout', '5s', true)");
    expect([s.kind, s.flags]).toEqual(["read", ["dangerous-function"]]);
    // even when removed from the dangerous list, a role change stays privilege
    expect(one("SELECT set_config('role', 'x', false)", { dangerousFunctions: [] }).kind).toBe("privilege");
  });

  it("functions that write data (nextval, setval, lo_*, dblink*, ...) make a read a write", () => {
    for (const sql of [
      "SELECT nextval('s')", "SELECT setval('s', 1)", "VALUES (nextval('s'))", "SELECT pg_catalog.nextval('s')",
      "SELECT lo_unlink(1)", "SELECT * FROM dblink('c', 'select 1') AS t(a int)", "SELECT pg_stat_reset()",
      "SELECT pg_advisory_lock(1)", "COPY (SELECT nextval('s')) TO STDOUT",
    ]) {
      expect(one(sql, { dangerousFunctions: [] }).kind, sql).toBe("write");
    }
    expect(one("SELECT currval('s')").kind).toBe("read");
  });

  it("select-into and locks", () => {
    const into = one("SELECT * INTO TEMP t2 FROM t");
    expect([into.kind, into.command, into.flags]).toEqual(["write", "SELECT INTO", ["select-into"]]);
    for (const lock of ["FOR UPDATE", "FOR NO KEY UPDATE", "FOR SHARE", "FOR KEY SHARE", "FOR UPDATE OF t SKIP LOCKED"]) {
      const s = one(`SELECT * FROM t WHERE id = 1 ${lock}`);
      expect([s.kind, s.flags], lock).toEqual(["write", ["locks"]]);
    }
    expect(one("SELECT substring(a FROM 1 FOR 2) FROM t").kind).toBe("read");
  });
});

describe("adversarial inputs", () => {
  it("statement stacking and comment-hidden semicolons", () => {
    expect(kinds("SELECT 1; DROP TABLE x")).toEqual(["read", "ddl"]);
    expect(kinds("SELECT 1 /* ; */; DROP TABLE x -- ;")).toEqual(["read", "ddl"]);
    expect(kinds("SELECT 1/*/**/;*/; DELETE FROM x")).toEqual(["read", "write"]);
    expect(kinds("SELECT '--'; DELETE FROM x")).toEqual(["read", "write"]);
    expect(kinds("SELECT \"/*\"; DELETE FROM x; SELECT '*/'")).toEqual(["read", "write", "read"]);
  });

  it("dollar-quote tag tricks", () => {
    expect(kinds("SELECT $a$ $b$ ; DELETE FROM x; $b$ $a$")).toEqual(["read"]);
    expect(kinds("SELECT $a$ x $A$; DELETE FROM x; --$a$")).toEqual(["read"]);
    expect(kinds("SELECT $a$x$a$; DELETE FROM x")).toEqual(["read", "write"]);
    expect(kinds("SELECT x$a$; DELETE FROM t; $a$")).toEqual(["read", "write", "unknown"]);
    expect(kinds("SELECT $1$a$; DELETE FROM t; $a$")).toEqual(["read"]);
  });

  it("E-string escapes with standard_conforming_strings off", () => {
    expect(kinds("SELECT E'\\\\';DROP TABLE t;--'", { standardConformingStrings: false })).toEqual(["read", "ddl"]);
    expect(kinds("SELECT '\\\\';DROP TABLE t;--'", { standardConformingStrings: false })).toEqual(["read", "ddl"]);
    expect(kinds("SELECT '\\';DROP TABLE t;--'", { standardConformingStrings: false })).toEqual(["read"]);
  });

  it("keywords hidden by quoting or by identifier characters are not keywords", () => {
    expect(kinds('SELECT * FROM "delete"')).toEqual(["read"]);
    expect(kinds("SELECT * FROM delete_log")).toEqual(["read"]);
    expect(kinds("SELECT x.delete, 1 AS update FROM t x")).toEqual(["read"]);
    // an unquoted DML keyword where a column could be: never trusted as read
    expect(kinds("SELECT update FROM t")).not.toEqual(["read"]);
  });

  it("a DML statement can never be hidden inside a read", () => {
    for (const sql of [
      "WITH x AS (DELETE FROM t RETURNING 1) SELECT 1",
      "SELECT * FROM (WITH x AS (UPDATE t SET a = 1 RETURNING 1) SELECT * FROM x) s",
      "(WITH x AS (INSERT INTO t VALUES (1) RETURNING 1) SELECT 1)",
      "VALUES (1) UNION ALL SELECT 1 FROM (SELECT 1) s WHERE EXISTS (SELECT 1 INTO t2)",
      "TABLE t FOR UPDATE",
      "SELECT nextval('x')",
      "SeLeCt * FrOm t FoR uPdAtE",
    ]) {
      expect(kinds(sql), sql).not.toContain("read");
    }
  });

  it("huge inputs: many statements, one long statement, deep nesting", () => {
    const many = "SELECT 1;".repeat(20_000) + "DELETE FROM t";
    const out = classify(many);
    expect(out).toHaveLength(20_001);
    expect(out[20_000]!.kind).toBe("write");
    const long = "SELECT " + Array.from({ length: 100_000 }, (_, i) => `c${i}`).join(", ") + " FROM t FOR UPDATE";
    expect(one(long).kind).toBe("write");
    const deep = "SELECT " + "(".repeat(5_000) + "1" + ")".repeat(5_000);
    expect(one(deep).kind).toBe("read");
    const deepCte = "WITH x AS (" + "(".repeat(100) + "SELECT 1" + ")".repeat(100) + "), y AS (DELETE FROM t RETURNING 1) SELECT 1";
    expect(one(deepCte).kind).toBe("write");
    const funcs = "SELECT " + Array.from({ length: 2_000 }, () => "pg_read_file('x')").join(", ");
    const f = one(funcs);
    expect([f.kind, f.flags, f.functions]).toEqual(["read", ["dangerous-function"], ["pg_read_file"]]);
    const big = "SELECT '" + "x".repeat(5_000_000) + "'; DROP TABLE t";
    expect(kinds(big)).toEqual(["read", "ddl"]);
  });

  it("classification beyond the first 256 tokens still sees the facts that matter", () => {
    const cols = Array.from({ length: 400 }, (_, i) => `c${i}`).join(", ");
    expect(one(`SELECT ${cols} INTO t2 FROM t`).kind).toBe("write");
    expect(one(`COPY t (${cols}) FROM PROGRAM 'x'`).kind).toBe("copy_external");
    expect(one(`COPY t (${cols}) FROM STDIN`).kind).toBe("write");
    expect(one(`EXPLAIN (${Array.from({ length: 200 }, () => "costs off").join(", ")}, analyze) DELETE FROM t`).kind).toBe("unknown");
  });
});
