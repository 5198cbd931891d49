import { describe, expect, it } from "vitest";
import { concatBytes } from "./bytes.ts";

describe("concatBytes", () => {
  it("joins parts in order into a new array, empty parts and none included", () => {
    const a = Uint8Array.of(1, 2);
    const out = concatBytes([a, new Uint8Array(0), Uint8Array.of(3)]);
    expect([...out]).toEqual([1, 2, 3]);
    out[0] = 9;
    expect(a[0]).toBe(1); // a copy, even of one part
    expect(concatBytes([]).length).toBe(0);
    expect(concatBytes([a])).not.toBe(a);
  });
});
