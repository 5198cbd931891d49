import { describe, expect, it } from "vitest";
import { createBackoff } from "./backoff.ts";

describe("createBackoff", () => {
  it("doubles up to the cap, jitters within [ceiling/2, ceiling], and resets", () => {
    const low = createBackoff({ initialMs: 100, maxMs: 1_000, random: () => 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([50, 100, 200, 400, 500, 500]);
    const high = createBackoff({ initialMs: 100, maxMs: 1_000, random: () => 0.999999 });
    expect([1, 2, 3, 4, 5].map(() => high.next())).toEqual([100, 200, 400, 800, 1000]);
    high.reset();
    expect(high.next()).toBe(100);
  });

  it("defaults to a 10 s cap and validates options", () => {
    const b = createBackoff({ random: () => 0.999999 });
    let last = 0;
    for (let i = 0; i < 40; i++) last = b.next();
    expect(last).toBe(10_000);
    expect(() => createBackoff({ initialMs: 0 })).toThrow(RangeError);
    expect(() => createBackoff({ initialMs: 10, maxMs: 5 })).toThrow(RangeError);
  });
});
