/**
 * The per-statement catalog lookup (catalogQueryFor): names come from attacker-written SQL, so
 * they reach the server only as hex literals, whatever they hold; and the query stays two SELECTs
 * however many names a statement uses.
 */
import { describe, expect, it } from "vitest";
import { catalogQueryFor } from "./catalog.ts";

const HEX = /_utf8mb4 0x[0-9a-f]*/g;
const hexOf = (s: string) => `_utf8mb4 0x${Buffer.from(s, "utf8").toString("hex")}`;
/** The query with every name literal replaced by `?`: what the names cannot change. */
const shape = (names: string[]) => catalogQueryFor(names).replace(HEX, "?");

describe("catalogQueryFor", () => {
  const hostile = ["t'x", 't"x', "t`x", "t\\x", "t\\'x", "a') UNION SELECT 1,2,3,4 -- ", "*/ SELECT 1 /*", "x'); DROP TABLE t; --", "tä€😀", "t%", "t_", "\u0000", "MixedCase"];

  it("hostile names change nothing but the hex digits of their literals", () => {
    expect(shape(hostile)).toBe(shape(Array.from(hostile, (_, i) => `n${i}`)));
    const q = catalogQueryFor(hostile);
    for (const n of hostile) expect(q.split(hexOf(n)).length - 1).toBe(2);
    // Nothing of the names outside their literals.
    for (const n of ["t'x", "a') UNION SELECT 1,2,3,4 -- ", "*/ SELECT 1 /*"]) expect(q).not.toContain(n);
  });

  it("one IN list per SELECT: two SELECTs for one name or two hundred", () => {
    for (const names of [["a"], ["a", "b", "c"], Array.from({ length: 200 }, (_, i) => `t${i}`)]) {
      const q = catalogQueryFor(names);
      expect(q.match(/\bSELECT\b/g)).toHaveLength(2);
      expect(q.match(/UNION ALL/g)).toHaveLength(1);
      const lists = q.match(/TABLE_NAME IN \(([^)]*)\)/g)!;
      expect(lists).toHaveLength(2);
      expect(lists[0]).toBe(`TABLE_NAME IN (${names.map(hexOf).join(", ")})`);
      expect(lists[1]).toBe(lists[0]);
    }
  });
});
