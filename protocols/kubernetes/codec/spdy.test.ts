import { describe, expect, it } from "vitest";
import { constants, createDeflate, deflateSync, type Deflate } from "node:zlib";
import { randomBytes } from "node:crypto";
import { adler32, SPDY3_DICTIONARY, SPDY3_DICTIONARY_ID, SpdyError, SpdyHeaderInflater } from "./spdy.ts";
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
