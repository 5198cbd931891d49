import { describe, it, expect } from "vitest";
import { maskBinaryValue, needsBinaryPass, type PgTypeInfo } from "./binary-values.ts";

const types = new Map<number, PgTypeInfo>([
  [1009, { typtype: "b", elem: 25, base: 0 }], // text[]
  [3807, { typtype: "b", elem: 3802, base: 0 }], // jsonb[]
  [1007, { typtype: "b", elem: 23, base: 0 }], // int4[]
  [50001, { typtype: "d", elem: 0, base: 25 }], // domain over text
  [50002, { typtype: "r", elem: 0, base: 25 }], // range over text
  [50003, { typtype: "m", elem: 0, base: 0 }], // a multirange
]);
const lookup = (oid: number) => types.get(oid);
const SECRET = "a@b.org";
const mask = (t: Uint8Array) => {
  const s = Buffer.from(t).toString();
  return s.includes(SECRET) ? new Uint8Array(Buffer.from(s.replaceAll(SECRET, "[REDACTED]"))) : t;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const field = (s: string | null) => (s === null ? i32(-1) : Buffer.concat([i32(Buffer.byteLength(s)), Buffer.from(s)]));
const textArray = (items: Array<string | null>, elem = 25) => new Uint8Array(Buffer.concat([i32(1), i32(items.includes(null) ? 1 : 0), i32(elem), i32(items.length), i32(1), ...items.map(field)]));

describe("binary containers", () => {
  it("masks text elements of an array in place and keeps the layout", () => {
    const out = Buffer.from(maskBinaryValue(1009, textArray(["mail " + SECRET, null, "plain"]), lookup, mask)!);
    expect(out).toEqual(Buffer.from(textArray(["mail [REDACTED]", null, "plain"])));
  });

  it("returns the very same bytes when nothing matched", () => {
    const v = textArray(["plain", "text"]);
    expect(maskBinaryValue(1009, v, lookup, mask)).toBe(v);
  });

  it("a jsonb element with a hit becomes NULL and the null flag is set", () => {
    const jsonb = (s: string) => Buffer.concat([i32(1 + Buffer.byteLength(s)), Buffer.from([1]), Buffer.from(s)]);
    const v = new Uint8Array(Buffer.concat([i32(1), i32(0), i32(3802), i32(2), i32(1), jsonb(`"${SECRET}"`), jsonb('"ok"')]));
    const out = Buffer.from(maskBinaryValue(3807, v, lookup, mask)!);
    expect(out.readInt32BE(4)).toBe(1);
    expect(out.readInt32BE(20)).toBe(-1);
    expect(out.subarray(24)).toEqual(jsonb('"ok"'));
  });

  it("records (field OIDs inline), domains and ranges", () => {
    const record = new Uint8Array(Buffer.concat([i32(2), i32(25), field(SECRET), i32(23), i32(4), i32(7)]));
    expect(Buffer.from(maskBinaryValue(2249, record, lookup, mask)!).toString("latin1")).toContain("[REDACTED]");
    expect(Buffer.from(maskBinaryValue(50001, new Uint8Array(Buffer.from(SECRET)), lookup, mask)!).toString()).toBe("[REDACTED]");
    const range = new Uint8Array(Buffer.concat([Buffer.from([0x02]), field("a"), field(SECRET)]));
    expect(Buffer.from(maskBinaryValue(50002, range, lookup, mask)!)).toEqual(Buffer.concat([Buffer.from([0x02]), field("a"), field("[REDACTED]")]));
  });

  it("anything it cannot decode exactly is NULL, never passed through", () => {
    expect(maskBinaryValue(1009, textArray([SECRET]).subarray(0, 22), lookup, mask)).toBeNull(); // truncated
    expect(maskBinaryValue(1009, new Uint8Array(Buffer.concat([textArray(["x"]), Buffer.from("junk")])), lookup, mask)).toBeNull(); // trailing bytes
    expect(maskBinaryValue(50003, new Uint8Array(8), lookup, mask)).toBeNull(); // multirange
    expect(maskBinaryValue(99999, new Uint8Array(Buffer.from(SECRET)), lookup, mask)).toBeNull(); // unknown type
  });

  it("knows which types need the pass", () => {
    expect(needsBinaryPass(25, lookup)).toBe(false);
    expect(needsBinaryPass(23, lookup)).toBe(false);
    expect(needsBinaryPass(1007, lookup)).toBe(false);
    expect(needsBinaryPass(1009, lookup)).toBe(true);
    expect(needsBinaryPass(2249, lookup)).toBe(true);
    expect(needsBinaryPass(99999, lookup)).toBe(true);
  });
});
