import { describe, expect, it } from "vitest";
import { TokenBucket } from "./token-bucket.ts";

describe("TokenBucket", () => {
  it("grants the burst at once, then the rate, never more", () => {
    const b = new TokenBucket({ ratePerSecond: 10, burst: 5 }, 0);
    expect(b.take(3, 0)).toEqual({ granted: 3, retryAfterMs: 0 });
    expect(b.take(3, 0)).toEqual({ granted: 2, retryAfterMs: 0 });
    // Empty: one token comes back after 100 ms.
    expect(b.take(1, 0)).toEqual({ granted: 0, retryAfterMs: 100 });
    expect(b.take(1, 50)).toEqual({ granted: 0, retryAfterMs: 50 });
    expect(b.take(5, 100)).toEqual({ granted: 1, retryAfterMs: 0 });
    // A long pause refills to the burst, not beyond.
    expect(b.take(100, 60_000)).toEqual({ granted: 5, retryAfterMs: 0 });
  });

  it("over any window grants at most burst + rate × seconds", () => {
    const b = new TokenBucket({ ratePerSecond: 7, burst: 3 }, 0);
    let granted = 0;
    for (let t = 0; t <= 10_000; t += 13) granted += b.take(2, t).granted;
    expect(granted).toBeLessThanOrEqual(3 + 7 * 10);
    expect(granted).toBeGreaterThanOrEqual(7 * 10 - 1);
  });

  it("a clock going backwards grants nothing extra; zero wanted asks for one; zero rate says a minute", () => {
    const b = new TokenBucket({ ratePerSecond: 1, burst: 1 }, 1000);
    expect(b.take(0, 1000).granted).toBe(1);
    expect(b.take(1, 500).granted).toBe(0);
    expect(b.take(1, 1500).granted).toBe(0);
    expect(b.take(1, 2000).granted).toBe(1);
    const z = new TokenBucket({ ratePerSecond: 0, burst: 0 }, 0);
    expect(z.take(1, 10_000)).toEqual({ granted: 0, retryAfterMs: 60_000 });
  });

  it("retune caps what is held by the new burst", () => {
    const b = new TokenBucket({ ratePerSecond: 100, burst: 100 }, 0);
    b.retune({ ratePerSecond: 1, burst: 2 }, 0);
    expect(b.take(10, 0).granted).toBe(2);
    expect(b.take(1, 0).granted).toBe(0);
  });
});
