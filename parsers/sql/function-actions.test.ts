import { describe, expect, it } from "vitest";
import { createSqlClassifier } from "../../wasm/loader/sql.ts";
import { loadWasmModule } from "../../wasm/loader/node.ts";
import { IMMUTABLE, STABLE, VOLATILE } from "./pg-functions.generated.ts";
import { callArguments, functionAction, literalValue } from "./function-actions.ts";
import { loadPolicy } from "../policy/index.ts";
import type { ClassifiedStatement } from "./types.ts";

const classifier = createSqlClassifier(await loadWasmModule("sql"));
const parts = (sql: string) => classifier.classify(sql).flatMap((s) => (s.parts ?? []).map((p) => `${p.kind}:${p.functions.join(",")}`));
const actionOf = (sql: string) => {
  const kinds = classifier.classify(sql).flatMap((s) => [s.kind, ...(s.parts ?? []).map((p) => p.kind)]);
  for (const k of ["unknown", "dynamic", "execute", "admin", "session", "write", "read"]) if (kinds.includes(k as never)) return k;
  return kinds[0];
};

describe("function catalogue", () => {
  it("is PostgreSQL's own pg_proc, with the side-effect functions volatile", () => {
    const all = new Set(`${IMMUTABLE} ${STABLE} ${VOLATILE}`.split(" "));
    expect(all.size).toBeGreaterThan(2500);
    for (const f of ["setval", "nextval", "pg_terminate_backend", "query_to_xml", "ts_stat", "lo_create", "set_config", "pg_advisory_lock", "pg_sleep"]) {
      expect(VOLATILE.split(" "), f).toContain(f);
    }
    expect(IMMUTABLE.split(" ")).toContain("lower");
  });

  it("gives each call its action", () => {
    const call = (name: string, schema: "" | "pg_catalog" | "other" = "", quoted = false) => functionAction({ name, schema, quoted, start: 0, end: 0 });
    expect(call("lower")).toBe("read");
    expect(call("now")).toBe("read");
    expect(call("random")).toBe("read");
    expect(call("setval")).toBe("write");
    expect(call("setval", "pg_catalog")).toBe("write");
    expect(call("setval", "other")).toBe("execute"); // public.setval is somebody's function
    expect(call("lower", "other")).toBe("execute");
    expect(call("SETVAL", "", true)).toBe("execute"); // "SETVAL" is another name
    expect(call("pg_terminate_backend")).toBe("admin");
    expect(call("pg_read_file")).toBe("admin");
    expect(call("lo_import")).toBe("admin");
    expect(call("lo_creat")).toBe("write");
    expect(call("pg_try_advisory_xact_lock_shared")).toBe("write");
    expect(call("pg_copy_logical_replication_slot")).toBe("admin");
    expect(call("pg_restore_relation_stats")).toBe("admin");
    expect(call("set_config")).toBe("session");
    expect(call("query_to_xml_and_xmlschema")).toBe("dynamic");
    expect(call("cursor_to_xml")).toBe("dynamic");
    expect(call("pg_sleep")).toBe("read"); // volatile, no effect beyond the statement (a `read` part names it)
    expect(call("pg_current_logfile")).toBe("admin");
    expect(call("txid_current")).toBe("write"); // assigns a transaction ID, even READ ONLY
    expect(call("pg_current_xact_id")).toBe("write");
    expect(call("txid_current_if_assigned")).toBe("read");
    expect(call("fmgr_c_validator")).toBe("admin");
    expect(call("my_volatile_fn")).toBe("execute");
    expect(call("dblink_exec")).toBe("execute");
  });
});

describe("statement parts", () => {
  it("finds calls in every spelling and position", () => {
    expect(actionOf("SELECT setval('s', 5)")).toBe("write");
    expect(actionOf("SELECT pg_catalog . setval('s', 5)")).toBe("write");
    expect(actionOf('SELECT "pg_catalog"."setval"(\'s\', 5)')).toBe("write");
    expect(actionOf("SELECT setval /* c */ ('s', 5)")).toBe("write");
    expect(actionOf("SELECT * FROM setval('s', 5)")).toBe("write");
    expect(actionOf("VALUES (nextval('s'))")).toBe("write");
    expect(actionOf("COPY (SELECT nextval('s')) TO STDOUT")).toBe("write");
    expect(actionOf("SELECT pg_terminate_backend(pid) FROM pg_stat_activity")).toBe("admin");
    expect(actionOf("SELECT 1 WHERE pg_cancel_backend(1)")).toBe("admin");
    expect(actionOf('SELECT U&"pg\\005fterminate\\005fbackend"(1)')).toBe("admin");
    expect(actionOf('SELECT U&"pg!005fterminate!005fbackend" UESCAPE \'!\'(1)')).toBe("execute");
    expect(actionOf("SELECT evil.lower('x')")).toBe("execute");
    expect(actionOf("SELECT my_fn()")).toBe("execute");
    expect(actionOf("SELECT count(*) OVER (PARTITION BY a) FROM t WHERE a IN (1, 2) AND EXISTS (SELECT 1)")).toBe("read");
    expect(actionOf("WITH x(a) AS (SELECT 1) SELECT * FROM x AS y(b) LEFT JOIN (SELECT 1) z ON true")).toBe("read");
    expect(actionOf("SELECT CAST(1 AS numeric(10, 2)), lower('A'), now()")).toBe("read");
    // unreserved keywords are calls where an expression starts, grammar after an expression or clause word
    for (const sql of ["SELECT key(1)", "SELECT 1 WHERE filter(2)", "SELECT * FROM t ORDER BY first(a)", "SELECT * FROM next(1)", "SELECT a FROM t WHERE b = over(1) AND NOT path_x(1)", "SELECT arr[columns(1)]", "SELECT 1 + nested(2)",
      "SELECT DISTINCT ON (a) key(a) FROM t", "SELECT 1 OPERATOR(pg_catalog.+) key(1)", "SELECT now() AT TIME ZONE key(1)",
      "SELECT * FROM t FETCH FIRST next(1) ROWS ONLY", "SELECT substring('abc' FROM 1 FOR key(1))", "SELECT json_object(KEY 'a' VALUE key(1))",
      "SELECT xmlparse(DOCUMENT key(1))", "SELECT trim(LEADING key(1) FROM 'x')"]) {
      expect(actionOf(sql), sql).toBe("execute");
    }
    for (const sql of [
      "SELECT count(*) FILTER (WHERE a > 0) OVER (PARTITION BY b) FROM t LEFT JOIN (SELECT 1) x ON true CROSS JOIN (SELECT 2) y",
      "SELECT a FROM t ORDER BY (a) OFFSET 1 ROWS FETCH FIRST (2) ROWS ONLY",
      "SELECT a FROM t GROUP BY CUBE (a), ROLLUP (b), GROUPING SETS ((a))",
      "WITH x AS NOT MATERIALIZED (SELECT 1) SELECT * FROM x WHERE 'a' NOT LIKE ('b')",
      "SELECT '1'::character varying(3), now() AT TIME ZONE ('UTC')",
      "SELECT * FROM t TABLESAMPLE bernoulli (1) REPEATABLE (2)",
    ]) {
      expect(actionOf(sql), sql).toBe("read");
    }
    expect(actionOf("INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET (a) = (2)")).toBe("write");
    expect(actionOf("COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE (a))")).toBe("read");
    for (const sql of ["PREPARE TRANSACTION 'x'", "COMMIT PREPARED 'x'", "rollback prepared 'x'"]) expect(actionOf(sql), sql).toBe("write");
    expect(actionOf("COMMIT")).toBe("transaction");
    expect(actionOf("EXPLAIN SELECT setval('s', 5)")).toBe("read"); // planned, not run: volatile calls are never evaluated
    // the planner folds immutable calls and evaluates stable ones for estimates: a user function runs
    expect(actionOf("EXPLAIN SELECT my_immutable_fn()")).toBe("execute");
    expect(actionOf("EXPLAIN SELECT * FROM t WHERE a < public.my_stable_fn()")).toBe("execute");
    expect(actionOf("EXPLAIN SELECT txid_current()")).toBe("write");
    expect(actionOf("EXPLAIN ANALYZE SELECT pg_terminate_backend(1)")).toBe("admin");
    expect(actionOf("INSERT INTO t VALUES (pg_terminate_backend(1))")).toBe("admin");
    // Too many distinct calls to report: fails closed instead of dropping the last ones.
    const reads = IMMUTABLE.split(" ").filter((n) => /^[a-z][a-z0-9_]*$/.test(n)).slice(0, 300);
    expect(actionOf(`SELECT ${reads.map((n) => `${n}()`).join(", ")}`)).toBe("execute");
    expect(actionOf(`SELECT ${reads.slice(0, 200).map((n) => `${n}()`).join(", ")}`)).toBe("read");
    expect(actionOf(`SELECT ${Array.from({ length: 1000 }, () => "lower('a')").join(", ")}`)).toBe("read");
  });

  it("classifies the literal SQL of SQL-executing functions, and refuses any other argument", () => {
    expect(parts("SELECT query_to_xml('select 1', true, false, '')")).toEqual(["dynamic:query_to_xml", "read:"]);
    expect(parts("SELECT query_to_xml('delete from t', true, false, '')")).toEqual(["dynamic:query_to_xml", "write:"]);
    expect(parts("SELECT query_to_xml('select 1; drop table t', true, false, '')")).toEqual(["dynamic:query_to_xml", "read:", "ddl:"]);
    expect(parts("SELECT query_to_xml($q$select setval('s', 1)$q$, true, false, '')")).toEqual(["dynamic:query_to_xml", "write:", "write:setval"]);
    expect(parts("SELECT query_to_xml('select query_to_xml(''select pg_terminate_backend(1)'', true, false, '''')', true, false, '')")).toContain("admin:pg_terminate_backend");
    expect(parts("SELECT ts_stat('select v from docs')")).toEqual(["dynamic:ts_stat", "read:"]);
    expect(parts("SELECT ts_rewrite('a'::tsquery, 'select t, s from aliases')")).toEqual(["dynamic:ts_rewrite", "read:"]);
    for (const sql of [
      "SELECT query_to_xml(q, true, false, '') FROM t",
      "SELECT query_to_xml('sel' || 'ect 1', true, false, '')",
      "SELECT query_to_xml(E'select 1', true, false, '')",
      "SELECT query_to_xml('select 1'\n'; drop table t', true, false, '')",
      "SELECT cursor_to_xml('c', 1, true, false, '')",
      "SELECT ts_rewrite(q, 'select 1') FROM t",
    ]) {
      expect(classifier.classify(sql).flatMap((s) => s.parts ?? []).some((p) => p.kind === "unknown"), sql).toBe(true);
    }
  });

  it("stops at a nesting depth and fails closed there", () => {
    let sql = "select 1";
    for (let d = 0; d < 8; d++) sql = `select query_to_xml($t${d}$${sql}$t${d}$, true, false, '')`;
    const all = classifier.classify(sql).flatMap((s) => s.parts ?? []);
    expect(all.some((p) => p.kind === "unknown")).toBe(true);
    let shallow = "select 1";
    for (let d = 0; d < 3; d++) shallow = `select query_to_xml($t${d}$${shallow}$t${d}$, true, false, '')`;
    expect(classifier.classify(shallow).flatMap((s) => s.parts ?? []).some((p) => p.kind === "unknown")).toBe(false);
  });

  it("reads argument lists like PostgreSQL", () => {
    const [stmt] = classifier.classify("select f('a,b', $x$)$x$, (1, 2), \"c,d\", e'\\',x', 3)");
    const call = stmt!.calls!.find((c) => c.name === "f")!;
    expect(callArguments("select f('a,b', $x$)$x$, (1, 2), \"c,d\", e'\\',x', 3)", call, true)).toEqual(["'a,b'", "$x$)$x$", "(1, 2)", '"c,d"', "e'\\',x'", "3"]);
    expect(literalValue("'it''s'", true)).toBe("it's");
    expect(literalValue("'a\\'", false)).toBeNull();
    expect(literalValue("$t$x$t$", true)).toBe("x");
    expect(literalValue("'a' || 'b'", true)).toBeNull();
  });
});

describe("policies over statement parts", () => {
  const policy = async (actions: string) => {
    const loaded = await loadPolicy(`version: 1\nrules:\n  - name: r\n    effect: allow\n    subjects: any\n    resources: any\n    actions: ${actions}\n`, "p.yaml");
    if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
    return (sql: string) =>
      loaded.policy.decideSql({
        identity: { issuer: "i", subject: "s", claims: {} },
        resource: { name: "db", type: "postgres", labels: {} },
        statements: classifier.classify(sql) as ClassifiedStatement[],
      });
  };

  it("a read-only policy grants none of a statement's dangerous parts", async () => {
    const decide = await policy("[sql.read]");
    expect(decide("SELECT lower('a')").effect).toBe("allow");
    expect(decide("SELECT pg_sleep(0)").effect).toBe("allow");
    for (const sql of ["SELECT setval('s', 1)", "SELECT pg_terminate_backend(1)", "SELECT my_fn()", "SELECT query_to_xml('select 1', true, false, '')", "SELECT \"SETVAL\"('s', 1)"]) {
      const d = decide(sql);
      expect(d.effect, sql).toBe("deny");
      expect(d.reason, sql).toMatch(/no rule allows (write|admin|execute|dynamic|read \[dangerous-function\])/);
    }
  });

  it("naming functions allows exactly those; sql.dynamic allows the call only with an allowed literal", async () => {
    const decide = await policy("[sql.read, { sql: { functions: [my_fn] } }, sql.dynamic]");
    expect(decide("SELECT my_fn()").effect).toBe("allow");
    expect(decide("SELECT my_fn(), other_fn()").effect).toBe("deny");
    expect(decide("SELECT query_to_xml('select 1', true, false, '')").effect).toBe("allow");
    expect(decide("SELECT query_to_xml('delete from t', true, false, '')").effect).toBe("deny");
    expect(decide("SELECT query_to_xml(q, true, false, '') FROM t").effect).toBe("deny");
  });

  it("a deny rule naming a harmless volatile function refuses it", async () => {
    const loaded = await loadPolicy(
      "version: 1\nrules:\n  - name: reads\n    effect: allow\n    subjects: any\n    resources: any\n    actions: [sql.read]\n  - name: no-sleeping\n    effect: deny\n    subjects: any\n    resources: any\n    actions: [{ sql: { functions: [\"pg_sleep*\"] } }]\n",
      "p.yaml",
    );
    if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
    const d = loaded.policy.decideSql({ identity: { issuer: "i", subject: "s", claims: {} }, resource: { name: "db", type: "postgres", labels: {} }, statements: classifier.classify("SELECT 1, pg_sleep_for('1s')") });
    expect(d.effect).toBe("deny");
    expect(d.rule).toBe("no-sleeping");
  });
});

describe("attribute notation (`c.f` is `f(c)`)", () => {
  it("decides built-in names as calls, and other names as possible calls unless the catalogue knows them", () => {
    expect(parts("select ('s'::regclass).nextval")).toEqual(["write:nextval"]);
    expect(parts("select (1234).pg_log_backend_memory_contexts")).toEqual(["admin:pg_log_backend_memory_contexts"]);
    expect(parts("select ('select 1'::text).ts_stat")).toEqual(["dynamic:ts_stat", "unknown:ts_stat"]);
    // built-ins that only read (a column called `name` or `length` too) add nothing
    expect(parts("select c.name, c.length, c.* from t c")).toEqual([]);
    expect(parts("select c.leak_row, (c).Other, c.\"Q\", a[1].x, $1.y, s.t.col from t c")).toEqual(["execute:leak_row,other,Q,x,y,col"]);
    expect(classifier.classify("select c.leak_row from t c")[0]!.parts![0]!.possible).toBe(true);
    // `s.f(` is a qualified call, not an attribute; a `.` inside strings and comments is nothing
    expect(parts("select s.f(1), 'a.b' /* c.d */ -- e.f\n")).toEqual(["execute:f"]);
    // a wide select names many columns: they do not use up the calls' budget (256); past 1024 it fails closed
    const wide = (n: number) => classifier.classify(`select ${Array.from({ length: n }, (_, i) => `t.c${i}`).join(", ")}, t.leak_row from t`)[0]!;
    expect(wide(300).calls).toEqual([]);
    expect(wide(300).attributes).toHaveLength(301);
    expect(wide(1100).calls).toEqual([{ name: "", quoted: true, schema: "other", start: 0, end: 0 }]);
    // comments and whitespace around the dot, a U&"…" name decoded
    expect(classifier.classify("select c . /* x */ LEAK_ROW, c.--y\n\"Mixed\", c.U&\"le\\0061k\" from t c")[0]!.attributes).toEqual(["leak_row", "Mixed", "leak"]);
    // the last token of a statement, and before `;`
    expect(classifier.classify("select c.leak_row from t c; select c.leak_row2").map((x) => x.attributes)).toEqual([["leak_row"], ["leak_row2"]]);
    const known = classifier.classify("select c.leak_row, c.email from t c", { userFunctions: new Set(["leak_row"]) })[0]!;
    expect(known.parts).toEqual([
      { kind: "execute", command: "SELECT", flags: [], functions: ["leak_row"] },
      { kind: "execute", command: "SELECT", flags: [], functions: ["email"], possible: true },
    ]);
  });

  it("a possible call is decided only by rules naming the function, never by default deny", async () => {
    const loaded = await loadPolicy(
      "version: 1\nrules:\n  - name: reads\n    effect: allow\n    subjects: any\n    resources: any\n    actions: [sql.read]\n  - name: no-leak\n    effect: deny\n    subjects: any\n    resources: any\n    actions: [{ sql: { functions: [leak_row] } }]\n  - name: hold-audit\n    effect: approve\n    subjects: any\n    approvers: any\n    resources: any\n    actions: [{ sql: { functions: [audit_row] } }]\n",
      "p.yaml",
    );
    if (!loaded.ok) throw new Error(loaded.errors.join("\n"));
    const decide = (sql: string, userFunctions?: ReadonlySet<string>) =>
      loaded.policy.decideSql({ identity: { issuer: "i", subject: "s", claims: {} }, resource: { name: "db", type: "postgres", labels: {} }, statements: classifier.classify(sql, { userFunctions }) });
    expect(decide("select c.email, c.id from t c").effect).toBe("allow");
    expect(decide("select c.leak_row from t c").rule).toBe("no-leak");
    expect(decide("select (c).LEAK_ROW from t c").effect).toBe("deny");
    expect(decide("select c.audit_row from t c").effect).toBe("approve");
    // with the session's catalogue it is a call: no rule allows execute
    const d = decide("select c.other_fn from t c", new Set(["other_fn"]));
    expect(d.effect).toBe("deny");
    expect(d.reason).toMatch(/no rule allows execute/);
  });
});
