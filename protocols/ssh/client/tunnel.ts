/**
 * The client's end of an SSH tunnel (docs/PROTOCOL.md §SSH): channel requests go up as CONTROL
 * messages, channel bytes and events as DATA with a channel header, both directions under
 * credit-based flow control. Used by the local SSH server (ssh.ts) and by `gatehouse exec`.
 * Knows nothing about ssh2: callers plug a sink per channel.
 */
import WebSocket from "ws";
import { decodeFrame, encodeControl, encodeCredit, encodeData, FrameError, FrameType, type ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { ReceiveWindow, SendWindow } from "../../../parsers/tunnel/credit.ts";
import {
  decodeSshData,
  encodeChannelEvent,
  encodeSshData,
  parseChannelEvent,
  STREAM_EVENT,
  STREAM_STDERR,
  STREAM_STDOUT,
  type ChannelEvent,
  type SshClientMessage,
} from "../codec/frames.ts";
import { parseIncomingOpen, type ForwardRequest, type IncomingOpen } from "../codec/forward.ts";

/** What receives one channel's output. `done` must be called once the bytes left the process (credit). */
export interface ChannelSink {
  stdout(bytes: Uint8Array, done: () => void): void;
  stderr(bytes: Uint8Array, done: () => void): void;
  event(event: ChannelEvent): void;
}

export interface TunnelEnd {
  /** `close` code from the gateway (e.g. "denied", "ssh-host-key-mismatch"), or a local kind. */
  code: string;
  message: string;
}

export interface SshTunnelHandlers {
  onReady?(): void;
  onSession?(id: string): void;
  onForwardResult?(id: number, ok: boolean, message: string, port?: number): void;
  /** The host opened a channel towards us (remote forward, agent, X11): return its sink, or undefined to close it. */
  onIncoming?(open: IncomingOpen): ChannelSink | undefined;
  /** Called once when the tunnel ends, whatever the reason. */
  onEnd(end: TunnelEnd): void;
  /** Flow control: pause / resume every local producer. */
  onPause?(): void;
  onResume?(): void;
}

const READ_CHUNK = 64 * 1024;

export class SshTunnel {
  private readonly send = new SendWindow();
  private readonly receive = new ReceiveWindow();
  private readonly sinks = new Map<number, ChannelSink>();
  private nextChannel = 0;
  private paused = false;
  private ended = false;
  sessionId: string | undefined;
  bytesUp = 0;
  bytesDown = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly handlers: SshTunnelHandlers,
  ) {
    ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    ws.on("close", (code, reason) => this.finish({ code: "tunnel-closed", message: `connection to the gateway closed (${code}${reason.length ? `: ${reason.toString("utf8").slice(0, 200)}` : ""})` }));
    ws.on("error", (err) => this.finish({ code: "tunnel-error", message: `tunnel error: ${err.message}` }));
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Announce the SSH session (the gateway connects to the host now) and start receiving. */
  start(clientIdent?: string): void {
    this.control({ t: "ssh.start", ...(clientIdent ? { client: clientIdent.slice(0, 256) } : {}) });
    this.ws.resume();
  }

  /** Send a channel request; returns the channel id (never reused). */
  openChannel(request: DistributiveOmit<Extract<SshClientMessage, { t: "ssh.exec" | "ssh.shell" | "ssh.subsystem" }>, "ch">, sink: ChannelSink): number {
    const ch = this.nextChannel++;
    this.sinks.set(ch, sink);
    this.control({ ...request, ch } as ControlMessage);
    return ch;
  }

  /** A direct forward (-L / -W / streamlocal): the channel is confirmed by an "open" event or refused by forward-result / error. */
  openForward(request: DistributiveOmit<ForwardRequest, "t" | "ch">, sink: ChannelSink): number {
    const ch = this.nextChannel++;
    this.sinks.set(ch, sink);
    this.control({ t: "ssh.forward", ...request, ch });
    return ch;
  }

  /** Forget a channel's sink without telling the gateway (it refused the channel itself). */
  dropSink(ch: number): void {
    this.sinks.delete(ch);
  }

  control(message: SshClientMessage | ControlMessage): void {
    if (this.ended || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(encodeControl(message as ControlMessage));
  }

  /** Stdin of a channel. */
  input(ch: number, bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length; off += READ_CHUNK) this.sendPayload(encodeSshData(ch, STREAM_STDOUT, bytes.subarray(off, Math.min(bytes.length, off + READ_CHUNK))));
  }

  event(ch: number, event: ChannelEvent): void {
    if (event.t === "close") this.sinks.delete(ch);
    this.sendPayload(encodeChannelEvent(ch, event));
  }

  close(reason = "client closed"): void {
    if (this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(encodeControl({ t: "close", code: "client_closed", message: reason }));
      this.ws.close(1000, "client closed");
    }
    this.finish({ code: "client-closed", message: reason });
  }

  private sendPayload(payload: Uint8Array): void {
    if (this.ended || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(encodeData(payload));
    this.send.spend(payload.length);
    this.bytesUp += payload.length;
    if (!this.send.open && !this.paused) {
      this.paused = true;
      this.handlers.onPause?.();
    }
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.ended) return;
    let frame;
    try {
      if (!isBinary) throw new FrameError("text WebSocket messages are not part of the tunnel protocol");
      frame = decodeFrame(data instanceof Buffer ? data : Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data));
    } catch (err) {
      return this.protocolError((err as Error).message);
    }
    if (frame.type === FrameType.Credit) {
      this.send.grant(frame.bytes);
      if (this.paused && this.send.open) {
        this.paused = false;
        this.handlers.onResume?.();
      }
      return;
    }
    if (frame.type === FrameType.Control) {
      const m = frame.message;
      if (m.t === "session" && typeof m.id === "string") {
        this.sessionId = m.id;
        this.handlers.onSession?.(m.id);
      } else if (m.t === "ssh.ready") this.handlers.onReady?.();
      else if (m.t === "ssh.forward-result" && typeof m.id === "number") this.handlers.onForwardResult?.(m.id, m.ok === true, String(m.message ?? ""), typeof m.port === "number" ? m.port : undefined);
      else if (m.t === "ssh.incoming") {
        const open = parseIncomingOpen(m);
        if (!open || this.sinks.has(open.ch)) return this.protocolError("invalid ssh.incoming");
        const sink = this.handlers.onIncoming?.(open);
        if (sink) this.sinks.set(open.ch, sink);
        else this.sendPayload(encodeChannelEvent(open.ch, { t: "close" }));
      }
      else if (m.t === "close") {
        this.finish({ code: typeof m.code === "string" ? m.code : "closed", message: typeof m.message === "string" ? m.message : "session closed by the gateway" });
        if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, "closed");
      }
      return;
    }
    const n = frame.payload.length;
    try {
      this.receive.receive(n);
    } catch (err) {
      return this.protocolError((err as Error).message);
    }
    this.bytesDown += n;
    let ssh;
    try {
      ssh = decodeSshData(frame.payload);
    } catch (err) {
      return this.protocolError((err as Error).message);
    }
    const sink = this.sinks.get(ssh.ch);
    const done = () => {
      const grant = this.receive.consume(n);
      if (grant > 0 && this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeCredit(grant));
    };
    if (!sink) return done();
    if (ssh.stream === STREAM_EVENT) {
      let event;
      try {
        event = parseChannelEvent(ssh.bytes);
      } catch (err) {
        return this.protocolError((err as Error).message);
      }
      if (event.t === "close") this.sinks.delete(ssh.ch);
      sink.event(event);
      return done();
    }
    // The payload is a view into the WebSocket message buffer; sinks may hold it while writing.
    const bytes = Buffer.from(ssh.bytes);
    if (ssh.stream === STREAM_STDERR) sink.stderr(bytes, done);
    else sink.stdout(bytes, done);
  }

  private protocolError(message: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1002, "protocol error");
    this.finish({ code: "protocol-error", message: `tunnel protocol error: ${message}` });
  }

  private finish(end: TunnelEnd): void {
    if (this.ended) return;
    this.ended = true;
    this.sinks.clear();
    this.handlers.onEnd(end);
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
