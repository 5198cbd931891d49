import { describe, expect, it } from "vitest";
import { constants, createDeflate, deflateSync, type Deflate } from "node:zlib";
import { randomBytes } from "node:crypto";
import { adler32, SPDY3_DICTIONARY, SPDY3_DICTIONARY_ID, SpdyClientReader, SpdyError, SpdyHeaderInflater, type SpdySynStream } from "./spdy.ts";
import { SPDY3_DICTIONARY as TEST_SERVER_DICTIONARY } from "../../../test/kube-apiserver/spdy.ts";

function nameValues(h: Record<string, string> | Array<[string, string]>): Buffer {
  const entries = Array.isArray(h) ? h : Object.entries(h);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([u32(entries.length), ...entries.flatMap(([k, v]) => [u32(Buffer.byteLength(k)), Buffer.from(k), u32(Buffer.byteLength(v)), Buffer.from(v)])]);
}

/** One zlib context with a sync flush per block, as Go's spdystream (kubectl) writes header blocks. */
function flushed(z: Deflate, input: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const onData = (c: Buffer) => out.push(c);
    z.on("data", onData);
    z.write(input);
    z.flush(constants.Z_SYNC_FLUSH, () => {
      z.off("data", onData);
      resolve(Buffer.concat(out));
    });
  });
}

function synStream(id: number, block: Buffer): Buffer {
  const head = Buffer.alloc(18);
  head.writeUInt16BE(0x8003, 0);
  head.writeUInt16BE(1, 2);
  head.writeUInt32BE(10 + block.length, 4);
  head.writeUInt32BE(id, 8);
  return Buffer.concat([head, block]);
}

function dataFrame(id: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(id, 0);
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

const streamHeaders = (type: string, port: string, requestId = "0") => ({ streamtype: type, port, requestid: requestId });

describe("SPDY/3 header blocks (zlib with the SPDY dictionary)", () => {
  it("the dictionary is the one the test API server (Node zlib) uses, with the DICTID peers send", () => {
    expect(Buffer.from(SPDY3_DICTIONARY).equals(TEST_SERVER_DICTIONARY)).toBe(true);
    expect(adler32(SPDY3_DICTIONARY)).toBe(SPDY3_DICTIONARY_ID);
  });

  it("decodes successive blocks of one compression context (later blocks refer back to earlier ones)", async () => {
    const z = createDeflate({ dictionary: SPDY3_DICTIONARY });
    const inflater = new SpdyHeaderInflater();
    for (let k = 0; k < 40; k++) {
      const h = streamHeaders(k % 2 ? "data" : "error", String(8080 + (k % 3)), String(k >> 1));
      expect(Object.fromEntries(inflater.inflate(await flushed(z, nameValues(h))))).toEqual(h);
    }
  });

  it("decodes dynamic-Huffman and stored blocks (larger, less repetitive headers)", async () => {
    for (const level of [0, 1, 9]) {
      const z = createDeflate({ dictionary: SPDY3_DICTIONARY, level });
      const inflater = new SpdyHeaderInflater();
      const h = { ...streamHeaders("data", "5432"), "x-long": randomBytes(3000).toString("base64") };
      expect(Object.fromEntries(inflater.inflate(await flushed(z, nameValues(h))))).toEqual(h);
      expect(inflater.inflate(await flushed(z, nameValues(h))).get("x-long")).toBe(h["x-long"]);
    }
  });

  it("refuses another dictionary, no dictionary, a bad zlib header, corrupt and cut-off DEFLATE", async () => {
    const block = nameValues(streamHeaders("data", "8080"));
    const other = await flushed(createDeflate({ dictionary: Buffer.from("another dictionary") }), block);
    expect(() => new SpdyHeaderInflater().inflate(other)).toThrow(/another dictionary/);
    const plain = await flushed(createDeflate(), block);
    expect(() => new SpdyHeaderInflater().inflate(plain)).toThrow(/does not use the SPDY\/3 dictionary/);
    const good = await flushed(createDeflate({ dictionary: SPDY3_DICTIONARY }), block);
    expect(() => new SpdyHeaderInflater().inflate(Buffer.concat([Buffer.from([0x78, 0xbc]), good.subarray(2)]))).toThrow(/zlib header/);
    expect(() => new SpdyHeaderInflater().inflate(good.subarray(0, good.length - 3))).toThrow(SpdyError);
    expect(() => new SpdyHeaderInflater().inflate(good.subarray(0, 4))).toThrow(SpdyError);
    for (let k = 0; k < 300; k++) {
      const bad = Buffer.concat([good.subarray(0, 6), randomBytes(1 + (k % 64))]);
      try {
        const h = new SpdyHeaderInflater().inflate(bad);
        // Random bytes that happen to decode must still be an exact name/value block.
        expect(h).toBeInstanceOf(Map);
      } catch (e) {
        expect(e).toBeInstanceOf(SpdyError);
      }
    }
  });

  it("refuses a block that inflates past the bound (a zlib bomb) and a final block followed by more", async () => {
    const bomb = await flushed(createDeflate({ dictionary: SPDY3_DICTIONARY }), nameValues({ x: "a".repeat(200_000) }));
    expect(bomb.length).toBeLessThan(1000);
    expect(() => new SpdyHeaderInflater().inflate(bomb)).toThrow(/more than/);
    const finished = deflateSync(nameValues(streamHeaders("data", "8080")), { dictionary: SPDY3_DICTIONARY });
    const inflater = new SpdyHeaderInflater();
    expect(() => inflater.inflate(finished)).toThrow(SpdyError); // the Adler-32 trailer follows the final block
  });

  it("refuses repeated headers (by case), a header count over the bound, trailing bytes", async () => {
    const z = () => createDeflate({ dictionary: SPDY3_DICTIONARY });
    const dup = nameValues([["streamtype", "data"], ["port", "8080"], ["Port", "5432"]]);
    expect(() => new SpdyHeaderInflater().inflate(deflated(dup))).toThrow(/repeated/);
    const many = nameValues(Array.from({ length: 40 }, (_, k): [string, string] => [`h${k}`, "v"]));
    const manyBlock = await flushed(z(), many);
    expect(() => new SpdyHeaderInflater().inflate(manyBlock)).toThrow(/headers/);
    const trailing = Buffer.concat([nameValues(streamHeaders("data", "1")), Buffer.from([0])]);
    const trailingBlock = await flushed(z(), trailing);
    expect(() => new SpdyHeaderInflater().inflate(trailingBlock)).toThrow(/after/);
  });
});

function deflated(b: Buffer): Buffer {
  // A whole zlib stream flushed (not finished): Z_SYNC_FLUSH as the final flush.
  return deflateSync(b, { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH });
}

describe("SpdyClientReader (kubectl's frames of a port-forward)", () => {
  async function session(): Promise<{ z: Deflate; syn: (id: number, type: string, port: string) => Promise<Buffer> }> {
    const z = createDeflate({ dictionary: SPDY3_DICTIONARY });
    return { z, syn: async (id, type, port) => synStream(id, await flushed(z, nameValues(streamHeaders(type, port, String(id))))) };
  }

  it("reports each stream's port before its frames go on, byte by byte as well as whole", async () => {
    const s = await session();
    const bytes = Buffer.concat([await s.syn(1, "error", "8080"), await s.syn(3, "data", "8080"), dataFrame(3, Buffer.from("ping")), await s.syn(5, "error", "5432")]);
    for (const step of [bytes.length, 1, 7]) {
      const seen: SpdySynStream[] = [];
      const r = new SpdyClientReader((st) => seen.push(st));
      for (let o = 0; o < bytes.length; o += step) r.push(bytes.subarray(o, o + step));
      expect(seen.map((x) => [x.id, x.streamType, x.port])).toEqual([[1, "error", 8080], [3, "data", 8080], [5, "error", 5432]]);
    }
  });

  it("a refused stream ends the reader; DATA on a stream never admitted throws", async () => {
    const s = await session();
    const r = new SpdyClientReader((st) => {
      if (st.port !== 8080) throw new Error(`port ${st.port} refused`);
    });
    r.push(await s.syn(1, "error", "8080"));
    expect(() => r.push(Buffer.concat([dataFrame(1, Buffer.from("x")), dataFrame(7, Buffer.from("x"))]))).toThrow(/stream 7/);
    const t = await session();
    const r2 = new SpdyClientReader((st) => {
      if (st.port !== 8080) throw new Error(`port ${st.port} refused`);
    });
    await expect(t.syn(1, "data", "5432").then((b) => r2.push(b))).rejects.toThrow(/port 5432 refused/);
  });

  it("refuses malformed ports and stream types, reused ids, SYN_REPLY/HEADERS, oversized control frames, SPDY/2", async () => {
    for (const port of ["", "0", "65536", "+80", "80,443", " 80", "0x50"]) {
      const s = await session();
      const b = await s.syn(1, "data", port);
      expect(() => new SpdyClientReader(() => {}).push(b)).toThrow(/port/);
    }
    const s = await session();
    expect(() => new SpdyClientReader(() => {}).push(Buffer.from([0x80, 3, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1]))).toThrow(/SYN_REPLY/);
    expect(() => new SpdyClientReader(() => {}).push(Buffer.from([0x80, 2, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1]))).toThrow(/version 2/);
    expect(() => new SpdyClientReader(() => {}).push(Buffer.from([0x80, 3, 0, 1, 0, 0x40, 0, 0]))).toThrow(/at most/);
    const r = new SpdyClientReader(() => {});
    r.push(await s.syn(1, "data", "8080"));
    const again = await s.syn(1, "data", "8080");
    expect(() => r.push(again)).toThrow(/stream id 1/);
    expect(() => new SpdyClientReader(() => {}).push(synStream(1, deflated(nameValues({ streamtype: "exec", port: "1" }))))).toThrow(/type 'exec'/);
  });
});

describe("frames the gateway sends as the API server (a refused port)", () => {
  it("a SYN_REPLY's header block is a valid zlib stream with the SPDY dictionary, flushed, first and later", async () => {
    const { inflateSync } = await import("node:zlib");
    const { synReply, dataFrame: gatewayData } = await import("./spdy.ts");
    const first = Buffer.from(synReply(1, true, false));
    const later = Buffer.from(synReply(3, false, true));
    expect(first.readUInt16BE(2)).toBe(2);
    expect(first.readUInt32BE(4) & 0xffffff).toBe(first.length - 8);
    expect(later[4]).toBe(1); // FIN
    expect(later.readUInt32BE(8)).toBe(3);
    // Both blocks in one context, as kubectl's inflater reads them: two empty name/value blocks.
    const stream = Buffer.concat([first.subarray(12), later.subarray(12)]);
    expect(inflateSync(stream, { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH })).toEqual(Buffer.alloc(8));
    const inflater = new SpdyHeaderInflater();
    expect(inflater.inflate(first.subarray(12)).size).toBe(0);
    expect(inflater.inflate(later.subarray(12)).size).toBe(0);
    const d = Buffer.from(gatewayData(5, new TextEncoder().encode("no"), true));
    expect([d.readUInt32BE(0), d[4], d.readUInt32BE(4) & 0xffffff, d.subarray(8).toString()]).toEqual([5, 1, 2, "no"]);
  });
});
