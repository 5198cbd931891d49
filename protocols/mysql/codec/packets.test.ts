import { describe, expect, it } from "vitest";
import { MAX_PHYSICAL_PAYLOAD, PacketFramer, encodePacket, nextSeq } from "./packets.ts";
import { MysqlCodecError } from "./errors.ts";
import { decodeErr, encodeErr, refusal, decodeOk, encodeOk, isEof, isErr } from "./responses.ts";
import { decodeHandshakeResponse41, encodeHandshakeResponse41, decodeHandshakeV10, encodeHandshakeV10 } from "./handshake.ts";
import { decodeCommand } from "./commands.ts";
import { decodeBinaryRow, encodeBinaryRow, decodeTextRow, encodeTextRow } from "./resultset.ts";
import { CLIENT, TYPE } from "./constants.ts";

const bytes = (n: number, fill = 7) => new Uint8Array(n).fill(fill);

describe("packet framer", () => {
  it("gives the same packets for every split of the stream", () => {
    const stream = new Uint8Array([...encodePacket(0, bytes(5, 1)), ...encodePacket(1, new Uint8Array(0)), ...encodePacket(2, bytes(300, 2))]);
    for (let step = 1; step <= stream.length; step += 7) {
      const f = new PacketFramer();
      const got = [];
      for (let i = 0; i < stream.length; i += step) got.push(...f.push(stream.subarray(i, i + step)));
      expect(got.map((p) => [p.seq, p.payload.length])).toEqual([[0, 5], [1, 0], [2, 300]]);
      expect(f.buffered).toBe(0);
    }
  });

  it("joins 16 MiB continuations into one logical packet and checks their sequence ids", () => {
    const payload = bytes(MAX_PHYSICAL_PAYLOAD + 10, 3);
    const wire = encodePacket(5, payload);
    expect(wire.length).toBe(payload.length + 8);
    expect(nextSeq(5, payload.length)).toBe(7);
    const [p] = new PacketFramer().push(wire);
    expect(p.seq).toBe(5);
    expect(p.lastSeq).toBe(6);
    expect(p.payload.length).toBe(payload.length);
    // Exactly 0xffffff bytes needs an empty trailing packet.
    const exact = encodePacket(0, bytes(MAX_PHYSICAL_PAYLOAD));
    expect(exact.length).toBe(MAX_PHYSICAL_PAYLOAD + 8);
    expect(new PacketFramer().push(exact)[0].payload.length).toBe(MAX_PHYSICAL_PAYLOAD);
    // A continuation with a forged sequence id is refused.
    const forged = encodePacket(0, bytes(MAX_PHYSICAL_PAYLOAD + 1));
    forged[MAX_PHYSICAL_PAYLOAD + 4 + 3] = 9;
    expect(() => new PacketFramer().push(forged)).toThrow(MysqlCodecError);
  });

  it("refuses a packet above its bound before buffering it", () => {
    const f = new PacketFramer(1024);
    const header = new Uint8Array([0x01, 0x04, 0x00, 0]); // 1025 bytes announced
    expect(() => f.push(header)).toThrowError(/more than 1024/);
  });
});

describe("responses", () => {
  it("round-trips ERR with SQLSTATE and the refusal encoder", () => {
    const e = decodeErr(refusal("denied", "DROP TABLE refused by rule no-ddl"));
    expect(e).toEqual({ code: 1227, sqlState: "42000", message: "gatehouse: DROP TABLE refused by rule no-ddl" });
    expect(() => encodeErr({ code: 1, sqlState: "bad", message: "" })).toThrow();
    expect(decodeOk(encodeOk({ affectedRows: 300, lastInsertId: 70000, status: 2, info: "x" }))).toEqual({ affectedRows: 300, lastInsertId: 70000, status: 2, warnings: 0, info: "x" });
    expect(isErr(refusal("denied", "x"))).toBe(true);
    expect(isEof(new Uint8Array([0xfe, 0, 0, 2, 0]))).toBe(true);
  });
});

describe("handshake", () => {
  it("round-trips the server greeting and the client response", () => {
    const scramble = bytes(20, 0x41);
    const h = { serverVersion: "5.5.5-10.11.19-MariaDB", connectionId: 7, scramble, capabilities: (0x80000000 | CLIENT.PROTOCOL_41 | CLIENT.PLUGIN_AUTH | CLIENT.SECURE_CONNECTION | CLIENT.LONG_PASSWORD) >>> 0, mariadbCapabilities: 0, charset: 45, status: 2, authPlugin: "mysql_native_password" };
    expect(decodeHandshakeV10(encodeHandshakeV10(h))).toEqual(h);
    const caps = CLIENT.PROTOCOL_41 | CLIENT.PLUGIN_AUTH | CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT.CONNECT_WITH_DB | CLIENT.CONNECT_ATTRS | CLIENT.SECURE_CONNECTION;
    const resp = { capabilities: caps, maxPacket: 1 << 24, charset: 45, user: "ci", authResponse: bytes(20, 1), database: "db", authPlugin: "mysql_native_password", attributes: new Map([["_client_name", "test"]]) };
    expect(decodeHandshakeResponse41(encodeHandshakeResponse41(resp))).toEqual({ ...resp, sslRequest: false });
    // Truncated in the middle of the user name: a typed error, never a crash.
    const cut = encodeHandshakeResponse41(resp).subarray(0, 34);
    expect(() => decodeHandshakeResponse41(cut)).toThrow(MysqlCodecError);
    expect(() => decodeHandshakeResponse41(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrowError(/pre-4.1/);
  });
});

describe("commands", () => {
  it("decodes what it knows and marks the rest", () => {
    expect(decodeCommand(new Uint8Array([0x03, 0x41]))).toEqual({ type: "query", sql: new Uint8Array([0x41]) });
    expect(decodeCommand(new Uint8Array([0x11, 1, 2])).type).toBe("change-user");
    expect(decodeCommand(new Uint8Array([0x12])).type).toBe("refused");
    expect(decodeCommand(new Uint8Array([0x77])).type).toBe("unknown");
    expect(() => decodeCommand(new Uint8Array([0x17, 1]))).toThrow(MysqlCodecError);
    expect(() => decodeCommand(new Uint8Array(0))).toThrow(MysqlCodecError);
  });
});

describe("rows", () => {
  it("round-trips text and binary rows with NULLs", () => {
    const cells = [new TextEncoder().encode("ada"), null, new Uint8Array(0)];
    expect(decodeTextRow(encodeTextRow(cells), 3)).toEqual(cells);
    expect(() => decodeTextRow(encodeTextRow(cells), 2)).toThrow(MysqlCodecError);
    const types = [TYPE.LONG, TYPE.VAR_STRING, TYPE.NULL, TYPE.DATETIME, TYPE.LONGLONG];
    const bin = [new Uint8Array([1, 0, 0, 0]), new Uint8Array([3, 0x61, 0x62, 0x63]), null, new Uint8Array([4, 0xea, 0x07, 1, 2]), new Uint8Array(8)];
    expect(decodeBinaryRow(encodeBinaryRow(bin), types)).toEqual(bin);
    expect(() => decodeBinaryRow(new Uint8Array([0, 0, 1, 0]), [TYPE.LONG])).toThrow(MysqlCodecError);
  });
});
