/**
 * protocols/postgres/connector/startup.ts SEARCH_PATH_PIN against the real server: for each
 * search_path a role or database may carry, the session afterwards searches pg_catalog before any
 * other schema for functions (current_schemas(true) starts with it), and a path that does not
 * name pg_catalog (searched first implicitly) is left as it is. The query must also run unchanged
 * with standard_conforming_strings off and with a hostile `public` (a user `~*` and `concat`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { SEARCH_PATH_PIN } from "../../protocols/postgres/connector/startup.ts";

let db: RunningPostgres;
let client: pg.Client;

beforeAll(async () => {
  db = await startPostgres();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  await client.query(`
    create schema app;
    create function public.concat(text, text) returns text language sql as $$ select 'hijacked' $$;
    create function public.hostile_match(text, text) returns boolean language sql as $$ select false $$;
    create operator public.~* (leftarg = text, rightarg = text, function = public.hostile_match);
    create operator public.!~ (leftarg = text, rightarg = text, function = public.hostile_match);
  `);
}, 120_000);

afterAll(async () => {
  await client?.end();
  await db?.stop();
});

async function pinned(path: string, scs = "on"): Promise<{ setting: string; first: string }> {
  await client.query(`set standard_conforming_strings = ${scs}`);
  await client.query(`select set_config('search_path', $1, false)`, [path]);
  await client.query(SEARCH_PATH_PIN);
  const r = await client.query("select pg_catalog.current_setting('search_path') as setting, (pg_catalog.current_schemas(true))[1] as first");
  await client.query("reset search_path; reset standard_conforming_strings");
  return r.rows[0];
}

describe("SEARCH_PATH_PIN", () => {
  it("puts pg_catalog first whenever the path names it after another schema", async () => {
    for (const path of ["public, pg_catalog", '"$user", public, pg_catalog', "app,pg_catalog,public", 'public, "pg_catalog"', "public, PG_Catalog", "pg_temp, public, pg_catalog"]) {
      for (const scs of ["on", "off"]) {
        const r = await pinned(path, scs);
        expect(r.first, `${path} (scs ${scs})`).toBe("pg_catalog");
        expect(r.setting, path).toBe(`pg_catalog, ${path}`);
      }
    }
  });

  it("leaves paths alone that already search pg_catalog first", async () => {
    for (const path of ['"$user", public', "public", "pg_catalog, public", ' "pg_catalog" , public', "app, public", "pg_catalog"]) {
      const r = await pinned(path);
      expect(r.setting, path).toBe(path);
      expect(r.first, path).toBe("pg_catalog");
    }
  });
});
