/**
 * A login role whose search_path lists a writable schema before pg_catalog
 * (`ALTER ROLE … SET search_path = public, pg_catalog`): an unqualified `lower(x)` then resolves to
 * `public.lower(text)`, somebody's function, while the policy decides it as the built-in (a read).
 * The connector pins pg_catalog first at session start (protocols/postgres/connector/startup.ts),
 * so every unqualified name the classifier takes for a built-in is the built-in. Through the real
 * gateway under a read policy; ground truth from a superuser connection (the shadowing function
 * sets application_name when it runs).
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
`;

let stack: TestStack;
let admin: pg.Client;
let conn: TestConnection;
let reader: string;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  const { host, port, database, superuser } = stack.pg;
  reader = stack.pg.levels?.read.user ?? stack.pg.user;
  admin = new pg.Client({ host, port, database, user: superuser!.user, password: superuser!.password });
  await admin.connect();
  await admin.query(`
    create function public.lower(text) returns text language sql volatile as $$ select set_config('application_name', 'public.lower ran', false) $$;
    grant execute on function public.lower(text) to public;
    alter role "${reader}" set search_path = public, pg_catalog;
  `);
  conn = await stack.connect("demo-pg", { sub: "search-path-pipeline" });
}, 180_000);

afterAll(async () => {
  await conn?.stop();
  await admin?.query(`alter role "${reader}" reset search_path; drop function if exists public.lower(text)`).catch(() => {});
  await admin?.end().catch(() => {});
  await stack?.stop();
});

describe("a login role's search_path with pg_catalog after a writable schema", () => {
  it("is pinned with pg_catalog first: lower() is the built-in the policy decided on", async () => {
    // the attack is real: a direct session of that role runs public.lower for lower()
    const { host, port, database } = stack.pg;
    const direct = new pg.Client({ host, port, database, user: reader, password: stack.pg.levels?.read.password ?? stack.pg.password });
    await direct.connect();
    try {
      expect((await direct.query("select lower('ABC') as v")).rows[0].v).toBe("public.lower ran");
    } finally {
      await direct.end();
    }
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      expect((await client.query("select lower('ABC') as v")).rows[0].v).toBe("abc");
      expect((await client.query("select name from customers where lower(name) = lower(name) limit 1")).rows).toHaveLength(1);
      // the role's schemas are still searched for relations, after pg_catalog
      const path = (await client.query("show search_path")).rows[0].search_path as string;
      expect(path).toMatch(/^pg_catalog, public, pg_catalog$/);
      // and the pin holds: the gateway refuses changing it
      const err = (await client.query("set search_path = public, pg_catalog").catch((e) => e)) as pg.DatabaseError;
      expect(err.code).toBe("42501");
    } finally {
      await client.end();
    }
    const ran = await admin.query("select count(*)::int as n from pg_stat_activity where application_name = 'public.lower ran'");
    expect(ran.rows[0].n).toBe(0);
  });
});
