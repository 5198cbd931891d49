import { describe, expect, it } from "vitest";
import type { RateRefusedData } from "../../parsers/audit/types.ts";
import { RefusalTrail } from "./refusal-trail.ts";
import { END_AFTER_PREMATURE, RequestGate, type RequestLimiter } from "./request-gate.ts";
import { TokenBucket } from "./token-bucket.ts";

describe("RefusalTrail", () => {
  it("counts every refusal of a window in one event, and answers none before that event is written", async () => {
    const written: RateRefusedData[] = [];
    let release!: () => void;
    const writing = new Promise<void>((r) => (release = r));
    const trail = new RefusalTrail(async (d) => {
      await writing;
      written.push(d);
    }, 20);
    let answered = 0;
    const all = Array.from({ length: 7 }, (_, i) => trail.add(`refused ${i}`).then(() => answered++));
    await new Promise((r) => setTimeout(r, 60));
    expect(answered).toBe(0);
    release();
    await Promise.all(all);
    expect(answered).toBe(7);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatchObject({ count: 7, reason: "refused 6" });
    expect(written[0]!.last_ts).toBeGreaterThanOrEqual(written[0]!.first_ts);
  });

  it("a refusal after a window was written opens the next one; flush writes the open window at once", async () => {
    const written: RateRefusedData[] = [];
    const trail = new RefusalTrail(async (d) => void written.push(d), 10_000);
    const first = trail.add("a");
    await trail.flush();
    await first;
    const second = trail.add("b");
    trail.add("c").catch(() => {});
    await trail.flush();
    await second;
    expect(written.map((w) => w.count)).toEqual([1, 2]);
  });

  it("a failed write fails every refusal of its window (the gate then ends the session)", async () => {
    const trail = new RefusalTrail(async () => {
      throw new Error("storage down");
    }, 5);
    await expect(trail.add("x")).rejects.toThrow("storage down");
  });
});

/** A gate over an empty-able tenant bucket, with its trail, on a fake clock. */
function gated(ratePerSecond: number, burst: number, write: (d: RateRefusedData) => Promise<void>) {
  let now = 1_000_000;
  const bucket = new TokenBucket({ ratePerSecond, burst }, now);
  const calls: number[] = [];
  const limiter: RequestLimiter = { takeRequests: async (wanted) => (calls.push(wanted), bucket.take(wanted, now)) };
  const trail = new RefusalTrail(write, 0, () => now);
  const gate = new RequestGate({ ratePerSecond, burst }, () => limiter, async () => {}, () => now, trail);
  return { gate, calls, advance: (ms: number) => (now += ms) };
}

describe("RequestGate.beforeParse", () => {
  it("holds a token before the request is parsed; an empty bucket refuses without asking the limiter again", async () => {
    const written: RateRefusedData[] = [];
    const t = gated(2, 2, async (d) => void written.push(d));
    for (let i = 0; i < 2; i++) {
      expect(await t.gate.beforeParse()).toBeNull();
      expect(await t.gate.admit(1)).toBeNull();
    }
    const refused = await t.gate.beforeParse();
    expect(refused).toMatchObject({ recorded: true, retryAfterSeconds: 1 });
    expect(refused!.message).toMatch(/request rate limit is reached \(max_requests_per_second: 2, burst 2\); retry in 1 s$/);
    const asked = t.calls.length;
    // Known empty until the limiter's retry time: refused without another limiter call.
    for (let i = 0; i < 5; i++) expect(await t.gate.beforeParse()).toMatchObject({ recorded: true });
    expect(t.calls).toHaveLength(asked);
    expect(written.reduce((n, w) => n + w.count, 0)).toBe(6);
    // After the retry time a token is there again.
    t.advance(600);
    expect(await t.gate.beforeParse()).toBeNull();
    expect(await t.gate.admit(1)).toBeNull();
  });

  it("answers null synchronously while the session holds leased tokens (engines skip the await per statement)", async () => {
    const t = gated(100, 20, async () => {});
    // The first request leases a batch of tokens from the limiter: that one has to wait.
    const first = t.gate.beforeParse();
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBeNull();
    expect(await t.gate.admit(1)).toBeNull();
    const leased = t.calls.length;
    // The rest of the lease: no promise, no limiter call.
    for (let i = 0; i < 5; i++) {
      expect(t.gate.beforeParse()).toBeNull();
      expect(await t.gate.admit(1)).toBeNull();
    }
    expect(t.calls).toHaveLength(leased);
  });

  it(`ends a session after ${END_AFTER_PREMATURE} requests in a row before its Retry-After; one that waits is never ended`, async () => {
    const hasty = gated(1, 1, async () => {});
    expect(await hasty.gate.beforeParse()).toBeNull();
    expect(await hasty.gate.admit(1)).toBeNull();
    let ended: string | undefined;
    let sent = 0;
    while (!ended && sent < 100) {
      ended = (await hasty.gate.beforeParse())?.end;
      hasty.advance(10);
      sent++;
    }
    expect(sent).toBe(END_AFTER_PREMATURE + 1);
    expect(ended).toMatch(/^session ended: it sent 20 requests in a row before the Retry-After of the tenant's request rate limit/);

    // Tokens now and then (the tenant's rate) do not forgive a client that never waits.
    const steady = gated(2, 1, async () => {});
    let admitted = 0;
    let steadyEnded: string | undefined;
    for (let i = 0; i < 200 && !steadyEnded; i++) {
      const r = await steady.gate.beforeParse();
      if (r) steadyEnded = r.end;
      else if ((await steady.gate.admit(1)) === null) admitted++;
      steady.advance(300);
    }
    expect(admitted).toBeGreaterThan(2);
    expect(steadyEnded).toMatch(/^session ended: it sent 20 requests/);

    const patient = gated(1, 1, async () => {});
    for (let i = 0; i < 100; i++) {
      const r = await patient.gate.beforeParse();
      expect(r?.end).toBeUndefined();
      if (r) patient.advance(r.retryAfterSeconds * 1000);
      else expect(await patient.gate.admit(1)).toBeNull();
    }
  });

  it("a refusal whose record cannot be written ends the session (nothing refused goes unrecorded)", async () => {
    const t = gated(1, 1, async () => {
      throw new Error("trail unavailable");
    });
    await t.gate.beforeParse();
    await t.gate.admit(1);
    const r = await t.gate.beforeParse();
    expect(r?.end).toMatch(/could not be recorded \(trail unavailable\)/);
    // Not marked recorded: the engine must not answer it as a counted refusal.
    expect(r?.recorded).toBeUndefined();
  });
});
