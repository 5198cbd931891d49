/**
 * Red-team findings against the function-level classifier, through the real gateway under
 * examples/policies/read-only.yaml. Each case got something other than a read executed while the
 * trail recorded an allowed read; ground truth comes from a direct superuser connection.
 *
 * - EXPLAIN without ANALYZE "only plans", but the planner folds IMMUTABLE calls and evaluates
 *   STABLE ones for selectivity estimates: a user function declared so runs, side effects and all.
 * - txid_current() / pg_current_xact_id() are STABLE in pg_proc, yet assign the transaction an ID
 *   (burning XIDs, WAL at commit) even inside a READ ONLY transaction.
 * - A user function named like an unreserved keyword (`key`, `filter`, `next`) was taken for
 *   grammar (`OVER (`, `FETCH NEXT (`) wherever it stood, so calling it was a plain read.
 * - PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED passed as plain `transaction`
 *   statements: they keep a transaction past the session or finish another session's.
 *
 * - `SET --x\rstandard_conforming_strings TO\noff`: the server ends the comment at the carriage
 *   return, the session pin read on to the newline and saw `SET off`, so only the policy stood in
 *   the way of changing a pinned setting.
 *
 * Also covered (no hole found, no test existed): the FunctionCall sub-protocol, pipelined.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import { gatehouse } from "./helpers.ts";
import { PgWire, errorFields, query } from "./pg-wire.ts";
import { message } from "../../protocols/postgres/codec/codec.ts";

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

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  tmp = await mkdtemp(path.join(tmpdir(), "gatehouse-i12r-"));
  const { host, port, database, superuser } = stack.pg;
  // The login of the gateway's read-level sessions (read-only.yaml): the connector's read credential.
  const user = stack.pg.levels?.read.user ?? stack.pg.user;
  admin = new pg.Client({ host, port, database, user: superuser!.user, password: superuser!.password });
  await admin.connect();
  // User functions that lie about their volatility, owned by the pipeline's login: only the gateway stands in the way.
  await admin.query(`
    create sequence i12r_seq;
    create table i12r_t (a int); insert into i12r_t select generate_series(1, 100);
    create function i12r_imm() returns int language plpgsql immutable as $$ begin perform setval('i12r_seq', 700); return 1; end $$;
    create function i12r_stable() returns int language plpgsql stable as $$ begin perform setval('i12r_seq', 500); return 1; end $$;
    alter sequence i12r_seq owner to "${user}"; alter table i12r_t owner to "${user}";
    alter function i12r_imm() owner to "${user}"; alter function i12r_stable() owner to "${user}";
    -- Functions named like unreserved keywords (legal names; PostgreSQL calls them where an expression starts).
    create table i12r_audit (note text);
    create function key(int) returns int language sql volatile as $$ insert into i12r_audit values ('key ran') returning 1 $$;
    create function filter(int) returns boolean language sql volatile as $$ insert into i12r_audit values ('filter ran') returning true $$;
    create function next(int) returns int language sql volatile as $$ insert into i12r_audit values ('next ran') returning 1 $$;
    alter table i12r_audit owner to "${user}";
    alter function key(int) owner to "${user}"; alter function filter(int) owner to "${user}"; alter function next(int) owner to "${user}";
  `);
  conn = await stack.connect("demo-pg", { sub: "i12r-attacker" });
}, 180_000);

afterAll(async () => {
  await conn?.stop();
  await admin?.end().catch(() => {});
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function sequenceUntouched(): Promise<void> {
  const r = await admin.query("select last_value::int as v, is_called from i12r_seq");
  expect(r.rows[0]).toEqual({ v: 1, is_called: false });
}

describe("EXPLAIN without ANALYZE under read-only.yaml", () => {
  it("refuses user functions the planner would evaluate, and the sequence never moves", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      for (const sql of [
        "EXPLAIN SELECT i12r_imm()",
        "EXPLAIN SELECT * FROM i12r_t WHERE a < i12r_stable()",
        "EXPLAIN (COSTS off) SELECT * FROM i12r_t WHERE a = public.i12r_imm()",
        "EXPLAIN DELETE FROM i12r_t WHERE a = i12r_imm()",
      ]) {
        const err = (await client.query(sql).catch((e) => e)) as pg.DatabaseError;
        expect(err.code, sql).toBe("42501");
        await sequenceUntouched();
      }
      // Plans of reads with built-ins, volatile ones included, are still allowed (they are never evaluated).
      const plan = await client.query("EXPLAIN SELECT * FROM i12r_t WHERE a < length(lower('abc')) AND random() < 2");
      expect(plan.rows.length).toBeGreaterThan(0);
      await client.query("EXPLAIN SELECT nextval('i12r_seq')");
    } finally {
      await client.end();
    }
    await sequenceUntouched();
    expect((await admin.query("select count(*)::int as n from i12r_t")).rows[0].n).toBe(100);
  });
});

describe("user functions named like unreserved keywords under read-only.yaml", () => {
  it("are calls where an expression starts: refused, and the database shows none ran", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      for (const sql of [
        "SELECT key(1)",
        "SELECT a FROM i12r_t WHERE filter(a)",
        "SELECT * FROM i12r_t ORDER BY next(a) LIMIT 1",
        "SELECT * FROM next(1)",
        "SELECT DISTINCT ON (a) key(a) FROM i12r_t",
        "SELECT * FROM i12r_t FETCH FIRST next(1) ROWS ONLY",
      ]) {
        const err = (await client.query(sql).catch((e) => e)) as pg.DatabaseError;
        expect(err.code, sql).toBe("42501");
      }
      // The same words as grammar stay reads.
      const r = await client.query(
        "SELECT count(*) FILTER (WHERE a > 50) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS n FROM i12r_t ORDER BY (a) OFFSET 1 ROWS FETCH NEXT (1) ROWS ONLY",
      );
      expect(r.rows).toEqual([{ n: "0" }]);
    } finally {
      await client.end();
    }
    expect((await admin.query("select count(*)::int as n from i12r_audit")).rows[0].n).toBe(0);
  });
});

describe("two-phase commit under read-only.yaml", () => {
  it("refuses PREPARE TRANSACTION and COMMIT/ROLLBACK PREPARED: the server never runs them", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      const pid = (await client.query("select pg_backend_pid() as pid")).rows[0].pid as number;
      const ranByServer = async () => (await admin.query("select query from pg_stat_activity where pid = $1", [pid])).rows[0].query as string;
      await client.query("BEGIN READ ONLY");
      await client.query("SELECT 1");
      for (const sql of ["PREPARE TRANSACTION 'i12r_gid'", "COMMIT PREPARED 'i12r_gid'", "ROLLBACK PREPARED 'i12r_gid'"]) {
        const err = (await client.query(sql).catch((e) => e)) as pg.DatabaseError;
        expect(err.code, sql).toBe("42501");
        expect(await ranByServer(), sql).toMatch(/^gatehouse_denied_/);
        await client.query("ROLLBACK");
        await client.query("BEGIN READ ONLY");
      }
      await client.query("COMMIT");
    } finally {
      await client.end();
    }
    expect((await admin.query("select count(*)::int as n from pg_prepared_xacts")).rows[0].n).toBe(0);
  });
});

describe("a -- comment ended by a carriage return", () => {
  it("hides no pinned setting from the pin: refused by the pin itself, whatever the policy grants", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      // The server ends the comment at \r: SET standard_conforming_strings TO off / SET search_path TO work_mem.
      for (const sql of ["SET --x\rstandard_conforming_strings TO\noff", "SET --\rsearch_path TO\nwork_mem"]) {
        const err = (await client.query(sql).catch((e) => e)) as pg.DatabaseError;
        expect(err.code, sql).toBe("42501");
        expect(err.message, sql).toMatch(/is pinned for the session/);
      }
      const r = await client.query("select current_setting('standard_conforming_strings') as scs, current_setting('search_path') as sp");
      expect(r.rows[0].scs).toBe("on");
      expect(r.rows[0].sp).not.toBe("work_mem");
    } finally {
      await client.end();
    }
  });
});

describe("the function-call sub-protocol under read-only.yaml", () => {
  /** FunctionCall ('F'): function OID, binary arguments, binary result. */
  function functionCall(oid: number, args: Buffer[]): Uint8Array {
    const head = Buffer.alloc(8);
    head.writeInt32BE(oid, 0);
    head.writeInt16BE(1, 4); // one format code for all arguments: binary
    head.writeInt16BE(1, 6);
    const count = Buffer.alloc(2);
    count.writeInt16BE(args.length, 0);
    const body: Uint8Array[] = [head, count];
    for (const a of args) {
      const len = Buffer.alloc(4);
      len.writeInt32BE(a.length, 0);
      body.push(len, a);
    }
    body.push(Buffer.from([0, 1])); // binary result
    return message("F", Buffer.concat(body));
  }

  it("refuses setval by OID, pipelined behind a read; the session survives and the sequence never moves", async () => {
    const oids = await admin.query("select 'pg_catalog.setval(regclass,bigint)'::regprocedure::oid::int as f, 'i12r_seq'::regclass::oid::int as s");
    const { f, s } = oids.rows[0] as { f: number; s: number };
    const seq = Buffer.alloc(4);
    seq.writeUInt32BE(s, 0);
    const value = Buffer.alloc(8);
    value.writeBigInt64BE(999n, 0);
    const { wire } = await PgWire.start(conn.url, { client_encoding: "UTF8" });
    try {
      wire!.send(query("SELECT 1"), functionCall(f, [seq, value]), query("SELECT 2 AS two"));
      expect((await wire!.untilReady()).some((m) => m.type === "E")).toBe(false);
      const refused = (await wire!.untilReady()).filter((m) => m.type === "E").map(errorFields);
      expect(refused[0]?.C).toBe("42501");
      const after = await wire!.untilReady();
      expect(after.some((m) => m.type === "D")).toBe(true);
    } finally {
      wire!.close();
    }
    await sequenceUntouched();
  });
});

describe("transaction IDs under read-only.yaml", () => {
  it("refuses txid_current() and pg_current_xact_id(): the backend is never assigned an XID", async () => {
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      const pid = (await client.query("select pg_backend_pid() as pid")).rows[0].pid as number;
      for (const sql of ["SELECT txid_current()", "SELECT pg_current_xact_id()", "SELECT pg_catalog.txid_current()"]) {
        await client.query("BEGIN READ ONLY");
        const err = (await client.query(sql).catch((e) => e)) as pg.DatabaseError;
        expect(err.code, sql).toBe("42501");
        // Still inside the transaction: the server itself says whether it got an XID.
        const xid = await admin.query("select backend_xid::text as xid from pg_stat_activity where pid = $1", [pid]);
        expect(xid.rows, sql).toEqual([{ xid: null }]);
        await client.query("ROLLBACK");
      }
      // The read-only probes stay reads.
      const r = await client.query("select txid_current_if_assigned() as a, pg_current_xact_id_if_assigned() as b");
      expect(r.rows[0]).toEqual({ a: null, b: null });
    } finally {
      await client.end();
    }
  });
});

describe("the trail", () => {
  it("records each refusal with the function part that caused it", async () => {
    await conn.stop();
    const auditorEnv = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } }) };
    const list = await gatehouse(["sessions", "list", "--identity", "i12r-attacker", "--json"], auditorEnv);
    expect(list.code).toBe(0);
    const parsed = JSON.parse(list.stdout) as { sessions: Array<{ id: string }> } | Array<{ id: string }>;
    const sessions = Array.isArray(parsed) ? parsed : parsed.sessions;
    const decisions: Array<{ effect: string; rule: string | null; reason: string }> = [];
    for (const { id } of sessions) {
      const file = path.join(tmp, `${id}.jsonl`);
      // A CLI call may fail on a busy machine (a request timing out); a few tries, then its stderr.
      let exported = await gatehouse(["sessions", "export", id, "--output", file], auditorEnv);
      for (let tries = 1; exported.code !== 0 && tries < 4; tries++) exported = await gatehouse(["sessions", "export", id, "--output", file], auditorEnv);
      expect(exported.code, exported.stderr).toBe(0);
      for (const line of (await readFile(file, "utf8")).trim().split("\n")) {
        const e = JSON.parse(line) as { type: string; data: { effect: string; rule: string | null; reason: string } };
        if (e.type === "decision") decisions.push(e.data);
      }
    }
    const denied = decisions.filter((d) => d.effect === "deny");
    expect(denied.some((d) => /no rule allows execute \(i12r_imm\)/.test(d.reason))).toBe(true);
    expect(denied.some((d) => /no rule allows execute \(i12r_stable\)/.test(d.reason))).toBe(true);
    expect(denied.some((d) => /no rule allows write \(txid_current\)/.test(d.reason))).toBe(true);
    expect(denied.some((d) => /no rule allows execute \(key\)/.test(d.reason))).toBe(true);
    expect(denied.some((d) => /no rule allows write .*PREPARE TRANSACTION/.test(d.reason))).toBe(true);
    expect(denied.some((d) => d.rule === "gatehouse:session-pin" && /SET search_path is refused/.test(d.reason))).toBe(true);
    expect(denied.some((d) => /no rule allows write \(pg_current_xact_id\)/.test(d.reason))).toBe(true);
  }, 300_000);
});
