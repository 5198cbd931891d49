import { describe, expect, it } from "vitest";
import { constants, createDeflate, createInflate, inflateSync, type Deflate, type Inflate } from "node:zlib";
import { SPDY3_DICTIONARY, SpdyError, SpdyHeaderInflater } from "./spdy.ts";
import { encodeNameValues, StoredHeaderEncoder } from "./spdy-stored.ts";
import { MAX_REFUSED_STREAMS, SpdyClientRewriter, SpdyServerRewriter, type SpdySynStream } from "./spdy-rewrite.ts";

/** Run one zlib context over a block with a sync flush (how SPDY peers, and the test API server, treat header blocks). */
function flushed(z: Deflate | Inflate, input: Uint8Array): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (c: Buffer) => out.push(c);
    z.on("data", onData);
    z.once("error", reject);
    z.write(input);
    z.flush(constants.Z_SYNC_FLUSH, () => {
      z.off("data", onData);
      z.off("error", reject);
      resolve(Buffer.concat(out));
    });
  });
}

const nv = (entries: Array<[string, string]>) => Buffer.from(encodeNameValues(new Map(entries)));
/** A name/value block as an attacker writes it (repeated names allowed). */
function rawNameValues(entries: Array<[string, string]>): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  return Buffer.concat([u32(entries.length), ...entries.flatMap(([k, v]) => [u32(Buffer.byteLength(k, "latin1")), Buffer.from(k, "latin1"), u32(Buffer.byteLength(v, "latin1")), Buffer.from(v, "latin1")])]);
}

function control(type: number, flags: number, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16BE(0x8003, 0);
  head.writeUInt16BE(type, 2);
  head.writeUInt32BE(body.length, 4);
  head[4] = flags;
  return Buffer.concat([head, body]);
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
function data(id: number, payload: string, fin = false): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(id, 0);
  head.writeUInt32BE(Buffer.byteLength(payload), 4);
  head[4] = fin ? 1 : 0;
  return Buffer.concat([head, Buffer.from(payload)]);
}

/** kubectl's side: one zlib context (Node's, as Go's spdystream: dynamic blocks, back-references, sync flush). */
function kubectl() {
  const z = createDeflate({ dictionary: SPDY3_DICTIONARY });
  return {
    syn: async (id: number, entries: Array<[string, string]>) => control(1, 0, Buffer.concat([u32(id), u32(0), Buffer.alloc(2), await flushed(z, rawNameValues(entries))])),
    stream: (type: string, port: string, requestId = "0") => [["streamtype", type], ["port", port], ["requestid", requestId]] as Array<[string, string]>,
  };
}

/** A peer reading a frame stream with its own zlib context (Node's streaming inflater, as the test API server): frames out. */
function reader() {
  const z = createInflate({ dictionary: SPDY3_DICTIONARY });
  let buf = Buffer.alloc(0);
  return async (bytes: Uint8Array) => {
    buf = Buffer.concat([buf, bytes]);
    const out: Array<{ type: number | "data"; id: number; flags: number; headers?: Record<string, string>; payload?: string }> = [];
    while (buf.length >= 8 && buf.length >= 8 + (buf.readUInt32BE(4) & 0xffffff)) {
      const len = buf.readUInt32BE(4) & 0xffffff;
      const f = buf.subarray(0, 8 + len);
      buf = buf.subarray(8 + len);
      if ((f[0]! & 0x80) === 0) {
        out.push({ type: "data", id: f.readUInt32BE(0), flags: f[4]!, payload: f.subarray(8).toString() });
        continue;
      }
      const type = f.readUInt16BE(2);
      const prefix = type === 1 ? 10 : type === 2 || type === 8 ? 4 : 0;
      const id = f.readUInt32BE(8) & 0x7fffffff;
      if (prefix === 0) {
        out.push({ type, id, flags: f[4]! });
        continue;
      }
      const headers = Object.fromEntries(new SpdyHeaderInflaterFree().parse(await flushed(z, f.subarray(8 + prefix))));
      out.push({ type, id, flags: f[4]!, headers });
    }
    return out;
  };
}
/** Name/value bytes → pairs (test-side; no policy checks). */
class SpdyHeaderInflaterFree {
  parse(b: Buffer): Array<[string, string]> {
    const n = b.readUInt32BE(0);
    const out: Array<[string, string]> = [];
    let p = 4;
    for (let i = 0; i < n; i++) {
      const kl = b.readUInt32BE(p);
      const k = b.subarray(p + 4, p + 4 + kl).toString("latin1");
      p += 4 + kl;
      const vl = b.readUInt32BE(p);
      out.push([k, b.subarray(p + 4, p + 4 + vl).toString("latin1")]);
      p += 4 + vl;
    }
    expect(p).toBe(b.length);
    return out;
  }
}

describe("StoredHeaderEncoder (the gateway's own header compression stream)", () => {
  it("round-trips through Node's zlib inflate with the SPDY dictionary, block by block and as one stream", async () => {
    const enc = new StoredHeaderEncoder();
    const raws = [nv([["streamtype", "error"], ["port", "8080"]]), nv([]), Buffer.alloc(70_000, 7), Buffer.alloc(65_535, 1), nv([["x", "y".repeat(300)]])];
    const blocks = raws.map((r) => Buffer.from(enc.encode(r)));
    expect([...blocks[0]!.subarray(0, 6)]).toEqual([0x78, 0xbb, 0xe3, 0xc6, 0xa7, 0xc2]); // zlib header: FDICT, the SPDY/3 dictionary's Adler-32
    expect(blocks[1]![0]).toBe(0x00); // later blocks: no zlib header again
    for (const b of blocks) expect([...b.subarray(b.length - 5)]).toEqual([0, 0, 0, 0xff, 0xff]); // each ends on the sync flush
    expect(inflateSync(Buffer.concat(blocks), { dictionary: SPDY3_DICTIONARY, finishFlush: constants.Z_SYNC_FLUSH })).toEqual(Buffer.concat(raws));
    const z = createInflate({ dictionary: SPDY3_DICTIONARY });
    for (let k = 0; k < raws.length; k++) expect(await flushed(z, blocks[k]!)).toEqual(raws[k]);
    // and the gateway's own inflater (what it reads of a peer) agrees
    const own = new SpdyHeaderInflater();
    expect(Buffer.from(own.inflateRaw(blocks[0]!))).toEqual(raws[0]);
  });
});

describe("SpdyClientRewriter (kubectl → API server, decided per stream)", () => {
  const allow8080 = (seen: SpdySynStream[]) => (s: SpdySynStream) => {
    seen.push(s);
    return s.port === 8080 ? ("admit" as const) : ("refuse" as const);
  };

  it("admitted streams reach the server re-encoded; a refused stream and all it carries never do; the server's context stays in step", async () => {
    const k = kubectl();
    const frames = [
      await k.syn(1, k.stream("error", "8080", "0")),
      await k.syn(3, k.stream("data", "8080", "0")),
      data(3, "ping"),
      await k.syn(5, k.stream("error", "5432", "1")),
      data(5, "", true),
      await k.syn(7, k.stream("data", "5432", "1")),
      data(7, "select secrets"),
      control(3, 0, Buffer.concat([u32(7), u32(5)])), // RST_STREAM on the refused stream
      control(9, 0, Buffer.concat([u32(7), u32(100)])), // WINDOW_UPDATE on it
      await k.syn(9, k.stream("error", "8080", "2")),
      await k.syn(11, k.stream("data", "8080", "2")),
      data(11, "after", true),
      control(6, 0, u32(1)), // PING
    ];
    const all = Buffer.concat(frames);
    for (const step of [all.length, 1, 5]) {
      const seen: SpdySynStream[] = [];
      const r = new SpdyClientRewriter(allow8080(seen));
      const out: Uint8Array[] = [];
      for (let o = 0; o < all.length; o += step) out.push(r.push(all.subarray(o, o + step)));
      expect(seen.map((s) => [s.id, s.streamType, s.port])).toEqual([[1, "error", 8080], [3, "data", 8080], [5, "error", 5432], [7, "data", 5432], [9, "error", 8080], [11, "data", 8080]]);
      const server = await reader()(Buffer.concat(out));
      expect(server.map((f) => [f.type, f.id, f.headers?.port ?? f.payload ?? null])).toEqual([
        [1, 1, "8080"],
        [1, 3, "8080"],
        ["data", 3, "ping"],
        [1, 9, "8080"],
        [1, 11, "8080"],
        ["data", 11, "after"],
        [6, 1, null],
      ]);
      expect(server[0]!.headers).toEqual({ streamtype: "error", port: "8080", requestid: "0" });
      expect(server[5]!.flags).toBe(1);
    }
  });

  it("what the server reads is what was decided: names lower-cased once, values as decided", async () => {
    const k = kubectl();
    const r = new SpdyClientRewriter(() => "admit");
    const out = r.push(await k.syn(1, [["StreamType", "data"], ["PORT", "08080"], ["requestid", "0"]]));
    const [f] = await reader()(out);
    expect(f!.headers).toEqual({ streamtype: "data", port: "08080", requestid: "0" }); // 08080 is 8080 to the kubelet (ParseUint) and to the gateway
  });

  it("ends the session (throws) on attacks, before anything of the frame is relayed", async () => {
    const cases: Array<[string, (k: ReturnType<typeof kubectl>) => Promise<Buffer[]>, RegExp]> = [
      ["a second SYN_STREAM on the same id", async (k) => [await k.syn(1, k.stream("error", "8080")), await k.syn(1, k.stream("data", "5432"))], /stream id 1/],
      ["a lower id after a higher one", async (k) => [await k.syn(5, k.stream("error", "8080")), await k.syn(3, k.stream("data", "5432"))], /stream id 3/],
      ["an even id", async (k) => [await k.syn(2, k.stream("data", "8080"))], /stream id 2/],
      ["the port header repeated", async (k) => [await k.syn(1, [["streamtype", "data"], ["port", "8080"], ["port", "5432"]])], /repeated/],
      ["the port header in another case", async (k) => [await k.syn(1, [["streamtype", "data"], ["port", "8080"], ["Port", "5432"]])], /repeated/],
      ["two ports joined with NUL (spdystream splits values)", async (k) => [await k.syn(1, [["streamtype", "data"], ["port", "8080\u00005432"]])], /several values/],
      ["no port header", async (k) => [await k.syn(1, [["streamtype", "data"], ["ports", "8080"]])], /without a port/],
      ["a port spelled with a sign", async (k) => [await k.syn(1, k.stream("data", "+5432"))], /not a port/],
      ["a port with blanks", async (k) => [await k.syn(1, k.stream("data", " 5432"))], /not a port/],
      ["a stream type kubectl never opens", async (k) => [await k.syn(1, k.stream("exec", "8080"))], /type 'exec'/],
      ["HEADERS after a refusal", async (k) => [await k.syn(1, k.stream("error", "5432")), control(8, 0, Buffer.concat([u32(1), Buffer.alloc(4)]))], /HEADERS/],
      ["SYN_REPLY from kubectl", async () => [control(2, 0, Buffer.concat([u32(1), Buffer.alloc(4)]))], /SYN_REPLY/],
      ["DATA on a stream never opened", async (k) => [await k.syn(1, k.stream("error", "8080")), data(3, "x")], /DATA on stream 3/],
      ["RST_STREAM on a stream never opened", async () => [control(3, 0, Buffer.concat([u32(9), u32(5)]))], /RST_STREAM on stream 9/],
      ["SPDY/2", async () => [Buffer.from([0x80, 2, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1])], /version 2/],
      ["an oversized control frame", async () => [Buffer.from([0x80, 3, 0, 1, 0, 0x40, 0, 0])], /at most/],
      ["an unknown control frame", async () => [control(10, 0, Buffer.alloc(4))], /unknown/],
      ["a header block that is not zlib", async () => [control(1, 0, Buffer.concat([u32(1), u32(0), Buffer.alloc(2), Buffer.from("plain text here")]))], /zlib/],
    ];
    for (const [what, build, error] of cases) {
      const frames = await build(kubectl());
      const r = new SpdyClientRewriter((s) => (s.port === 8080 ? "admit" : "refuse"));
      let relayed = Buffer.alloc(0);
      const fed = () => {
        for (const f of frames) relayed = Buffer.concat([relayed, r.push(f)]);
      };
      let thrown: unknown = null;
      try {
        fed();
      } catch (e) {
        thrown = e;
      }
      expect(thrown, what).toBeInstanceOf(SpdyError);
      expect((thrown as Error).message, what).toMatch(error);
      // Nothing naming another port ever reached the server side.
      expect(relayed.includes(Buffer.from("5432")), what).toBe(false);
    }
  });

  it("remembers a bounded number of refused streams", async () => {
    // kubectl's side written with stored blocks too (any valid zlib stream will do; this one is synchronous).
    const z = new StoredHeaderEncoder();
    const r = new SpdyClientRewriter(() => "refuse", 64);
    const block = (id: number) => control(1, 0, Buffer.concat([u32(id), u32(0), Buffer.alloc(2), z.encode(rawNameValues([["streamtype", "data"], ["port", "1"]]))]));
    for (let k = 0; k < 64; k++) expect(r.push(block(2 * k + 1)).length).toBe(0);
    expect(() => r.push(block(2 * 64 + 1))).toThrow(/more than 64 refused streams/);
    expect(MAX_REFUSED_STREAMS).toBeGreaterThanOrEqual(1024); // the default: a long session of refused connections
  });
});

describe("SpdyServerRewriter (API server → kubectl, the gateway's frames inserted)", () => {
  it("re-encodes the server's header blocks and places the gateway's frames between whole frames", async () => {
    const z = createDeflate({ dictionary: SPDY3_DICTIONARY });
    const reply = async (id: number) => control(2, 0, Buffer.concat([u32(id), await flushed(z, rawNameValues([]))]));
    const r = new SpdyServerRewriter();
    const kubectlSide = reader();
    const seen: Awaited<ReturnType<typeof kubectlSide>> = [];
    seen.push(...(await kubectlSide(r.push(await reply(1)))));
    // A DATA frame half received: the gateway's frames wait for its end.
    const big = data(3, "x".repeat(100));
    seen.push(...(await kubectlSide(r.push(big.subarray(0, 50)))));
    r.insert([{ kind: "reply", id: 5, fin: false }, { kind: "data", id: 5, payload: new TextEncoder().encode("gatehouse: no"), fin: true }]);
    expect(r.flush().length).toBe(0);
    seen.push(...(await kubectlSide(r.push(Buffer.concat([big.subarray(50), await reply(7)])))));
    r.insert([{ kind: "reply", id: 9, fin: true }]);
    seen.push(...(await kubectlSide(r.flush())));
    seen.push(...(await kubectlSide(r.push(await reply(11)))));
    expect(seen.map((f) => [f.type, f.id, f.flags, f.type === "data" ? f.payload!.slice(0, 13) : JSON.stringify(f.headers)])).toEqual([
      [2, 1, 0, "{}"],
      ["data", 3, 0, "x".repeat(13)],
      [2, 5, 0, "{}"],
      ["data", 5, 1, "gatehouse: no"],
      [2, 7, 0, "{}"],
      [2, 9, 1, "{}"],
      [2, 11, 0, "{}"],
    ]);
  });

  it("undecodable server header blocks end the session", () => {
    expect(() => new SpdyServerRewriter().push(control(2, 0, Buffer.concat([u32(1), Buffer.from("not zlib at all")])))).toThrow(SpdyError);
    expect(() => new SpdyServerRewriter().push(Buffer.from([0x80, 2, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1]))).toThrow(/version 2/);
  });
});
