import { describe, expect, it } from "vitest";
import { mysqlModule, mysqlRefusal } from "./module.ts";
import { decodeErr } from "./codec/responses.ts";
import { PacketFramer } from "./codec/packets.ts";

describe("mysql module descriptor", () => {
  it("encodes refusals as ERR packets with MySQL codes and SQLSTATEs", () => {
    expect(decodeErr(mysqlRefusal({ kind: "denied", message: "DROP refused by rule no-ddl" }))).toEqual({ code: 1227, sqlState: "42000", message: "gatehouse: DROP refused by rule no-ddl" });
    expect(decodeErr(mysqlRefusal({ kind: "limit", message: "too many sessions" })).sqlState).toBe("08004");
    expect(decodeErr(mysqlRefusal({ kind: "invalid", message: "x", code: "HY000" })).sqlState).toBe("HY000");
    const [p] = new PacketFramer().push(mysqlModule.refusalAtStart({ kind: "denied", message: "no" })[0]);
    expect(p.seq).toBe(2);
    expect(decodeErr(p.payload).code).toBe(1227);
  });
});
