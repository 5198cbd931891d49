import { describe, expect, it } from "vitest";
import { PgProtocolError, decodeBind, errorResponse, parseErrorFields, parseStartupPacket } from "./codec.ts";
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

describe("parseStartupPacket (the one startup parser: client listener and worker)", () => {
  const packet = (code: number, tail: number[] = []) => {
    const b = new Uint8Array(8 + tail.length);
    const v = new DataView(b.buffer);
    v.setInt32(0, b.length);
    v.setInt32(4, code);
    b.set(tail, 8);
    return b;
  };
  const kv = (...parts: string[]) => [...new TextEncoder().encode(parts.map((p) => `${p}\0`).join("")), 0];
  it("reads SSLRequest, GSSENCRequest, CancelRequest and StartupMessage", () => {
    expect(parseStartupPacket(packet(80877103))).toEqual({ kind: "ssl" });
    expect(parseStartupPacket(packet(80877104))).toEqual({ kind: "gssenc" });
    expect(parseStartupPacket(packet(80877102, [0, 0, 0, 7, 0xff, 0xff, 0xff, 0xfe]))).toEqual({ kind: "cancel", pid: 7, secret: 0xfffffffe });
    const startup = parseStartupPacket(packet(196608, kv("user", "alice", "database", "db")));
    expect(startup.kind === "startup" && Object.fromEntries(startup.parameters)).toEqual({ user: "alice", database: "db" });
  });
  it("refuses what PostgreSQL refuses: wrong sizes, length mismatch, unterminated, trailing bytes, other protocols", () => {
    expect(() => parseStartupPacket(packet(80877103, [0]))).toThrow(PgProtocolError);
    expect(() => parseStartupPacket(packet(80877102, [0, 0, 0, 7]))).toThrow(PgProtocolError);
    expect(() => parseStartupPacket(packet(196608, [0x75, 0x73, 0x65, 0x72]))).toThrow(PgProtocolError);
    expect(() => parseStartupPacket(packet(196608, kv("user", "alice").slice(0, -1)))).toThrow(/missing terminator/);
    expect(() => parseStartupPacket(packet(196608, [...kv("user", "alice"), 0x41]))).toThrow(/trailing bytes/);
    expect(() => parseStartupPacket(packet(131072, kv("user", "alice")))).toThrow(/protocol 2\.0/);
    const short = packet(196608, kv("user", "a"));
    new DataView(short.buffer).setInt32(0, 99);
    expect(() => parseStartupPacket(short)).toThrow(/length field/);
  });
});
