/**
 * Server text that copies masked values where the statement names none of them. (1) Statement text of other sessions: `pg_stat_activity.query` shows the
 * last statement of every session of the same role, literals included — an application's
 * `… where api_token = '…'` or `insert … values (…, '<token>')` carries the value a column rule
 * masks, and no detector recognises a plain token. Through the gateway (real workerd +
 * PostgreSQL); ground truth from a superuser connection. Column rules only, no detectors, so what
 * is tested is the taint analysis (parsers/masking/taint/). (2) Notices and errors raised by code
 * the statement does not show — a trigger of a table without masked columns that reads one
 * (`raise notice 'token %', (select api_token …)`, a failing cast of it): an allowed write of that
 * table is not tainted, so the message went out with detectors only. (3) Errors of a cursor's
 * query raised by a statement that does not show it: MOVE runs the query as FETCH does, COMMIT
 * runs that of a WITH HOLD cursor, EXPLAIN ANALYZE EXECUTE that of a prepared statement
 * (`invalid input syntax for type integer: "<token>"`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";

const POLICY = `
version: 1
rules:
  - name: statement-text-access
    effect: allow
    subjects: any
    resources: [demo-pg]
    # sql.session: MOVE; sql.procedural: PREPARE, EXPLAIN ANALYZE
    actions: [connect, sql.read, sql.write, sql.session, sql.transaction, sql.procedural]
masking:
  rules:
    - name: secrets
      columns: [api_token]
      style: redact
`;

const SECRET = "plainsecretvalue9";

let stack: TestStack;
let conn: TestConnection;
let app: pg.Client;
let superuser: pg.Client;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  const { host, port, database } = stack.pg;
  superuser = new pg.Client({ host, port, database, user: stack.pg.superuser!.user, password: stack.pg.superuser!.password });
  await superuser.connect();
  // Another pipeline (another identity) through the same gateway: its session logs in as the same
  // read role, and its last statement holds a masked value as a literal (it stays in
  // pg_stat_activity while the session idles).
  const other = await stack.connect("demo-pg", { sub: "other-team-pipeline" });
  app = new pg.Client({ connectionString: other.url });
  await app.connect();
  await app.query(`select id from customers where api_token = '${SECRET}'`);
  conn = await stack.connect("demo-pg", { sub: "statement-text-reader" });
}, 180_000);

afterAll(async () => {
  await app?.end();
  await superuser?.end();
  await stack?.stop();
});

describe("other sessions' statement text under column rules", () => {
  it("masks pg_stat_activity.query and the backend-activity functions", async () => {
    // the attack is real: the server shows the application's statement with the value in it
    const truth = await superuser.query("select usename, query from pg_stat_activity where query like '%api_token =%' and query not like '%pg_stat_activity%'");
    expect(truth.rows).toHaveLength(1);
    expect(truth.rows[0].query).toContain(SECRET);
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      for (const sql of [
        "select query from pg_stat_activity",
        "select a.query, a.pid from pg_catalog.pg_stat_activity a",
        "select reverse(query) from pg_stat_activity",
        "select s.q from (select query as q from pg_stat_activity) s",
        "select string_agg(query, ',') from pg_stat_activity",
        "select pg_stat_get_backend_activity(b) from pg_stat_get_backend_idset() b",
        "select query from pg_stat_get_activity(null)",
      ]) {
        const r = await client.query(sql);
        const shown = JSON.stringify(r.rows);
        expect(shown, sql).not.toContain(SECRET);
        expect(shown, sql).not.toContain([...SECRET].reverse().join(""));
      }
    } finally {
      await client.end();
    }
  });
});

describe("notices and errors raised inside functions (triggers) under column rules", () => {
  it("replaces the text of a message whose context is a function, keeps the statement's own errors", async () => {
    await superuser.query(`
      create table st_orders (id int); create table st_casts (id int);
      create function st_leak() returns trigger language plpgsql as $$ begin raise notice 'token %', (select api_token from customers where id = 1); return new; end $$;
      create function st_cast() returns trigger language plpgsql as $$ begin perform (select api_token from customers where id = 1)::int; return new; end $$;
      create trigger st_leak before insert on st_orders for each row execute function st_leak();
      create trigger st_cast before insert on st_casts for each row execute function st_cast();
      grant select, insert on st_orders, st_casts to public;
    `);
    const token = (await superuser.query("select api_token from customers where id = 1")).rows[0].api_token as string;
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    const notices: string[] = [];
    client.on("notice", (n) => notices.push(JSON.stringify(n)));
    try {
      await client.query("insert into st_orders values (1)");
      expect(notices).toHaveLength(1);
      expect(notices[0]).not.toContain(token);
      expect(notices[0]).toContain("[REDACTED]");
      const err = (await client.query("insert into st_casts values (1)").catch((e) => e)) as pg.DatabaseError;
      expect(err.code).toBe("22P02"); // the SQLSTATE is kept
      expect(JSON.stringify({ ...err, message: err.message })).not.toContain(token);
      // an error of the statement itself keeps its text
      const own = (await client.query("select 'abc'::int").catch((e) => e)) as pg.DatabaseError;
      expect(own.message).toContain('invalid input syntax for type integer: "abc"');
      // the rows were written (the write itself was allowed)
      expect((await superuser.query("select count(*)::int as n from st_orders")).rows[0].n).toBe(1);
    } finally {
      await client.end();
      await superuser.query("drop table st_orders, st_casts; drop function st_leak(), st_cast()");
    }
  });
});

describe("errors of a cursor's or prepared statement's query raised by MOVE, COMMIT (WITH HOLD) and EXPLAIN ANALYZE EXECUTE under column rules", () => {
  it("replaces their text, keeps the SQLSTATE", async () => {
    const token = (await superuser.query("select api_token from customers where id = 1")).rows[0].api_token as string;
    const cursor = "cursor for select api_token::int from customers where id = 1";
    const sequences = [
      ["begin", `declare c ${cursor}`, "move forward all in c"],
      ["begin", `declare c ${cursor}`, "move absolute 1 in c"],
      ["begin", `declare c ${cursor.replace("cursor", "cursor with hold")}`, "commit"],
      ["begin", `declare c ${cursor.replace("cursor", "cursor with hold")}`, "end"],
      ["select 1", "prepare p as select api_token::int from customers where id = 1", "explain analyze execute p"],
      ["select 1", "prepare p as select api_token::int from customers where id = 1", "explain (analyze, costs off) execute p"],
    ];
    for (const [begin, declare, last] of sequences as Array<[string, string, string]>) {
      // ground truth: the server quotes the masked value in the error of the last statement
      const truth = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
      const client = new pg.Client({ connectionString: conn.url });
      await truth.connect();
      await client.connect();
      try {
        for (const c of [truth, client]) {
          await c.query(begin);
          await c.query(declare); // the query has not run yet
        }
        const real = (await truth.query(last).catch((e) => e)) as pg.DatabaseError;
        expect(real.message, last).toContain(token);
        const err = (await client.query(last).catch((e) => e)) as pg.DatabaseError;
        expect(err.code, `${last}: ${err.message}`).toBe("22P02");
        expect(JSON.stringify({ ...err, message: err.message }), last).not.toContain(token);
        expect(err.message, last).toContain("[REDACTED]");
      } finally {
        await truth.end();
        await client.end();
      }
    }
  });
});

describe("a table with a rule (CREATE RULE … DO ALSO SELECT) under column rules", () => {
  it("taints statements on it like a view: its writes are refused, nothing of the rule's action shows", async () => {
    await superuser.query(`
      create table st_ruled (id int);
      create rule st_leak as on insert to st_ruled do also select api_token::int from customers where id = 1;
      create rule st_rows as on delete to st_ruled do instead select reverse(api_token) as v from customers where id = 1;
      grant select, insert, delete on st_ruled to public;
    `);
    const token = (await superuser.query("select api_token from customers where id = 1")).rows[0].api_token as string;
    const reversed = [...token].reverse().join("");
    // ground truth, over a direct connection of the same role: the rule runs and shows the token
    const truth = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
    const client = new pg.Client({ connectionString: conn.url });
    await truth.connect();
    await client.connect();
    try {
      expect(((await truth.query("insert into st_ruled values (1)").catch((e) => e)) as Error).message).toContain(token);
      expect(JSON.stringify((await truth.query("delete from st_ruled")).rows)).toContain(reversed);
      for (const sql of ["insert into st_ruled values (1)", "delete from st_ruled"]) {
        const r = await client.query(sql).then((x) => JSON.stringify(x.rows), (e: pg.DatabaseError) => JSON.stringify({ ...e, message: e.message }));
        expect(r, sql).not.toContain(token);
        expect(r, sql).not.toContain(reversed);
        expect(r, sql).toMatch(/gatehouse: statement refused by masking/);
      }
    } finally {
      await truth.end();
      await client.end();
      await superuser.query("drop table st_ruled");
    }
  });
});

describe("a row-level-security policy written inline (no function) under column rules", () => {
  it("replaces the text of the messages of statements on its table, keeps the SQLSTATE and the rows", async () => {
    await superuser.query(`
      create table st_policed (id int);
      insert into st_policed values (1);
      alter table st_policed enable row level security;
      create policy st_cast on st_policed using ((select api_token from customers where id = 1)::int > 0);
      grant select, insert on st_policed to public;
    `);
    const token = (await superuser.query("select api_token from customers where id = 1")).rows[0].api_token as string;
    const truth = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
    const client = new pg.Client({ connectionString: conn.url });
    await truth.connect();
    await client.connect();
    try {
      // ground truth, over a direct connection of the same role: the policy's cast quotes the token
      expect(((await truth.query("select id from st_policed").catch((e) => e)) as Error).message).toContain(token);
      const err = (await client.query("select id from st_policed").catch((e) => e)) as pg.DatabaseError;
      expect(err.code).toBe("22P02");
      expect(JSON.stringify({ ...err, message: err.message })).not.toContain(token);
      expect(err.message).toContain("[REDACTED]");
      // a policy that does not fail: the rows come back as they are
      await superuser.query("drop policy st_cast on st_policed; create policy st_all on st_policed using (true)");
      const again = new pg.Client({ connectionString: conn.url });
      await again.connect();
      expect((await again.query("select id from st_policed")).rows).toEqual([{ id: 1 }]);
      await again.end();
    } finally {
      await truth.end();
      await client.end();
      await superuser.query("drop table st_policed");
    }
  });
});
