/**
 * parsers/masking/taint/catalog.ts against the real server: the query picked by the version the
 * server reports at login reads attgenerated directly, and answers exactly the rows of the form
 * that is right on any version (through to_jsonb) — so buildCatalog sees the same catalogue.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import pg from "pg";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { catalogQuery } from "../../parsers/masking/taint/catalog.ts";

let db: RunningPostgres;
let client: pg.Client;
/** server_version as the server's ParameterStatus reported it at login (what the engine keeps). */
let reportedVersion: string | undefined;

beforeAll(async () => {
  db = await startPostgres();
  client = new pg.Client({ connectionString: db.url });
  const connection = (client as unknown as { connection: { on(event: string, listener: (m: { parameterName: string; parameterValue: string }) => void): void } }).connection;
  connection.on("parameterStatus", (m) => {
    if (m.parameterName === "server_version") reportedVersion = m.parameterValue;
  });
  await client.connect();
  await client.query(`
    create table customers (id int primary key, email text, dropped text,
      email_lower text generated always as (lower(email)) stored,
      email_upper text generated always as (upper(email)) virtual);
    alter table customers drop column dropped;
    create view customer_emails as select id, email_lower from customers;`);
}, 120_000);

afterAll(async () => {
  await client?.end();
  await db?.stop();
});

/** Every row of every statement of `sql`, in a stable order. */
async function rowsOf(sql: string): Promise<string[]> {
  const results = (await client.query({ text: sql, rowMode: "array" })) as unknown as pg.QueryArrayResult[];
  return results.flatMap((r) => r.rows.map((row) => JSON.stringify(row))).sort();
}

describe("the catalogue query on the server's version", () => {
  it("reads attgenerated directly and answers the same rows as the any-version form", async () => {
    expect(reportedVersion).toMatch(/^18/);
    const picked = catalogQuery(reportedVersion);
    const anyVersion = catalogQuery(undefined);
    expect(picked).not.toContain("to_jsonb");
    expect(anyVersion).toContain("to_jsonb");

    const rows = await rowsOf(picked);
    expect(rows).toEqual(await rowsOf(anyVersion));
    const generated = rows.map((r) => JSON.parse(r) as string[]).filter((r) => r[0] === "att" && r[4] !== "");
    expect(generated.map((r) => [r[3], r[4]]).sort()).toEqual([["email_lower", "s"], ["email_upper", "v"]]);
    // plain columns answer '' (not NULL) in both forms: buildCatalog reads any non-empty value as generated
    expect(rows.some((r) => r.startsWith('["att"') && r.endsWith(',"email",""]'))).toBe(true);
  });

  it("is not fooled by a user's to_jsonb(pg_attribute), ->>, = or <> ahead of pg_catalog in the search path", async () => {
    // An exact argument-type match in a schema on the search path beats pg_catalog.to_jsonb(anyelement),
    // whatever the order; a `->>` for (jsonb, unknown) likewise once public precedes pg_catalog.
    await client.query(`
      create schema trap;
      create function trap.to_jsonb(pg_catalog.pg_attribute) returns jsonb language sql as $$ select '{}'::jsonb $$;
      create function trap.arrow(jsonb, text) returns text language sql as $$ select '' $$;
      create operator trap.->> (leftarg = jsonb, rightarg = text, function = trap.arrow);
      create function trap.never("char", "char") returns boolean language sql as $$ select false $$;
      create operator trap.= (leftarg = "char", rightarg = "char", function = trap.never);
      create function trap.always_name(name, name) returns boolean language sql as $$ select false $$;
      create operator trap.<> (leftarg = name, rightarg = name, function = trap.always_name);
      set search_path = trap, public, pg_catalog;`);
    try {
      // the trap is real: the unqualified spelling now reads every column as plain
      const unqualified = (await client.query({ text: "select COALESCE(to_jsonb(a) ->> 'attgenerated', '') from pg_catalog.pg_attribute a where a.attname = 'email_lower'", rowMode: "array" })).rows;
      expect(unqualified.length).toBeGreaterThan(0);
      expect(unqualified.every((r) => r[0] === "")).toBe(true);
      // …and with the trap's `=` for "char" no relation would be listed at all, with its `<>` for names no user function
      expect((await client.query("select count(*)::int as n from pg_catalog.pg_class c where c.relkind in ('r','v')")).rows[0].n).toBe(0);
      for (const version of [undefined, "18.1"]) {
        const rows = (await rowsOf(catalogQuery(version))).map((r) => JSON.parse(r) as string[]);
        const generated = rows.filter((r) => r[0] === "att" && r[4] !== "");
        expect(generated.map((r) => [r[3], r[4]]).sort()).toEqual([["email_lower", "s"], ["email_upper", "v"]]);
        expect(rows.some((r) => r[0] === "rel" && r[3] === "customers")).toBe(true);
        expect(rows.some((r) => r[0] === "fn" && r[1] === "arrow" && r[2] === "trap")).toBe(true);
      }
    } finally {
      await client.query("reset search_path; drop schema trap cascade");
    }
  });
});
