/**
 * A stand-in for the worker's connector endpoints, speaking the documented tunnel protocol
 * (docs/PROTOCOL.md) so the real connector can be tested end to end against a real PostgreSQL
 * before the real worker exists. It verifies connector assertions exactly as the protocol says
 * (EdDSA, kid, typ, aud, lifetime ≤ 120 s, sid bound to the stream path), sends a stream ticket
 * with each `open` and admits the stream presenting it once (docs/PROTOCOL.md "Stream admission";
 * `ticket: false` plays a worker older than tickets), and answers 401/426 the documented way. test/connector/worker-contract.test.ts holds it to the same contract as the real
 * worker (handshakes, refusals, assertion replay, frame errors, the session open sequence).
 */
import { offeredTunnelVersions, tunnelVersionMismatch } from "../../parsers/tunnel/version.ts";
import { randomUUID } from "node:crypto";
import { STREAM_TICKET_PREFIX, isStreamTicket, newStreamTicket } from "../../parsers/tunnel/stream-ticket.ts";
import { createServer, type IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { importJWK, jwtVerify, type JWK, type JWTPayload, type JWTHeaderParameters } from "jose";
import { WebSocketServer, type WebSocket, type RawData } from "ws";
import {
  decodeFrame,
  encodeControl,
  encodeCredit,
  encodeData,
  FrameType,
  INITIAL_WINDOW,
  MAX_FRAME_BYTES,
  TUNNEL_SUBPROTOCOL,
  type ControlMessage,
} from "../../parsers/tunnel/frames.ts";

export interface VerifiedAssertion {
  path: string;
  header: JWTHeaderParameters;
  payload: JWTPayload & { sid?: string };
  /** A stream admitted by its stream ticket: no signed header; `payload.sid` is the ticket's session. */
  byTicket?: true;
}

export interface Rejection {
  path: string;
  status: number;
  reason: string;
}

type Waiter<T> = { resolve: (value: T) => void; reject: (err: Error) => void; timer: NodeJS.Timeout };

/** A FIFO of things that arrive over time, with timeouts so a broken test fails instead of hanging. */
export class Inbox<T> {
  private items: T[] = [];
  private waiters: Waiter<T>[] = [];
  constructor(private readonly what: string) {}
  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      clearTimeout(waiter.timer);
      waiter.resolve(item);
    } else this.items.push(item);
  }
  next(timeoutMs = 20_000): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new Error(`timed out waiting for ${this.what}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }
  get pending(): readonly T[] {
    return this.items;
  }
}

/** One WebSocket from the connector, with its frames sorted by type. */
export class HarnessPeer {
  readonly controls = new Inbox<ControlMessage>("a control message");
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Total DATA payload bytes received. */
  dataBytes = 0;
  /** Largest DATA payload seen. */
  maxDataPayload = 0;
  /** Credit we granted to the connector (beyond INITIAL_WINDOW). */
  creditGranted = 0;
  /** Credit the connector granted us. */
  creditReceived = 0;
  /** Every DATA payload, in order (copied). Cleared by takeData(). */
  private data: Buffer[] = [];
  private dataListeners: ((chunk: Buffer) => void)[] = [];
  /** Grant credit back automatically as DATA arrives (a fast consumer). */
  autoCredit = false;
  private unCredited = 0;
  frameErrors: string[] = [];
  /** `ping` control messages received (answered with `pong` while answerPings is true). */
  pings = 0;
  answerPings = true;
  private creditWaiters: (() => void)[] = [];

  /** Resolves once the connector has granted at least `total` bytes of credit in all. */
  async creditAtLeast(total: number, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.creditReceived < total) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for credit ${total} (have ${this.creditReceived})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1_000);
        this.creditWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  constructor(
    readonly ws: WebSocket,
    readonly assertion: VerifiedAssertion,
    /** The control channel carries CONTROL frames only (as the real worker's hub enforces). */
    readonly channel: "control" | "stream" = "stream",
  ) {
    this.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString("utf8") })));
    ws.on("message", (raw: RawData, isBinary: boolean) => {
      // As the real worker: a text message or a malformed frame closes the socket (1007), a
      // DATA/CREDIT frame on the control channel too (1008). Recorded for the tests as well.
      if (!isBinary) {
        this.frameErrors.push("text message");
        ws.close(1007, "text message");
        return;
      }
      let frame: ReturnType<typeof decodeFrame>;
      try {
        frame = decodeFrame(raw as Buffer);
      } catch (err) {
        this.frameErrors.push((err as Error).message);
        ws.close(1007, "malformed frame");
        return;
      }
      if (channel === "control" && frame.type !== FrameType.Control) {
        this.frameErrors.push("non-CONTROL frame on the control channel");
        ws.close(1008, "only CONTROL frames are allowed on the control channel");
        return;
      }
      if (frame.type === FrameType.Control) {
        if (frame.message.t === "ping") {
          // The worker's keepalive answer (docs/PROTOCOL.md); counted, not queued.
          this.pings++;
          if (this.answerPings) this.sendControl({ t: "pong" });
          return;
        }
        this.controls.push(frame.message);
      }
      else if (frame.type === FrameType.Credit) {
        this.creditReceived += frame.bytes;
        for (const w of this.creditWaiters.splice(0)) w();
      }
      else {
        const chunk = Buffer.from(frame.payload);
        this.dataBytes += chunk.length;
        this.maxDataPayload = Math.max(this.maxDataPayload, chunk.length);
        this.data.push(chunk);
        for (const listener of this.dataListeners) listener(chunk);
        if (this.autoCredit) {
          this.unCredited += chunk.length;
          if (this.unCredited >= INITIAL_WINDOW / 4) {
            this.grant(this.unCredited);
            this.unCredited = 0;
          }
        }
      }
    });
  }

  onData(listener: (chunk: Buffer) => void): void {
    this.dataListeners.push(listener);
  }

  takeData(): Buffer {
    const all = Buffer.concat(this.data);
    this.data = [];
    return all;
  }

  sendControl(message: ControlMessage): void {
    this.ws.send(encodeControl(message));
  }

  sendData(bytes: Uint8Array): void {
    this.ws.send(encodeData(bytes));
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.ws.send(bytes);
  }

  grant(bytes: number): void {
    this.creditGranted += bytes;
    this.ws.send(encodeCredit(bytes));
  }

  close(code = 1000): void {
    this.ws.close(code);
  }
}

export interface HarnessWorker {
  /** http://127.0.0.1:<port> — what goes into the connector's `gateway`. */
  url: string;
  /** Control connections, each delivered after its `hello`. */
  controls: Inbox<{ peer: HarnessPeer; hello: ControlMessage }>;
  /** Every assertion that passed verification, in order. */
  assertions: VerifiedAssertion[];
  /** Every refused upgrade. */
  rejections: Rejection[];
  /** Ask the connector (over `control`) to open a stream and wait for it; sends the stream `open`. */
  openStream(control: HarnessPeer, resource: string, startup?: Record<string, string>, opts?: { session?: string; openResource?: string; access?: string; maxSessionMs?: number | null; ticket?: boolean | string }): Promise<HarnessPeer>;
  /** Drop every connection (a worker restart as the connector sees it). */
  dropAll(): void;
  stop(): Promise<void>;
}

export interface HarnessWorkerOptions {
  /** Connector id → public JWK, as in the worker's configuration. */
  connectors: Record<string, JWK>;
}

const MAX_LIFETIME_SECONDS = 120;

export async function startHarnessWorker(opts: HarnessWorkerOptions): Promise<HarnessWorker> {
  const keys = new Map<string, Awaited<ReturnType<typeof importJWK>>>();
  for (const [id, jwk] of Object.entries(opts.connectors)) keys.set(id, await importJWK(jwk, "EdDSA"));

  const controls = new Inbox<{ peer: HarnessPeer; hello: ControlMessage }>("a control connection");
  const streamWaiters = new Map<string, (peer: HarnessPeer) => void>();
  const assertions: VerifiedAssertion[] = [];
  const rejections: Rejection[] = [];
  /** jti of every admitted assertion: each admits one WebSocket, as in the real worker. */
  const seenJti = new Set<string>();
  /** The unused stream ticket of each session asked for (one use, as in the real worker). */
  const tickets = new Map<string, string>();
  const peers = new Set<HarnessPeer>();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    handleProtocols: (protocols) => (protocols.has(TUNNEL_SUBPROTOCOL) ? TUNNEL_SUBPROTOCOL : false),
  });

  const refuse = (socket: Duplex, path: string, status: number, body: Record<string, string>) => {
    rejections.push({ path, status, reason: body.reason ?? body.error ?? "" });
    const text = JSON.stringify(body);
    socket.end(`HTTP/1.1 ${status} ${status === 400 ? "Bad Request" : status === 401 ? "Unauthorized" : status === 426 ? "Upgrade Required" : "Not Found"}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
  };

  const verify = async (req: IncomingMessage, sid: string | undefined): Promise<VerifiedAssertion> => {
    const auth = req.headers.authorization ?? "";
    const match = /^Bearer ([A-Za-z0-9._-]+)$/.exec(auth);
    if (!match) throw new Error("missing bearer assertion");
    if (sid !== undefined && match[1]!.startsWith(STREAM_TICKET_PREFIX)) {
      if (!isStreamTicket(match[1])) throw new Error("malformed stream ticket");
      const issued = tickets.get(sid);
      if (issued === undefined) throw new Error("no stream ticket was issued for this session");
      if (issued !== match[1]) throw new Error("the stream ticket is not this session's");
      tickets.delete(sid);
      return { path: req.url ?? "", header: { alg: "none" }, payload: { sid }, byTicket: true };
    }
    const { payload, protectedHeader } = await jwtVerify(match[1]!, async (header) => {
      const key = header.kid ? keys.get(header.kid) : undefined;
      if (!key) throw new Error("unknown kid");
      return key;
    }, { algorithms: ["EdDSA"], audience: "gatehouse-connector", typ: "gatehouse-connector+jwt", clockTolerance: 30 });
    const p = payload as JWTPayload & { sid?: string };
    if (p.iss !== protectedHeader.kid || p.sub !== protectedHeader.kid) throw new Error("iss/sub must equal kid");
    if (typeof p.iat !== "number" || typeof p.exp !== "number" || p.exp - p.iat > MAX_LIFETIME_SECONDS) throw new Error("lifetime too long");
    if (typeof p.jti !== "string" || p.jti.length < 8) throw new Error("missing jti");
    if (sid !== undefined && p.sid !== sid) throw new Error("sid does not match the session");
    if (seenJti.has(`${p.iss}:${p.jti}`)) throw new Error("connector assertion was already used");
    seenJti.add(`${p.iss}:${p.jti}`);
    return { path: req.url ?? "", header: protectedHeader, payload: p };
  };

  const server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const mismatch = tunnelVersionMismatch("connector", offeredTunnelVersions(String(req.headers["sec-websocket-protocol"] ?? "")), "harness", req.headers["user-agent"]);
    if (mismatch) return refuse(socket, path, 426, { error: "protocol_version_mismatch", reason: mismatch });
    const streamMatch = /^\/v1\/connector\/streams\/([^/]+)$/.exec(path);
    if (path !== "/v1/connector/control" && !streamMatch) return refuse(socket, path, 404, { error: "not_found" });
    const sid = streamMatch ? decodeURIComponent(streamMatch[1]!) : undefined;
    if (sid !== undefined && !/^[0-9a-f-]{36}$/.test(sid)) return refuse(socket, path, 400, { error: "bad_request", reason: "invalid session id" });
    verify(req, sid).then(
      (assertion) => {
        if (!assertion.byTicket) assertions.push(assertion);
        wss.handleUpgrade(req, socket, head, (ws) => {
          const peer = new HarnessPeer(ws, assertion, sid === undefined ? "control" : "stream");
          peers.add(peer);
          ws.on("close", () => peers.delete(peer));
          if (sid === undefined) {
            void peer.controls.next().then((hello) => controls.push({ peer, hello }), () => undefined);
          } else {
            const waiter = streamWaiters.get(sid);
            streamWaiters.delete(sid);
            if (waiter) waiter(peer);
            else ws.close(1008, "unknown session");
          }
        });
      },
      (err: Error) => refuse(socket, path, 401, { error: "unauthorized", reason: err.message }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;

  return {
    url: `http://127.0.0.1:${port}`,
    controls,
    assertions,
    rejections,
    async openStream(control, resource, startup = {}, o = {}) {
      // a UUID, as the real worker's session ids (its stream route accepts nothing else)
      const session = o.session ?? randomUUID();
      const arrived = new Promise<HarnessPeer>((resolve, reject) => {
        const timer = setTimeout(() => {
          streamWaiters.delete(session);
          reject(new Error(`connector did not dial the stream for ${session}`));
        }, 20_000);
        streamWaiters.set(session, (peer) => {
          clearTimeout(timer);
          resolve(peer);
        });
      });
      // As the real worker: a fresh one-use ticket with every open (unless playing an older worker).
      // (A string is sent as the ticket as is, and registered only if well-formed: a worker's mistake.)
      const ticket = o.ticket === false ? undefined : typeof o.ticket === "string" ? o.ticket : newStreamTicket();
      if (isStreamTicket(ticket)) tickets.set(session, ticket);
      control.sendControl({ t: "open", session, resource, ...(ticket ? { ticket } : {}) });
      const peer = await arrived;
      peer.sendControl({ t: "open", resource: o.openResource ?? resource, startup, access: o.access ?? "write", max_session_ms: o.maxSessionMs ?? null });
      return peer;
    },
    dropAll() {
      for (const peer of peers) peer.ws.terminate();
    },
    async stop() {
      for (const peer of peers) peer.ws.terminate();
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
