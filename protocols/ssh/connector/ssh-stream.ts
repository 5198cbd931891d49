/**
 * One SSH session's connector stream (`/v1/connector/streams/<session>`, docs/PROTOCOL.md §SSH):
 *
 *   worker ──open──▶ connector ──ssh2: pinned host key + credential──▶ host
 *   worker ◀─ready── connector
 *   worker ──ssh.exec / ssh.shell / ssh.subsystem / ssh.window / ssh.signal──▶ channel requests
 *   worker ◀═DATA (channel header)═▶ connector ◀═channel bytes═▶ host
 *   worker ──ssh.direct / ssh.listen──▶ forwardOut / forwardIn on the host (allowed forwarding)
 *   worker ◀─ssh.incoming── connector ◀── host opens a channel (remote listener, agent, X11)
 *
 * The connector only executes what the worker sends (the worker has already applied policy).
 * Flow control: DATA to the worker spends the send window; at zero every channel is paused (ssh2
 * stops adjusting the host's window). DATA from the worker is credited back once written into
 * the channel.
 */
import { Duplex } from "node:stream";
import ssh2 from "ssh2";
import type { ClientChannel, ExecOptions, PseudoTtyOptions, ShellOptions } from "ssh2";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
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
} from "../codec/frames.ts";
import { StreamProtocolError, TargetError } from "../../../connector/errors.ts";
import { TunnelStreamBase } from "../../../connector/stream-base.ts";
import { dialSsh, SSH_ERROR, type SshTarget } from "./target.ts";
import { INCOMING_CHANNEL_BASE, parseDirectOpen, parseListenRequest, type IncomingOpen, type ListenRequest, type X11Request } from "../codec/forward.ts";
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

/** What a channel on the host looks like to this stream: an ssh2 ClientChannel, or the agent bridge. */
interface HostChannel {
  write(bytes: Uint8Array, cb: () => void): unknown;
  end(): unknown;
  close(): unknown;
  pause(): unknown;
  resume(): unknown;
  stderr?: { pause(): unknown; resume(): unknown; on(event: "data", fn: (chunk: Buffer) => void): unknown };
  on(event: string, fn: (...args: never[]) => void): unknown;
  /** Session channels only. */
  setWindow?(rows: number, cols: number, height: number, width: number): unknown;
  signal?(name: string): unknown;
}

interface ChannelState {
  stream?: HostChannel;
  /** Input (and eof/close) that arrived before the channel opened. */
  pending: InputItem[];
  pendingBytes: number;
  closed: boolean;
}

export class SshTunnelStream extends TunnelStreamBase {
  protected readonly protocolErrorCode = SSH_ERROR.protocol;
  private target?: SshTarget;
  private readonly channels = new Map<number, ChannelState>();
  /** Ids of channels the host opens (remote forwards, agent, X11): from INCOMING_CHANNEL_BASE, never reused. */
  private nextIncoming = INCOMING_CHANNEL_BASE;
  // ── worker → connector ────────────────────────────────────────────────────

  protected override onOtherControl(message: ControlMessage): void {
    if (!message.t.startsWith("ssh.")) return; // forward compatibility: unknown messages carry no data
    if (this.state !== "ready" || !this.target) throw new StreamProtocolError(`${message.t} before the SSH session is ready`, 1008);
    if (message.t === "ssh.direct") {
      const d = parseDirectOpen(message);
      if (!d) throw new StreamProtocolError("malformed ssh.direct", 1008);
      const client = this.target.client;
      return this.openChannel(
        d.ch,
        (cb) => (d.kind === "local" ? client.forwardOut(d.originHost, d.originPort, d.host!, d.port!, cb) : client.openssh_forwardOutStreamLocal(d.path!, cb)),
        true,
      );
    }
    if (message.t === "ssh.listen") {
      const l = parseListenRequest(message);
      if (!l) throw new StreamProtocolError("malformed ssh.listen", 1008);
      return this.listen(l);
    }
    const m = parseSshClientMessage(message);
    if (!m) throw new StreamProtocolError(`malformed ${message.t.slice(0, 40)}`, 1008);
    switch (m.t) {
      case "ssh.exec":
      case "ssh.shell": {
        const client = this.target.client;
        const run = (fwd: { agent?: true; x11?: X11Request }, cb: (err: Error | undefined, stream: ClientChannel) => void) => {
          const opts: ExecOptions & ShellOptions = { ...(m.env ? { env: m.env } : {}), ...(fwd.agent ? { agentForward: true } : {}), ...(fwd.x11 ? { x11: fwd.x11 } : {}) };
          // ssh2 sends auth-agent-req only for the first channel of a connection (a connection-wide
          // flag), but sshd sets SSH_AUTH_SOCK per session channel: ask again for every channel.
          if (fwd.agent) (client as unknown as { _agentFwdEnabled?: boolean })._agentFwdEnabled = false;
          if (m.t === "ssh.exec") client.exec(m.command, { ...opts, ...(m.pty ? { pty: ptyOptions(m.pty) } : {}) }, cb);
          else client.shell(m.pty ? ptyOptions(m.pty) : false, opts, cb);
        };
        const fwd = { ...(m.agent ? { agent: m.agent } : {}), ...(m.x11 ? { x11: m.x11 } : {}) };
        return this.openChannel(m.ch, (cb) =>
          run(fwd, (err, stream) => {
            if (!err || (!fwd.agent && !fwd.x11) || !/X11|agent/i.test(err.message) || this.closed) return cb(err, stream);
            // ssh2 fails the whole channel when the host refuses agent/X11 forwarding; OpenSSH's
            // server semantics are "warn and go on". The command has not run yet: run it without.
            const what = [fwd.agent ? "agent" : "", fwd.x11 ? "X11" : ""].filter(Boolean).join(" and ");
            this.sendData(encodeSshData(m.ch, STREAM_STDERR, Buffer.from(`gatehouse: the host refused ${what} forwarding (${err.message}); running without it\n`)));
            run({}, cb);
          }),
        );
      }
      case "ssh.subsystem":
        return this.openChannel(m.ch, (cb) => this.target!.client.subsys(m.name, cb));
      case "ssh.window":
        this.channels.get(m.ch)?.stream?.setWindow?.(m.rows, m.cols, m.height, m.width);
        return;
      case "ssh.signal":
        this.channels.get(m.ch)?.stream?.signal?.(m.name);
        return;
      default:
        // ssh.start / ssh.forward are answered by the worker; they never reach a connector.
        throw new StreamProtocolError(`${m.t} is not for the connector`, 1008);
    }
  }

  /** `announce`: a forwarded channel, confirmed to the client with an in-band "open" event. */
  private openChannel(ch: number, open: (cb: (err: Error | undefined, stream: ClientChannel) => void) => void, announce = false): void {
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
        this.sendData(encodeChannelEvent(ch, { t: "error", message: err?.message ?? "the host refused to open the channel" }));
        this.sendData(encodeChannelEvent(ch, { t: "close" }));
        this.channels.delete(ch);
        return;
      }
      if (announce) this.sendData(encodeChannelEvent(ch, { t: "open" }));
      this.attach(ch, state, stream);
      for (const item of state.pending.splice(0)) this.applyInput(ch, state, item);
      state.pendingBytes = 0;
    });
  }

  /** Relay a host channel's output and events to the worker. */
  private attach(ch: number, state: ChannelState, stream: HostChannel): void {
    state.stream = stream;
    stream.on("data", (chunk: Buffer) => this.onChannelOutput(ch, STREAM_STDOUT, chunk));
    stream.stderr?.on("data", (chunk: Buffer) => this.onChannelOutput(ch, STREAM_STDERR, chunk));
    stream.on("exit", (code: number | null, signal?: string, coreDumped?: boolean, description?: string) => {
      if (typeof code === "number") this.sendData(encodeChannelEvent(ch, { t: "exit", code }));
      else if (signal) this.sendData(encodeChannelEvent(ch, { t: "exit", signal: String(signal).replace(/^SIG/, ""), ...(coreDumped ? { coreDumped: true } : {}), ...(description ? { message: description } : {}) }));
    });
    stream.on("end", () => this.sendData(encodeChannelEvent(ch, { t: "eof" })));
    stream.on("close", () => {
      if (!this.channels.has(ch)) return;
      this.channels.delete(ch);
      this.sendData(encodeChannelEvent(ch, { t: "close" }));
    });
    if (this.paused) {
      stream.pause();
      stream.stderr?.pause();
    }
  }

  // ── forwarding ────────────────────────────────────────────────────────────

  /** -R: a listener on the host (or its cancellation); the answer goes back as ssh.listen-result. */
  private listen(l: ListenRequest): void {
    const client = this.target!.client;
    // "*" is policy's spelling of "every address"; SSH's is the empty string.
    const bind = l.host === "*" ? "" : l.host!;
    const reply = (err: Error | undefined, port?: number) => {
      if (this.closed) return;
      this.sendControl({ t: "ssh.listen-result", id: l.id, ok: !err, ...(port !== undefined ? { port } : {}), ...(err ? { message: err.message.slice(0, 300) } : {}) });
    };
    try {
      if (l.kind === "remote") {
        if (l.cancel) client.unforwardIn(bind, l.port!, (err) => reply(err ?? undefined));
        else client.forwardIn(bind, l.port!, (err, port) => reply(err ?? undefined, port));
      } else if (l.cancel) client.openssh_unforwardInStreamLocal(l.path!, (err) => reply(err ?? undefined));
      else client.openssh_forwardInStreamLocal(l.path!, (err) => reply(err ?? undefined));
    } catch (err) {
      reply(err as Error);
    }
  }

  /** The host opened a channel towards the client: announce it (the worker decides), then relay. */
  private incoming(open: Omit<IncomingOpen, "t" | "ch">, accept: () => HostChannel | undefined, reject: () => void): void {
    if (this.closed || this.state !== "ready" || this.channels.size >= MAX_SSH_CHANNELS) return reject();
    const ch = this.nextIncoming++;
    if (ch > 0xffffffff) return reject();
    this.sendControl({ t: "ssh.incoming", ch, ...open });
    const stream = accept();
    if (!stream) return;
    const state: ChannelState = { pending: [], pendingBytes: 0, closed: false };
    this.channels.set(ch, state);
    this.attach(ch, state, stream);
  }

  /** Host events for channels it opens; installed once the SSH session is up. */
  private listenForIncoming(target: SshTarget): void {
    const client = target.client;
    // ssh2's accept() returns a Channel whose stderr is typed as either direction; forwarded channels have no stderr data.
    type Accept = () => HostChannel;
    client.on("tcp connection", (info, accept, reject) =>
      this.incoming({ kind: "remote", host: info.destIP === "" ? "*" : info.destIP, port: info.destPort, originHost: info.srcIP, originPort: info.srcPort }, accept as Accept, reject),
    );
    client.on("unix connection", (info, accept, reject) => this.incoming({ kind: "remote-streamlocal", path: info.socketPath }, accept as Accept, reject));
    client.on("x11", (info, accept, reject) => this.incoming({ kind: "x11", originHost: info.srcIP, originPort: info.srcPort }, accept as Accept, reject));
  }

  /** ssh2 asks for a stream to the agent when the host opens an agent channel (`ssh -A`). */
  private agentStream(cb: (err: Error | undefined, stream?: Duplex) => void): void {
    let bridge: AgentBridge | undefined;
    this.incoming(
      { kind: "agent" },
      () => {
        bridge = new AgentBridge();
        return bridge.hostSide;
      },
      () => cb(new Error("agent channel refused")),
    );
    if (bridge) cb(undefined, bridge.duplex);
  }

  protected override onData(payload: Uint8Array): void {
    if (this.state !== "ready") throw new StreamProtocolError("DATA before the stream is ready", 1008);
    this.receiveData(payload.length);
    const frame = decodeSshData(payload);
    const state = this.channels.get(frame.ch);
    if (!state) {
      // A channel that already closed on the host side: drop, but keep the window honest.
      this.returnCredit(payload.length);
      return;
    }
    let item: InputItem;
    if (frame.stream === STREAM_EVENT) {
      const event = parseChannelEvent(frame.bytes);
      if (event.t === "eof") item = { eof: true };
      else if (event.t === "close") item = { close: true };
      else throw new StreamProtocolError(`unexpected channel event ${event.t} from the worker`, 1008);
      this.returnCredit(payload.length);
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
      if (state.closed) return this.returnCredit(n);
      stream.write(item.bytes, () => this.returnCredit(n));
    } else if (item.eof) {
      if (!state.closed) stream.end();
    } else if (item.close) {
      state.closed = true;
      this.channels.delete(ch);
      stream.close();
    }
  }

  protected override pauseTarget(): void {
    for (const s of this.channels.values()) {
      s.stream?.pause();
      s.stream?.stderr?.pause();
    }
  }

  protected override resumeTarget(): boolean {
    for (const s of this.channels.values()) {
      s.stream?.resume();
      s.stream?.stderr?.resume();
    }
    return true;
  }

  // ── host → worker ─────────────────────────────────────────────────────────

  private onChannelOutput(ch: number, stream: number, chunk: Buffer): void {
    if (this.closed) return;
    for (let off = 0; off < chunk.length; off += READ_CHUNK) {
      const piece = chunk.subarray(off, Math.min(chunk.length, off + READ_CHUNK));
      this.sendData(encodeSshData(ch, stream, piece));
    }
    this.pauseIfOutOfCredit();
  }

  protected override async connectTarget(open: ControlMessage): Promise<void> {
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
      const agent = new TunnelAgent((cb) => this.agentStream(cb));
      target = await dialSsh(resource, { readyTimeoutMs: this.ctx.connectTimeoutMs + this.ctx.startupTimeoutMs, signal: this.abort.signal, forwardedAgent: agent });
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
    this.listenForIncoming(target);
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

  protected override closeTarget(): void {
    for (const st of this.channels.values()) st.stream?.close();
    this.channels.clear();
    this.target?.client.end();
  }
}

function ptyOptions(p: PtyRequest): PseudoTtyOptions {
  return { term: p.term, cols: p.cols, rows: p.rows, width: p.width, height: p.height };
}

/**
 * The agent ssh2 uses for `ssh -A`: never for authentication (dialSsh pins the auth method), only
 * to hand ssh2 a stream when the host opens an agent channel; that stream is relayed to the
 * client's own agent through the tunnel.
 */
class TunnelAgent extends ssh2.BaseAgent {
  constructor(private readonly open: (cb: (err: Error | undefined, stream?: Duplex) => void) => void) {
    super();
  }
  getIdentities(cb: (err: Error | undefined) => void): void {
    cb(new Error("the forwarded agent is not used for authentication"));
  }
  sign(_key: unknown, _data: Buffer, options: unknown, cb?: (err: Error | undefined) => void): void {
    (typeof options === "function" ? options : cb)?.(new Error("the forwarded agent is not used for authentication"));
  }
  override getStream(cb: (err: Error | undefined, stream?: Duplex) => void): void {
    this.open(cb);
  }
}

/**
 * ssh2 pipes the host's agent channel into a Duplex it gets from getStream(); this bridge gives
 * it one and exposes the other side as a HostChannel, so the agent relays like any channel:
 * what the host writes leaves as DATA, what the client's agent answers is pushed back.
 */
class AgentBridge {
  private readonly events = new Map<string, Array<(...args: never[]) => void>>();
  readonly duplex: Duplex;
  readonly hostSide: HostChannel;

  constructor() {
    const emit = (event: string, ...args: unknown[]) => this.events.get(event)?.forEach((fn) => (fn as (...a: unknown[]) => void)(...args));
    this.duplex = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, done) {
        emit("data", Buffer.from(chunk));
        done();
      },
      final(done) {
        emit("end");
        done();
      },
    });
    this.duplex.on("close", () => emit("close"));
    this.duplex.on("error", () => this.duplex.destroy());
    const duplex = this.duplex;
    this.hostSide = {
      write: (bytes, cb) => {
        duplex.push(Buffer.from(bytes));
        cb();
      },
      end: () => duplex.push(null),
      // Ending the stream ssh2 reads makes it send EOF on the host's agent channel, which closes it.
      close: () => duplex.push(null),
      // Agent traffic is a few small messages per signature: no flow control needed beyond the tunnel's.
      pause: () => undefined,
      resume: () => undefined,
      on: (event, fn) => {
        const list = this.events.get(event) ?? [];
        list.push(fn);
        this.events.set(event, list);
      },
    };
  }
}
