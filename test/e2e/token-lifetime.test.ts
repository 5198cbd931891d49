/**
 * A session lives only as long as its identity's token, unless the client renews it on the
 * tunnel: real pg clients through `gatehouse connect` with short-lived development tokens.
 * Ground truth: the target's own pg_stat_activity (the backend goes away) and pg_backend_pid()
 * (a renewed session is the same backend, not a reconnect).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { cachingTokenSource, tokenExpiry, type TokenSource } from "../../client/auth/token-source.ts";
import { eventually } from "./helpers.ts";

const POLICY = `
version: 1
rules:
  - { name: pg, effect: allow, subjects: [{ claims: { ref: refs/heads/main } }], resources: [demo-pg], actions: [connect, sql.read] }
`;

let stack: TestStack;
let admin: pg.Client;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  const su = stack.pg.superuser!;
  admin = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
  await admin.connect();
}, 180_000);

afterAll(async () => {
  await admin?.end();
  await stack?.stop();
});

const main = { ref: "refs/heads/main" };

async function backendAlive(pid: number): Promise<boolean> {
  const r = await admin.query("select count(*)::int as n from pg_stat_activity where pid = $1", [pid]);
  return r.rows[0].n === 1;
}

/** Connect through a listener with this token source; resolves with the client, its backend pid and its first error. */
async function session(tokenSource: TokenSource): Promise<{ client: pg.Client; pid: number; ended: Promise<Error & { code?: string }> }> {
  const conn = await stack.connect("demo-pg", { tokenSource, type: "postgres" });
  const client = new pg.Client({ connectionString: conn.url });
  // pg reports the FATAL, then the closed connection: the first error is the answer.
  const ended = new Promise<Error & { code?: string }>((resolve) => client.on("error", resolve));
  await client.connect();
  const pid = (await client.query("select pg_backend_pid() as pid")).rows[0].pid as number;
  // The gateway's session is a real backend on the target.
  const { rows } = await admin.query("select count(*)::int as n from pg_stat_activity where pid = $1", [pid]);
  expect(rows[0].n).toBe(1);
  return { client, pid, ended };
}

/** A token source that mints `ttl`-second tokens and hands out a fresh one whenever asked (as a CI source near expiry does). */
function renewingSource(ttl: number, claims: () => Record<string, unknown>, sub: () => string = () => "renewer"): TokenSource {
  return cachingTokenSource("test renewal", () => stack.mintToken({ sub: sub(), claims: claims(), ttlSeconds: ttl }));
}

async function waitPast(expSeconds: number): Promise<void> {
  while (Date.now() < expSeconds * 1000 + 2000) await new Promise((r) => setTimeout(r, 250));
}

describe("identity token lifetime", () => {
  it("ends a session whose token expires with a FATAL 28000 'identity token expired', and the backend goes away", async () => {
    const token = await stack.mintToken({ sub: "short-lived", claims: main, ttlSeconds: 8 });
    const { pid, ended } = await session({ kind: "static", getToken: async () => token });
    const err = await ended;
    expect(err.message).toContain("gatehouse: identity token expired");
    expect(err.code).toBe("28000");
    await eventually(async () => !(await backendAlive(pid)), "the target backend to end");
  });

  it("ends a session that keeps itself busy (a statement running across the expiry) at the token's expiry", async () => {
    const token = await stack.mintToken({ sub: "busy", claims: main, ttlSeconds: 8 });
    const { client, pid, ended } = await session({ kind: "static", getToken: async () => token });
    // The statement would outlive the token by far; the session must not.
    const busy = client.query("select pg_sleep(120)").then(
      () => "finished",
      (e: Error & { code?: string }) => e,
    );
    // pg hands the FATAL to the statement in flight (the connection's 'error' only says it closed).
    const err = await busy;
    expect(err).not.toBe("finished");
    expect((err as Error).message).toContain("gatehouse: identity token expired");
    expect((err as { code?: string }).code).toBe("28000");
    await ended;
    await eventually(async () => !(await backendAlive(pid)), "the target backend to end");
  });

  it("keeps a session alive past the first token's expiry when the client renews it on the tunnel", async () => {
    const source = renewingSource(8, () => main);
    // Every token this source hands out is fresh: the session's first one expires before this one.
    const first = await source.getToken();
    const { client, pid } = await session(source);
    await waitPast(tokenExpiry(first)!);
    const r = await client.query("select pg_backend_pid() as pid, 'still here' as s");
    expect(r.rows[0]).toEqual({ pid, s: "still here" });
    expect(await backendAlive(pid)).toBe(true);
    await client.end();
  });

  it("ends the session when a renewed token names another subject", async () => {
    let renewing = false;
    const source = renewingSource(30, () => main, () => (renewing ? "mallory" : "honest"));
    const { pid, ended } = await session(source);
    renewing = true;
    const err = await ended;
    expect(err.message).toMatch(/renewed identity token refused: it names mallory .*belongs to honest/);
    expect(err.code).toBe("28000");
    await eventually(async () => !(await backendAlive(pid)), "the target backend to end");
  });

  it("ends the session when the policy no longer admits the renewed identity", async () => {
    let renewing = false;
    const source = renewingSource(30, () => (renewing ? { ref: "refs/heads/evil" } : main));
    const { pid, ended } = await session(source);
    renewing = true;
    const err = await ended;
    expect(err.message).toMatch(/renewed identity token refused: the policy no longer admits this identity/);
    await eventually(async () => !(await backendAlive(pid)), "the target backend to end");
  });
});
