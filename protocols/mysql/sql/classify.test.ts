/** Which `name (` is a call the gateway cannot read into, and which is a relation's column list. */
import { describe, expect, it } from "vitest";
import { classifyMysql, opaquePart } from "./classify.ts";
import type { Dialect } from "./dialect.ts";
import { analyzeTaint, ddlNamingMaskedTable, withQueryPlan } from "./taint.ts";

const dialect: Dialect = { flavor: "mariadb", version: 101100, ansiQuotes: false, noBackslashEscapes: false };
const opaque = (sql: string) => opaquePart(classifyMysql(sql, dialect))?.functions[0] ?? opaquePart(classifyMysql(sql, dialect))?.command ?? null;

describe("opaque code (stored functions, CALL, SQL-level dynamic statements)", () => {
  it.each([
    ["SELECT leak_f(1)", "leak_f"],
    ["SELECT db.leak_f(1) AS x", "db.leak_f"],
    ["SELECT `leak_f`(1)", "leak_f"],
    ["INSERT INTO db.t (a) VALUES (leak_f(1))", "leak_f"],
    ["WITH t (a) AS (SELECT f(1)) SELECT a FROM t", "f"],
    ["SELECT f(1) AS x", "f"],
    ["CALL p()", "p"],
    ["PREPARE s FROM 'SELECT 1'", "PREPARE"],
    ["EXECUTE s", "EXECUTE"],
    ["EXECUTE IMMEDIATE 'SELECT 1'", "EXECUTE"],
    ["SELECT 1; SELECT f(2)", "f"],
    // HIGH_PRIORITY opens a SELECT's expressions as well as an INSERT's target
    ["SELECT HIGH_PRIORITY leak_f(1)", "leak_f"],
    ["INSERT INTO t (a) SELECT HIGH_PRIORITY leak_f(1)", "leak_f"],
    // a trigger's or event's body runs later, out of sight
    ["CREATE TRIGGER tr BEFORE INSERT ON t2 FOR EACH ROW SET NEW.x = (SELECT c FROM v9 LIMIT 1)", "CREATE TRIGGER"],
    ["CREATE EVENT e ON SCHEDULE AT NOW() DO SELECT 1", "CREATE EVENT"],
    // other spellings of the same: a definer, OR REPLACE, lower case, a version comment, ALTER EVENT
    ["CREATE DEFINER=CURRENT_USER TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1", "CREATE TRIGGER"],
    ["CREATE OR REPLACE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1", "CREATE TRIGGER"],
    ["create trigger tr before insert on t for each row set new.x = 1", "CREATE TRIGGER"],
    ["/*!50003 CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1 */", "CREATE TRIGGER"],
    ["CREATE DEFINER=`root`@`%` EVENT e ON SCHEDULE AT NOW() DO SELECT 1", "CREATE EVENT"],
    ["ALTER EVENT e DO SELECT 1", "ALTER EVENT"],
    // what the classifier cannot classify hides what it wraps: dynamic SQL, a plan, a computed copy
    ["BEGIN NOT ATOMIC EXECUTE IMMEDIATE CONCAT('SELECT LOWER(em','ail) FROM customers'); END", "COMPOUND STATEMENT"],
    ["IF 1 THEN EXPLAIN FORMAT=JSON SELECT 1; END IF", "COMPOUND STATEMENT"],
    ["SELECT 1; END", "COMPOUND STATEMENT"],
    ["SELECT 1; /*!99999 x */ bogus words here", "UNKNOWN"],
  ])("%s → %s", (sql, what) => {
    expect(opaque(sql)).toBe(what);
  });

  it.each([
    "INSERT INTO notes (id, body) VALUES (1, 'x')",
    "INSERT notes (id) VALUES (1)",
    "INSERT IGNORE INTO db.notes (id) SELECT 1",
    "REPLACE INTO t (a) VALUES (1)",
    "WITH t (a, b) AS (SELECT 1, 2) SELECT a FROM t",
    "WITH RECURSIVE t (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) SELECT n FROM t",
    "SELECT COUNT(*), upper('x'), concat(a, b) FROM t WHERE a IN (1)",
    "CREATE VIEW v (a) AS SELECT 1",
    "CREATE FUNCTION f() RETURNS INT RETURN g(1)",
  ])("%s reads no opaque code", (sql) => {
    expect(opaque(sql)).toBeNull();
  });
});

describe("EXPLAIN ANALYZE (MySQL 8) runs the statement it plans, as MariaDB's ANALYZE does", () => {
  const mysql8: Dialect = { flavor: "mysql", version: 80036, ansiQuotes: false, noBackslashEscapes: false };
  const one = (sql: string) => classifyMysql(sql, mysql8)[0]!;
  it.each([
    ["EXPLAIN ANALYZE DELETE t1 FROM t1 JOIN t2 USING (a) WHERE t2.a = 1", "write", "ANALYZE DELETE"],
    ["explain analyze update t1, t2 set t1.b = t2.c where t1.a = t2.a", "write", "ANALYZE UPDATE"],
    ["EXPLAIN ANALYZE FORMAT=TREE DELETE t1 FROM t1 JOIN t2 USING (a)", "write", "ANALYZE DELETE"],
    ["EXPLAIN FORMAT=TREE ANALYZE DELETE t1 FROM t1 JOIN t2 USING (a)", "write", "ANALYZE DELETE"],
    ["/*!80018 EXPLAIN ANALYZE DELETE t1 FROM t1 JOIN t2 USING (a) */", "write", "ANALYZE DELETE"],
    ["DESC ANALYZE DELETE t1 FROM t1 JOIN t2 USING (a)", "write", "ANALYZE DELETE"],
    ["describe analyze format=tree update t1, t2 set t1.b = t2.c", "write", "ANALYZE UPDATE"],
    ["EXPLAIN ANALYZE SELECT * FROM t1", "read", "ANALYZE SELECT"],
    ["ANALYZE DELETE FROM t1", "write", "ANALYZE DELETE"],
  ])("%s → %s", (sql, kind, command) => {
    expect(one(sql)).toMatchObject({ kind, command, flags: expect.arrayContaining(["explain-analyze"]) });
  });
  it.each(["EXPLAIN DELETE FROM t1", "EXPLAIN FORMAT=JSON UPDATE t1 SET b = 1", "DESCRIBE t1", "DESC DELETE FROM t1", "DESCRIBE FORMAT=JSON SELECT 1"])("plain EXPLAIN runs nothing: %s", (sql) => {
    expect(one(sql)).toMatchObject({ kind: "read" });
    expect(one(sql).flags).not.toContain("explain-analyze");
  });
});

describe("MySQL 8's TABLE statement expands every column like SELECT *", () => {
  const taint = (sql: string) => analyzeTaint(sql, dialect, () => false, () => false, true);
  it.each([
    "WITH t (a, b, c) AS (TABLE customers) SELECT concat(c, '') FROM t",
    "SELECT 1, 2, 3 UNION ALL TABLE customers",
    "INSERT INTO t3 TABLE customers",
    "INSERT INTO t3 (a, b) TABLE customers",
    "SELECT * FROM (TABLE customers) x",
  ])("%s taints under column rules", (sql) => {
    expect(taint(sql)?.sources.join()).toMatch(/TABLE t/);
  });
  it.each(["TABLE customers", "CREATE TABLE t (id INT)", "CREATE OR REPLACE TABLE t (id INT)", "LOCK TABLE t WRITE", "DROP TABLE t", "INSERT INTO t (a) VALUES (1)"])("%s does not", (sql) => {
    expect(taint(sql)).toBeNull();
  });
});

describe("DDL naming a table of a table.column masking rule", () => {
  const masked = (w: string) => /^cust.*$/.test(w.toLowerCase());
  const found = (sql: string, d: Dialect = dialect) => ddlNamingMaskedTable(sql, d, classifyMysql(sql, d), masked)?.command ?? null;
  it.each([
    ["RENAME TABLE notes TO n2, customers TO c2", "RENAME TABLE"],
    ["rename table `Customers` to c2", "RENAME TABLE"],
    ["ALTER TABLE app.customers RENAME AS c2", "ALTER TABLE"],
    ["/*!RENAME TABLE customers TO c2*/", "RENAME TABLE"],
    ["SELECT 1; ALTER TABLE t EXCHANGE PARTITION p WITH TABLE customers", "ALTER TABLE"],
    ["CREATE TABLE c2 LIKE customers", "CREATE TABLE"],
    ["CREATE TABLE c2 AS SELECT id FROM customers", "CREATE TABLE"],
  ])("%s → %s", (sql, command) => expect(found(sql)).toBe(command));
  it("ANSI_QUOTES makes \"…\" a name", () => {
    expect(found('RENAME TABLE "customers" TO c2', { ...dialect, ansiQuotes: true })).toBe("RENAME TABLE");
    expect(found("RENAME TABLE notes TO n2 /* customers */")).toBeNull();
  });
  it.each(["SELECT * FROM customers", "INSERT INTO customers (name) VALUES ('x')", "DROP TABLE customers", "TRUNCATE customers", "CREATE VIEW v AS SELECT id FROM customers", "RENAME TABLE notes TO n2", "SELECT 'RENAME TABLE customers TO c2'"])("%s is not", (sql) => expect(found(sql)).toBeNull());
});

describe("value copies the server keeps (taint.ts) and query plans (classify.ts)", () => {
  const none = () => false;
  const queryPlan = (sql: string) => classifyMysql(sql, dialect).find((s) => s.queryPlan)?.queryPlan;
  it.each([
    "SELECT trace FROM information_schema.OPTIMIZER_TRACE",
    "select TRACE from INFORMATION_SCHEMA.optimizer_trace",
    "SELECT `trace` FROM `information_schema`.`OPTIMIZER_TRACE`",
    "/*!SELECT trace FROM information_schema.OPTIMIZER_TRACE*/",
    "SELECT 1; SELECT trace FROM information_schema.OPTIMIZER_TRACE",
  ])("the optimizer trace taints as a masked view: %s", (sql) => {
    expect(analyzeTaint(sql, dialect, none)).toMatchObject({ maskedView: true, sources: ["optimizer trace optimizer_trace"] });
  });

  it.each([
    ["SELECT word FROM information_schema.INNODB_FT_INDEX_TABLE", "full-text index words innodb_ft_index_table"],
    ["SELECT word FROM information_schema.innodb_ft_index_cache", "full-text index words innodb_ft_index_cache"],
    ["SELECT lock_data FROM information_schema.INNODB_LOCKS", "lock data innodb_locks"],
    ["SELECT LOCK_DATA FROM performance_schema.data_locks", "lock data data_locks"],
  ])("server-kept copies taint as a masked view: %s", (sql, source) => {
    expect(analyzeTaint(sql, dialect, none)).toMatchObject({ maskedView: true, sources: [source] });
  });

  it("setting the trace variable reads nothing: not tainted", () => {
    expect(analyzeTaint("SET optimizer_trace = 'enabled=on'", dialect, none)).toBeNull();
    expect(analyzeTaint("SET SESSION optimizer_trace='enabled=on'", dialect, none)).toBeNull();
  });

  it.each([
    "EXPLAIN SELECT 1",
    "EXPLAIN FORMAT=JSON SELECT c.id FROM customers c NATURAL JOIN s WHERE c.id = 1",
    "explain format = json select 1",
    "EXPLAIN EXTENDED SELECT 1",
    "EXPLAIN PARTITIONS SELECT 1",
    "DESCRIBE SELECT 1",
    "DESC FORMAT=JSON SELECT 1",
    "EXPLAIN UPDATE t SET a = 1",
    "EXPLAIN (SELECT 1)",
    "EXPLAIN FOR CONNECTION 7",
    "ANALYZE SELECT 1",
    "ANALYZE FORMAT=JSON SELECT 1",
    "SHOW EXPLAIN FOR 7",
    "SHOW EXPLAIN FORMAT=JSON FOR 7",
    "SHOW ANALYZE FOR 7",
    "/*!EXPLAIN FORMAT=JSON SELECT 1*/",
    "/*M!100100 EXPLAIN FORMAT=JSON SELECT 1*/",
    "SELECT 1; EXPLAIN SELECT 1",
    "describe select 1",
    "desc format json select 1",
    "EXPLAIN ANALYZE SELECT 1",
    "EXPLAIN EXTENDED customers",
    "SET STATEMENT max_statement_time = 1 FOR EXPLAIN FORMAT=JSON SELECT 1",
  ])("a query plan: %s", (sql) => {
    expect(queryPlan(sql)).toMatch(/query plan/);
  });

  it.each(["SHOW ENGINE INNODB STATUS", "show engine innodb status", "SHOW INNODB STATUS", "/*!SHOW ENGINE INNODB STATUS*/"])("the InnoDB monitor: %s", (sql) => {
    expect(queryPlan(sql)).toMatch(/monitor quotes locked records/);
  });

  it.each([
    "DESCRIBE customers",
    "describe customers",
    "DESC customers email",
    "EXPLAIN customers",
    "ANALYZE TABLE customers",
    "ANALYZE NO_WRITE_TO_BINLOG TABLE customers",
    "analyze local table customers",
    "SHOW COLUMNS FROM customers",
    "SHOW ENGINES",
    "SELECT 'EXPLAIN SELECT 1'",
    "SELECT 1 /* EXPLAIN SELECT 1 */",
    "/*!999999 EXPLAIN SELECT 1*/ SELECT 1",
    "SELECT explain FROM t",
  ])("not a query plan: %s", (sql) => {
    expect(queryPlan(sql)).toBeUndefined();
  });

  it("which statement of a multi-statement text shows the plan", () => {
    expect(classifyMysql("DESCRIBE customers; EXPLAIN SELECT 1; SELECT 2", dialect).map((s) => !!s.queryPlan)).toEqual([false, true, false]);
  });

  it("a plan's taint makes every column derived and keeps what the statement already had", () => {
    expect(withQueryPlan(null, "EXPLAIN of a statement")).toEqual({ plain: false, sources: ["EXPLAIN of a statement"], maskedView: true, assigns: false, predicate: null });
    const t = analyzeTaint("SELECT email INTO @x FROM customers", dialect, (w) => w === "email")!;
    expect(withQueryPlan(t, "p")).toMatchObject({ assigns: true, sources: ["column email", "p"] });
  });
});

describe("optimizer hints (MySQL 8 /*+ … */: a comment to the lexer, code to the server)", () => {
  it("SET_VAR of a pinned or server setting makes the statement unknown, as SET STATEMENT does; other hints are read", () => {
    for (const sql of [
      "SELECT /*+ SET_VAR(sql_mode = 'ANSI_QUOTES') */ 1",
      "INSERT /*+ SET_VAR(foreign_key_checks = OFF) */ INTO t VALUES (1)",
      "update /*+ set_var(unique_checks=0) */ t set a = 1",
      "SELECT /*+ SET_VAR(sql_log_bin = 0) */ 1",
      "SELECT /*+ SET_VAR(character_set_client = latin1) */ 1",
      "SELECT /*+ SET_VAR( */ 1",
      "SELECT 1; DELETE /*+ SET_VAR(check_constraint_checks = 0) */ FROM t",
    ]) expect(classifyMysql(sql, dialect).at(-1), sql).toMatchObject({ kind: "unknown" });
    expect(classifyMysql("SELECT /*+ BKA(t1) MAX_EXECUTION_TIME(3600000) SET_VAR(max_execution_time = 0) */ 1", dialect)[0]).toMatchObject({ kind: "read", hints: { maxExecutionTime: [3600000], setVars: [{ name: "max_execution_time", value: "0" }] } });
    expect(classifyMysql("SELECT /*+ SET_VAR(foreign_key_checks = ON) */ 1", dialect)[0]).toMatchObject({ kind: "read" });
    // in a string it is no hint
    expect(classifyMysql("SELECT '/*+ SET_VAR(sql_mode = 1) */'", dialect)[0]).toMatchObject({ kind: "read" });
    expect(classifyMysql("SELECT '/*+ SET_VAR(sql_mode = 1) */'", dialect)[0]!.hints).toBeUndefined();
  });
});
