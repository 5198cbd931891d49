/**
 * One session's data stream (`/v1/connector/streams/<session>`):
 *
 *   worker ──open──▶ connector ──dial + authenticate──▶ PostgreSQL
 *   worker ◀─ready── connector
 *   worker ◀══DATA══▶ connector ◀══bytes══▶ PostgreSQL      (raw relay, credit-based flow control)
 *
 * Flow control (docs/PROTOCOL.md): DATA we send spends the SendWindow; at zero credit the
 * PostgreSQL socket is paused, so TCP backpressure reaches the server. DATA we receive is counted
 * in the ReceiveWindow and credited back only once the PostgreSQL socket has flushed it. Memory
 * held per session is therefore bounded by the windows, however slow either end is.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type WebSocket from "ws";
import type { RawData } from "ws";
import { serialize } from "pg-protocol";
import type { CryptoKey } from "jose";
import {
  decodeFrame,
  encodeControl,
  encodeCredit,
  encodeData,
  FrameError,
  FrameType,
  MAX_DATA_PAYLOAD,
  type ControlMessage,
} from "../parsers/tunnel/frames.ts";
import { ReceiveWindow, SendWindow } from "../parsers/tunnel/credit.ts";
import { signConnectorAssertion } from "./assertion.ts";
import type { ResourceConfig } from "./config.ts";
import { StreamProtocolError, TargetError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { resolveSecret } from "./secrets.ts";
import { dialTunnel, type TunnelConnection } from "./tunnel-socket.ts";
import { dialPostgres } from "./postgres/dial.ts";
import { sendCancelRequest } from "./postgres/cancel.ts";
import type { BackendKey } from "./postgres/startup.ts";

export type StreamState = "dialing" | "awaiting-open" | "connecting" | "ready" | "closed";

export interface StreamStats {
  session: string;
  resource: string;
  state: StreamState;
  /** DATA payload bytes we may still send to the worker (may be negative: one frame may overdraw). */
  sendCredit: number;
  /** True while the target socket is paused for lack of credit. */
  paused: boolean;
  /** How many times reading from the target was paused for lack of credit. */
  pauses: number;
  /** DATA payload bytes sent to the worker (backend → client direction). */
  bytesToWorker: number;
  /** DATA payload bytes received from the worker (client → backend direction). */
  bytesFromWorker: number;
  /** Credit granted back to the worker. */
  creditGranted: number;
}

export type StreamEvent =
  | { type: "stream-ready"; stats: StreamStats }
  | { type: "stream-paused"; stats: StreamStats }
  | { type: "stream-resumed"; stats: StreamStats }
  | { type: "stream-cancel-sent"; stats: StreamStats }
  | { type: "stream-error"; stats: StreamStats; code: string; message: string }
  | { type: "stream-closed"; stats: StreamStats; reason: string };

export interface StreamContext {
  wsBase: string;
  connectorId: string;
  privateKey: CryptoKey;
  resources: ReadonlyMap<string, ResourceConfig>;
  logger: Logger;
  connectTimeoutMs: number;
  startupTimeoutMs: number;
  /** How long to wait for the worker's `open` frame after dialling the stream. */
  openTimeoutMs: number;
  emit(event: StreamEvent): void;
}

/** PostgreSQL Terminate message: 'X' + length 4. Seen last means the client ended the session. */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);
/** After we ask PostgreSQL to terminate, how long it may take to close before we cut the socket. */
const TARGET_CLOSE_GRACE_MS = 5_000;

export class TunnelStream {
  private state: StreamState = "dialing";
  private ws?: WebSocket;
  private target?: Socket | TLSSocket;
  private backendKey?: BackendKey;
  private readonly sendWindow = new SendWindow();
  private readonly receiveWindow = new ReceiveWindow();
  private readonly abort = new AbortController();
  private openTimer?: NodeJS.Timeout;
  private paused = false;
  private pauses = 0;
  private bytesToWorker = 0;
  private bytesFromWorker = 0;
  private creditGranted = 0;
  /** Last bytes written to the target, to recognise a client Terminate. */
  private lastFrontendBytes = Buffer.alloc(0);
  private readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly ctx: StreamContext,
    readonly session: string,
    /** Resource named by the control channel's `open`; the stream's `open` must agree. */
    readonly resourceName: string,
    /** Answer the stream's `open` with this error instead of dialling (e.g. over capacity). */
    private readonly refusal?: TargetError,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** Resolves when the stream is over, whatever the outcome. */
  get finished(): Promise<void> {
    return this.done;
  }

  /** A method, not a field check, so TypeScript does not narrow it away across awaits. */
  get closed(): boolean {
    return this.state === "closed";
  }

  stats(): StreamStats {
    return {
      session: this.session,
      resource: this.resourceName,
      state: this.state,
      sendCredit: this.sendWindow.credit,
      paused: this.paused,
      pauses: this.pauses,
      bytesToWorker: this.bytesToWorker,
      bytesFromWorker: this.bytesFromWorker,
      creditGranted: this.creditGranted,
    };
  }

  async start(): Promise<void> {
    const url = `${this.ctx.wsBase}/v1/connector/streams/${encodeURIComponent(this.session)}`;
    let connection: TunnelConnection;
    try {
      const assertion = await signConnectorAssertion(this.ctx.privateKey, this.ctx.connectorId, { sid: this.session });
      connection = await dialTunnel(url, assertion);
      if (this.closed) {
        connection.ws.close(1001, "connector stopping");
        return;
      }
      this.ws = connection.ws;
    } catch (err) {
      this.ctx.logger.warn("cannot open stream", { session: this.session, error: (err as Error).message });
      this.finish(`dial failed: ${(err as Error).message}`);
      return;
    }
    this.state = "awaiting-open";
    this.openTimer = setTimeout(() => {
      if (this.state === "awaiting-open") this.protocolError(new StreamProtocolError("no open frame from the worker in time", 1008));
    }, this.ctx.openTimeoutMs);
    this.ws.on("close", (code: number) => this.onWorkerClosed(code));
    this.ws.on("error", (err: Error) => this.ctx.logger.debug("stream websocket error", { session: this.session, error: err.message }));
    connection.attach((data, isBinary) => this.onMessage(data, isBinary));
  }

  /** Connector shutdown: end the session politely on both sides. */
  stop(reason = "connector shutting down"): void {
    if (this.state === "closed") return;
    this.sendControl({ t: "close", reason });
    this.ws?.close(1001, "connector stopping");
    this.finish(reason);
  }

  // ── worker → connector ────────────────────────────────────────────────────

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.state === "closed") return;
    try {
      if (!isBinary) throw new StreamProtocolError("text WebSocket messages are not part of the tunnel protocol", 1007);
      const frame = decodeFrame(data as Buffer);
      switch (frame.type) {
        case FrameType.Control:
          return this.onControl(frame.message);
        case FrameType.Data:
          return this.onData(frame.payload);
        case FrameType.Credit:
          return this.onCredit(frame.bytes);
      }
    } catch (err) {
      if (err instanceof StreamProtocolError) return this.protocolError(err);
      if (err instanceof FrameError) return this.protocolError(new StreamProtocolError(err.message, /exceeds|too large/.test(err.message) ? 1009 : 1007));
      this.ctx.logger.error("stream failure", { session: this.session, error: (err as Error).message });
      this.protocolError(new StreamProtocolError(`internal error: ${(err as Error).message}`, 1008));
    }
  }

  private onControl(message: ControlMessage): void {
    switch (message.t) {
      case "open":
        if (this.state !== "awaiting-open") throw new StreamProtocolError("duplicate open frame", 1008);
        clearTimeout(this.openTimer);
        void this.connectTarget(message);
        return;
      case "cancel":
        void this.cancel();
        return;
      case "close":
        this.ctx.logger.debug("worker closed the stream", { session: this.session, reason: String(message.reason ?? "") });
        this.ws?.close(1000, "closed");
        this.finish(`worker closed the stream${typeof message.reason === "string" ? `: ${message.reason.slice(0, 200)}` : ""}`);
        return;
      default:
        // Forward compatibility: a newer worker may send messages we do not know; they carry no data.
        this.ctx.logger.debug("ignoring unknown control message", { session: this.session, t: message.t.slice(0, 40) });
    }
  }

  private onData(payload: Uint8Array): void {
    if (this.state !== "ready" || !this.target) throw new StreamProtocolError("DATA before the stream is ready", 1008);
    try {
      this.receiveWindow.receive(payload.length);
    } catch (err) {
      throw new StreamProtocolError((err as Error).message, 1008);
    }
    this.bytesFromWorker += payload.length;
    this.rememberFrontendTail(payload);
    const length = payload.length;
    // Credit goes back only once the bytes left our process: a slow database stops the worker.
    this.target.write(payload, (err) => {
      if (err || this.state === "closed") return;
      const credit = this.receiveWindow.consume(length);
      if (credit > 0) {
        this.creditGranted += credit;
        this.send(encodeCredit(credit));
      }
    });
  }

  private onCredit(bytes: number): void {
    this.sendWindow.grant(bytes);
    // A worker cannot legitimately hold back more than a few windows of credit.
    if (this.sendWindow.credit > 64 * 1024 * 1024) throw new StreamProtocolError("credit overflow", 1008);
    if (this.paused && this.sendWindow.open && this.target) {
      this.paused = false;
      this.target.resume();
      this.ctx.emit({ type: "stream-resumed", stats: this.stats() });
    }
  }

  private rememberFrontendTail(payload: Uint8Array): void {
    const tail = Buffer.concat([this.lastFrontendBytes, payload.subarray(Math.max(0, payload.length - TERMINATE.length))]);
    this.lastFrontendBytes = tail.subarray(Math.max(0, tail.length - TERMINATE.length));
  }

  // ── target ────────────────────────────────────────────────────────────────

  private async connectTarget(open: ControlMessage): Promise<void> {
    if (typeof open.resource !== "string" || open.resource !== this.resourceName) {
      return this.protocolError(new StreamProtocolError(`open names resource ${JSON.stringify(String(open.resource).slice(0, 64))}, expected ${this.resourceName}`, 1008));
    }
    if (this.refusal) return await this.failWithTargetError(this.refusal);
    const resource = this.ctx.resources.get(this.resourceName);
    if (!resource || resource.type !== "postgres") {
      return await this.failWithTargetError(new TargetError("08001", `gatehouse: resource ${this.resourceName}: not served by connector ${this.ctx.connectorId}`));
    }
    this.state = "connecting";
    let session;
    try {
      session = await dialPostgres(resource, open.startup, {
        connectTimeoutMs: this.ctx.connectTimeoutMs,
        startupTimeoutMs: this.ctx.startupTimeoutMs,
        signal: this.abort.signal,
      });
    } catch (err) {
      if (this.closed) return;
      const target = err instanceof TargetError ? err : new TargetError("08001", `gatehouse: resource ${resource.name}: ${(err as Error).message}`);
      await this.failWithTargetError(target, resource);
      return;
    }
    if (this.closed) {
      session.socket.end(serialize.end());
      return;
    }
    const socket = session.socket;
    this.target = socket;
    this.backendKey = session.backendKey;
    this.state = "ready";
    this.sendControl({ t: "ready", parameters: session.parameters, txStatus: session.txStatus });
    this.ctx.logger.info("session ready", { session: this.session, resource: resource.name });
    this.ctx.emit({ type: "stream-ready", stats: this.stats() });

    socket.on("data", (chunk: Buffer) => this.onTargetData(chunk));
    socket.on("error", (err: NodeJS.ErrnoException) => this.ctx.logger.debug("target socket error", { session: this.session, error: err.code ?? err.message }));
    socket.on("close", () => this.onTargetClosed(resource));
    if (session.remainder.length > 0) this.onTargetData(session.remainder);
    if (this.sendWindow.open) socket.resume();
  }

  private onTargetData(chunk: Buffer): void {
    if (this.state !== "ready") return;
    // One socket read → as few DATA frames as possible; the worker reframes PostgreSQL messages.
    for (let offset = 0; offset < chunk.length; offset += MAX_DATA_PAYLOAD) {
      const piece = chunk.subarray(offset, Math.min(chunk.length, offset + MAX_DATA_PAYLOAD));
      this.send(encodeData(piece));
      this.sendWindow.spend(piece.length);
      this.bytesToWorker += piece.length;
    }
    if (!this.sendWindow.open && !this.paused) {
      this.paused = true;
      this.pauses++;
      this.target?.pause();
      this.ctx.emit({ type: "stream-paused", stats: this.stats() });
    }
  }

  private onTargetClosed(resource: ResourceConfig): void {
    if (this.state === "closed") return;
    const terminated = this.lastFrontendBytes.equals(TERMINATE);
    if (terminated) {
      this.sendControl({ t: "close", reason: "session terminated" });
    } else {
      const err = new TargetError("08006", `gatehouse: resource ${resource.name}: target closed the connection`);
      this.sendControl({ t: "error", code: err.code, message: err.message });
      this.ctx.emit({ type: "stream-error", stats: this.stats(), code: err.code, message: err.message });
    }
    this.ws?.close(1000, terminated ? "terminated" : "target closed");
    this.finish(terminated ? "session terminated" : "target closed the connection");
  }

  private async cancel(): Promise<void> {
    const resource = this.ctx.resources.get(this.resourceName);
    if (this.state !== "ready" || !this.backendKey || !resource || resource.type !== "postgres") {
      this.ctx.logger.debug("cancel ignored: no running backend", { session: this.session });
      return;
    }
    try {
      await sendCancelRequest(resource, this.backendKey, { connectTimeoutMs: this.ctx.connectTimeoutMs });
      this.ctx.emit({ type: "stream-cancel-sent", stats: this.stats() });
    } catch (err) {
      this.ctx.logger.warn("cancel request failed", { session: this.session, error: (err as Error).message });
    }
  }

  // ── endings ───────────────────────────────────────────────────────────────

  private async failWithTargetError(err: TargetError, resource?: ResourceConfig): Promise<void> {
    // Defence in depth: whatever produced the message, the password never leaves the connector.
    const password = await resolveSecret(resource?.password).catch(() => undefined);
    const scrub = (text: string) => (password && password.length >= 3 ? text.split(password).join("***") : text);
    const message = scrub(err.message);
    const detail = err.detail !== undefined ? scrub(err.detail) : undefined;
    this.ctx.logger.warn("target connection failed", { session: this.session, resource: this.resourceName, code: err.code, message });
    this.sendControl({ t: "error", code: err.code, message, ...(detail !== undefined ? { detail } : {}) });
    this.ctx.emit({ type: "stream-error", stats: this.stats(), code: err.code, message });
    this.ws?.close(1000, "target error");
    this.finish(`target error ${err.code}`);
  }

  private protocolError(err: StreamProtocolError): void {
    if (this.state === "closed") return;
    this.ctx.logger.warn("protocol error on stream", { session: this.session, error: err.message });
    const message = `gatehouse: protocol error on the connector stream: ${err.message}`;
    this.sendControl({ t: "error", code: "08P01", message });
    this.ctx.emit({ type: "stream-error", stats: this.stats(), code: "08P01", message });
    this.ws?.close(err.closeCode, err.message.slice(0, 120));
    this.finish(`protocol error: ${err.message}`);
  }

  private onWorkerClosed(code: number): void {
    this.finish(`worker closed the websocket (${code})`);
  }

  /** Idempotent teardown: ask PostgreSQL to end the backend, stop timers, settle `finished`. */
  private finish(reason: string): void {
    if (this.state === "closed") return;
    const wasReady = this.state === "ready";
    this.state = "closed";
    clearTimeout(this.openTimer);
    this.abort.abort();
    const target = this.target;
    if (target && !target.destroyed) {
      if (wasReady) target.end(serialize.end());
      else target.end();
      target.resume();
      setTimeout(() => target.destroy(), TARGET_CLOSE_GRACE_MS).unref();
    }
    if (this.ws && this.ws.readyState === this.ws.OPEN) this.ws.close(1000, "closed");
    this.ctx.logger.debug("stream closed", { session: this.session, reason });
    this.ctx.emit({ type: "stream-closed", stats: this.stats(), reason });
    this.resolveDone();
  }

  private sendControl(message: ControlMessage): void {
    this.send(encodeControl(message));
  }

  private send(frame: Uint8Array): void {
    const ws = this.ws;
    if (ws && ws.readyState === ws.OPEN) ws.send(frame, { binary: true });
  }
}
