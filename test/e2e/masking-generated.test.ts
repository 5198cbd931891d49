/**
 * Generated columns as a copy of a masked value under another name: a DBA's `email_lower text
 * GENERATED ALWAYS AS (lower(email)) STORED` (the usual case-insensitive unique key) holds every
 * e-mail address under a column no rule names. Through the gateway (real workerd + PostgreSQL),
 * ground truth over a direct superuser connection. Column rules only: no detector hides the
 * value, so what is tested is the catalogue's knowledge of generated columns
 * (parsers/masking/taint/catalog.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";

const POLICY = `
version: 1
rules:
  - name: generated-test-access
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.write, sql.ddl, sql.session, sql.transaction]
masking:
  rules:
    - name: pii
      columns: [email, password_hash]
      style: redact
`;

let stack: TestStack;
let conn: TestConnection;
let direct: pg.Client;
let email1: string;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  direct = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
  await direct.connect();
  // Before the session starts: the catalogue the gateway reads at the first statement knows them.
  await direct.query("alter table customers add column email_lower text generated always as (lower(email)) stored, add column name_upper text generated always as (upper(name)) stored");
  await direct.query("create table plain_gen (id int primary key, label text, label_upper text generated always as (upper(label)) stored); insert into plain_gen (id, label) values (1, 'hello')");
  email1 = (await direct.query("select email from customers where id = 1")).rows[0].email;
  conn = await stack.connect("demo-pg", { sub: "generated-reader" });
}, 180_000);

afterAll(async () => {
  await direct?.query("alter table customers drop column if exists email_lower, drop column if exists name_upper; drop table if exists plain_gen").catch(() => {});
  await direct?.end();
  await stack?.stop();
});

describe("generated columns computed from masked data", () => {
  it("are masked wherever they appear; naming one taints the statement; a copy is refused", async () => {
    // the attack is real: the generated column holds the e-mail
    expect((await direct.query("select email_lower from customers where id = 1")).rows[0].email_lower).toBe(email1.toLowerCase());
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      const shown = async (sql: string) => JSON.stringify((await client.query(sql)).rows);
      for (const sql of [
        "select id, email_lower from customers where id = 1",
        "select email_lower as contact from customers c where id = 1",
        'select "email_lower" from public.customers where id = 1',
        "select email_lower || '' as x from customers where id = 1",
        "select upper(e) as x from (select email_lower as e from customers where id = 1) s",
        "select c.* from customers c where id = 1",
      ]) {
        const got = await shown(sql);
        expect(got, sql).toContain("[REDACTED]");
        expect(got.toLowerCase(), sql).not.toContain(email1.toLowerCase());
      }
      // the extended protocol (a parameter: pg sends Parse/Bind/Execute)
      const ext = JSON.stringify((await client.query("select email_lower from customers where id = $1", [1])).rows);
      expect(ext).toBe('[{"email_lower":"[REDACTED]"}]');
      // fail closed: every generated column of a table with a masked column is masked (the expression is not read)
      expect((await client.query("select name_upper from customers where id = 1")).rows).toEqual([{ name_upper: "[REDACTED]" }]);
      // a generated column of a table without masked columns stays exact
      expect((await client.query("select label_upper from plain_gen")).rows).toEqual([{ label_upper: "HELLO" }]);
      // writing it elsewhere is refused, nothing written
      const w = (await client.query("create temp table launder as select email_lower from customers").catch((e: unknown) => e)) as Error;
      expect(w).toBeInstanceOf(Error);
      expect(w.message).toMatch(/masked/);
    } finally {
      await client.end();
    }
  });
});
