import { describe, expect, it } from "vitest";
import { filterStartupParameters } from "./startup.ts";
import { MAX_STARTUP_MESSAGE_BYTES, StartupMessageReader } from "./message-reader.ts";
import { TargetError } from "../../../connector/errors.ts";

describe("filterStartupParameters", () => {
  it("keeps only allow-listed parameters, never identity or options", () => {
    expect(
      filterStartupParameters({
        application_name: "ci",
        timezone: "UTC",
        DateStyle: "ISO",
        IntervalStyle: "iso_8601",
        extra_float_digits: "3",
        user: "postgres",
        database: "postgres",
        options: "-c role=postgres",
        replication: "database",
        client_encoding: "LATIN1",
        search_path: "evil",
      }),
    ).toEqual({ application_name: "ci", TimeZone: "UTC", DateStyle: "ISO", IntervalStyle: "iso_8601", extra_float_digits: "3" });
  });

  it("drops malformed values and tolerates junk input", () => {
    expect(filterStartupParameters({ application_name: 5, TimeZone: "a\0b", DateStyle: "x".repeat(300) })).toEqual({});
    expect(filterStartupParameters(undefined)).toEqual({});
    expect(filterStartupParameters(["application_name"])).toEqual({});
  });
});

function message(code: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(code, 0, "latin1");
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

describe("StartupMessageReader", () => {
  it("reassembles messages split across chunks and hands back what follows", () => {
    const a = message("S", Buffer.from("server_version\u000018.0\u0000"));
    const z = message("Z", Buffer.from("I"));
    const extra = Buffer.from([0x4e, 0, 0]);
    const all = Buffer.concat([a, z, extra]);
    const reader = new StartupMessageReader("demo");
    const seen: string[] = [];
    for (let i = 0; i < all.length; i += 3) {
      for (const m of reader.push(all.subarray(i, i + 3))) seen.push(m.bytes.toString("latin1"));
    }
    expect(seen).toEqual([a.toString("latin1"), z.toString("latin1")]);
    expect(reader.takeRemainder()).toEqual(extra);
  });

  it("copies what it returns, so the caller's buffer can be reused", () => {
    const chunk = message("Z", Buffer.from("I"));
    const reader = new StartupMessageReader("demo");
    const [m] = reader.push(chunk);
    chunk.fill(0);
    expect(m!.bytes.toString("latin1")).toBe("Z\u0000\u0000\u0000\u0005I");
  });

  it("rejects impossible or oversized lengths", () => {
    const bad = Buffer.from([0x52, 0, 0, 0, 2]);
    expect(() => new StartupMessageReader("demo").push(bad)).toThrow(TargetError);
    const huge = Buffer.alloc(5);
    huge.write("R", 0, "latin1");
    huge.writeUInt32BE(MAX_STARTUP_MESSAGE_BYTES + 10, 1);
    expect(() => new StartupMessageReader("demo").push(huge)).toThrow(/invalid message length/);
  });
});
