import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { RowDescriptionMemo } from "./row-description-memo.ts";
import { decodeRowDescription } from "./results.ts";
import { PgProtocolError } from "./codec.ts";
import { rowDescription } from "../../../parsers/masking/fixtures.ts";

const body = (cols: Parameters<typeof rowDescription>[0]) => rowDescription(cols).subarray(5);

describe("RowDescriptionMemo", () => {
  it("always gives what decodeRowDescription gives, whatever came before", () => {
    const memo = new RowDescriptionMemo();
    const column = fc.record({ name: fc.constantFrom("aid", "abalance", "email", "e", "ü"), tableOid: fc.constantFrom(0, 16384, 16390), typeOid: fc.constantFrom(23, 25, 1043), format: fc.constantFrom(0, 1) });
    const rd = fc.array(column, { maxLength: 4 }).map(body);
    fc.assert(
      fc.property(fc.array(rd, { minLength: 1, maxLength: 8 }), (bodies) => {
        for (const b of bodies) expect(memo.decode(b)).toEqual(decodeRowDescription(b));
      }),
      { numRuns: 300 },
    );
  });

  it("shares one decode for the same bytes, also when they arrive in another (reused) buffer", () => {
    const memo = new RowDescriptionMemo();
    const scratch = new Uint8Array(256);
    const first = body([{ name: "abalance", tableOid: 16384, typeOid: 23 }]);
    scratch.set(first, 7);
    const a = memo.decode(scratch.subarray(7, 7 + first.length));
    // The same bytes again, where the first ones were overwritten (as a framer's arena is).
    scratch.fill(0xff);
    scratch.set(first, 100);
    const b = memo.decode(scratch.subarray(100, 100 + first.length));
    expect(b).toBe(a);
    expect(b).toEqual([{ name: "abalance", tableOid: 16384, columnIndex: 1, typeOid: 23, format: 0 }]);
    // One byte different (the format): decoded afresh.
    const binary = body([{ name: "abalance", tableOid: 16384, typeOid: 23, format: 1 }]);
    const c = memo.decode(binary);
    expect(c).not.toBe(a);
    expect(c[0]!.format).toBe(1);
  });

  it("throws on a malformed body as decodeRowDescription does, and keeps nothing of it", () => {
    const memo = new RowDescriptionMemo();
    const good = body([{ name: "x" }]);
    const kept = memo.decode(good);
    expect(() => memo.decode(new Uint8Array([0, 1, 0x61]))).toThrow(PgProtocolError);
    expect(memo.decode(good)).toBe(kept);
  });
});
