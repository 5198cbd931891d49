/**
 * The worker's connector-facing contract (docs/PROTOCOL.md): the handshakes and frames the
 * connector relies on, written once and run against both the real worker (wrangler dev) and the
 * fake one the connector tests use (harness-worker.ts), so the fake cannot drift from the real
 * thing. The test plays the connector's part with its own WebSocket and hand-made assertions.
 */
import { newStreamTicket } from "../../parsers/tunnel/stream-ticket.ts";
import { randomUUID } from "node:crypto";
import { SignJWT, generateKeyPair, type CryptoKey } from "jose";
import { WebSocket, type RawData } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeFrame, encodeControl, encodeData, FrameType, TUNNEL_SUBPROTOCOL, type ControlMessage } from "../../parsers/tunnel/frames.ts";

export interface WorkerUnderTest {
  /** http://127.0.0.1:<port> */
  url: string;
  /** A connector id the worker trusts, and its private key. */
  connectorId: string;
  privateKey: CryptoKey;
  /** The resource the test advertises in its hello (one the worker's policy lets a session open). */
  resource: { name: string; type: string; labels: Record<string, string> };
  /**
   * Make the worker ask the connector for a session on `resource` (the real worker: a client
   * opens a tunnel and sends its StartupMessage; the fake: its openStream helper).
   */
  requestSession(): Promise<void>;
  stop(): Promise<void>;
}

interface Claims {
  kid?: string;
  typ?: string;
  iss?: string;
  sub?: string;
  aud?: string;
  iat?: number;
  exp?: number;
  jti?: string | null;
  sid?: string;
}

/** A connector assertion as docs/PROTOCOL.md describes it, with any field overridable (to break it). */
export async function assertion(key: CryptoKey, connectorId: string, c: Claims = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: Record<string, unknown> = {
    iss: c.iss ?? connectorId,
    sub: c.sub ?? connectorId,
    aud: c.aud ?? "gatehouse-connector",
    iat: c.iat ?? now,
    exp: c.exp ?? now + 60,
  };
  if (c.jti !== null) payload.jti = c.jti ?? randomUUID();
  if (c.sid !== undefined) payload.sid = c.sid;
  return new SignJWT(payload).setProtectedHeader({ alg: "EdDSA", kid: c.kid ?? connectorId, typ: c.typ ?? "gatehouse-connector+jwt" }).sign(key);
}

type Dialed = { ok: true; ws: WebSocket; protocol: string; frames: Inbox } | { ok: false; status: number; body: Record<string, unknown> };

/** Frames received on a WebSocket, in order, plus its close. */
class Inbox {
  private readonly items: ControlMessage[] = [];
  private waiter: (() => void) | undefined;
  readonly kinds: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  constructor(ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString("utf8") })));
    ws.on("message", (raw: RawData, isBinary: boolean) => {
      const frame = decodeFrame(isBinary ? (raw as Buffer) : raw.toString());
      this.kinds.push(frame.type === FrameType.Control ? "control" : frame.type === FrameType.Credit ? "credit" : "data");
      if (frame.type === FrameType.Control) this.items.push(frame.message);
      this.waiter?.();
    });
  }
  async control(what: string, timeoutMs = 20_000): Promise<ControlMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.items.length === 0) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.items.shift()!;
  }
}

export function dial(baseUrl: string, path: string, opts: { token?: string; protocols?: string[] } = {}): Promise<Dialed> {
  const url = `${baseUrl.replace(/^http/, "ws")}${path}`;
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? [TUNNEL_SUBPROTOCOL], {
      headers: opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` },
      perMessageDeflate: false,
    });
    const frames = new Inbox(ws);
    ws.once("open", () => resolve({ ok: true, ws, protocol: ws.protocol, frames }));
    ws.once("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString("utf8")));
      res.on("end", () => {
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          body = { text };
        }
        resolve({ ok: false, status: res.statusCode ?? 0, body });
      });
    });
    ws.once("error", (err) => reject(err));
  });
}

function accepted(d: Dialed): Extract<Dialed, { ok: true }> {
  if (!d.ok) throw new Error(`upgrade refused: ${d.status} ${JSON.stringify(d.body)}`);
  return d;
}

/** A PostgreSQL StartupMessage (protocol 3.0), as the CLI forwards it. */
export function startupMessage(params: Record<string, string>): Uint8Array {
  const body = Buffer.concat([...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0${v}\0`)]), Buffer.from([0])]);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return encodeData(Buffer.concat([head, body]));
}

const ALLOWED_STARTUP = new Set(["application_name", "client_encoding", "DateStyle", "TimeZone", "IntervalStyle", "extra_float_digits"]);

export function describeWorkerContract(name: string, start: () => Promise<WorkerUnderTest>, timeoutMs = 240_000): void {
  describe(`connector contract: ${name}`, () => {
    let w: WorkerUnderTest;
    const open: WebSocket[] = [];
    const control = async () => {
      const d = accepted(await dial(w.url, "/v1/connector/control", { token: await assertion(w.privateKey, w.connectorId) }));
      open.push(d.ws);
      return d;
    };
    const hello = (ws: WebSocket) => ws.send(encodeControl({ t: "hello", connector: w.connectorId, version: 1, resources: [w.resource] }));

    beforeAll(async () => {
      w = await start();
    }, timeoutMs);
    afterAll(async () => {
      for (const ws of open) ws.terminate();
      await w?.stop();
    }, 60_000);

    it("accepts a control dial with a valid assertion, selecting gatehouse.v1", async () => {
      const d = await control();
      expect(d.protocol).toBe(TUNNEL_SUBPROTOCOL);
    });

    it("refuses a dial that does not offer gatehouse.v1 with 426 protocol_version_mismatch, naming the version it speaks", async () => {
      const d = await dial(w.url, "/v1/connector/control", { token: await assertion(w.privateKey, w.connectorId), protocols: ["gatehouse.v0"] });
      expect(d).toMatchObject({ ok: false, status: 426, body: { error: "protocol_version_mismatch", reason: expect.stringContaining("speaks gatehouse.v1") } });
      const newer = await dial(w.url, "/v1/connector/control", { token: await assertion(w.privateKey, w.connectorId), protocols: ["gatehouse.v2"] });
      expect(newer).toMatchObject({ ok: false, status: 426, body: { error: "protocol_version_mismatch", reason: expect.stringMatching(/this connector speaks gatehouse\.v2; the gateway .* speaks gatehouse\.v1/) } });
    });

    it("refuses every broken assertion with 401 unauthorized and a reason", async () => {
      const now = Math.floor(Date.now() / 1000);
      const { privateKey: foreign } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
      const cases: Array<[string, Promise<string | undefined>]> = [
        ["no assertion", Promise.resolve(undefined)],
        ["not a JWT", Promise.resolve("not-a-jwt")],
        ["unknown connector id", assertion(w.privateKey, w.connectorId, { kid: "nobody", iss: "nobody", sub: "nobody" })],
        ["signed by another key", assertion(foreign, w.connectorId)],
        ["lifetime over 120 s", assertion(w.privateKey, w.connectorId, { iat: now, exp: now + 300 })],
        ["expired beyond the 30 s skew", assertion(w.privateKey, w.connectorId, { iat: now - 200, exp: now - 100 })],
        ["another audience", assertion(w.privateKey, w.connectorId, { aud: "gatehouse" })],
        ["another typ", assertion(w.privateKey, w.connectorId, { typ: "JWT" })],
        ["iss is not the connector", assertion(w.privateKey, w.connectorId, { iss: "someone-else" })],
        ["no jti", assertion(w.privateKey, w.connectorId, { jti: null })],
      ];
      const results: Record<string, unknown> = {};
      for (const [what, token] of cases) {
        const d = await dial(w.url, "/v1/connector/control", { token: await token });
        results[what] = d.ok ? "accepted" : { status: d.status, error: d.body.error, hasReason: typeof d.body.reason === "string" && d.body.reason !== "" };
        if (d.ok) d.ws.terminate();
      }
      for (const [what] of cases) expect(results[what], what).toEqual({ status: 401, error: "unauthorized", hasReason: true });
    });

    it("admits an assertion once: a replayed one is refused with 401", async () => {
      const token = await assertion(w.privateKey, w.connectorId);
      const first = accepted(await dial(w.url, "/v1/connector/control", { token }));
      open.push(first.ws);
      const again = await dial(w.url, "/v1/connector/control", { token });
      if (again.ok) again.ws.terminate();
      expect(again).toMatchObject({ ok: false, status: 401, body: { error: "unauthorized" } });
    });

    it("answers ping with pong on the control channel", async () => {
      const { ws, frames } = await control();
      hello(ws);
      ws.send(encodeControl({ t: "ping" }));
      expect(await frames.control("pong")).toEqual({ t: "pong" });
    });

    it("closes the control channel on a text message (1007) and on a DATA frame (1008)", async () => {
      const text = await control();
      text.ws.send("hello");
      expect((await text.frames.closed).code).toBe(1007);
      const data = await control();
      hello(data.ws);
      data.ws.send(encodeData(Buffer.from("x")));
      expect((await data.frames.closed).code).toBe(1008);
    });

    it("opens a session: open on control, a stream bound to that session only, then the stream's open", async () => {
      const { ws, frames } = await control();
      hello(ws);
      // a round trip: the hello is processed before a session is asked for
      ws.send(encodeControl({ t: "ping" }));
      expect(await frames.control("pong")).toEqual({ t: "pong" });
      await w.requestSession();
      const ask = await frames.control("open on the control channel");
      expect(ask).toMatchObject({ t: "open", resource: w.resource.name, ticket: expect.stringMatching(/^ghst_[A-Za-z0-9_-]{43}$/) });
      expect(ask.session).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const session = ask.session as string;

      const malformed = await dial(w.url, "/v1/connector/streams/not-a-session", { token: await assertion(w.privateKey, w.connectorId, { sid: "not-a-session" }) });
      expect(malformed).toMatchObject({ ok: false, status: 400 });
      const stolen = await dial(w.url, `/v1/connector/streams/${session}`, { token: await assertion(w.privateKey, w.connectorId, { sid: randomUUID() }) });
      expect(stolen).toMatchObject({ ok: false, status: 401, body: { error: "unauthorized" } });
      const unbound = await dial(w.url, `/v1/connector/streams/${session}`, { token: await assertion(w.privateKey, w.connectorId) });
      expect(unbound).toMatchObject({ ok: false, status: 401, body: { error: "unauthorized" } });

      // The stream ticket (docs/PROTOCOL.md "Stream admission"): a malformed or made-up one is refused, the one sent is admitted once.
      const malformedTicket = await dial(w.url, `/v1/connector/streams/${session}`, { token: "ghst_short" });
      expect(malformedTicket).toMatchObject({ ok: false, status: 401, body: { error: "unauthorized" } });
      const madeUp = await dial(w.url, `/v1/connector/streams/${session}`, { token: newStreamTicket() });
      expect(madeUp).toMatchObject({ ok: false, status: 401, body: { error: "unauthorized" } });
      const stream = accepted(await dial(w.url, `/v1/connector/streams/${session}`, { token: ask.ticket as string }));
      open.push(stream.ws);
      const replayed = await dial(w.url, `/v1/connector/streams/${session}`, { token: ask.ticket as string });
      expect(replayed).toMatchObject({ ok: false, status: 401, body: { error: "unauthorized" } });
      expect(stream.protocol).toBe(TUNNEL_SUBPROTOCOL);
      const first = await stream.frames.control("the stream's open");
      expect(stream.frames.kinds[0]).toBe("control");
      expect(first).toMatchObject({ t: "open", resource: w.resource.name });
      expect(["read", "write", "admin"]).toContain(first.access);
      expect(first.max_session_ms === null || (typeof first.max_session_ms === "number" && first.max_session_ms > 0)).toBe(true);
      const startup = first.startup as Record<string, unknown>;
      expect(typeof startup).toBe("object");
      expect(Object.keys(startup).filter((k) => !ALLOWED_STARTUP.has(k))).toEqual([]);
      expect(Object.values(startup).every((v) => typeof v === "string")).toBe(true);

      stream.ws.send(encodeControl({ t: "error", code: "08001", message: "contract test: no target" }));
      stream.ws.close(1000);
      expect((await stream.frames.closed).code).toBeGreaterThanOrEqual(1000);
    });

    it("admits an older connector's stream that ignores the ticket and presents a session-bound assertion", async () => {
      const { ws, frames } = await control();
      hello(ws);
      ws.send(encodeControl({ t: "ping" }));
      expect(await frames.control("pong")).toEqual({ t: "pong" });
      await w.requestSession();
      const ask = await frames.control("open on the control channel");
      const session = ask.session as string;
      const stream = accepted(await dial(w.url, `/v1/connector/streams/${session}`, { token: await assertion(w.privateKey, w.connectorId, { sid: session }) }));
      open.push(stream.ws);
      expect(await stream.frames.control("the stream's open")).toMatchObject({ t: "open", resource: w.resource.name });
      stream.ws.close(1000);
    });
  });
}
