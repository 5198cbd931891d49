/**
 * Issue 12 end to end, under examples/policies/read-only.yaml: session state the classifier
 * depends on cannot be changed by any route (pinned settings, READ WRITE modes, set_config,
 * startup parameters, unsafe encodings, pipelined tricks), and functions with side effects or
 * SQL-executing functions are not reads. Ground truth comes from a direct superuser connection
 * (sequence values, large objects, backends, locks, rows, what the server last ran), never from
 * the gateway's answer; every refusal is in the trail with its rule.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import { gatehouse, psql } from "./helpers.ts";
import { PgWire, errorFields, parse, bind, execute, sync, query, type BackendMessage } from "./pg-wire.ts";
import { message } from "../../protocols/postgres/codec/codec.ts";

// read-only.yaml exactly, plus an auditor role so the test can read the trail.
const POLICY = `${readFileSync(new URL("../../examples/policies/read-only.yaml", import.meta.url), "utf8")}
roles:
  auditor:
    - issuer: http://127.0.0.1:8788
      claims: { groups: auditors }
`;

let stack: TestStack;
let admin: pg.Client;
let conn: TestConnection;
let tmp: string;

/**
 * With standard_conforming_strings on: `'a\'` is a string, then one dollar-quoted string — a read.
 * With it off: `'a\', $$'` is the string and `SELECT setval(…)` runs.
 */
const HIDDEN_BEHIND_BACKSLASH = "SELECT 'a\\', $$'; SELECT setval('i12_seq', 999); --$$";

const errorsOf = (ms: BackendMessage[]) => ms.filter((m) => m.type === "E").map(errorFields);

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  tmp = await mkdtemp(path.join(tmpdir(), "gatehouse-i12-"));
  const { host, port, database, superuser } = stack.pg;
  // The login the gateway's read-level session uses (the connector's read credential).
  const user = readLogin();
  admin = new pg.Client({ host, port, database, user: superuser!.user, password: superuser!.password });
  await admin.connect();
  // Objects the pipeline's own login could change if a statement got through: the gateway is the only wall here.
  await admin.query(`
    drop table if exists i12_audit; drop sequence if exists i12_seq; drop function if exists i12_evil();
    create sequence i12_seq;
    create table i12_audit (note text);
    create function i12_evil() returns int language sql volatile as $$ insert into i12_audit values ('evil ran') returning 1 $$;
    alter sequence i12_seq owner to "${user}"; alter table i12_audit owner to "${user}"; alter function i12_evil() owner to "${user}";
    -- Views a reader may select from that change session state where the gateway cannot see it.
    create or replace view i12_to_sjis as select set_config('client_encoding', 'SJIS', false) as x;
    create or replace view i12_scs_off as select set_config('standard_conforming_strings', 'off', false) as x;
    grant select on i12_to_sjis, i12_scs_off to "${user}";
  `);
  conn = await stack.connect("demo-pg", { sub: "i12-attacker" });
}, 180_000);

afterAll(async () => {
  await conn?.stop();
  await admin?.end().catch(() => {});
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/** The login of read-level sessions (read-only.yaml gives nothing more). */
function readLogin(): string {
  return stack.pg.levels?.read.user ?? stack.pg.user;
}

/** What the server last ran for the gateway's session (pg_stat_activity), seen by the superuser. */
async function lastServerQueries(): Promise<string[]> {
  const r = await admin.query("select query from pg_stat_activity where usename = $1 and backend_type = 'client backend'", [readLogin()]);
  return r.rows.map((x: { query: string }) => x.query);
}

async function sequenceUntouched(): Promise<void> {
  const r = await admin.query("select last_value::int as v, is_called from i12_seq");
  expect(r.rows[0]).toEqual({ v: 1, is_called: false });
}

describe("pinned session settings under read-only.yaml", () => {
  const attempts = [
    "SET standard_conforming_strings = off",
    "set session standard_conforming_strings to off",
    'SET "standard_conforming_strings" = off',
    "SET /* hidden */ standard_conforming_strings --\n = off",
    "RESET ALL",
    "DISCARD ALL",
    "SET client_encoding TO 'SJIS'",
    "SET NAMES 'BIG5'",
    "SET search_path = public, pg_catalog",
    "SET SCHEMA 'public'",
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "RESET ROLE",
    "SET default_transaction_read_only = off",
    "SET transaction_read_only = off",
    "SET backslash_quote = on",
    "BEGIN READ WRITE",
    "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
    "SELECT set_config('standard_conforming_strings', 'off', false)",
    "SELECT * FROM pg_catalog.set_config('search_path', 'public', false)",
    "SELECT \"set_config\"('client_encoding', 'GBK', false)",
    "SELECT 1 WHERE set_config('default_transaction_read_only', 'off', true) IS NOT NULL",
    "SELECT set_config(name, 'off', false) FROM pg_settings WHERE name = 'standard_conforming_strings'",
    "SELECT query_to_xml('select set_config(''standard_conforming_strings'', ''off'', false)', true, false, '')",
    "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'",
    "SELECT 1; SET standard_conforming_strings = off",
  ];

  it("refuses every route with 42501, nothing of it reaches the server", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      for (const sql of attempts) {
        const err = (await client.query(sql).catch((e) => e)) as pg.DatabaseError;
        expect(err.code, sql).toBe("42501");
        expect(err.message, sql).toMatch(/gatehouse: statement refused/);
        // Ground truth: the server ran the gateway's sentinel, never the statement.
        const ran = await lastServerQueries();
        expect(ran.some((q) => q.startsWith("gatehouse_denied_")), sql).toBe(true);
        expect(ran.some((q) => q.includes("set_config") || /^\s*(SET|RESET|DISCARD|BEGIN|START|UPDATE)/i.test(q)), sql).toBe(false);
      }
      // Reads still work in the same session, and the server's state is the login state.
      const s = await client.query("select current_setting('standard_conforming_strings') as scs, current_setting('transaction_read_only') as ro");
      expect(s.rows[0].scs).toBe("on");
      // READ ONLY modes only restrict: allowed.
      await client.query("BEGIN READ ONLY");
      await client.query("ROLLBACK");
    } finally {
      await client.end();
    }
  });

  it("refuses every route through the extended protocol, pipelined in one write", async () => {
    const { wire } = await PgWire.start(conn.url, { client_encoding: "UTF8" });
    try {
      wire!.send(...attempts.flatMap((sql) => [parse("", sql), bind("", "", []), execute(""), sync()]));
      for (const sql of attempts) {
        const errs = errorsOf(await wire!.untilReady());
        expect(errs[0]?.C, sql).toBe("42501");
      }
      const ran = await lastServerQueries();
      expect(ran.some((q) => q.includes("set_config") || /^\s*(SET|RESET|DISCARD|BEGIN|START|UPDATE)/i.test(q))).toBe(false);
    } finally {
      wire!.close();
    }
  });

  it("refuses changes with psql too, and a pipelined hidden statement never runs (raw wire, one write)", async () => {
    const r = await psql(conn.url, ["-c", "set standard_conforming_strings = off"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/standard_conforming_strings is pinned/);

    const { wire } = await PgWire.start(conn.url, { client_encoding: "UTF8" });
    try {
      // The classic: turn backslash escapes on, then hide a write where the server's string ends
      // later than the gateway's (read with escapes off it is all one dollar-quoted literal).
      wire!.send(query("SET standard_conforming_strings = off"), query(HIDDEN_BEHIND_BACKSLASH));
      const first = errorsOf(await wire!.untilReady());
      const second = errorsOf(await wire!.untilReady());
      expect(first[0]?.C).toBe("42501");
      expect(second[0]?.C).toBe("42501");
      expect(second[0]?.M).toMatch(/standard_conforming_strings on and off/);
      // Extended protocol, pipelined without waiting: Parse of the change, then the hidden write.
      wire!.send(
        parse("", "SET standard_conforming_strings = off"), bind("", "", []), execute(""),
        parse("", "SELECT 'a\\' || setval('i12_seq', 999)::text || '\\'"), bind("", "", []), execute(""), sync(),
      );
      const ext = errorsOf(await wire!.untilReady());
      expect(ext[0]?.C).toBe("42501");
    } finally {
      wire!.close();
    }
    await sequenceUntouched();
  });
});

describe("client encodings whose characters can hide ASCII bytes", () => {
  for (const encoding of ["SJIS", "BIG5", "GBK", "GB18030"]) {
    it(`refuses client_encoding ${encoding} at startup with a clear error`, async () => {
      const { wire, messages } = await PgWire.start(conn.url, { client_encoding: encoding });
      expect(wire).toBeNull();
      const [err] = errorsOf(messages);
      expect(err?.C).toBe("42501");
      expect(err?.M).toContain(`client_encoding ${encoding} is refused`);
    });
  }

  it("refuses them from psql's PGCLIENTENCODING and in startup options", async () => {
    const r = await psql(conn.url, ["-c", "select 1"], { env: { PGCLIENTENCODING: "SJIS" } });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/client_encoding SJIS is refused/);
    const { wire, messages } = await PgWire.start(conn.url, { options: "-c standard_conforming_strings=off" });
    expect(wire).toBeNull();
    expect(errorsOf(messages)[0]?.M).toMatch(/'options' is refused/);
  });

  it("classifies non-ASCII statements only once the encoding is confirmed; unsynced pipelines are refused", async () => {
    const { wire } = await PgWire.start(conn.url, { client_encoding: "UTF8" });
    try {
      // Pipelined simple queries: the second (non-ASCII) waits for the first's answer, then runs.
      wire!.send(query("select 1"), query("select 'héllo' as v"));
      await wire!.untilReady();
      const rows = (await wire!.untilReady()).filter((m) => m.type === "D");
      expect(rows).toHaveLength(1);
      // Extended protocol without a Sync in between: refused rather than guessed.
      wire!.send(parse("", "select 1"), bind("", "", []), execute(""), parse("", "select 'é'"), bind("", "", []), execute(""), sync());
      const errs = errorsOf(await wire!.untilReady());
      expect(errs[0]?.C).toBe("42501");
      expect(errs[0]?.M).toMatch(/non-ASCII bytes pipelined/);
    } finally {
      wire!.close();
    }
  });
});

describe("changes the gateway cannot see (a view that calls set_config)", () => {
  it("an SJIS switch ends the session before a statement pipelined behind it is read", async () => {
    const { wire } = await PgWire.start(conn.url, { client_encoding: "UTF8" });
    // In SJIS, 0x95 0x5C is one character: the server would end the E'' string there and run
    // setval; read as UTF-8 the backslash escapes the quote and it is all one string.
    const hidden = Buffer.concat([Buffer.from("SELECT E'"), Buffer.from([0x95, 0x5c]), Buffer.from("'; SELECT setval($$i12_seq$$, 999); --'"), Buffer.from([0])]);
    wire!.send(query("SELECT * FROM i12_to_sjis"), message("Q", hidden));
    const got: BackendMessage[] = [];
    try {
      for (;;) got.push(await wire!.next());
    } catch {
      // the gateway ended the session
    }
    const fatal = errorsOf(got).find((e) => e.S === "FATAL");
    expect(fatal?.C).toBe("42501");
    expect(fatal?.M).toMatch(/client_encoding SJIS is refused/);
    await sequenceUntouched();
  });

  it("a standard_conforming_strings switch: the hidden statement is refused and the session ends", async () => {
    const { wire } = await PgWire.start(conn.url, { client_encoding: "UTF8" });
    wire!.send(query("SELECT * FROM i12_scs_off"), query(HIDDEN_BEHIND_BACKSLASH));
    const got: BackendMessage[] = [];
    try {
      for (;;) got.push(await wire!.next());
    } catch {
      // the gateway ended the session
    }
    expect(errorsOf(got).some((e) => e.C === "42501" && /standard_conforming_strings/.test(e.M ?? ""))).toBe(true);
    await sequenceUntouched();
  });
});

describe("functions under read-only.yaml", () => {
  it("refuses side effects by every spelling, and the database shows none happened", async () => {
    const victim = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: stack.pg.superuser!.user, password: stack.pg.superuser!.password });
    await victim.connect();
    const victimPid = (await victim.query("select pg_backend_pid() as pid")).rows[0].pid as number;
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      const refused = [
        "SELECT setval('i12_seq', 999)",
        "SELECT nextval('i12_seq')",
        "SELECT pg_catalog.setval('i12_seq', 999)",
        'SELECT "pg_catalog"."setval"(\'i12_seq\', 999)',
        "SELECT setval /* c */ ('i12_seq', 999)",
        "SELECT * FROM setval('i12_seq', 999)",
        "VALUES (nextval('i12_seq'))",
        "SELECT U&\"\\0073etval\"('i12_seq', 999)",
        "COPY (SELECT nextval('i12_seq')) TO STDOUT",
        "EXPLAIN ANALYZE SELECT nextval('i12_seq')",
        "SELECT lo_create(0)",
        "SELECT lo_from_bytea(0, 'x')",
        `SELECT pg_terminate_backend(${victimPid})`,
        `SELECT pg_cancel_backend(${victimPid})`,
        "SELECT pg_advisory_lock(12)",
        "SELECT i12_evil()",
        "SELECT public.i12_evil()",
        "SELECT * FROM i12_evil()",
        "SELECT query_to_xml('select setval(''i12_seq'', 999)', true, false, '')",
        "SELECT query_to_xml('select 1', true, false, '')",
        "SELECT ts_stat('select to_tsvector(''a'') from (select setval(''i12_seq'', 999)) x')",
        "SELECT query_to_xml(chr(115) || 'elect i12_evil()', true, false, '')",
        "SELECT pg_read_file('postgresql.conf')",
        "SELECT pg_reload_conf()",
      ];
      for (const sql of refused) {
        const err = (await client.query(sql).catch((e) => e)) as pg.DatabaseError;
        expect(err.code, sql).toBe("42501");
      }
      // Reads with harmless functions still work.
      const ok = await client.query("select lower('A') as l, count(*) over () as n from (select 1) t");
      expect(ok.rows[0]).toEqual({ l: "a", n: "1" });
      await client.query("select pg_sleep(0)");
    } finally {
      await client.end();
    }
    await sequenceUntouched();
    expect((await admin.query("select count(*)::int as n from pg_largeobject_metadata")).rows[0].n).toBe(0);
    expect((await admin.query("select count(*)::int as n from i12_audit")).rows[0].n).toBe(0);
    expect((await admin.query("select count(*)::int as n from pg_locks where locktype = 'advisory'")).rows[0].n).toBe(0);
    expect((await admin.query("select count(*)::int as n from pg_stat_activity where pid = $1", [victimPid])).rows[0].n).toBe(1);
    await victim.end();
  });
});

describe("the trail", () => {
  it("records every refusal with its rule", async () => {
    await conn.stop();
    const auditorEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } }) };
    const list = await gatehouse(["sessions", "list", "--identity", "i12-attacker", "--json"], auditorEnv);
    expect(list.code).toBe(0);
    const parsed = JSON.parse(list.stdout) as { sessions: Array<{ id: string }> } | Array<{ id: string }>;
    const sessions = Array.isArray(parsed) ? parsed : parsed.sessions;
    const decisions: Array<{ effect: string; rule: string | null; reason: string }> = [];
    const exports = await Promise.all(
      sessions.map(async ({ id }) => {
        const file = path.join(tmp, `${id}.jsonl`);
        return { file, result: await gatehouse(["sessions", "export", id, "--output", file], auditorEnv) };
      }),
    );
    for (const { file, result } of exports) {
      expect(result.code).toBe(0);
      for (const line of (await readFile(file, "utf8")).trim().split("\n")) {
        const e = JSON.parse(line) as { type: string; data: { effect: string; rule: string | null; reason: string } };
        if (e.type === "decision") decisions.push(e.data);
      }
    }
    const denied = decisions.filter((d) => d.effect === "deny");
    const pinned = denied.filter((d) => d.rule === "gatehouse:session-pin");
    expect(pinned.some((d) => /standard_conforming_strings is pinned/.test(d.reason))).toBe(true);
    expect(pinned.some((d) => /client_encoding SJIS is refused/.test(d.reason))).toBe(true);
    expect(pinned.some((d) => /READ WRITE/.test(d.reason))).toBe(true);
    expect(denied.some((d) => /no rule allows admin \(pg_terminate_backend\)/.test(d.reason))).toBe(true);
    expect(denied.some((d) => /no rule allows execute \(i12_evil\)/.test(d.reason))).toBe(true);
    expect(denied.some((d) => /no rule allows dynamic \(query_to_xml\)/.test(d.reason))).toBe(true);
    expect(denied.some((d) => /no rule allows write/.test(d.reason))).toBe(true);
    expect(pinned.some((d) => /client_encoding changed|client_encoding SJIS is refused/.test(d.reason))).toBe(true);
  }, 300_000);
});
