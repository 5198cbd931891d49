/**
 * One SSH session's connector stream (`/v1/connector/streams/<session>`, docs/PROTOCOL.md §SSH):
 *
 *   worker ──open──▶ connector ──ssh2: pinned host key + credential──▶ host
 *   worker ◀─ready── connector
 *   worker ──ssh.exec / ssh.shell / ssh.subsystem / ssh.window / ssh.signal──▶ channel requests
 *   worker ◀═DATA (channel header)═▶ connector ◀═channel bytes═▶ host
 *
 * The connector only executes what the worker sends (the worker has already applied policy).
 * Flow control: DATA to the worker spends the send window; at zero every channel is paused (ssh2
 * stops adjusting the host's window). DATA from the worker is credited back once written into
 * the channel.
 */
import type WebSocket from "ws";
import type { RawData } from "ws";
import type { ClientChannel, PseudoTtyOptions } from "ssh2";
import { decodeFrame, encodeControl, encodeCredit, encodeData, FrameError, FrameType, type ControlMessage } from "../../parsers/tunnel/frames.ts";
import { ReceiveWindow, SendWindow } from "../../parsers/tunnel/credit.ts";
import {
  decodeSshData,
  encodeChannelEvent,
  encodeSshData,
  parseChannelEvent,
  parseSshClientMessage,
  MAX_SSH_CHANNELS,
  STREAM_EVENT,
  STREAM_STDERR,
  STREAM_STDOUT,
  type PtyRequest,
} from "../../parsers/ssh/frames.ts";
import { signConnectorAssertion } from "../assertion.ts";
import { StreamProtocolError, TargetError } from "../errors.ts";
import type { StreamContext, StreamState, StreamStats } from "../stream.ts";
import { dialTunnel, type TunnelConnection } from "../tunnel-socket.ts";
import { dialSsh, SSH_ERROR, type SshTarget } from "./target.ts";
import type { SshResourceConfig } from "./config.ts";

/** Bytes read from a channel per DATA frame (keeps frames well under the tunnel limit). */
const READ_CHUNK = 64 * 1024;
/** Stdin buffered for a channel whose open is still in flight (bounded by the worker's window anyway). */
const MAX_PENDING_INPUT = 2 * 1024 * 1024;

/** Stdin bytes (with the DATA payload length to credit back once written), or an eof/close event. */
interface InputItem {
  bytes?: Uint8Array;
  credit?: number;
  eof?: boolean;
  close?: boolean;
}

interface ChannelState {
  stream?: ClientChannel;
  /** Input (and eof/close) that arrived before the channel opened. */
  pending: InputItem[];
  pendingBytes: number;
  closed: boolean;
}

export class SshTunnelStream {
  private state: StreamState = "dialing";
  private ws?: WebSocket;
  private target?: SshTarget;
  private readonly sendWindow = new SendWindow();
  private readonly receiveWindow = new ReceiveWindow();
  private readonly abort = new AbortController();
  private readonly channels = new Map<number, ChannelState>();
  private openTimer?: NodeJS.Timeout;
  private paused = false;
  private pauses = 0;
  private bytesToWorker = 0;
  private bytesFromWorker = 0;
  private creditGranted = 0;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly ctx: StreamContext,
    readonly session: string,
    readonly resourceName: string,
    private readonly refusal?: TargetError,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  get finished(): Promise<void> {
    return this.done;
  }

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
    this.ws.on("close", (code: number) => this.finish(`worker closed the websocket (${code})`));
    this.ws.on("error", (err: Error) => this.ctx.logger.debug("stream websocket error", { session: this.session, error: err.message }));
    connection.attach((data, isBinary) => this.onMessage(data, isBinary));
  }

  stop(reason = "connector shutting down"): void {
    if (this.closed) return;
    this.sendControl({ t: "close", reason });
    this.ws?.close(1001, "connector stopping");
    this.finish(reason);
  }

  // ── worker → connector ────────────────────────────────────────────────────

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    try {
      if (!isBinary) throw new StreamProtocolError("text WebSocket messages are not part of the tunnel protocol", 1007);
      const frame = decodeFrame(data as Buffer);
      if (frame.type === FrameType.Control) return this.onControl(frame.message);
      if (frame.type === FrameType.Data) return this.onData(frame.payload);
      this.onCredit(frame.bytes);
    } catch (err) {
      if (err instanceof StreamProtocolError) return this.protocolError(err);
      if (err instanceof FrameError) return this.protocolError(new StreamProtocolError(err.message, 1007));
      this.protocolError(new StreamProtocolError(`internal error: ${(err as Error).message}`, 1008));
    }
  }

  private onControl(message: ControlMessage): void {
    if (message.t === "open") {
      if (this.state !== "awaiting-open") throw new StreamProtocolError("duplicate open frame", 1008);
      clearTimeout(this.openTimer);
      void this.connectTarget(message);
      return;
    }
    if (message.t === "close") {
      this.ws?.close(1000, "closed");
      this.finish("worker closed the stream");
      return;
    }
    if (!message.t.startsWith("ssh.")) return; // forward compatibility: unknown messages carry no data
    if (this.state !== "ready" || !this.target) throw new StreamProtocolError(`${message.t} before the SSH session is ready`, 1008);
    const m = parseSshClientMessage(message);
    if (!m) throw new StreamProtocolError(`malformed ${message.t.slice(0, 40)}`, 1008);
    switch (m.t) {
      case "ssh.exec":
        return this.openChannel(m.ch, (cb) => this.target!.client.exec(m.command, { ...(m.pty ? { pty: ptyOptions(m.pty) } : {}), ...(m.env ? { env: m.env } : {}) }, cb));
      case "ssh.shell":
        return this.openChannel(m.ch, (cb) => this.target!.client.shell(m.pty ? ptyOptions(m.pty) : false, m.env ? { env: m.env } : {}, cb));
      case "ssh.subsystem":
        return this.openChannel(m.ch, (cb) => this.target!.client.subsys(m.name, cb));
      case "ssh.window":
        this.channels.get(m.ch)?.stream?.setWindow(m.rows, m.cols, m.height, m.width);
        return;
      case "ssh.signal":
        this.channels.get(m.ch)?.stream?.signal(m.name);
        return;
      default:
        // ssh.start / ssh.forward are answered by the worker; they never reach a connector.
        throw new StreamProtocolError(`${m.t} is not for the connector`, 1008);
    }
  }

  private openChannel(ch: number, open: (cb: (err: Error | undefined, stream: ClientChannel) => void) => void): void {
    if (this.channels.has(ch)) throw new StreamProtocolError(`channel ${ch} opened twice`, 1008);
    if (this.channels.size >= MAX_SSH_CHANNELS) throw new StreamProtocolError("too many channels", 1008);
    const state: ChannelState = { pending: [], pendingBytes: 0, closed: false };
    this.channels.set(ch, state);
    open((err, stream) => {
      if (this.closed) {
        stream?.close();
        return;
      }
      if (err || !stream) {
        this.sendPayload(encodeChannelEvent(ch, { t: "error", message: err?.message ?? "the host refused to open the channel" }));
        this.sendPayload(encodeChannelEvent(ch, { t: "close" }));
        this.channels.delete(ch);
        return;
      }
      state.stream = stream;
      stream.on("data", (chunk: Buffer) => this.onChannelOutput(ch, STREAM_STDOUT, chunk));
      stream.stderr.on("data", (chunk: Buffer) => this.onChannelOutput(ch, STREAM_STDERR, chunk));
      stream.on("exit", (code: number | null, signal?: string, coreDumped?: boolean, description?: string) => {
        if (typeof code === "number") this.sendPayload(encodeChannelEvent(ch, { t: "exit", code }));
        else if (signal) this.sendPayload(encodeChannelEvent(ch, { t: "exit", signal: String(signal).replace(/^SIG/, ""), ...(coreDumped ? { coreDumped: true } : {}), ...(description ? { message: description } : {}) }));
      });
      stream.on("end", () => this.sendPayload(encodeChannelEvent(ch, { t: "eof" })));
      stream.on("close", () => {
        if (!this.channels.has(ch)) return;
        this.channels.delete(ch);
        this.sendPayload(encodeChannelEvent(ch, { t: "close" }));
      });
      if (this.paused) {
        stream.pause();
        stream.stderr.pause();
      }
      for (const item of state.pending.splice(0)) this.applyInput(ch, state, item);
      state.pendingBytes = 0;
    });
  }

  private onData(payload: Uint8Array): void {
    if (this.state !== "ready") throw new StreamProtocolError("DATA before the stream is ready", 1008);
    try {
      this.receiveWindow.receive(payload.length);
    } catch (err) {
      throw new StreamProtocolError((err as Error).message, 1008);
    }
    this.bytesFromWorker += payload.length;
    const frame = decodeSshData(payload);
    const state = this.channels.get(frame.ch);
    if (!state) {
      // A channel that already closed on the host side: drop, but keep the window honest.
      this.credit(payload.length);
      return;
    }
    let item: InputItem;
    if (frame.stream === STREAM_EVENT) {
      const event = parseChannelEvent(frame.bytes);
      if (event.t === "eof") item = { eof: true };
      else if (event.t === "close") item = { close: true };
      else throw new StreamProtocolError(`unexpected channel event ${event.t} from the worker`, 1008);
      this.credit(payload.length);
    } else {
      if (frame.stream !== STREAM_STDOUT) throw new StreamProtocolError("the worker may only send stdin", 1008);
      item = { bytes: frame.bytes, credit: payload.length };
    }
    if (!state.stream) {
      state.pendingBytes += frame.bytes.length;
      if (state.pendingBytes > MAX_PENDING_INPUT) throw new StreamProtocolError("too much input before the channel opened", 1008);
      // The frame's buffer belongs to the WebSocket message: copy what must wait.
      state.pending.push(item.bytes ? { ...item, bytes: Buffer.from(item.bytes) } : item);
      return;
    }
    this.applyInput(frame.ch, state, item);
  }

  private applyInput(ch: number, state: ChannelState, item: InputItem): void {
    const stream = state.stream!;
    if (item.bytes) {
      const n = item.credit ?? item.bytes.length;
      if (state.closed) return this.credit(n);
      stream.write(item.bytes, () => this.credit(n));
    } else if (item.eof) {
      if (!state.closed) stream.end();
    } else if (item.close) {
      state.closed = true;
      this.channels.delete(ch);
      stream.close();
    }
  }

  private credit(n: number): void {
    if (this.closed) return;
    const credit = this.receiveWindow.consume(n);
    if (credit > 0) {
      this.creditGranted += credit;
      this.send(encodeCredit(credit));
    }
  }

  private onCredit(bytes: number): void {
    this.sendWindow.grant(bytes);
    if (this.sendWindow.credit > 64 * 1024 * 1024) throw new StreamProtocolError("credit overflow", 1008);
    if (this.paused && this.sendWindow.open) {
      this.paused = false;
      for (const s of this.channels.values()) {
        s.stream?.resume();
        s.stream?.stderr.resume();
      }
      this.ctx.emit({ type: "stream-resumed", stats: this.stats() });
    }
  }

  // ── host → worker ─────────────────────────────────────────────────────────

  private onChannelOutput(ch: number, stream: number, chunk: Buffer): void {
    if (this.closed) return;
    for (let off = 0; off < chunk.length; off += READ_CHUNK) {
      const piece = chunk.subarray(off, Math.min(chunk.length, off + READ_CHUNK));
      this.sendPayload(encodeSshData(ch, stream, piece));
    }
    if (!this.sendWindow.open && !this.paused) {
      this.paused = true;
      this.pauses++;
      for (const s of this.channels.values()) {
        s.stream?.pause();
        s.stream?.stderr.pause();
      }
      this.ctx.emit({ type: "stream-paused", stats: this.stats() });
    }
  }

  private async connectTarget(open: ControlMessage): Promise<void> {
    if (open.resource !== this.resourceName) {
      return this.protocolError(new StreamProtocolError(`open names resource ${JSON.stringify(String(open.resource).slice(0, 64))}, expected ${this.resourceName}`, 1008));
    }
    if (this.refusal) return this.failTarget(this.refusal);
    const resource = this.ctx.resources.get(this.resourceName) as SshResourceConfig | undefined;
    if (!resource || resource.type !== "ssh") {
      return this.failTarget(new TargetError(SSH_ERROR.unreachable, `gatehouse: resource ${this.resourceName}: not an SSH resource of connector ${this.ctx.connectorId}`));
    }
    this.state = "connecting";
    let target: SshTarget;
    try {
      target = await dialSsh(resource, { readyTimeoutMs: this.ctx.connectTimeoutMs + this.ctx.startupTimeoutMs, signal: this.abort.signal });
    } catch (err) {
      if (this.closed) return;
      return this.failTarget(err instanceof TargetError ? err : new TargetError(SSH_ERROR.protocol, `gatehouse: resource ${resource.name}: ${(err as Error).message}`));
    }
    if (this.closed) {
      target.client.end();
      return;
    }
    this.target = target;
    this.state = "ready";
    target.client.on("error", (err: Error) => this.ctx.logger.debug("ssh target error", { session: this.session, error: err.message }));
    target.client.on("close", () => {
      if (this.closed) return;
      const message = `gatehouse: resource ${resource.name}: the SSH connection to ${resource.host}:${resource.port} was lost`;
      this.sendControl({ t: "error", code: SSH_ERROR.lost, message });
      this.ctx.emit({ type: "stream-error", stats: this.stats(), code: SSH_ERROR.lost, message });
      this.ws?.close(1000, "target closed");
      this.finish("target closed the connection");
    });
    this.sendControl({ t: "ready", hostKey: target.hostKey });
    this.ctx.logger.info("ssh session ready", { session: this.session, resource: resource.name, hostKey: target.hostKey });
    this.ctx.emit({ type: "stream-ready", stats: this.stats() });
  }

  // ── endings ───────────────────────────────────────────────────────────────

  private failTarget(err: TargetError): void {
    this.ctx.logger.warn("ssh target connection failed", { session: this.session, resource: this.resourceName, code: err.code, message: err.message });
    this.sendControl({ t: "error", code: err.code, message: err.message });
    this.ctx.emit({ type: "stream-error", stats: this.stats(), code: err.code, message: err.message });
    this.ws?.close(1000, "target error");
    this.finish(`target error ${err.code}`);
  }

  private protocolError(err: StreamProtocolError): void {
    if (this.closed) return;
    this.ctx.logger.warn("protocol error on ssh stream", { session: this.session, error: err.message });
    const message = `gatehouse: protocol error on the connector stream: ${err.message}`;
    this.sendControl({ t: "error", code: SSH_ERROR.protocol, message });
    this.ctx.emit({ type: "stream-error", stats: this.stats(), code: SSH_ERROR.protocol, message });
    this.ws?.close(err.closeCode, err.message.slice(0, 120));
    this.finish(`protocol error: ${err.message}`);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.state = "closed";
    clearTimeout(this.openTimer);
    this.abort.abort();
    for (const s of this.channels.values()) s.stream?.close();
    this.channels.clear();
    this.target?.client.end();
    if (this.ws && this.ws.readyState === this.ws.OPEN) this.ws.close(1000, "closed");
    this.ctx.logger.debug("ssh stream closed", { session: this.session, reason });
    this.ctx.emit({ type: "stream-closed", stats: this.stats(), reason });
    this.resolveDone();
  }

  /** One DATA frame (channel header included), spending send credit. */
  private sendPayload(payload: Uint8Array): void {
    this.send(encodeData(payload));
    this.sendWindow.spend(payload.length);
    this.bytesToWorker += payload.length;
  }

  private sendControl(message: ControlMessage): void {
    this.send(encodeControl(message));
  }

  private send(frame: Uint8Array): void {
    const ws = this.ws;
    if (ws && ws.readyState === ws.OPEN) ws.send(frame, { binary: true });
  }
}

function ptyOptions(p: PtyRequest): PseudoTtyOptions {
  return { term: p.term, cols: p.cols, rows: p.rows, width: p.width, height: p.height };
}
