import { describe, expect, it } from "vitest";
import pg from "pg";
import { startPostgres } from "./postgres.ts";

describe("startPostgres harness", () => {
  for (const auth of ["scram-sha-256", "md5"] as const) {
    it(`starts a cluster with ${auth} auth and an app role owning its database`, async () => {
      const db = await startPostgres({ auth, password: "s3cret-pw" });
      try {
        const client = new pg.Client({ host: db.host, port: db.port, user: db.user, password: db.password, database: db.database });
        await client.connect();
        const { rows } = await client.query("select current_user as u, current_database() as d, (select rolsuper from pg_roles where rolname = current_user) as su");
        await client.end();
        expect(rows[0]).toEqual({ u: db.user, d: db.database, su: false });
        const admin = new pg.Client({ connectionString: db.superuserUrl });
        await admin.connect();
        const hba = await admin.query("select auth_method from pg_hba_file_rules where type = 'host' and '127.0.0.1' = any(string_to_array(host(address::inet), ','))");
        const secret = await admin.query("select rolpassword from pg_authid where rolname = $1", [db.user]);
        await admin.end();
        expect(hba.rows.map((r) => r.auth_method)).toContain(auth);
        expect(String(secret.rows[0].rolpassword).startsWith(auth === "md5" ? "md5" : "SCRAM-SHA-256$")).toBe(true);
        const wrong = new pg.Client({ host: db.host, port: db.port, user: db.user, password: "nope", database: db.database });
        await expect(wrong.connect()).rejects.toMatchObject({ code: "28P01" });
      } finally {
        await db.stop();
      }
    });
  }
});
