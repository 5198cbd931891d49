/**
 * Forwarding on the client's local SSH server (ssh -L / -W / -R, streamlocal, -A, -X): each
 * request is asked of the gateway (protocols/ssh/codec/forward.ts), which decides it by policy; nothing
 * is opened locally or on the host before that answer. Forwarded bytes then travel as ordinary
 * tunnel channels.
 *
 *   ssh -L/-W ──direct-tcpip──▶ tunnel.openForward ──▶ "open" event → accept | refusal → reject
 *   ssh -R ──tcpip-forward──▶ ssh.forward {remote} ──▶ forward-result {port} → accept(port) | reject
 *   gateway ──ssh.incoming──▶ open forwarded-tcpip / x11 / auth-agent channel to the ssh client
 */
import type { Connection, ServerChannel } from "ssh2";
import type { ChannelSink, SshTunnel } from "./tunnel.ts";
import { canonicalHost, type ForwardKind, type IncomingOpen } from "../codec/forward.ts";

/** ssh2's channel defaults (lib/Channel.js): window and packet size offered for channels we open. */
const CHANNEL_WINDOW = 2 * 1024 * 1024;
const CHANNEL_PACKET = 32 * 1024;
const ANSWER_TIMEOUT_MS = 30_000;

type ChannelCallback = (err: Error | undefined, channel?: ServerChannel) => void;

/**
 * ssh2's server has no public call to open an `auth-agent@openssh.com` channel towards the client
 * (only forwarded-tcpip, x11 and streamlocal); this does what its openChannel() does for those,
 * with the protocol method ssh2 already has (pinned ssh2 1.17).
 */
function openAgentChannel(conn: Connection, cb: ChannelCallback): void {
  const internals = conn as unknown as {
    _chanMgr?: { add(fn: unknown): number };
    _protocol?: { openssh_authAgent?(chan: number, window: number, packet: number): void };
  };
  if (!internals._chanMgr || typeof internals._protocol?.openssh_authAgent !== "function") return cb(new Error("agent channels are not supported by this ssh2 version"));
  const wrapper = Object.assign((err: Error | undefined, stream?: ServerChannel) => cb(err, stream), { type: "auth-agent@openssh.com" });
  const id = internals._chanMgr.add(wrapper);
  if (id === -1) return cb(new Error("no free channels"));
  internals._protocol.openssh_authAgent(id, CHANNEL_WINDOW, CHANNEL_PACKET);
}

/**
 * One forwarded channel bridged to the tunnel. Output that arrives before the local channel is
 * open is held (its credit is returned only once written, so the gateway's window bounds it).
 */
class ForwardChannel {
  ch?: number;
  private stream?: ServerChannel;
  private readonly held: Array<{ bytes: Uint8Array; done: () => void }> = [];
  private eof = false;
  private closed = false;
  private paused = false;

  constructor(
    private readonly tunnel: SshTunnel,
    private readonly onOpen?: () => ServerChannel | undefined,
    private readonly onRefused?: () => void,
  ) {}

  sink(): ChannelSink {
    return {
      stdout: (bytes, done) => {
        if (this.closed) return done();
        if (!this.stream) return void this.held.push({ bytes, done });
        this.stream.write(bytes, () => done());
      },
      stderr: (_bytes, done) => done(),
      event: (event) => {
        if (event.t === "open") {
          const stream = this.onOpen?.();
          if (stream) this.attach(stream);
        } else if (event.t === "error") {
          this.refuse();
        } else if (event.t === "eof") {
          if (this.stream) this.stream.end();
          else this.eof = true;
        } else if (event.t === "close") {
          if (!this.stream) return this.refuse();
          this.closed = true;
          this.stream.close();
        }
      },
    };
  }

  /** The gateway or the host refused the channel before it opened. */
  refuse(): void {
    if (this.stream || this.closed) return;
    this.closed = true;
    for (const h of this.held.splice(0)) h.done();
    this.onRefused?.();
  }

  attach(stream: ServerChannel): void {
    if (this.closed) {
      stream.close();
      return;
    }
    const ch = this.ch!;
    this.stream = stream;
    stream.on("data", (chunk: Buffer) => this.tunnel.input(ch, chunk));
    stream.on("end", () => !this.closed && this.tunnel.event(ch, { t: "eof" }));
    stream.on("close", () => {
      if (this.closed) return;
      this.closed = true;
      this.tunnel.event(ch, { t: "close" });
    });
    stream.on("error", () => undefined);
    for (const h of this.held.splice(0)) stream.write(h.bytes, () => h.done());
    if (this.eof) stream.end();
    if (this.paused) stream.pause();
  }

  pause(): void {
    this.paused = true;
    this.stream?.pause();
  }

  resume(): void {
    this.paused = false;
    this.stream?.resume();
  }
}

/** A remote listener as the local ssh client asked for it (its own spelling of the address). */
interface RemoteListener {
  bindAddr: string;
  port: number;
}

/** Forwarding for one local SSH connection. */
export class LocalForwarding {
  private readonly channels = new Set<ForwardChannel>();
  private readonly answers = new Map<number, (ok: boolean, message: string, port?: number) => void>();
  private readonly remote = new Map<string, RemoteListener>();
  private nextId = 1;

  constructor(
    private readonly conn: Connection,
    private readonly tunnel: () => Promise<SshTunnel | null>,
    /** Refusals are shown on the `gatehouse connect` terminal (an SSH channel open has nowhere else to say why). */
    private readonly report: (message: string) => void,
  ) {}

  /** ssh -L / -W (kind local) and direct-streamlocal (kind streamlocal). */
  async direct(kind: "local" | "streamlocal", where: { host?: string; port?: number; path?: string; originHost?: string; originPort?: number }, accept: () => ServerChannel, reject: () => void): Promise<void> {
    const tunnel = await this.tunnel();
    if (!tunnel || tunnel.isEnded) return reject();
    const id = this.nextId++;
    const fc = new ForwardChannel(tunnel, accept, reject);
    this.channels.add(fc);
    this.answers.set(id, (_ok, message) => {
      this.report(message);
      if (fc.ch !== undefined) tunnel.dropSink(fc.ch);
      fc.refuse();
      this.channels.delete(fc);
    });
    const sink = fc.sink();
    fc.ch = tunnel.openForward({ id, kind, ...where }, {
      ...sink,
      event: (event) => {
        if (event.t === "open" || event.t === "error" || event.t === "close") this.answers.delete(id);
        if (event.t === "close") this.channels.delete(fc);
        sink.event(event);
      },
    });
  }

  /** tcpip-forward / streamlocal-forward@openssh.com and their cancellations. */
  async listen(name: string, info: { bindAddr?: string; bindPort?: number; socketPath?: string }, accept?: (port?: number) => void, reject?: () => void): Promise<void> {
    const cancel = name.startsWith("cancel-");
    const kind: ForwardKind = name.includes("streamlocal") ? "remote-streamlocal" : "remote";
    const where = kind === "remote" ? { host: info.bindAddr ?? "", port: info.bindPort ?? 0 } : { path: info.socketPath ?? "" };
    const tunnel = await this.tunnel();
    if (!tunnel || tunnel.isEnded) return reject?.();
    const { ok, message, port } = await this.ask(tunnel, { kind, ...where, ...(cancel ? { cancel: true } : {}) });
    if (!ok) {
      this.report(message);
      return reject?.();
    }
    if (kind === "remote" && !cancel) {
      const bound = port ?? where.port!;
      this.remote.set(`${canonicalHost(where.host!, true)}:${bound}`, { bindAddr: where.host!, port: bound });
    }
    accept?.(port);
  }

  /** The host opened a channel towards the client: open the matching one to the local ssh client. */
  incoming(open: IncomingOpen, tunnel: SshTunnel): ChannelSink {
    const fc = new ForwardChannel(tunnel);
    fc.ch = open.ch;
    this.channels.add(fc);
    const done: ChannelCallback = (err, stream) => {
      if (err || !stream) {
        this.channels.delete(fc);
        fc.refuse();
        tunnel.event(open.ch, { t: "close" });
        return;
      }
      stream.on("close", () => this.channels.delete(fc));
      fc.attach(stream);
    };
    const origin = { host: open.originHost ?? "127.0.0.1", port: open.originPort ?? 0 };
    switch (open.kind) {
      case "remote": {
        const listener = this.remote.get(`${open.host}:${open.port}`);
        this.conn.forwardOut(listener?.bindAddr ?? open.host!, listener?.port ?? open.port!, origin.host, origin.port, done);
        break;
      }
      case "remote-streamlocal":
        this.conn.openssh_forwardOutStreamLocal(open.path!, done);
        break;
      case "x11":
        this.conn.x11(origin.host, origin.port, done);
        break;
      case "agent":
        openAgentChannel(this.conn, done);
        break;
    }
    return fc.sink();
  }

  /** A forward-result from the gateway. */
  answer(id: number, ok: boolean, message: string, port?: number): void {
    const answer = this.answers.get(id);
    this.answers.delete(id);
    answer?.(ok, message, port);
  }

  /** The tunnel ended: every pending question is answered "no". */
  fail(message: string): void {
    for (const answer of [...this.answers.values()]) answer(false, message);
    this.answers.clear();
  }

  pause(): void {
    this.channels.forEach((c) => c.pause());
  }

  resume(): void {
    this.channels.forEach((c) => c.resume());
  }

  private ask(tunnel: SshTunnel, request: { kind: ForwardKind; host?: string; port?: number; path?: string; cancel?: true }): Promise<{ ok: boolean; message: string; port?: number }> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.answers.delete(id);
        resolve({ ok: false, message: "gatehouse: no answer from the gateway to a forwarding request" });
      }, ANSWER_TIMEOUT_MS);
      this.answers.set(id, (ok, message, port) => {
        clearTimeout(timer);
        resolve({ ok, message, ...(port !== undefined ? { port } : {}) });
      });
      tunnel.control({ t: "ssh.forward", id, ...request });
    });
  }
}
