import { afterEach, describe, expect, it } from "vitest";
import { Duplex, PassThrough } from "node:stream";
import { randomBytes } from "node:crypto";
import { INITIAL_WINDOW, MAX_DATA_PAYLOAD } from "../../parsers/tunnel/frames.ts";
import { SendWindow } from "../../parsers/tunnel/credit.ts";
import { startGatewayPeer, type GatewayPeer, type PeerTunnel } from "../../test/support/gateway-peer.ts";
import { openTunnel } from "./open.ts";
import { bridge } from "./bridge.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function tunnelPair(): Promise<{ peer: GatewayPeer; tunnel: () => Promise<PeerTunnel>; ws: Awaited<ReturnType<typeof openTunnel>> }> {
  let resolveTunnel!: (t: PeerTunnel) => void;
  const got = new Promise<PeerTunnel>((r) => (resolveTunnel = r));
  const peer = await startGatewayPeer({ onTunnel: resolveTunnel });
  cleanups.push(() => peer.close());
  const ws = await openTunnel({ url: new URL(`${peer.url.replace("http", "ws")}/v1/tunnel/demo-pg`), token: "a.b.c" });
  return { peer, tunnel: () => got, ws };
}

/** A local "TCP socket" whose writes complete only when the test says so (a slow local reader). */
class SlowReader extends Duplex {
  held: Array<{ chunk: Buffer; done: (e?: Error | null) => void }> = [];
  written = 0;
  consumed = 0;
  override _read() {}
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void) {
    this.written += chunk.length;
    this.held.push({ chunk, done });
  }
  release(): Buffer[] {
    const out = this.held.map((h) => h.chunk);
    const held = this.held;
    this.held = [];
    for (const h of held) {
      this.consumed += h.chunk.length;
      h.done();
    }
    return out;
  }
}

describe("tunnel flow control", () => {
  it("local → gateway: pauses the local socket at zero credit and resumes on CREDIT, never overdrawing by more than a frame", async () => {
    const { tunnel, ws } = await tunnelPair();
    const local = new PassThrough();
    const send = new SendWindow();
    const payload = randomBytes(3 * INITIAL_WINDOW + 12345);
    const run = bridge({ ws, socket: local, sendWindow: send });
    const t = await tunnel();

    let granted = 0;
    let violations = 0;
    let sawPause = false;
    t.onFrame = () => {
      // Invariant on every frame: received ≤ initial window + credit granted + one overdrawing frame.
      if (t.dataBytes > INITIAL_WINDOW + granted + MAX_DATA_PAYLOAD) violations++;
      // Withhold credit until the client has spent its whole window: it must have paused by then.
      if (!sawPause && t.dataBytes >= INITIAL_WINDOW) {
        sawPause = true;
        expect(send.open).toBe(false);
        expect(local.isPaused()).toBe(true);
      }
      // Then behave like the worker: return credit for consumed bytes in quarter-window batches.
      while (sawPause && t.dataBytes - granted >= INITIAL_WINDOW / 4) {
        granted += INITIAL_WINDOW / 4;
        t.sendCredit(INITIAL_WINDOW / 4);
      }
    };
    local.write(payload);
    await t.until(() => t.dataBytes >= payload.length);
    expect(violations).toBe(0);
    expect(t.allData().equals(payload)).toBe(true);
    expect(sawPause).toBe(true);
    expect(granted).toBeGreaterThan(0);

    local.end();
    const result = await run;
    expect(result.bytesUp).toBe(payload.length);
    expect(result.pauses).toBeGreaterThanOrEqual(1);
    expect(result.end.kind).toBe("local-closed");
  });

  it("gateway → local: grants credit only for bytes written to the local socket, in quarter-window batches", async () => {
    const { tunnel, ws } = await tunnelPair();
    const local = new SlowReader();
    const run = bridge({ ws, socket: local });
    const t = await tunnel();
    const payload = randomBytes(3 * INITIAL_WINDOW);
    const chunk = 64 * 1024;
    let sent = 0;
    let credit = INITIAL_WINDOW;
    // The peer behaves like the worker: sends while it has credit.
    const pump = () => {
      while (credit > 0 && sent < payload.length) {
        const n = Math.min(chunk, payload.length - sent);
        t.sendData(payload.subarray(sent, sent + n));
        sent += n;
        credit -= n;
      }
    };
    let creditSeen = 0;
    t.onFrame = () => {
      credit += t.creditReceived - creditSeen;
      creditSeen = t.creditReceived;
      pump();
    };
    pump();
    expect(sent).toBe(INITIAL_WINDOW); // the window is spent; nothing more until credit comes

    const received: Buffer[] = [];
    while (received.reduce((n, b) => n + b.length, 0) < payload.length) {
      // Wait until the local socket holds something, check the accounting, then let it drain.
      await new Promise<void>((resolve) => {
        const check = () => (local.held.length > 0 ? resolve() : setImmediate(check));
        check();
      });
      expect(t.creditReceived).toBeLessThanOrEqual(local.consumed);
      expect(local.written - local.consumed).toBeLessThanOrEqual(INITIAL_WINDOW + MAX_DATA_PAYLOAD);
      received.push(...local.release());
      await new Promise((r) => setImmediate(r));
    }
    expect(Buffer.concat(received).equals(payload)).toBe(true);
    expect(t.creditReceived % (INITIAL_WINDOW / 4)).toBe(0);
    expect(t.creditReceived).toBeGreaterThanOrEqual(2 * INITIAL_WINDOW);

    t.close("57P01", "done");
    const result = await run;
    expect(result.end).toEqual({ kind: "close-control", code: "57P01", message: "done" });
    expect(result.bytesDown).toBe(payload.length);
    expect(result.sessionId).toBe("s_test_1");
  });

  it("ends the session on a frame that breaks the protocol", async () => {
    const { tunnel, ws } = await tunnelPair();
    const local = new SlowReader();
    const run = bridge({ ws, socket: local, finalWords: () => Buffer.from("bye") });
    const t = await tunnel();
    t.ws.send(Buffer.from([0x09, 1, 2]));
    const result = await run;
    expect(result.end).toMatchObject({ kind: "protocol-error", message: "unknown frame type 0x09" });
    expect(Buffer.concat(local.release()).toString()).toBe("bye");
  });
});
