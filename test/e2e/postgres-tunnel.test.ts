/**
 * Issue 2 end to end: real psql and the pg driver → `gatehouse connect` → worker (wrangler dev,
 * workerd) → connector → real PostgreSQL with SCRAM authentication.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtemp, readFile, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { psql, spawnPsql, eventually } from "./helpers.ts";

const POLICY = `
version: 1
limits:
  max_session: 1h
  statement_timeout: 2m
rules:
  - name: e2e-allow
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.write, sql.ddl, sql.transaction, sql.session]
  - name: e2e-no-drop
    effect: deny
    subjects: any
    resources: any
    actions: [{ sql: { commands: ["DROP *"] } }]
`;

let stack: TestStack;
let conn: TestConnection;
let admin: pg.Client;
let tmp: string;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  conn = await stack.connect("demo-pg", { sub: "alice" });
  const su = stack.pg.superuser!;
  admin = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
  await admin.connect();
  tmp = await mkdtemp(path.join(tmpdir(), "gatehouse-e2e-"));
}, 180_000);

afterAll(async () => {
  await admin?.end();
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("PostgreSQL through the gateway", () => {
  it("psql runs a simple query and gets rows back", async () => {
    const r = await psql(conn.url, ["-A", "-t", "-c", "select count(*) > 100, current_user from customers"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // current_user is the connector's role, not the client's claimed user: credentials live in the connector.
    expect(r.stdout.trim()).toBe(`t|${stack.pg.user}`);
  });

  it("psql \\d describes tables (catalog queries pass)", async () => {
    const r = await psql(conn.url, ["-c", "\\d customers"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("card_number");
    expect(r.stdout).toContain("password_hash");
  });

  it("runs a multi-statement string", async () => {
    const r = await psql(conn.url, ["-A", "-t", "-c", "create temp table t(x int); insert into t values (1),(2); select sum(x) from t"]);
    expect(r.code).toBe(0);
    // psql 15 prints the result of every statement of the string.
    expect(r.stdout.trim().split("\n")).toEqual(["CREATE TABLE", "INSERT 0 2", "3"]);
  });

  it("\\copy works both ways", async () => {
    const out = path.join(tmp, "customers.csv");
    const a = await psql(conn.url, ["-c", `\\copy (select id, name from customers order by id limit 50) to '${out}' csv`]);
    expect(a.code).toBe(0);
    const csv = await readFile(out, "utf8");
    expect(csv.trim().split("\n")).toHaveLength(50);
    await writeFile(path.join(tmp, "in.csv"), "1,one\n2,two\n3,three\n");
    const b = await psql(conn.url, [
      "-c",
      "create table if not exists copy_in (id int, label text)",
      "-c",
      `\\copy copy_in from '${path.join(tmp, "in.csv")}' csv`,
    ]);
    expect(b.code).toBe(0);
    const rows = await admin.query("select count(*)::int as n from copy_in");
    expect(rows.rows[0].n).toBe(3);
  });

  it("COPY TO STDOUT streams the table", async () => {
    const r = await psql(conn.url, ["-c", "copy (select id from customers order by id) to stdout"]);
    expect(r.code).toBe(0);
    const direct = await admin.query("select count(*)::int as n from customers");
    expect(r.stdout.trim().split("\n")).toHaveLength(direct.rows[0].n);
  });

  it("the pg driver runs parameterised queries (extended protocol)", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      const r = await client.query("select $1::int + $2::int as sum, $3::text as label", [40, 2, "answer"]);
      expect(r.rows).toEqual([{ sum: 42, label: "answer" }]);
      const named = await client.query({ name: "by-id", text: "select id from customers where id = $1", values: [1] });
      expect(named.rows).toEqual([{ id: 1 }]);
      const again = await client.query({ name: "by-id", text: "select id from customers where id = $1", values: [2] });
      expect(again.rows).toEqual([{ id: 2 }]);
    } finally {
      await client.end();
    }
  });

  it("delivers LISTEN/NOTIFY notifications", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      await client.query("listen gatehouse_e2e");
      const received = new Promise<pg.Notification>((resolve) => client.on("notification", resolve));
      await admin.query("select pg_notify('gatehouse_e2e', 'hello through the tunnel')");
      const n = await received;
      expect(n.channel).toBe("gatehouse_e2e");
      expect(n.payload).toBe("hello through the tunnel");
    } finally {
      await client.end();
    }
  });

  it("passes server errors through unchanged and the session stays usable", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      const err = await client.query("select 1/0").catch((e: pg.DatabaseError) => e);
      expect((err as pg.DatabaseError).code).toBe("22012");
      expect((err as pg.DatabaseError).message).toBe("division by zero");
      const missing = await client.query("select * from no_such_table").catch((e: pg.DatabaseError) => e);
      expect((missing as pg.DatabaseError).code).toBe("42P01");
      expect((await client.query("select 7 as n")).rows).toEqual([{ n: 7 }]);
    } finally {
      await client.end();
    }
  });

  it("refuses a denied statement with 42501 naming the rule; it never reaches the server", async () => {
    const r = await psql(conn.url, ["-c", "drop table orders"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("e2e-no-drop");
    const still = await admin.query("select to_regclass('public.orders') is not null as exists");
    expect(still.rows[0].exists).toBe(true);

    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      const err = await client.query("drop table customers").catch((e: pg.DatabaseError) => e);
      expect((err as pg.DatabaseError).code).toBe("42501");
      // Extended protocol too, and the session stays usable.
      const err2 = await client.query("drop table customers cascade", []).catch((e: pg.DatabaseError) => e);
      expect((err2 as pg.DatabaseError).code).toBe("42501");
      expect((await client.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
  });

  it("refuses a whole multi-statement string when one statement is denied", async () => {
    await admin.query("create table if not exists multi_probe (x int)");
    await admin.query(`grant all on multi_probe to ${stack.pg.user}`);
    const r = await psql(conn.url, ["-c", "insert into multi_probe values (1); drop table multi_probe"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/42501|refused/);
    const rows = await admin.query("select count(*)::int as n from multi_probe");
    expect(rows.rows[0].n).toBe(0);
  });

  it("keeps the transaction state right when a statement inside a transaction is refused", async () => {
    await admin.query("create table if not exists tx_probe (x int)");
    await admin.query(`grant all on tx_probe to ${stack.pg.user}`);
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      await client.query("begin");
      await client.query("insert into tx_probe values (42)");
      const err = await client.query("drop table tx_probe").catch((e: pg.DatabaseError) => e);
      expect((err as pg.DatabaseError).code).toBe("42501");
      // Like any error in a transaction block: the transaction is aborted until ROLLBACK.
      const aborted = await client.query("select 1").catch((e: pg.DatabaseError) => e);
      expect((aborted as pg.DatabaseError).code).toBe("25P02");
      await client.query("commit"); // PostgreSQL turns COMMIT of an aborted transaction into ROLLBACK
      expect((await client.query("select 2 as two")).rows).toEqual([{ two: 2 }]);
    } finally {
      await client.end();
    }
    const rows = await admin.query("select count(*)::int as n from tx_probe where x = 42");
    expect(rows.rows[0].n).toBe(0);
  });

  it("routes psql's cancel request to the right backend", async () => {
    const child = spawnPsql(conn.url, ["-c", "select pg_sleep(60)"]);
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    await eventually(async () => {
      const r = await admin.query("select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(60)' and state = 'active'");
      return r.rows[0].n === 1;
    }, "the sleeping query to start");
    child.kill("SIGINT");
    const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
    expect(code).not.toBe(0);
    expect(stderr).toContain("canceling statement due to user request");
    await eventually(async () => {
      const r = await admin.query("select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(60)' and state = 'active'");
      return r.rows[0].n === 0;
    }, "the backend to stop sleeping");
  });
});

describe("orderly end", () => {
  it("a client that ends its session sees no error afterwards (node-postgres emits none)", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    const errors: Error[] = [];
    client.on("error", (e) => errors.push(e));
    await client.connect();
    await client.query("select 1");
    await client.end();
    await new Promise((r) => setTimeout(r, 300));
    expect(errors).toEqual([]);
  });
});
