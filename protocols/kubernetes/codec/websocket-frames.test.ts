import { describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { WebSocketFrameError, WebSocketMessageReader } from "./websocket-frames.ts";

function frame(opcode: number, payload: Uint8Array, opts: { fin?: boolean; mask?: number[] } = {}): Uint8Array {
  const head: number[] = [(opts.fin === false ? 0 : 0x80) | opcode];
  const m = opts.mask ? 0x80 : 0;
  if (payload.length < 126) head.push(m | payload.length);
  else head.push(m | 126, payload.length >> 8, payload.length & 0xff);
  const body = Uint8Array.from(payload);
  if (opts.mask) for (let i = 0; i < body.length; i++) body[i]! ^= opts.mask[i & 3]!;
  return Uint8Array.from([...head, ...(opts.mask ?? []), ...body]);
}

describe("WebSocketMessageReader", () => {
  it("reads what the ws library (a real client) sends, byte by byte: masked, fragmented, with pings between", async () => {
    const wss = new WebSocketServer({ port: 0, perMessageDeflate: false });
    const raw: Buffer[] = [];
    await new Promise<void>((r) => wss.once("listening", r));
    // Before ws's own listener, which unmasks the bytes in place.
    wss.on("connection", (s) => (s as unknown as { _socket: NodeJS.ReadableStream })._socket.prependListener("data", (d: Buffer) => raw.push(Buffer.from(d))));
    const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`, { perMessageDeflate: false });
    await new Promise((r) => client.once("open", r));
    client.send(Buffer.from([1, 104, 105]), { binary: true });
    client.ping();
    client.send(Buffer.alloc(70_000, 7), { binary: true, fin: false });
    client.send(Buffer.from([8]), { binary: true, fin: true });
    await new Promise((r) => setTimeout(r, 200));
    client.close();
    wss.close();
    const reader = new WebSocketMessageReader(true);
    const all = Buffer.concat(raw);
    const out = [];
    for (const b of all) out.push(...reader.push(Uint8Array.of(b)));
    expect(out.map((m) => m.data.length)).toEqual([3, 70_001]);
    expect([...out[0]!.data]).toEqual([1, 104, 105]);
    expect(out[1]!.data[70_000]).toBe(8);
  });

  it("refuses what the framing forbids", () => {
    expect(() => new WebSocketMessageReader(true).push(frame(2, Uint8Array.of(1)))).toThrow(WebSocketFrameError); // client frame unmasked
    expect(() => new WebSocketMessageReader(false).push(frame(2, Uint8Array.of(1), { mask: [1, 2, 3, 4] }))).toThrow(WebSocketFrameError);
    expect(() => new WebSocketMessageReader(false).push(Uint8Array.of(0xc2, 0))).toThrow(/reserved/); // RSV1 (compression not negotiated)
    expect(() => new WebSocketMessageReader(false).push(frame(0, Uint8Array.of(1)))).toThrow(/continuation/);
    expect(() => new WebSocketMessageReader(false).push(frame(9, Uint8Array.of(1), { fin: false }))).toThrow(/control/);
  });

  it("server frames: a message split across pushes comes out once, whole", () => {
    const r = new WebSocketMessageReader(false);
    const f = frame(2, Uint8Array.of(1, 111, 107));
    expect(r.push(f.subarray(0, 3))).toEqual([]);
    expect(r.push(f.subarray(3)).map((m) => [...m.data])).toEqual([[1, 111, 107]]);
  });
});

describe("encodeFrame (the port-forward relay re-frames both directions)", () => {
  it("round-trips through the reader at every length encoding, masked toward the server and not toward the client", async () => {
    const { encodeFrame } = await import("./websocket-frames.ts");
    for (const n of [0, 1, 125, 126, 65_535, 65_536, 200_000]) {
      const payload = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 255);
      for (const toServer of [true, false]) {
        const frame = encodeFrame(2, payload, toServer);
        expect((frame[1]! & 0x80) !== 0).toBe(toServer);
        const [m] = new WebSocketMessageReader(toServer).push(frame);
        expect(m!.binary).toBe(true);
        expect(Buffer.from(m!.data).equals(Buffer.from(payload))).toBe(true);
      }
    }
  });

  it("control frames are returned in order only to a reader that asks for them", async () => {
    const { encodeFrame } = await import("./websocket-frames.ts");
    const bytes = Buffer.concat([encodeFrame(2, Uint8Array.of(1), true), encodeFrame(9, Uint8Array.of(7), true), encodeFrame(8, Uint8Array.of(3, 232), true)]);
    expect(new WebSocketMessageReader(true, { keepControl: true }).push(bytes).map((m) => m.control ?? "data")).toEqual(["data", 9, 8]);
    expect(new WebSocketMessageReader(true).push(bytes).map((m) => m.control ?? "data")).toEqual(["data"]);
  });
});
