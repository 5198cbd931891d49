/**
 * Attribute notation as a function call, through the real gateway: PostgreSQL reads `c.f` (and
 * `(expr).f`) as `f(c)` when `f` is not a column, so `select c.attr_leak from customers c` runs
 * the user function `attr_leak(customers)` without a `name(` in the text. The policy's function
 * rules must see it: a deny rule naming the function, and — where the session's catalogue is read
 * (masking sessions) — the default deny of `execute` under a read policy. Ground truth: the
 * function sets application_name, which a superuser connection reads from pg_stat_activity.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";

const POLICY = `
version: 1
rules:
  - name: reads
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.transaction]
  - name: never-attr-leak
    effect: deny
    subjects: any
    resources: [demo-pg]
    actions: [{ sql: { functions: [attr_leak] } }]
masking:
  rules:
    - name: secrets
      subjects: { subject: masked-pipeline }
      columns: [api_token]
      style: redact
`;

let stack: TestStack;
let admin: pg.Client;
let plain: TestConnection;
let masked: TestConnection;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  const { host, port, database, superuser } = stack.pg;
  admin = new pg.Client({ host, port, database, user: superuser!.user, password: superuser!.password });
  await admin.connect();
  // Functions over the row type (and one over text): each marks the session that ran it.
  await admin.query(`
    create function attr_leak(customers) returns text language sql volatile as $$ select set_config('application_name', 'attr_leak ran', false) $$;
    create function attr_other(customers) returns text language sql volatile as $$ select set_config('application_name', 'attr_other ran', false) $$;
    create function attr_text(text) returns text language sql volatile as $$ select set_config('application_name', 'attr_text ran', false) $$;
    grant execute on function attr_leak(customers), attr_other(customers), attr_text(text) to public;
  `);
  plain = await stack.connect("demo-pg", { sub: "plain-pipeline" });
  masked = await stack.connect("demo-pg", { sub: "masked-pipeline" });
}, 180_000);

afterAll(async () => {
  await plain?.stop();
  await masked?.stop();
  await admin?.query("drop function if exists attr_leak(customers); drop function if exists attr_other(customers); drop function if exists attr_text(text)").catch(() => {});
  await admin?.end().catch(() => {});
  await stack?.stop();
});

/** application_name of every session but the superuser's: what the functions left behind. */
async function marks(): Promise<string[]> {
  const r = await admin.query("select application_name from pg_stat_activity where application_name like 'attr_%'");
  return r.rows.map((row) => row.application_name as string);
}

async function refused(client: pg.Client, sql: string): Promise<void> {
  const err = (await client.query(sql).catch((e) => e)) as pg.DatabaseError;
  expect(err.code, sql).toBe("42501");
}

describe("attribute notation c.f is the call f(c)", () => {
  it("a deny rule naming the function refuses it in attribute notation (no catalogue)", async () => {
    const client = new pg.Client({ connectionString: plain.url });
    await client.connect();
    try {
      for (const sql of [
        "select c.attr_leak from customers c where id = 1",
        "select (c).attr_leak from customers c where id = 1",
        "select customers.attr_leak from customers where id = 1",
        "select public.customers.ATTR_LEAK from public.customers where id = 1",
        'select c."attr_leak" from customers c where id = 1',
      ]) {
        await refused(client, sql);
        expect(await marks(), sql).toEqual([]);
      }
      // plain qualified columns stay readable
      const r = await client.query("select c.id, c.name from customers c where c.id = 1");
      expect(r.rows).toHaveLength(1);
    } finally {
      await client.end();
    }
  });

  it("with the session's catalogue, a user function in attribute notation is an execute part (default deny under a read policy)", async () => {
    const client = new pg.Client({ connectionString: masked.url });
    await client.connect();
    try {
      for (const sql of [
        "select c.attr_other from customers c where id = 1",
        "select (c).attr_other from customers c where id = 1",
        "select ('x'::text).attr_text",
        "select (c.name).attr_text from customers c where id = 1",
      ]) {
        await refused(client, sql);
        expect(await marks(), sql).toEqual([]);
      }
      const r = await client.query("select c.id, c.name from customers c where c.id = 1");
      expect(r.rows).toHaveLength(1);
    } finally {
      await client.end();
    }
  });
});
