import { describe, expect, it } from "vitest";
import { RequestGate, bucketLimits, type RequestLimiter } from "./request-gate.ts";
import { TokenBucket } from "./token-bucket.ts";

/** One tenant bucket shared by several sessions' gates, on a fake clock. */
function tenant(ratePerSecond: number, burst: number) {
  let now = 0;
  const bucket = new TokenBucket({ ratePerSecond, burst }, 0);
  const calls: number[] = [];
  const limiter: RequestLimiter = { takeRequests: async (wanted) => (calls.push(wanted), bucket.take(wanted, now)) };
  const logged: Array<[number, string]> = [];
  const gate = () => new RequestGate({ ratePerSecond, burst }, () => limiter, async (n, m) => void logged.push([n, m]), () => now);
  return { gate, calls, logged, advance: (ms: number) => (now += ms) };
}

describe("RequestGate", () => {
  it("admits the tenant's burst then refuses with a retry-after, across all sessions together", async () => {
    const t = tenant(20, 4);
    const a = t.gate();
    const b = t.gate();
    const outcomes: Array<boolean> = [];
    for (let i = 0; i < 6; i++) outcomes.push((await (i % 2 ? a : b).admit()) === null);
    expect(outcomes.filter(Boolean)).toHaveLength(4);
    const refused = await a.admit();
    expect(refused).toMatchObject({ retryAfterSeconds: 1 });
    expect(refused!.message).toMatch(/^gatehouse: request refused: the tenant's request rate limit is reached \(max_requests_per_second: 20, burst 4\); retry in 1 s$/);
    // Tokens come back at the rate.
    t.advance(100);
    expect(await a.admit()).toBeNull();
  });

  it("leases a tenth of a second's worth, so a busy session does not ask per request", async () => {
    const t = tenant(1000, 1000);
    const g = t.gate();
    for (let i = 0; i < 250; i++) expect(await g.admit()).toBeNull();
    expect(t.calls).toEqual([100, 100, 100]);
  });

  it("never admits more than burst + rate × t, however many sessions lease", async () => {
    const t = tenant(50, 10);
    const gates = Array.from({ length: 8 }, () => t.gate());
    let admitted = 0;
    for (let step = 0; step < 200; step++) {
      for (const g of gates) if ((await g.admit()) === null) admitted++;
      t.advance(10);
    }
    // 2 s of rate (the last step's lease included) plus the burst.
    expect(admitted).toBeLessThanOrEqual(10 + 50 * 2);
    expect(admitted).toBeGreaterThan(50);
  });

  it("leased tokens expire after a second: a session cannot save them up", async () => {
    const t = tenant(100, 100);
    const g = t.gate();
    expect(await g.admit()).toBeNull();
    t.advance(1500);
    expect(await g.admit()).toBeNull();
    expect(t.calls).toHaveLength(2);
  });

  it("logs refusals at most once a second, with the count since, and the rest when flushed", async () => {
    const t = tenant(1, 1);
    const g = t.gate();
    expect(await g.admit()).toBeNull();
    for (let i = 0; i < 5; i++) expect(await g.admit()).not.toBeNull();
    await Promise.resolve();
    expect(t.logged.map(([n]) => n)).toEqual([1]);
    await g.flush();
    expect(t.logged.map(([n]) => n)).toEqual([1, 4]);
    await g.flush();
    expect(t.logged).toHaveLength(2);
  });

  it("a request of several statements costs each of them; more than the burst is refused at once", async () => {
    const t = tenant(10, 5);
    const g = t.gate();
    expect(await g.admit(3)).toBeNull();
    expect(await g.admit(3)).not.toBeNull();
    expect(await g.admit(2)).toBeNull();
    t.advance(10_000);
    const tooMany = await g.admit(6);
    expect(tooMany?.message).toMatch(/its 6 statements are more than the tenant's request burst \(5\)/);
    // Nothing was taken for it.
    expect(await g.admit(5)).toBeNull();
  });

  it("an unreachable limiter refuses (fail closed) and says so", async () => {
    const g = new RequestGate({ ratePerSecond: 10, burst: 10 }, () => ({ takeRequests: async () => Promise.reject(new Error("object reset")) }), async () => {});
    const r = await g.admit();
    expect(r?.message).toMatch(/rate limiter is unavailable \(object reset\)/);
  });

  it("limits: no rate means no gate; the burst defaults to one second's worth", () => {
    expect(bucketLimits(undefined)).toBeNull();
    expect(bucketLimits({ maxRequestsPerSecond: null, requestBurst: 5 })).toBeNull();
    expect(bucketLimits({ maxRequestsPerSecond: 7 })).toEqual({ ratePerSecond: 7, burst: 7 });
    expect(bucketLimits({ maxRequestsPerSecond: 7, requestBurst: 2 })).toEqual({ ratePerSecond: 7, burst: 2 });
  });
});
