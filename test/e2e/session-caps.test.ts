/**
 * Policy caps on concurrent sessions (limits: max_sessions_per_identity / max_sessions_per_resource),
 * with real pg clients and psql: the session over the cap gets PostgreSQL's own 53300
 * (too_many_connections) and never reaches the database — checked in pg_stat_activity on the
 * target — and every way a session ends gives its place back.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { connect as tcpConnect } from "node:net";
import { startTestStack, runPsql, type TestStack, type TestConnection } from "../harness/stack.ts";
import { eventually } from "./helpers.ts";

const POLICY = `
version: 1
limits: { max_sessions_per_resource: 4 }
rules:
  - { name: pg, effect: allow, subjects: any, resources: [demo-pg], actions: [connect, sql.read], limits: { max_sessions_per_identity: 2 } }
  - { name: batch, effect: allow, subjects: [{ subject: batch }], resources: [demo-pg], actions: [sql.read], limits: { max_sessions_per_identity: 1 } }
`;

let stack: TestStack;
let admin: pg.Client;
const clients: pg.Client[] = [];
const conns = new Map<string, TestConnection>();

async function listener(sub: string): Promise<TestConnection> {
  let c = conns.get(sub);
  if (!c) {
    c = await stack.connect("demo-pg", { sub });
    conns.set(sub, c);
  }
  return c;
}

/** A connected pg client through the gateway as `sub`, or the error it got. */
async function open(sub: string): Promise<pg.Client | (Error & { code?: string; severity?: string })> {
  const client = new pg.Client({ connectionString: (await listener(sub)).url });
  client.on("error", () => {});
  try {
    await client.connect();
    clients.push(client);
    return client;
  } catch (err) {
    return err as Error & { code?: string };
  }
}

/** Backends the gateway's connector opened on the target (ground truth), under any of its logins. */
async function targetSessions(): Promise<number> {
  const logins = [stack.pg.user, ...Object.values(stack.pg.levels ?? {}).map((l) => l.user)];
  const r = await admin.query("select count(*)::int as n from pg_stat_activity where usename = any($1) and backend_type = 'client backend'", [logins]);
  return r.rows[0].n as number;
}

async function closeAll(): Promise<void> {
  for (const c of clients.splice(0)) await c.end().catch(() => {});
  await eventually(async () => (await targetSessions()) === 0, "the target sessions to end");
}

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  const su = stack.pg.superuser!;
  admin = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
  await admin.connect();
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  await admin?.end();
  await stack?.stop();
});

describe("session caps", () => {
  it("refuses an identity's session over max_sessions_per_identity with 53300 before dialling the target", async () => {
    const a = await open("alice");
    const b = await open("alice");
    expect(a).toBeInstanceOf(pg.Client);
    expect(b).toBeInstanceOf(pg.Client);
    expect(await targetSessions()).toBe(2);
    const third = await open("alice");
    expect(third).toBeInstanceOf(Error);
    expect((third as { code?: string }).code).toBe("53300");
    expect((third as Error).message).toMatch(/too many sessions: identity alice already has 2 open sessions \(policy limit max_sessions_per_identity: 2\)/);
    expect(await targetSessions()).toBe(2);

    // psql shows it as PostgreSQL would.
    const r = await runPsql((await listener("alice")).url, ["-c", "select 1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("FATAL:  gatehouse: too many sessions");

    // Another identity is not affected by alice's cap.
    expect(await open("bob")).toBeInstanceOf(pg.Client);
    // A stricter rule for one identity wins.
    expect(await open("batch")).toBeInstanceOf(pg.Client);
    expect(await open("batch")).toMatchObject({ code: "53300" });
    expect(await targetSessions()).toBe(4);
    await closeAll();
  });

  it("holds the cap when one identity races many connections at once", async () => {
    await listener("racer");
    const results = await Promise.all(Array.from({ length: 12 }, () => open("racer")));
    const admitted = results.filter((r) => r instanceof pg.Client);
    expect(admitted).toHaveLength(2);
    for (const r of results) if (!(r instanceof pg.Client)) expect((r as { code?: string }).code).toBe("53300");
    // Ground truth: the target never saw more than the cap (refused sessions were never dialled).
    expect(await targetSessions()).toBe(2);
    await closeAll();
    // The places came back.
    expect(await open("racer")).toBeInstanceOf(pg.Client);
    await closeAll();
  });

  it("refuses over max_sessions_per_resource whoever asks", async () => {
    for (const sub of ["alice", "bob", "carol", "dave"]) expect(await open(sub)).toBeInstanceOf(pg.Client);
    const fifth = await open("erin");
    expect((fifth as { code?: string }).code).toBe("53300");
    expect((fifth as Error).message).toMatch(/resource demo-pg already has 4 open sessions \(policy limit max_sessions_per_resource: 4\)/);
    expect(await targetSessions()).toBe(4);
    await closeAll();
  });

  it("gives the place back on every end: Terminate, a dropped socket, a tunnel that never started", async () => {
    const a = (await open("alice")) as pg.Client;
    const b = (await open("alice")) as pg.Client;
    await a.end(); // orderly Terminate
    const c = await eventually(async () => {
      const x = await open("alice");
      return x instanceof pg.Client ? x : undefined;
    }, "alice's place after Terminate");
    // A client that vanishes without Terminate: destroy the socket under pg.
    (b as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const d = await eventually(async () => {
      const x = await open("alice");
      return x instanceof pg.Client ? x : undefined;
    }, "alice's place after a dropped socket");
    expect(c).toBeInstanceOf(pg.Client);
    expect(d).toBeInstanceOf(pg.Client);
    expect((await open("alice")) as { code?: string }).toMatchObject({ code: "53300" });
    await closeAll();
    // Tunnels that never reached the target (refused, or abandoned before startup) hold nothing.
    const raw = tcpConnect((await listener("alice")).port, "127.0.0.1");
    await new Promise((r) => raw.once("connect", r));
    raw.destroy();
    expect(await open("alice")).toBeInstanceOf(pg.Client);
    expect(await open("alice")).toBeInstanceOf(pg.Client);
    await closeAll();
  });
});
