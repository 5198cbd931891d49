import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";

const testEnv = env as unknown as Env;
const limiter = (name: string) => testEnv.SESSION_LIMITER.get(testEnv.SESSION_LIMITER.idFromName(name));
const req = (sessionId: string, identity: string, resource: string, caps: { id?: number; res?: number } = {}, ttlMs?: number) => ({
  sessionId,
  identity,
  resource,
  maxPerIdentity: caps.id ?? null,
  maxPerResource: caps.res ?? null,
  ...(ttlMs ? { ttlMs } : {}),
});

describe("SessionLimiter", () => {
  it("counts per identity across resources and per resource across identities", async () => {
    const l = limiter("count");
    expect(await l.acquire(req("s1", "alice", "db1", { id: 2 }))).toEqual({ ok: true });
    expect(await l.acquire(req("s2", "alice", "db2", { id: 2 }))).toEqual({ ok: true });
    expect(await l.acquire(req("s3", "alice", "db3", { id: 2 }))).toEqual({ ok: false, scope: "identity", open: 2, limit: 2 });
    expect(await l.acquire(req("s4", "bob", "db1", { res: 2 }))).toEqual({ ok: true });
    expect(await l.acquire(req("s5", "carol", "db1", { res: 2 }))).toEqual({ ok: false, scope: "resource", open: 2, limit: 2 });
    await l.release("s1");
    expect(await l.acquire(req("s5", "carol", "db1", { res: 2 }))).toEqual({ ok: true });
    // A retried acquire of the same session keeps one lease.
    expect(await l.acquire(req("s5", "carol", "db1", { res: 2 }))).toEqual({ ok: true });
    expect(await l.counts("carol", "db1")).toEqual({ identity: 1, resource: 2 });
  });

  it("forgets a session that stopped renewing (a crashed session object) and refuses to renew it", async () => {
    const l = limiter("crash");
    // A lease of 20 ms that is never renewed (the first test shows a live lease blocks the cap).
    expect(await l.acquire(req("dead", "alice", "db", { id: 1 }, 20))).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 60));
    expect(await l.acquire(req("other", "alice", "db", { id: 1 }))).toEqual({ ok: true });
    expect(await l.renew("dead")).toBe(false);
    expect(await l.renew("other")).toBe(true);
    // The alarm sweeps too, without any new acquire.
    expect(await l.acquire(req("dead2", "bob", "db", { id: 1 }, 20))).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 60));
    await runDurableObjectAlarm(l);
    const rows = await runInDurableObject(l, (_o, state) => Number(state.storage.sql.exec("SELECT count(*) AS n FROM leases WHERE session_id = 'dead2'").one().n));
    expect(rows).toBe(0);
  });

  it("tenant request bucket: burst then rate, shared by every caller of the tenant's limiter", async () => {
    const l = limiter("bucket");
    expect(await l.takeRequests(3, { ratePerSecond: 1, burst: 5 })).toEqual({ granted: 3, retryAfterMs: 0 });
    expect(await l.takeRequests(3, { ratePerSecond: 1, burst: 5 })).toEqual({ granted: 2, retryAfterMs: 0 });
    const empty = await l.takeRequests(1, { ratePerSecond: 1, burst: 5 });
    expect(empty.granted).toBe(0);
    expect(empty.retryAfterMs).toBeGreaterThan(0);
    expect(empty.retryAfterMs).toBeLessThanOrEqual(1000);
    // Another tenant's limiter is another object: its bucket is full.
    expect(await limiter("bucket-other").takeRequests(5, { ratePerSecond: 1, burst: 5 })).toEqual({ granted: 5, retryAfterMs: 0 });
  });

  it("session starts per minute: counted over a sliding minute, a retried acquire not twice, refusals say when to retry", async () => {
    const l = limiter("starts");
    const start = (id: string) => l.acquire({ ...req(id, `who-${id}`, "db"), maxStartsPerMinute: 2 });
    expect(await start("a")).toEqual({ ok: true });
    expect(await start("a")).toEqual({ ok: true });
    expect(await start("b")).toEqual({ ok: true });
    const refused = await start("c");
    expect(refused).toMatchObject({ ok: false, scope: "tenant-starts", open: 2, limit: 2 });
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(50_000);
    // Ending sessions does not give starts back (it is a rate, not a count of live sessions).
    await l.release("a");
    await l.release("b");
    expect(await start("d")).toMatchObject({ ok: false, scope: "tenant-starts" });
    // A minute later (the rows aged by hand) starts are admitted again.
    await runInDurableObject(l, async (_o, state) => void state.storage.sql.exec("UPDATE starts SET at = at - 61000"));
    expect(await start("d")).toEqual({ ok: true });
  });

  it("admitStart (at the edge): the same sliding minute, a refusal that says why and when, no lease taken", async () => {
    const l = limiter("edge-starts");
    const who = { issuer: "https://idp", subject: "ci", claims: {} };
    const start = (id: string) => l.admitStart({ sessionId: id, maxStartsPerMinute: 2, identity: who, resource: { name: "db", type: "postgres", labels: {} } });
    expect(await start("a")).toEqual({ ok: true });
    expect(await start("b")).toEqual({ ok: true });
    const refused = await start("c");
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.message).toMatch(/^gatehouse: too many sessions: the tenant started 2 sessions in the last minute \(tenant limit max_session_starts_per_minute: 2\); retry in (59|60) s$/);
    expect(refused.retryAfterMs).toBeGreaterThan(50_000);
    // A flood of refused starts costs this object a count each, nothing more.
    for (let i = 0; i < 50; i++) expect((await start(`f${i}`)).ok).toBe(false);
    // Starts are not leases: nothing is counted as a live session.
    expect(await l.counts("https://idp\nci", "db")).toEqual({ identity: 0, resource: 0 });
    await runInDurableObject(l, async (_o, state) => void state.storage.sql.exec("UPDATE starts SET at = at - 61000"));
    expect(await start("d")).toEqual({ ok: true });
  });
});
