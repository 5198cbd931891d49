/**
 * What every per-session connector stream shares, whatever the target protocol: dialling
 * `/v1/connector/streams/<session>` with the stream ticket the worker sent on the control channel
 * (or, from a worker older than tickets, a session-bound assertion), waiting for the worker's
 * `open`, decoding tunnel frames, the flow-control windows and counters, and an idempotent
 * teardown. Protocol streams (PostgreSQL in stream.ts, SSH in ssh/ssh-stream.ts) implement the hooks.
 */
import type WebSocket from "ws";
import type { RawData } from "ws";
import { decodeFrame, encodeControl, encodeCredit, encodeData, FrameError, FrameType, MAX_DATA_PAYLOAD, type ControlMessage } from "../parsers/tunnel/frames.ts";
import { ReceiveWindow, SendWindow } from "../parsers/tunnel/credit.ts";
import { signConnectorAssertion } from "./assertion.ts";
import { StreamProtocolError, type TargetError } from "./errors.ts";
import type { StreamContext, StreamState, StreamStats } from "./stream-types.ts";
import { dialTunnel, type TunnelConnection } from "./tunnel-socket.ts";
import { framePool } from "./frame-pool.ts";

export abstract class TunnelStreamBase {
  protected state: StreamState = "dialing";
  protected ws?: WebSocket;
  protected readonly sendWindow = new SendWindow();
  protected readonly receiveWindow = new ReceiveWindow();
  protected readonly abort = new AbortController();
  protected openTimer?: NodeJS.Timeout;
  protected paused = false;
  protected pauses = 0;
  protected bytesToWorker = 0;
  protected bytesFromWorker = 0;
  protected creditGranted = 0;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;
  /** Byte-stream data waiting for the end of this event-loop turn (sendStreamData). */
  private coalesced: Uint8Array[] = [];
  private coalescedBytes = 0;
  private flushScheduled = false;

  /** SQLSTATE-like code sent with a protocol error on this stream. */
  protected abstract readonly protocolErrorCode: string;

  constructor(
    protected readonly ctx: StreamContext,
    readonly session: string,
    /** Resource named by the control channel's `open`; the stream's `open` must agree. */
    readonly resourceName: string,
    /** Answer the stream's `open` with this error instead of dialling (e.g. over capacity). */
    protected readonly refusal?: TargetError,
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
      // The ticket goes in the Authorization header like an assertion: never in the URL, never logged.
      const credential = this.ctx.streamTicket ?? (await signConnectorAssertion(this.ctx.privateKey, this.ctx.connectorId, { sid: this.session }));
      connection = await dialTunnel(url, credential);
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
    this.ws.on("close", (code: number) => this.finish(`worker closed the websocket (${code})`));
    this.ws.on("error", (err: Error) => this.ctx.logger.debug("stream websocket error", { session: this.session, error: err.message }));
    connection.attach((data, isBinary) => this.onMessage(data, isBinary));
  }

  /** Connector shutdown: end the session politely on both sides. */
  stop(reason = "connector shutting down"): void {
    if (this.closed) return;
    this.sendControl({ t: "close", reason });
    this.ws?.close(1001, "connector stopping");
    this.finish(reason);
  }

  // ── hooks ─────────────────────────────────────────────────────────────────

  /** The worker's `open`: authenticate to the target. */
  protected abstract connectTarget(open: ControlMessage): Promise<void>;
  /** Any other control message (cancel, ssh.*…). Unknown ones must be ignored (forward compatibility). */
  protected abstract onOtherControl(message: ControlMessage): void;
  protected abstract onData(payload: Uint8Array): void;
  /** Stop reading from the target: the worker's window is spent. */
  protected abstract pauseTarget(): void;
  /** Read from the target again; false when there is nothing to resume yet (stay paused). */
  protected abstract resumeTarget(): boolean;
  /** Close the target side; `wasReady` says whether the session was established. */
  protected abstract closeTarget(wasReady: boolean): void;

  // ── worker → connector ────────────────────────────────────────────────────

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
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
      case "close":
        this.ctx.logger.debug("worker closed the stream", { session: this.session, reason: String(message.reason ?? "") });
        this.ws?.close(1000, "closed");
        this.finish(`worker closed the stream${typeof message.reason === "string" ? `: ${message.reason.slice(0, 200)}` : ""}`);
        return;
      default:
        this.onOtherControl(message);
    }
  }

  // ── teardown and sending ──────────────────────────────────────────────────

  protected protocolError(err: StreamProtocolError): void {
    if (this.closed) return;
    this.ctx.logger.warn("protocol error on stream", { session: this.session, error: err.message });
    const message = `gatehouse: protocol error on the connector stream: ${err.message}`;
    this.sendControl({ t: "error", code: this.protocolErrorCode, message });
    this.ctx.emit({ type: "stream-error", stats: this.stats(), code: this.protocolErrorCode, message });
    this.ws?.close(err.closeCode, err.message.slice(0, 120));
    this.finish(`protocol error: ${err.message}`);
  }

  /** Idempotent teardown: close the target, stop timers, settle `finished`. */
  protected finish(reason: string): void {
    if (this.closed) return;
    const wasReady = this.state === "ready";
    this.state = "closed";
    clearTimeout(this.openTimer);
    this.abort.abort();
    this.closeTarget(wasReady);
    this.flushStreamData();
    if (this.ws && this.ws.readyState === this.ws.OPEN) this.ws.close(1000, "closed");
    this.ctx.logger.debug("stream closed", { session: this.session, reason });
    this.ctx.emit({ type: "stream-closed", stats: this.stats(), reason });
    this.resolveDone();
  }

  // ── flow control (docs/PROTOCOL.md §Flow control), the same for every protocol ──

  /** Count a DATA payload from the worker against the receive window (a worker that overruns it is a protocol error). */
  protected receiveData(bytes: number): void {
    try {
      this.receiveWindow.receive(bytes);
    } catch (err) {
      throw new StreamProtocolError((err as Error).message, 1008);
    }
    this.bytesFromWorker += bytes;
  }

  /** Bytes from the worker have left this process (written to the target, or dropped): give their credit back. */
  protected returnCredit(bytes: number): void {
    if (this.closed) return;
    const credit = this.receiveWindow.consume(bytes);
    if (credit > 0) {
      this.creditGranted += credit;
      this.send(encodeCredit(credit));
    }
  }

  /** One DATA payload to the worker, spending send credit. Call pauseIfOutOfCredit() after a batch. */
  protected sendData(payload: Uint8Array): void {
    this.send(encodeData(payload));
    this.sendWindow.spend(payload.length);
    this.bytesToWorker += payload.length;
  }

  /**
   * Bytes of a byte stream the worker reframes itself (PostgreSQL): socket reads that arrive in
   * the same event-loop turn travel as one DATA frame of up to MAX_DATA_PAYLOAD instead of one
   * frame per 64 KiB read, so the worker runs its per-message work (framing, masking, recording,
   * the client's frame) once per megabyte rather than sixteen times. The bytes are copied once,
   * into that frame, as before; they leave at the end of the turn (setImmediate, after the poll
   * phase that delivered the reads), so a lone small answer waits microseconds, not a timer.
   * Credit is spent when the bytes are queued, so pauseIfOutOfCredit() sees them at once. Any
   * other frame, and the end of the stream, flushes first: order on the wire is unchanged.
   */
  protected sendStreamData(chunk: Uint8Array): void {
    for (let off = 0; off < chunk.length; ) {
      const n = Math.min(chunk.length - off, MAX_DATA_PAYLOAD - this.coalescedBytes);
      this.coalesced.push(chunk.subarray(off, off + n));
      this.coalescedBytes += n;
      this.sendWindow.spend(n);
      this.bytesToWorker += n;
      off += n;
      if (this.coalescedBytes === MAX_DATA_PAYLOAD) this.flushStreamData();
    }
    if (this.coalescedBytes > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flushStreamData();
      });
    }
  }

  /** Send what sendStreamData() queued, as one DATA frame. */
  protected flushStreamData(): void {
    if (this.coalescedBytes === 0) return;
    const parts = this.coalesced;
    const { frame, release } = framePool.take(1 + this.coalescedBytes);
    frame[0] = FrameType.Data;
    let at = 1;
    for (const p of parts) {
      frame.set(p, at);
      at += p.length;
    }
    this.coalesced = [];
    this.coalescedBytes = 0;
    const ws = this.ws;
    if (ws && ws.readyState === ws.OPEN) {
      // The pooled buffer returns to the pool once the socket has taken its bytes (frame-pool.ts).
      if (release) ws.send(frame, { binary: true }, release);
      else ws.send(frame, { binary: true });
    }
  }

  /** The send window is spent: stop reading from the target until the worker grants credit. */
  protected pauseIfOutOfCredit(): void {
    if (this.sendWindow.open || this.paused) return;
    this.paused = true;
    this.pauses++;
    this.pauseTarget();
    this.ctx.emit({ type: "stream-paused", stats: this.stats() });
  }

  private onCredit(bytes: number): void {
    this.sendWindow.grant(bytes);
    // A worker cannot legitimately hold back more than a few windows of credit.
    if (this.sendWindow.credit > 64 * 1024 * 1024) throw new StreamProtocolError("credit overflow", 1008);
    if (this.paused && this.sendWindow.open && this.resumeTarget()) {
      this.paused = false;
      this.ctx.emit({ type: "stream-resumed", stats: this.stats() });
    }
  }

  protected sendControl(message: ControlMessage): void {
    this.send(encodeControl(message));
  }

  protected send(frame: Uint8Array): void {
    this.flushStreamData(); // queued stream bytes go first: frames keep their order
    const ws = this.ws;
    if (ws && ws.readyState === ws.OPEN) ws.send(frame, { binary: true });
  }
}
