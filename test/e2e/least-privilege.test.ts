/**
 * The second wall end to end: the real stack (worker, connector, demo PostgreSQL with its reader
 * and writer roles) under examples/policies/read-only.yaml plus one test-only rule that lets
 * `writer-bot` write.
 *
 * The write the classifier cannot see: `select * from wall_probe` is a plain SELECT to any
 * classifier, but the table's row-level-security policy calls a volatile function that INSERTs.
 * The gateway allows it as a read; PostgreSQL itself must refuse it for a read-level session
 * (read-only transaction, and the reader role holds no INSERT privilege). The same statement from
 * a write-level identity does write — proof that the refusal comes from the credential, not from a
 * broken fixture. Ground truth from a direct superuser connection.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import { eventually } from "./helpers.ts";

const MANAGER_PASSWORD = "manager-e2e-Pw";
const DYNAMIC_RULE = `
  # TEST ONLY: the same read-only access to a second database whose connector creates a role per session.
  - name: test-dynamic-read
    effect: allow
    subjects: [{ issuer: http://127.0.0.1:8788, claims: { aud: gatehouse } }]
    resources: [dyn-pg]
    actions: [connect, sql.read, sql.transaction]
`;

const WRITER_RULE = `
  # TEST ONLY: a write-level identity, to show the same statement does write with a write credential.
  - name: test-writer-bot-writes
    effect: allow
    subjects: [{ issuer: http://127.0.0.1:8788, subject: writer-bot }]
    resources: [demo-pg]
    actions: [sql.write]
`;

let stack: TestStack;
let su: pg.Client;
let dyn: RunningPostgres;
let dynSu: pg.Client;

beforeAll(async () => {
  // A second PostgreSQL for `credentials: dynamic`: level roles and a manager, as docs/CONNECTOR.md says.
  dyn = await startPostgres();
  dynSu = new pg.Client({ connectionString: dyn.superuserUrl.replace(/\/postgres$/, `/${dyn.database}`) });
  await dynSu.connect();
  await dynSu.query(`
    CREATE TABLE notes (x int); INSERT INTO notes VALUES (1);
    CREATE ROLE dyn_read NOLOGIN; GRANT SELECT ON notes TO dyn_read;
    CREATE ROLE gatehouse_manager LOGIN CREATEROLE PASSWORD '${MANAGER_PASSWORD}';
    GRANT dyn_read TO gatehouse_manager WITH ADMIN OPTION;`);
  const readOnly = await readFile(new URL("../../examples/policies/read-only.yaml", import.meta.url), "utf8");
  stack = await startTestStack({
    policyYaml: readOnly + WRITER_RULE + DYNAMIC_RULE,
    extraResources: [
      {
        name: "dyn-pg",
        type: "postgres",
        labels: {},
        host: dyn.host,
        port: dyn.port,
        database: dyn.database,
        credentials: { mode: "dynamic", manager: { username: "gatehouse_manager", password: MANAGER_PASSWORD }, roles: { read: "dyn_read" } },
        tls: { mode: "disable" },
      },
    ],
  });
  // Objects made by the database owner (the admin level), so the level roles get their default privileges.
  const owner = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.user, password: stack.pg.password });
  await owner.connect();
  try {
    await owner.query(`
      CREATE TABLE wall_written (who text);
      CREATE FUNCTION wall_write() RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
        BEGIN INSERT INTO wall_written VALUES (current_user); RETURN true; END $$;
      CREATE TABLE wall_probe (x int);
      INSERT INTO wall_probe VALUES (1);
      ALTER TABLE wall_probe ENABLE ROW LEVEL SECURITY;
      CREATE POLICY wall_probe_writes ON wall_probe USING (wall_write());`);
  } finally {
    await owner.end();
  }
  const s = stack.pg.superuser!;
  su = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: s.user, password: s.password });
  await su.connect();
}, 180_000);

afterAll(async () => {
  await su?.end();
  await stack?.stop();
  await dynSu?.end();
  await dyn?.stop();
});

const written = async () => (await su.query("select who from wall_written order by who")).rows.map((r) => r.who as string);

describe("database-enforced least privilege under read-only.yaml", () => {
  it("logs a read-only identity in as the reader role, in read-only transactions", async () => {
    const r = await stack.psql("select current_user, current_setting('default_transaction_read_only')", { sub: "alice", args: ["-A", "-t"] });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe(`${stack.pg.levels!.read.user}|on`);
  });

  it("a write hidden in a SELECT passes the classifier and is refused by PostgreSQL itself", async () => {
    const r = await stack.psql("select * from wall_probe", { sub: "alice" });
    expect(r.code).not.toBe(0);
    // PostgreSQL's own error, not the gateway's: the statement was allowed as a read.
    expect(r.stderr).toContain("cannot execute INSERT in a read-only transaction");
    expect(r.stderr).not.toContain("gatehouse:");
    expect(await written()).toEqual([]);
  });

  it("leaving read-only mode does not help: the reader role has no write privilege", async () => {
    // Whether the gateway refuses READ WRITE transactions or lets them through, nothing is written.
    const r = await stack.psql("begin read write; select * from wall_probe; commit", { sub: "alice" });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/permission denied for table wall_written|read-only transaction|gatehouse:/);
    const direct = await stack.psql("select wall_write()", { sub: "alice" });
    expect(direct.code).not.toBe(0);
    expect(await written()).toEqual([]);
  });

  it("the same statement writes for an identity whose policy allows writes (write level)", async () => {
    const r = await stack.psql("select current_user; select x from wall_probe", { sub: "writer-bot", args: ["-A", "-t"] });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim().split("\n")).toEqual([stack.pg.levels!.write.user, "1"]);
    expect(await written()).toEqual([stack.pg.levels!.write.user]);
  });
});

describe("per-session roles (credentials: dynamic) through the gateway", () => {
  it("a session logs in as its own role, bounded by the policy's max_session, that is gone when it ends", async () => {
    const conn = await stack.connect("dyn-pg", { sub: "alice" });
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    let role = "";
    try {
      const r = await client.query("select current_user as role, current_setting('default_transaction_read_only') as ro, (select count(*)::int from notes) as n");
      role = r.rows[0].role;
      expect(role).toMatch(/^gh_[0-9a-f]{24}$/);
      expect(r.rows[0]).toMatchObject({ ro: "on", n: 1 });
      // The role exists while the session runs: one connection, member of the read role, valid for read-only.yaml's max_session (1h).
      const seen = await dynSu.query(
        "select rolconnlimit, pg_has_role(rolname, 'dyn_read', 'MEMBER') as member, rolvaliduntil > now() + interval '50 minutes' and rolvaliduntil <= now() + interval '1 hour' as bounded from pg_roles where rolname = $1",
        [role],
      );
      expect(seen.rows).toEqual([{ rolconnlimit: 1, member: true, bounded: true }]);
      const write = await client.query("insert into notes values (2)").catch((e: pg.DatabaseError) => e);
      expect((write as pg.DatabaseError).code).toMatch(/^(25006|42501)$/);
    } finally {
      await client.end();
      await conn.stop();
    }
    await eventually(async () => (await dynSu.query("select 1 from pg_roles where rolname = $1", [role])).rowCount === 0, `role ${role} to be dropped`);
    expect((await dynSu.query("select count(*)::int as n from notes")).rows[0].n).toBe(1);
  });
});
