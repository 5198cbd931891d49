/**
 * The session object's flow control inside workerd (until now only the slow e2e tests covered it):
 * client and connector DATA are processed in order per direction, credit goes back to a sender
 * only once what its bytes produced has left for the next hop (a slow reader downstream stops the
 * writer upstream instead of growing the worker's buffers), a held message (the approval hold)
 * returns no credit and keeps later messages behind it, and a peer that ignores its window ends
 * the session in the client's protocol. Real Session, real Hops on real WebSocketPairs, frames
 * from the real tunnel codec; only the protocol engine is a minimal pass-through.
 */
import { describe, expect, it, vi } from "vitest";
import { decodeFrame, encodeCredit, encodeData, FrameType, INITIAL_WINDOW, MAX_DATA_PAYLOAD, type Frame } from "../../parsers/tunnel/frames.ts";
import type { Engine, EngineHost } from "../engines/engine.ts";
import { Session, type SessionDeps } from "./session.ts";
import { PIPELINE_CLAIMS } from "../../parsers/audit/fixtures.ts";

const QUARTER = INITIAL_WINDOW / 4;

/** The far end of one hop (what the client tunnel or the connector sees), decoding frames in arrival order. */
function peer(): { socket: WebSocket; data: Uint8Array[]; credits: number[]; controls: Array<Record<string, unknown>>; arrived: () => Promise<void> } {
  const [theirs, ours] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
  theirs.accept();
  ours.accept();
  const data: Uint8Array[] = [];
  const credits: number[] = [];
  const controls: Array<Record<string, unknown>> = [];
  let arrivals: Promise<void> = Promise.resolve();
  theirs.addEventListener("message", (ev) => {
    const raw = ev.data as string | ArrayBuffer | Blob;
    arrivals = arrivals.then(async () => {
      const bytes = typeof raw === "string" ? raw : new Uint8Array(raw instanceof Blob ? await raw.arrayBuffer() : raw);
      if (bytes.length === 0) return;
      const frame = decodeFrame(bytes);
      if (frame.type === FrameType.Data) data.push(frame.payload);
      else if (frame.type === FrameType.Credit) credits.push(frame.bytes);
      else controls.push(frame.message);
    });
  });
  const arrived = () => new Promise((resolve) => setTimeout(resolve, 30)).then(() => arrivals);
  return { socket: ours, data, credits, controls, arrived };
}

/** Bytes of length n whose first byte tags them (to check order). */
const chunk = (tag: number, n: number) => {
  const b = new Uint8Array(n);
  b[0] = tag;
  return b;
};
const dataFrame = (payload: Uint8Array): Frame => decodeFrame(encodeData(payload));
const creditFrame = (bytes: number): Frame => decodeFrame(encodeCredit(bytes));
const total = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
const lengthOf = (parts: readonly Uint8Array[]) => total(parts.map((p) => p.length));

function setup(makeEngine?: (session: Session) => Engine) {
  const client = peer();
  const connector = peer();
  const terminated: string[] = [];
  let ended: { status: string; code?: string } | undefined;
  const deps = {
    sessionId: "s-flow",
    identity: { issuer: PIPELINE_CLAIMS.iss, subject: PIPELINE_CLAIMS.sub, claims: PIPELINE_CLAIMS },
    resource: { name: "demo-pg", type: "postgres" },
    policy: { admits: () => ({ ok: true, reason: "" }), adopt: () => {}, limits: () => ({ maxSessionMs: null, statementTimeoutMs: null }) },
    audit: { onEvent: async () => {} },
    approvals: { pendingCount: 0 },
    onEnded: async (outcome: { status: string; code?: string }) => {
      ended = outcome;
    },
  } as unknown as SessionDeps;
  const session = new Session(client.socket, deps);
  session.attachConnector(connector.socket);
  /** Client messages tagged with 0xee wait here (the approval hold: the engine's onClientData does not return). */
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const engine: Engine = {
    onClientData: async (bytes) => {
      if (bytes[0] === 0xee) await held;
      (session as EngineHost).sendToConnector([bytes]);
    },
    onConnectorData: async (bytes) => (session as EngineHost).sendToClient([bytes]),
    onConnectorControl: async () => {},
    onConnectorLost: () => {},
    onTerminate: (code) => void terminated.push(code),
    cancel: () => {},
  };
  (session as unknown as { engine: Engine }).engine = makeEngine?.(session) ?? engine;
  return { session, client, connector, release, terminated, ended: () => ended };
}

describe("Session flow control", () => {
  it("passes client bytes to the connector in order and returns the client's credit in quarter-window steps", async () => {
    const { session, client, connector } = setup();
    for (let k = 0; k < 4; k++) session.onFrame("client", dataFrame(chunk(k, QUARTER / 2)));
    await vi.waitFor(async () => {
      await connector.arrived();
      expect(connector.data.map((d) => d[0])).toEqual([0, 1, 2, 3]);
    });
    await client.arrived();
    expect(lengthOf(connector.data)).toBe(2 * QUARTER);
    expect(client.credits).toEqual([QUARTER, QUARTER]);
  });

  it("defers the client's credit while the connector hop is backlogged, and returns it when the connector's peer reads", async () => {
    const { session, client, connector } = setup();
    const half = INITIAL_WINDOW / 2;
    // The connector's peer granted the initial window only: the third half-window must wait.
    for (let k = 0; k < 3; k++) session.onFrame("client", dataFrame(chunk(k, half)));
    await vi.waitFor(async () => {
      await connector.arrived();
      expect(lengthOf(connector.data)).toBe(INITIAL_WINDOW);
    });
    await client.arrived();
    // Credit for the two halves that left; none for the one queued behind the spent window.
    expect(total(client.credits)).toBe(INITIAL_WINDOW);
    session.onFrame("connector", creditFrame(half));
    await vi.waitFor(async () => {
      await connector.arrived();
      expect(lengthOf(connector.data)).toBe(3 * half);
    });
    await vi.waitFor(async () => {
      await client.arrived();
      expect(total(client.credits)).toBe(3 * half);
    });
    expect(connector.data.map((d) => d[0])).toEqual([0, 1, 2]);
  });

  it("applies the same rule the other way: the connector's credit waits for a client that does not read", async () => {
    const { session, client, connector } = setup();
    const half = INITIAL_WINDOW / 2;
    for (let k = 0; k < 3; k++) session.onFrame("connector", dataFrame(chunk(k, half)));
    await vi.waitFor(async () => {
      await client.arrived();
      expect(lengthOf(client.data)).toBe(INITIAL_WINDOW);
    });
    await connector.arrived();
    expect(total(connector.credits)).toBe(INITIAL_WINDOW);
    session.onFrame("client", creditFrame(INITIAL_WINDOW));
    await vi.waitFor(async () => {
      await connector.arrived();
      expect(total(connector.credits)).toBe(3 * half);
    });
    await client.arrived();
    expect(client.data.map((d) => d[0])).toEqual([0, 1, 2]);
  });

  it("returns no credit for a held message and keeps later messages behind it; both go on, in order, when it is released", async () => {
    const { session, client, connector, release } = setup();
    session.onFrame("client", dataFrame(chunk(0xee, QUARTER)));
    session.onFrame("client", dataFrame(chunk(1, QUARTER)));
    await connector.arrived();
    await client.arrived();
    expect(connector.data).toEqual([]);
    expect(client.credits).toEqual([]);
    // The other direction keeps flowing while the client's message is held.
    session.client.credited(INITIAL_WINDOW);
    session.onFrame("connector", dataFrame(chunk(7, 10)));
    await vi.waitFor(async () => {
      await client.arrived();
      expect(client.data.map((d) => d[0])).toEqual([7]);
    });
    release();
    await vi.waitFor(async () => {
      await connector.arrived();
      expect(connector.data.map((d) => d[0])).toEqual([0xee, 1]);
    });
    await vi.waitFor(async () => {
      await client.arrived();
      expect(client.credits).toEqual([QUARTER, QUARTER]);
    });
  });

  it("ends the session when a peer ignores its window (more than one maximal frame beyond it), in the client's protocol", async () => {
    const { session, client, connector, terminated, ended } = setup();
    // Held: nothing is consumed, so nothing is credited back; the client keeps sending anyway.
    for (let k = 0; k < 3; k++) session.onFrame("client", dataFrame(chunk(0xee, MAX_DATA_PAYLOAD)));
    expect(terminated).toEqual(["08P01"]);
    expect(session.isEnded).toBe(true);
    await vi.waitFor(async () => {
      await client.arrived();
      expect(client.controls).toContainEqual(expect.objectContaining({ t: "close", code: "08P01", message: expect.stringMatching(/exceeded its flow-control window/) }));
    });
    await connector.arrived();
    expect(connector.data).toEqual([]);
    expect(ended()).toMatchObject({ status: "error", code: "08P01" });
  });
  it("forwards nothing to the target after the end, even while the connector hop still drains", async () => {
    const { session, client, connector } = setup();
    // The connector's whole window, then one more message that waits for its credit.
    for (let k = 0; k < 4; k++) session.onFrame("client", dataFrame(chunk(k, QUARTER)));
    await vi.waitFor(async () => {
      await connector.arrived();
      expect(lengthOf(connector.data)).toBe(INITIAL_WINDOW);
    });
    await client.arrived();
    session.onFrame("client", dataFrame(chunk(7, 10)));
    const connectorHop = (session as unknown as { connector: { queued: number } }).connector;
    await vi.waitFor(() => expect(connectorHop.queued).toBe(10));
    session.end({ status: "error", reason: "ended by an administrator" });
    // An engine still holding a request (an approval that came after the end, a dial that outlived it).
    (session as EngineHost).connectorControl({ t: "ssh.exec", ch: 0, command: "rm -rf /srv" });
    (session as EngineHost).sendToConnector([chunk(8, 10)]);
    session.onFrame("connector", creditFrame(INITIAL_WINDOW));
    await vi.waitFor(async () => {
      await connector.arrived();
      expect(connector.controls).toContainEqual(expect.objectContaining({ t: "close" }));
    });
    expect(connector.controls.filter((c) => c.t === "ssh.exec")).toEqual([]);
    expect(connector.data.map((d) => d[0])).not.toContain(8);
  });

  it("delivers what it already accepted for a slow client before the close when the session ends (nothing cut off)", async () => {
    const { session, client, connector } = setup();
    const half = INITIAL_WINDOW / 2;
    // The last half-window of an answer waits for the client's credit when the session ends
    // (an HTTP `Connection: close` body, the rows before a fatal error).
    for (let k = 0; k < 3; k++) session.onFrame("connector", dataFrame(chunk(k, half)));
    await vi.waitFor(async () => {
      await client.arrived();
      expect(lengthOf(client.data)).toBe(INITIAL_WINDOW);
    });
    session.end({ status: "ok", reason: "upstream closed the connection" });
    await client.arrived();
    // Not closed yet, and the close does not overtake the data still queued.
    expect(client.controls).toEqual([]);
    expect(session.client.isOpen).toBe(true);
    // More data after the end is not accepted.
    session.onFrame("connector", dataFrame(chunk(9, 10)));
    session.onFrame("client", creditFrame(INITIAL_WINDOW));
    await vi.waitFor(async () => {
      await client.arrived();
      expect(client.controls).toContainEqual(expect.objectContaining({ t: "close", message: "upstream closed the connection" }));
    });
    expect(lengthOf(client.data)).toBe(3 * half);
    expect(client.data.map((d) => d[0])).toEqual([0, 1, 2]);
    expect(session.client.isOpen).toBe(false);
    await connector.arrived();
    expect(connector.controls).toContainEqual(expect.objectContaining({ t: "close" }));
  });
});

describe("Session: the connector chunk's buffer carries the answer (Engine.copiesConnectorData)", () => {
  /**
   * An engine like PostgreSQL's: it copies each chunk into its own arena (reused), frames
   * length-prefixed records there (one may straddle chunks), answers each complete run of records
   * rewritten (every byte + 1) and, for every other chunk, only after an await (as the trail's write).
   */
  function framingEngine(session: Session, expand: boolean, fits: { n: number } = { n: 0 }): Engine {
    const arena = new Uint8Array(1 << 16);
    let held = 0;
    let n = 0;
    return {
      copiesConnectorData: true,
      onClientData: async () => {},
      onConnectorData: async (bytes) => {
        arena.set(bytes, held);
        held += bytes.length;
        let end = 0;
        while (end < held && end + 1 + arena[end]! <= held) end += 1 + arena[end]!;
        const out = arena.slice(0, end).map((x) => x + 1);
        arena.copyWithin(0, end, held);
        held -= end;
        if (n++ % 2 === 1) await new Promise((r) => setTimeout(r, 1));
        const answer = expand ? [out, out] : [out];
        if (out.length === 0) return;
        if (lengthOf(answer) < bytes.length + 1) fits.n++; // it fits in the chunk's message buffer
        (session as EngineHost).sendToClient(answer);
      },
      onConnectorControl: async () => {},
      onConnectorLost: () => {},
      onTerminate: () => {},
      cancel: () => {},
    };
  }

  /** Records (length byte + body) cut into chunks at odd places, so records straddle chunk boundaries. */
  function stream(): { records: Uint8Array; chunks: Uint8Array[] } {
    const parts: number[] = [];
    for (let r = 0; r < 60; r++) {
      const len = (r * 7) % 23;
      parts.push(len);
      for (let k = 0; k < len; k++) parts.push((r + k) % 200);
    }
    const records = new Uint8Array(parts);
    const chunks: Uint8Array[] = [];
    for (let at = 0, size = 5; at < records.length; at += size, size = (size * 3) % 41 + 1) chunks.push(records.subarray(at, at + size));
    return { records, chunks };
  }

  it("builds the client's frame in the chunk's own message buffer when it fits, and the bytes arrive exact, in order", async () => {
    let session!: Session;
    const fits = { n: 0 };
    const { client } = setup((s) => framingEngine((session = s), false, fits));
    const { records, chunks } = stream();
    const frames = chunks.map((c) => dataFrame(c.slice()));
    const before = frames.map((fr) => (fr.type === FrameType.Data ? new Uint8Array(fr.payload.buffer).slice() : new Uint8Array(0)));
    for (const fr of frames) session.onFrame("connector", fr);
    await vi.waitFor(async () => {
      await client.arrived();
      expect(lengthOf(client.data)).toBe(records.length);
    });
    const received = new Uint8Array(lengthOf(client.data));
    let off = 0;
    for (const d of client.data) {
      received.set(d, off);
      off += d.length;
    }
    expect([...received]).toEqual([...records].map((x) => x + 1));
    // The answers went out in the chunks' buffers (rewritten there), not in fresh arrays.
    const reused = frames.filter((fr, k) => fr.type === FrameType.Data && !new Uint8Array(fr.payload.buffer).every((x, i) => x === before[k]![i]));
    expect(fits.n).toBeGreaterThan(5);
    expect(reused.length).toBe(fits.n);
  });

  it("falls back to a fresh frame when the answer is longer than the chunk, and never lends a buffer twice", async () => {
    let session!: Session;
    const { client } = setup((s) => framingEngine((session = s), true));
    const { records, chunks } = stream();
    for (const c of chunks) session.onFrame("connector", dataFrame(c.slice()));
    await vi.waitFor(async () => {
      await client.arrived();
      expect(lengthOf(client.data)).toBe(2 * records.length);
    });
    // Each answer is its run twice: split the stream back into runs and compare.
    const plus = [...records].map((x) => x + 1);
    let at = 0;
    for (const d of client.data) {
      const run = d.subarray(0, d.length / 2);
      expect([...d.subarray(d.length / 2)]).toEqual([...run]);
      expect([...run]).toEqual(plus.slice(at, at + run.length));
      at += run.length;
    }
    expect(at).toBe(records.length);
  });
});
