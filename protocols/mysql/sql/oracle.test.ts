/**
 * Ground truth for the MySQL classifier: the MariaDB server itself.
 *
 * Every corpus entry (≥ 2,000: corpus.ts) runs on a MariaDB started for this test, in a scratch
 * database, inside a transaction that is rolled back. What the server did is read from its own
 * per-session counters around the statement:
 *  - `Com_<command>`: which statements its parser saw and dispatched (counted before privilege
 *    checks and execution, so a statement that fails on permissions or a missing table still
 *    shows what it was) — including statements run inside stored functions and procedures;
 *  - `Handler_write/update/delete`: whether any row was actually written.
 * A *miss* is an entry the classifier calls a pure read (every statement `read`, no part beyond
 * read) while the server dispatched a non-read command or wrote a row. The test asserts zero
 * misses; over-refusals (classifier says non-read, server only read) are counted and printed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { startMariaDb, type RunningMariaDb } from "../../../test/harness/mariadb.ts";
import { buildCorpus, FIXTURES } from "./corpus.ts";
import { classifyMysql, type MysqlStatement } from "./classify.ts";
import { DEFAULT_DIALECT } from "./dialect.ts";

/** Server commands that only read (or only show/plan) — anything else is not a read. */
const READ_COMS = new Set(["select", "do", "show_status", "help", "empty_query", "check", "checksum", "ha_open", "ha_read", "ha_close", "stmt_prepare", "stmt_close", "stmt_execute", "stmt_reset"]);

function isReadCom(c: string): boolean {
  return READ_COMS.has(c) || c.startsWith("show_");
}

function pureRead(stmts: MysqlStatement[]): boolean {
  return stmts.length > 0 && stmts.every((s) => s.kind === "read" && (s.parts ?? []).every((p) => p.kind === "read"));
}

interface Counters {
  com: Map<string, number>;
  rowWrites: number;
}

async function counters(c: mysql.Connection): Promise<Counters> {
  const [rows] = await c.query("SHOW SESSION STATUS WHERE Variable_name LIKE 'Com\\_%' OR Variable_name IN ('Handler_write', 'Handler_update', 'Handler_delete')");
  const com = new Map<string, number>();
  let rowWrites = 0;
  for (const r of rows as { Variable_name: string; Value: string }[]) {
    if (r.Variable_name.startsWith("Com_")) com.set(r.Variable_name.slice(4).toLowerCase(), Number(r.Value));
    else rowWrites += Number(r.Value);
  }
  return { com, rowWrites };
}

describe("MySQL classifier against MariaDB (oracle)", () => {
  let db: RunningMariaDb;
  beforeAll(async () => {
    db = await startMariaDb();
    await db.rootSql(`CREATE USER 'gh_oracle'@'%' IDENTIFIED BY 'oracle-pw'; GRANT ALL ON gatehouse_scratch.* TO 'gh_oracle'@'%'; GRANT SELECT ON gatehouse_demo.* TO 'gh_oracle'@'%';`);
  }, 120_000);
  afterAll(async () => {
    await db?.stop();
  });

  it("never calls a statement a read when the server ran a write (≥ 2,000 statements)", async () => {
    // The server parses compound bodies itself, so the fixtures go in one multi-statement COM_QUERY.
    const admin = await mysql.createConnection({ host: db.host, port: db.port, user: db.levels.admin.user, password: db.levels.admin.password, multipleStatements: true });
    const rebuild = () => admin.query(`DROP DATABASE IF EXISTS gatehouse_scratch; CREATE DATABASE gatehouse_scratch; USE gatehouse_scratch; ${FIXTURES}`);
    await rebuild();
    await admin.query("SET SESSION lock_wait_timeout = 10");
    // Rebuilding costs seconds on a busy machine: only when a fixture object is gone or changed.
    const fixturesIntact = async () => {
      const [rows] = await admin.query(
        "SELECT (SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'gatehouse_scratch' AND TABLE_NAME IN ('t1','t2','wlog','v1','s1')) AS t, (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'gatehouse_scratch') AS r, (SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'gatehouse_scratch' AND TABLE_NAME IN ('t1','t2','wlog')) AS c, (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'gatehouse_scratch') AS g, (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'gatehouse_scratch') AS e",
      );
      const r = (rows as { t: number; r: number; c: number; g: number; e: number }[])[0];
      return Number(r.t) === 5 && Number(r.r) === 4 && Number(r.c) === 6 && Number(r.g) === 0 && Number(r.e) === 0;
    };
    const connect = async () => {
      const c = await mysql.createConnection({ host: db.host, port: db.port, user: "gh_oracle", password: "oracle-pw", database: "gatehouse_scratch", multipleStatements: true });
      await c.query("SET SESSION max_statement_time = 2, lock_wait_timeout = 5");
      return c;
    };
    let conn = await connect();
    const corpus = buildCorpus();
    expect(corpus.length).toBeGreaterThanOrEqual(2000);
    const misses: string[] = [];
    let done = 0;
    const started = Date.now();
    let overRefusals = 0;
    let serverRan = 0;
    let agreeRead = 0;
    for (const entry of corpus) {
      const ours = classifyMysql(entry.sql, DEFAULT_DIALECT);
      await conn.query("START TRANSACTION");
      const before = await counters(conn);
      let error: string | null = null;
      try {
        await conn.query(entry.sql);
      } catch (e) {
        error = (e as { code?: string }).code ?? String(e);
      }
      const after = await counters(conn);
      const ran: string[] = [];
      for (const [k, v] of after.com) {
        const d = v - (before.com.get(k) ?? 0) - (k === "show_status" ? 1 : 0);
        if (d > 0) ran.push(k);
      }
      const wrote = after.rowWrites - before.rowWrites > 0;
      if (ran.length) serverRan++;
      const serverNonRead = ran.some((c) => !isReadCom(c));
      // EXPLAIN of a DELETE is counted as Com_delete without running it: with an EXPLAIN in the
      // query, trust the row counters (every fixture table has rows inside the rolled-back transaction).
      const explainOnly = ours.some((s) => s.command === "EXPLAIN");
      const serverRead = !wrote && (!serverNonRead || explainOnly);
      const oursRead = pureRead(ours);
      if (oursRead && !serverRead) misses.push(`${JSON.stringify(entry.sql)} (${entry.source}): server ran ${ran.join(",")}${wrote ? " and wrote rows" : ""}; classifier: ${ours.map((s) => `${s.kind}/${s.command}`).join(", ")}`);
      if (!oursRead && serverRead && ran.length && !error) overRefusals++;
      if (oursRead && serverRead && ran.length) agreeRead++;
      // Back to a known state: the connection's session and, after DDL or privilege changes, the fixtures.
      try {
        await conn.query("ROLLBACK; UNLOCK TABLES; SET SESSION sql_mode = DEFAULT, NAMES utf8mb4, autocommit = 1; USE gatehouse_scratch");
      } catch {
        // a statement may have left the session mid-way (e.g. XA); the next START TRANSACTION shows it
      }
      if (++done % 250 === 0) console.log(`oracle: ${done}/${corpus.length} after ${Math.round((Date.now() - started) / 1000)} s`);
      // Rebuild only when the entry could have damaged the fixtures (DDL on them, routines dropped)
      // or left state on the connection (HANDLER, LOCK, XA, password changes).
      const damaging = /\b(DROP|ALTER|RENAME|TRUNCATE|REPLACE\s+(TABLE|VIEW)|HANDLER|PASSWORD|ALTER\s+USER|LOCK\s+TABLES|XA)\b/i.test(entry.sql);
      if (damaging && ran.length) {
        // A fresh connection drops whatever the statement left behind (HANDLER, named locks, XA).
        await conn.end();
        if (!(await fixturesIntact())) await rebuild();
        // The corpus changes its own password (SET PASSWORD, ALTER USER CURRENT_USER()).
        await db.rootSql("SET PASSWORD FOR 'gh_oracle'@'%' = PASSWORD('oracle-pw')");
        conn = await connect();
      }
    }
    await conn.end();
    await admin.end();
    console.log(`oracle: ${corpus.length} entries, server dispatched statements for ${serverRan}, pure reads agreed ${agreeRead}, over-refusals ${overRefusals}, misses ${misses.length}`);
    expect(misses).toEqual([]);
    // The oracle must actually have exercised the server: most entries run something.
    expect(serverRan).toBeGreaterThan(corpus.length * 0.8);
  }, 900_000);
});
