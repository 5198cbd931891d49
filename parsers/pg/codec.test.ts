import { describe, expect, it } from "vitest";
import { PgProtocolError, decodeBind, errorResponse, parseErrorFields } from "./codec.ts";
import { decodeDataRow, decodeRowDescription } from "./results.ts";

describe("ErrorResponse", () => {
  it("keeps framing whatever the text holds: NULs are dropped, an invalid SQLSTATE becomes 08006", () => {
    const bytes = errorResponse({ severity: "FATAL", code: "bad", message: "a\0b", detail: "x\0" });
    expect(bytes[0]).toBe(0x45);
    expect(new DataView(bytes.buffer).getInt32(1)).toBe(bytes.length - 1);
    const fields = parseErrorFields(bytes.subarray(5));
    expect(Object.fromEntries(fields)).toEqual({ S: "FATAL", V: "FATAL", C: "08006", M: "ab", D: "x" });
  });
});

// Found by the codec fuzzer (fuzz/): these threw RangeError (DataView out of bounds) instead of the codec's error.
describe("malformed messages are PgProtocolError, never RangeError", () => {
  const body = (...bytes: number[]) => Uint8Array.from(bytes);
  it("Bind with a negative format or parameter count", () => {
    // portal "", statement "", nFormats = -1: the offset walked backwards and read outside the body.
    expect(() => decodeBind(body(0, 0, 0xff, 0xff, 0, 0))).toThrow(PgProtocolError);
    expect(() => decodeBind(body(0, 0, 0, 0, 0xff, 0xfe))).toThrow(PgProtocolError);
  });
  it("RowDescription shorter than its count or its column fields", () => {
    expect(() => decodeRowDescription(body(0xff))).toThrow(PgProtocolError);
    expect(() => decodeRowDescription(body(0, 1, 0x61, 0, 0, 0, 0))).toThrow(PgProtocolError);
  });
  it("DataRow shorter than its count, a length field or a value", () => {
    expect(() => decodeDataRow(body())).toThrow(PgProtocolError);
    expect(() => decodeDataRow(body(0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0))).toThrow(PgProtocolError);
    expect(() => decodeDataRow(body(0, 1, 0, 0, 0, 9, 0x61))).toThrow(PgProtocolError);
  });
  it("still decodes well-formed ones", () => {
    expect(decodeBind(body(0x70, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0x78)).params).toEqual(["x"]);
    expect(decodeDataRow(body(0, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0x61))).toEqual([null, "a"]);
  });
});
