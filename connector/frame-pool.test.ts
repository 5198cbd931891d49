import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { FramePool, POOLED_FRAME_MIN } from "./frame-pool.ts";

/**
 * Sends `count` 1 MiB frames, frame i filled with byte i, through a real ws connection whose
 * receiver reads nothing until all are sent: the kernel's buffers take a few MB, the rest stays
 * queued in the sender's socket. `early` returns each buffer right after send() instead of from
 * ws's write callback — the mistake the pool's contract forbids. Returns the frames received.
 */
async function sendThroughStalledSocket(count: number, early: boolean): Promise<Buffer[]> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
  await once(server, "listening");
  const accepted = once(server, "connection") as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`, { perMessageDeflate: false, generateMask: (mask: Buffer) => void mask.fill(0) });
  await once(client, "open");
  const [peer] = await accepted;
  peer.pause();
  const pool = new FramePool(1024 * 1024, 8);
  for (let i = 0; i < count; i++) {
    const { frame, release } = pool.take(1024 * 1024);
    frame.fill(i);
    if (early) {
      client.send(frame, { binary: true });
      release!();
    } else client.send(frame, { binary: true }, release!);
  }
  const received: Buffer[] = [];
  const all = new Promise<void>((resolve) =>
    peer.on("message", (data: Buffer) => {
      received.push(data);
      if (received.length === count) resolve();
    }),
  );
  peer.resume();
  await all;
  client.close();
  server.close();
  return received;
}

describe("FramePool", () => {
  it("hands out a buffer again only after its frame was released without error", () => {
    const pool = new FramePool(1024 * 1024, 2);
    const a = pool.take(POOLED_FRAME_MIN + 1);
    expect(a.frame.length).toBe(POOLED_FRAME_MIN + 1);
    const b = pool.take(1024 * 1024);
    // Both in flight: distinct memory, so filling one cannot touch the other.
    expect(a.frame.buffer).not.toBe(b.frame.buffer);
    a.frame.fill(1);
    b.frame.fill(2);
    expect(a.frame.every((x) => x === 1)).toBe(true);
    a.release!();
    a.release!(); // a second call (ws error paths) must not put it in twice
    expect(pool.idle).toBe(1);
    const c = pool.take(POOLED_FRAME_MIN * 2);
    expect(c.frame.buffer).toBe(a.frame.buffer);
    expect(pool.idle).toBe(0);
    const d = pool.take(POOLED_FRAME_MIN * 2);
    expect(d.frame.buffer).not.toBe(c.frame.buffer);
  });

  it("keeps a buffer whose write failed out of the pool (the socket may still hold it)", () => {
    const pool = new FramePool(1024 * 1024, 2);
    const a = pool.take(POOLED_FRAME_MIN);
    a.release!(new Error("socket closed"));
    expect(pool.idle).toBe(0);
  });

  it("bounds the idle buffers it keeps", () => {
    const pool = new FramePool(1024 * 1024, 2);
    const taken = [1, 2, 3].map(() => pool.take(POOLED_FRAME_MIN));
    for (const t of taken) t.release!();
    expect(pool.idle).toBe(2);
  });

  it("leaves small and oversized frames to Node's allocator (no release to call)", () => {
    const pool = new FramePool(1024 * 1024, 2);
    const small = pool.take(POOLED_FRAME_MIN - 1);
    expect(small.release).toBeNull();
    expect(small.frame.length).toBe(POOLED_FRAME_MIN - 1);
    const huge = pool.take(1024 * 1024 + 1);
    expect(huge.release).toBeNull();
    expect(huge.frame.length).toBe(1024 * 1024 + 1);
  });

  it("with ws: a frame still queued in the socket keeps its bytes (buffers come back from the write callback)", async () => {
    const frames = await sendThroughStalledSocket(24, false);
    expect(frames.map((f, i) => f.length === 1024 * 1024 && f.every((b) => b === (i & 255)))).toEqual(frames.map(() => true));
    // The contract is what makes this hold: returned right after send(), queued frames are overwritten.
    const early = await sendThroughStalledSocket(24, true);
    expect(early.some((f, i) => !f.every((b) => b === (i & 255)))).toBe(true);
  });
});
