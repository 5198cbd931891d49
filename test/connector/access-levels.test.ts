/**
 * The second wall, connector side, against real PostgreSQL: the connector logs in with exactly
 * the credential of the access level in the worker's `open` (static logins, or a per-session role
 * it creates and drops), read sessions run read-only, and a level without a credential is refused.
 * Ground truth comes from a direct superuser connection.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { serialize } from "pg-protocol";
import { startPostgres, type RunningPostgres } from "../harness/postgres.ts";
import type { PostgresResourceConfig } from "../../connector/config.ts";
import { sweepSessionRoles } from "../../protocols/postgres/connector/login.ts";
import { BackendReader } from "./pg-backend.ts";
import { pgResource, startConnectorStack, type ConnectorStack } from "./stack.ts";
import type { HarnessPeer } from "./harness-worker.ts";

const PW = { reader: "reader-Pw-1", writer: "writer-Pw-2", manager: "manager-Pw-3" };

let db: RunningPostgres;
let su: pg.Client;
let stack: ConnectorStack;

function resources(): PostgresResourceConfig[] {
  const base = pgResource("x", db);
  const { username: _u, password: _p, ...noLegacy } = base;
  return [
    { ...noLegacy, name: "static-pg", credentials: { mode: "static", levels: { read: { username: "app_reader", password: PW.reader }, write: { username: "app_writer", password: PW.writer } } } },
    { ...noLegacy, name: "reader-only-pg", credentials: { mode: "static", levels: { read: { username: "app_reader", password: PW.reader } } } },
    { ...noLegacy, name: "dynamic-pg", credentials: { mode: "dynamic", manager: { username: "gatehouse_manager", password: PW.manager }, roles: { read: "lvl_read", write: "lvl_write" } } },
  ];
}

beforeAll(async () => {
  db = await startPostgres();
  su = new pg.Client({ connectionString: db.superuserUrl.replace(/\/postgres$/, `/${db.database}`) });
  await su.connect();
  await su.query(`
    CREATE TABLE t (x int);
    ALTER TABLE t OWNER TO ${db.user};
    CREATE ROLE app_reader LOGIN PASSWORD '${PW.reader}';
    CREATE ROLE app_writer LOGIN PASSWORD '${PW.writer}';
    GRANT SELECT ON t TO app_reader;
    GRANT SELECT, INSERT ON t TO app_writer;
    CREATE ROLE lvl_read NOLOGIN;
    CREATE ROLE lvl_write NOLOGIN;
    GRANT SELECT ON t TO lvl_read;
    GRANT SELECT, INSERT ON t TO lvl_write;
    GRANT CREATE ON SCHEMA public TO lvl_write;
    CREATE ROLE gatehouse_manager LOGIN CREATEROLE PASSWORD '${PW.manager}';
    GRANT lvl_read, lvl_write TO gatehouse_manager WITH ADMIN OPTION;
  `);
  stack = await startConnectorStack(resources());
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await su?.end();
  await db?.stop();
});

interface Session {
  stream: HarnessPeer;
  query(sql: string): Promise<{ rows: unknown[][]; error?: { code: string; message: string } }>;
  end(): Promise<void>;
}

async function open(resource: string, access: string): Promise<Session> {
  const stream = await stack.worker.openStream(stack.control, resource, {}, { access });
  stream.autoCredit = true;
  const ready = await stream.controls.next();
  if (ready.t !== "ready") throw Object.assign(new Error(String(ready.message)), { control: ready });
  const backend = new BackendReader(stream);
  let seen = 0;
  return {
    stream,
    async query(sql) {
      const rowsBefore = backend.firstRows.length;
      const messagesBefore = backend.messages.length;
      stream.sendData(serialize.query(sql));
      await backend.readyForQuery(++seen);
      const error = backend.messages.slice(messagesBefore).find((m) => m.code === "E")?.message;
      return { rows: backend.firstRows.slice(rowsBefore), ...(error ? { error: { code: String(error.code), message: String(error.message) } } : {}) };
    },
    async end() {
      stream.sendData(serialize.end());
      await stream.closed;
    },
  };
}

const count = async () => (await su.query("select count(*)::int as n from t")).rows[0].n as number;
const roleExists = async (name: string) => ((await su.query("select 1 from pg_roles where rolname = $1", [name])).rowCount ?? 0) > 0;

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("static credentials per access level", () => {
  it("a read session logs in as the read role, read-only; the database refuses its writes", async () => {
    const s = await open("static-pg", "read");
    try {
      const who = await s.query("select current_user, current_setting('default_transaction_read_only')");
      expect(who.rows).toEqual([["app_reader", "on"]]);
      expect((await s.query("insert into t values (1)")).error?.code).toBe("25006");
      // Even a READ WRITE transaction cannot write: the role has no INSERT privilege.
      expect((await s.query("begin read write; insert into t values (2); commit")).error?.code).toBe("42501");
      expect((await s.query("rollback")).error).toBeUndefined();
    } finally {
      await s.end();
    }
    expect(await count()).toBe(0);
  });

  it("a write session logs in as the write role and can write", async () => {
    const s = await open("static-pg", "write");
    try {
      expect((await s.query("select current_user, current_setting('default_transaction_read_only')")).rows).toEqual([["app_writer", "off"]]);
      expect((await s.query("insert into t values (10)")).error).toBeUndefined();
    } finally {
      await s.end();
    }
    expect((await su.query("select count(*)::int as n from t where x = 10")).rows[0].n).toBe(1);
  });

  it("refuses a level without a credential with 28000, never logging in with another one", async () => {
    const stream = await stack.worker.openStream(stack.control, "reader-only-pg", {}, { access: "write" });
    const err = await stream.controls.next();
    expect(err).toMatchObject({ t: "error", code: "28000" });
    expect(String(err.message)).toContain("no credential for access level 'write'");
    const admin = await stack.worker.openStream(stack.control, "static-pg", {}, { access: "admin" });
    expect(await admin.controls.next()).toMatchObject({ t: "error", code: "28000" });
  });

  it("refuses an open without a valid access level", async () => {
    for (const access of ["", "superuser", "READ"]) {
      const stream = await stack.worker.openStream(stack.control, "static-pg", {}, { access });
      expect(await stream.controls.next()).toMatchObject({ t: "error", code: "08P01" });
    }
  });
});

describe("dynamic per-session roles", () => {
  it("creates a role for the session (connection limit 1, VALID UNTIL, member of the level role) and drops it afterwards", async () => {
    const s = await open("dynamic-pg", "write");
    let role = "";
    try {
      const who = await s.query("select current_user, session_user, current_setting('default_transaction_read_only')");
      role = String(who.rows[0]![0]);
      expect(role).toMatch(/^gh_[0-9a-f]{24}$/);
      expect(who.rows[0]![1]).toBe(role);
      expect(who.rows[0]![2]).toBe("off");
      const r = await su.query(
        "select rolconnlimit, rolvaliduntil > now() as valid, rolcanlogin, rolsuper, rolcreaterole, pg_has_role(rolname, 'lvl_write', 'MEMBER') as member, pg_has_role(rolname, 'lvl_read', 'MEMBER') as reader, (select rolpassword from pg_authid a where a.oid = r.oid) like 'SCRAM-SHA-256$%' as scram from pg_roles r where rolname = $1",
        [role],
      );
      expect(r.rows).toEqual([{ rolconnlimit: 1, valid: true, rolcanlogin: true, rolsuper: false, rolcreaterole: false, member: true, reader: false, scram: true }]);
      expect((await s.query("insert into t values (20)")).error).toBeUndefined();
      // Objects the session creates do not keep its role alive: they are handed to the level role.
      expect((await s.query("create table made_by_session (y int)")).error).toBeUndefined();
    } finally {
      await s.end();
    }
    await eventually(async () => !(await roleExists(role)), `role ${role} to be dropped`);
    expect((await su.query("select tableowner from pg_tables where tablename = 'made_by_session'")).rows).toEqual([{ tableowner: "lvl_write" }]);
    expect((await su.query("select count(*)::int as n from t where x = 20")).rows[0].n).toBe(1);
  });

  it("a read session's role cannot write, and is dropped when the stream just goes away", async () => {
    const s = await open("dynamic-pg", "read");
    const role = String((await s.query("select current_user")).rows[0]![0]);
    expect(await roleExists(role)).toBe(true);
    expect((await s.query("insert into t values (30)")).error?.code).toBe("25006");
    expect((await s.query("begin read write; insert into t values (31)")).error?.code).toBe("42501");
    s.stream.ws.terminate();
    await eventually(async () => !(await roleExists(role)), `role ${role} to be dropped`);
    expect((await su.query("select count(*)::int as n from t where x in (30, 31)")).rows[0].n).toBe(0);
  });

  it("a stopping connector drops the roles of its live sessions before stop() resolves", async () => {
    const own = await startConnectorStack(resources().filter((r) => r.name === "dynamic-pg"));
    let role = "";
    try {
      const stream = await own.worker.openStream(own.control, "dynamic-pg", {}, { access: "read" });
      stream.autoCredit = true;
      expect((await stream.controls.next()).t).toBe("ready");
      const r = await su.query("select rolname from pg_roles where rolname like 'gh\\_%' and rolname not like 'gh\\_0000%' and pg_has_role(rolname, 'lvl_read', 'MEMBER')");
      expect(r.rows).toHaveLength(1);
      role = r.rows[0].rolname;
    } finally {
      await own.stop();
    }
    expect(await roleExists(role)).toBe(false);
  });

  it("refuses a level with no role configured", async () => {
    const stream = await stack.worker.openStream(stack.control, "dynamic-pg", {}, { access: "admin" });
    expect(await stream.controls.next()).toMatchObject({ t: "error", code: "28000" });
  });

  it("sweeps expired session roles it created, and nothing else", async () => {
    const manager = new pg.Client({ host: db.host, port: db.port, database: db.database, user: "gatehouse_manager", password: PW.manager });
    await manager.connect();
    try {
      await manager.query("SET createrole_self_grant = 'set, inherit'");
      await manager.query("CREATE ROLE gh_0000000000000000000000aa LOGIN VALID UNTIL '2001-01-01' IN ROLE lvl_read");
      await manager.query("COMMENT ON ROLE gh_0000000000000000000000aa IS 'gatehouse session role (level role lvl_read)'");
      await manager.query("CREATE ROLE gh_0000000000000000000000bb LOGIN VALID UNTIL 'infinity' IN ROLE lvl_read");
      await manager.query("COMMENT ON ROLE gh_0000000000000000000000bb IS 'gatehouse session role (level role lvl_read)'");
    } finally {
      await manager.end();
    }
    // Expired and named like ours, but not created by this manager: not ours to drop.
    await su.query("CREATE ROLE gh_0000000000000000000000cc LOGIN VALID UNTIL '2001-01-01'");
    await su.query("COMMENT ON ROLE gh_0000000000000000000000cc IS 'gatehouse session role (level role lvl_read)'");

    const dropped = await sweepSessionRoles(resources().find((r) => r.name === "dynamic-pg")!);
    expect(dropped).toEqual(["gh_0000000000000000000000aa"]);
    expect(await roleExists("gh_0000000000000000000000aa")).toBe(false);
    expect(await roleExists("gh_0000000000000000000000bb")).toBe(true);
    expect(await roleExists("gh_0000000000000000000000cc")).toBe(true);
  });

  it("the manager's own queries cannot be hijacked by functions or operators a session planted (CVE-2018-1058 style)", async () => {
    // A write session may create objects in public (lvl_write has CREATE there, as application
    // roles often do). It plants a better-matching shobj_description(oid, text) — an unknown
    // literal prefers text over pg_catalog's name — and a `||` for (name, text), both of which
    // grant the write level to every read session when the manager runs them.
    const s = await open("dynamic-pg", "write");
    try {
      const plant = (body: string) => s.query(body);
      const grant = "BEGIN EXECUTE 'GRANT lvl_write TO lvl_read'; RETURN 'x'; EXCEPTION WHEN others THEN RETURN 'x'; END";
      expect((await plant(`CREATE FUNCTION public.shobj_description(oid, text) RETURNS text LANGUAGE plpgsql AS $$ ${grant} $$`)).error).toBeUndefined();
      expect((await plant(`CREATE FUNCTION public.trap_concat(name, text) RETURNS text LANGUAGE plpgsql AS $$ ${grant} $$`)).error).toBeUndefined();
      expect((await plant("CREATE OPERATOR public.|| (LEFTARG = name, RIGHTARG = text, FUNCTION = public.trap_concat)")).error).toBeUndefined();
      expect((await plant(`CREATE FUNCTION public.pg_has_role(name, oid, text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'GRANT lvl_write TO lvl_read'; RETURN true; EXCEPTION WHEN others THEN RETURN true; END $$`)).error).toBeUndefined();
    } finally {
      await s.end();
    }
    // An expired session role, so the sweep's query reaches every call for at least one row.
    const manager = new pg.Client({ host: db.host, port: db.port, database: db.database, user: "gatehouse_manager", password: PW.manager });
    await manager.connect();
    try {
      await manager.query("SET createrole_self_grant = 'set, inherit'");
      await manager.query("CREATE ROLE gh_0000000000000000000000dd LOGIN VALID UNTIL '2001-01-01' IN ROLE lvl_read");
      await manager.query("COMMENT ON ROLE gh_0000000000000000000000dd IS 'gatehouse session role (level role lvl_read)'");
    } finally {
      await manager.end();
    }
    const escalated = async () => (await su.query("select pg_has_role('lvl_read', 'lvl_write', 'MEMBER') as m")).rows[0].m as boolean;
    expect(await escalated()).toBe(false);
    try {
      const dropped = await sweepSessionRoles(resources().find((r) => r.name === "dynamic-pg")!);
      expect(await escalated()).toBe(false);
      expect(dropped).toEqual(["gh_0000000000000000000000dd"]);
      // A new session role is created (and dropped) by the manager too.
      const r = await open("dynamic-pg", "read");
      expect((await r.query("insert into t values (40)")).error?.code).toBe("25006");
      await r.end();
      expect(await escalated()).toBe(false);
    } finally {
      await su.query("REVOKE lvl_write FROM lvl_read");
      await su.query("DROP OPERATOR public.|| (name, text); DROP FUNCTION public.trap_concat(name, text), public.shobj_description(oid, text), public.pg_has_role(name, oid, text)");
    }
  });
});
