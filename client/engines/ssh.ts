/**
 * SSH engine of the client: a local SSH server (ssh2) on the loopback listener, so the real
 * OpenSSH `ssh`, `scp` (SFTP mode) and `rsync` work against it. It never relays SSH bytes: each
 * channel request (exec with its command line, shell with its pty, the sftp subsystem, window
 * changes, signals, forwarding requests) becomes a structured tunnel frame the gateway checks
 * (client/engines/ssh/tunnel.ts). The real SSH session — and its private key — live in the
 * connector.
 *
 * The local server's host key is generated per run; its fingerprint and a known_hosts line are
 * printed by `usage()`. Local authentication accepts any method: the listener is loopback-only
 * and the gateway authenticates the pipeline by its OIDC identity, as for PostgreSQL.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import ssh2 from "ssh2";
import type { Connection, ServerChannel, Session, PseudoTtyInfo } from "ssh2";
import { describeError } from "../errors.ts";
import type { ConnectionSummary, Engine, EngineContext, ListenerInfo } from "./engine.ts";
import { tunnelOpenError } from "./postgres.ts";
import { SshTunnel, type ChannelSink, type TunnelEnd } from "./ssh/tunnel.ts";
import { EXIT_GATEWAY_ERROR, type PtyRequest } from "../../parsers/ssh/frames.ts";

export interface LocalHostKey {
  privatePem: string;
  /** "ssh-ed25519 AAAA…" */
  publicLine: string;
  fingerprint: string;
}

let hostKey: LocalHostKey | undefined;

/** The local server's host key, generated once per process run. */
export function localHostKey(): LocalHostKey {
  if (hostKey) return hostKey;
  const pair = ssh2.utils.generateKeyPairSync("ed25519");
  const publicLine = pair.public.trim().split(/\s+/).slice(0, 2).join(" ");
  const blob = Buffer.from(publicLine.split(" ")[1]!, "base64");
  const fingerprint = `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
  hostKey = { privatePem: pair.private, publicLine, fingerprint };
  return hostKey;
}

export function knownHostsLine(host: string, port: number): string {
  const h = host.replace(/^\[|\]$/g, "");
  return `${port === 22 ? h : `[${h}]:${port}`} ${localHostKey().publicLine}`;
}

async function serve(socket: Socket, ctx: EngineContext): Promise<ConnectionSummary> {
  const key = localHostKey();
  const server = new ssh2.Server({ hostKeys: [key.privatePem], ident: "gatehouse" });
  return await new Promise<ConnectionSummary>((resolve) => {
    let settled = false;
    const summary: ConnectionSummary = { outcome: "closed", bytesUp: 0, bytesDown: 0 };
    const done = (outcome: string, detail?: string) => {
      if (settled) return;
      settled = true;
      if (detail) summary.detail = detail;
      summary.outcome = outcome;
      resolve(summary);
    };
    server.on("connection", (conn: Connection, info) => {
      new LocalSshConnection(conn, ctx, info.header?.identRaw ?? "", summary, done).run();
    });
    socket.on("close", () => done(summary.outcome === "closed" ? "client disconnected" : summary.outcome));
    socket.resume();
    server.injectSocket(socket);
  });
}

/** One local SSH connection ↔ one tunnel (one gateway session). */
class LocalSshConnection {
  private tunnel?: SshTunnel;
  private tunnelPromise?: Promise<SshTunnel | null>;
  private failure?: TunnelEnd;
  private readonly channels = new Set<LocalChannel>();
  private readonly forwards = new Map<number, (ok: boolean, message: string) => void>();
  private nextForward = 1;

  constructor(
    private readonly conn: Connection,
    private readonly ctx: EngineContext,
    private readonly clientIdent: string,
    private readonly summary: ConnectionSummary,
    private readonly done: (outcome: string, detail?: string) => void,
  ) {}

  run(): void {
    const { conn } = this;
    conn.on("authentication", (auth) => auth.accept());
    conn.on("ready", () => {
      this.tunnelPromise = this.openTunnel();
    });
    conn.on("session", (accept) => this.onSession(accept()));
    // -L / -W (direct-tcpip) and streamlocal: asked to the gateway (recorded there), refused.
    conn.on("tcpip", (_accept, reject, info) => void this.askForward("local", `${info.destIP}:${info.destPort}`).then(() => reject()));
    conn.on("openssh.streamlocal", (_accept, reject, info) => void this.askForward("streamlocal", info.socketPath).then(() => reject()));
    conn.on("request", (_accept, reject, name, info) => {
      const target = name.includes("streamlocal") ? String((info as { socketPath?: string }).socketPath ?? "") : `${(info as { bindAddr?: string }).bindAddr}:${(info as { bindPort?: number }).bindPort}`;
      void this.askForward(name.includes("streamlocal") ? "streamlocal" : "remote", target).then(() => reject?.());
    });
    // A broken local connection ends in "close" below; keep the reason for the log line.
    conn.on("error", (err) => (this.summary.detail ??= describeError(err)));
    conn.on("close", () => this.end("client disconnected"));
  }

  private async openTunnel(): Promise<SshTunnel | null> {
    let ws;
    try {
      ws = await this.ctx.openTunnel();
    } catch (err) {
      const { message } = tunnelOpenError(err);
      this.fail({ code: "refused", message });
      return null;
    }
    const tunnel = new SshTunnel(ws, {
      onSession: (id) => (this.summary.sessionId = id),
      onForwardResult: (id, ok, message) => {
        this.forwards.get(id)?.(ok, message);
        this.forwards.delete(id);
      },
      onEnd: (end) => this.fail(end),
      onPause: () => this.channels.forEach((c) => c.pause()),
      onResume: () => this.channels.forEach((c) => c.resume()),
    });
    this.tunnel = tunnel;
    tunnel.start(this.clientIdent);
    return tunnel;
  }

  private async askForward(kind: "local" | "remote" | "agent" | "x11" | "streamlocal", target?: string): Promise<void> {
    const tunnel = await this.tunnelPromise;
    if (!tunnel || tunnel.isEnded) return;
    const id = this.nextForward++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => resolve(), 10_000);
      this.forwards.set(id, (_ok, message) => {
        clearTimeout(timer);
        process.stderr.write(`${message}\n`);
        resolve();
      });
      tunnel.control({ t: "ssh.forward", id, kind, ...(target !== undefined ? { target } : {}) });
    });
  }

  private onSession(session: Session): void {
    const env: Record<string, string> = {};
    let pty: PtyRequest | undefined;
    let channel: LocalChannel | undefined;
    session.on("env", (accept, _reject, info) => {
      if (Object.keys(env).length < 64) env[info.key] = info.val;
      accept?.();
    });
    session.on("pty", (accept, _reject, info: PseudoTtyInfo) => {
      pty = { term: String(info.term ?? "xterm").slice(0, 64), cols: info.cols, rows: info.rows, width: info.width, height: info.height };
      accept?.();
    });
    session.on("window-change", (accept, _reject, info) => {
      accept?.();
      if (channel?.ch !== undefined) this.tunnel?.control({ t: "ssh.window", ch: channel.ch, cols: info.cols, rows: info.rows, width: info.width, height: info.height });
    });
    session.on("signal", (accept, _reject, info) => {
      accept?.();
      if (channel?.ch !== undefined) this.tunnel?.control({ t: "ssh.signal", ch: channel.ch, name: String(info.name).replace(/^SIG/, "") });
    });
    session.on("auth-agent", (_accept, reject) => void this.askForward("agent").then(() => reject?.()));
    session.on("x11", (_accept, reject) => void this.askForward("x11").then(() => reject?.()));
    const start = (stream: ServerChannel, request: Parameters<SshTunnel["openChannel"]>[0]) => {
      channel = new LocalChannel(stream, pty !== undefined);
      this.channels.add(channel);
      stream.on("close", () => this.channels.delete(channel!));
      void this.startChannel(channel, request);
    };
    const envPart = () => (Object.keys(env).length > 0 ? { env } : {});
    session.on("exec", (accept, _reject, info) => start(accept(), { t: "ssh.exec", command: info.command, ...(pty ? { pty } : {}), ...envPart() }));
    session.on("shell", (accept) => start(accept(), { t: "ssh.shell", ...(pty ? { pty } : {}), ...envPart() }));
    session.on("subsystem", (accept, _reject, info) => start(accept(), { t: "ssh.subsystem", name: info.name, ...envPart() }));
  }

  private async startChannel(channel: LocalChannel, request: Parameters<SshTunnel["openChannel"]>[0]): Promise<void> {
    const tunnel = await this.tunnelPromise;
    if (!tunnel || tunnel.isEnded) return channel.fail(this.failure?.message ?? "gatehouse: the tunnel to the gateway is not available");
    channel.attach(tunnel, tunnel.openChannel(request, channel.sink()));
  }

  /** The gateway session ended: every channel still open gets the reason on stderr and status 255. */
  private fail(end: TunnelEnd): void {
    if (this.failure) return;
    this.failure = end;
    const message = end.message.startsWith("gatehouse:") ? end.message : `gatehouse: ${end.message}`;
    for (const c of this.channels) c.fail(message);
    for (const resolve of this.forwards.values()) resolve(false, message);
    this.forwards.clear();
    if (end.code !== "ok" && end.code !== "client-closed") this.summary.detail = message;
    // Give the SSH client time to read the message, then hang up.
    setTimeout(() => this.conn.end(), 200).unref();
  }

  private end(outcome: string, detail?: string): void {
    if (this.tunnel) {
      this.summary.bytesUp = this.tunnel.bytesUp;
      this.summary.bytesDown = this.tunnel.bytesDown;
      if (!this.tunnel.isEnded) this.tunnel.close("local SSH client disconnected");
    }
    this.done(this.failure && this.failure.code !== "client-closed" ? `closed by gateway (${this.failure.code})` : outcome, detail ?? this.summary.detail);
  }
}

/** One local session channel bridged to one tunnel channel. */
class LocalChannel {
  ch?: number;
  private tunnel?: SshTunnel;
  private closed = false;
  private eofPending = false;

  constructor(
    private readonly stream: ServerChannel,
    private readonly pty: boolean,
  ) {
    stream.pause();
  }

  attach(tunnel: SshTunnel, ch: number): void {
    this.tunnel = tunnel;
    this.ch = ch;
    this.stream.on("data", (chunk: Buffer) => tunnel.input(ch, chunk));
    this.stream.on("end", () => !this.closed && tunnel.event(ch, { t: "eof" }));
    this.stream.on("close", () => {
      if (this.closed) return;
      this.closed = true;
      tunnel.event(ch, { t: "close" });
    });
    this.stream.resume();
  }

  sink(): ChannelSink {
    return {
      stdout: (bytes, done) => (this.closed ? done() : this.stream.write(bytes, () => done())),
      stderr: (bytes, done) => (this.closed ? done() : this.stream.stderr.write(bytes, () => done())),
      event: (event) => {
        if (this.closed) return;
        if (event.t === "exit") {
          if (event.signal) this.stream.exit(event.signal, event.coreDumped ?? false, event.message ?? "");
          else this.stream.exit(event.code ?? 0);
          if (this.eofPending) this.stream.end();
        } else if (event.t === "eof") {
          // sshd sends EOF before exit-status, but ssh2 drops an exit status sent after our EOF
          // (the channel is no longer writable): hold EOF until the exit status or the close.
          this.eofPending = true;
        } else if (event.t === "close") {
          this.closeWhenFlushed();
        }
      },
    };
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    if (this.tunnel) this.stream.resume();
  }

  fail(message: string): void {
    if (this.closed) return;
    this.stream.stderr.write(`${message}${this.pty ? "\r\n" : "\n"}`);
    this.stream.exit(EXIT_GATEWAY_ERROR);
    this.closeWhenFlushed();
  }

  private closeWhenFlushed(): void {
    this.closed = true;
    const stream = this.stream;
    if (stream.writableFinished) stream.close();
    else {
      stream.once("finish", () => stream.close());
      stream.end();
    }
  }
}

export const sshEngine: Engine = {
  type: "ssh",
  usage(info: ListenerInfo): string[] {
    const key = localHostKey();
    const line = knownHostsLine(info.host, info.port);
    const file = path.join(tmpdir(), `gatehouse-known-hosts-${process.pid}-${info.port}`);
    let fileNote: string[] = [];
    try {
      writeFileSync(file, `${line}\n`, { mode: 0o600 });
      fileNote = [`ssh:         ssh -p ${info.port} -o UserKnownHostsFile=${file} gatehouse@${info.host.replace(/^\[|\]$/g, "")}`];
    } catch {
      fileNote = [];
    }
    return [`host key:    ${key.fingerprint} (generated for this run)`, `known_hosts: ${line}`, ...fileNote];
  },
  serve,
};
