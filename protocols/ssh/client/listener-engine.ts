/**
 * SSH engine of the client: a local SSH server (ssh2) on the loopback listener, so the real
 * OpenSSH `ssh`, `scp` (SFTP mode) and `rsync` work against it. It never relays SSH bytes: each
 * channel request (exec with its command line, shell with its pty, the sftp subsystem, window
 * changes, signals) becomes a structured tunnel frame the gateway checks
 * (protocols/ssh/client/tunnel.ts); forwarding requests are asked of the gateway the same way
 * (protocols/ssh/client/forwarding.ts). The real SSH session — and its private key — live in the
 * connector.
 *
 * The local server's host key is generated per run; its fingerprint and a known_hosts line are
 * printed by `usage()`. Local authentication accepts only publickey with the listener's own key
 * pair (ssh/local-auth.ts): any local user can reach the loopback port, only the listener's OS
 * user can read the key. The gateway then authenticates the pipeline by its OIDC identity.
 */
import path from "node:path";
import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import ssh2 from "ssh2";
import type { Connection, ServerChannel, Session, PseudoTtyInfo } from "ssh2";
import { describeError } from "../../../client/errors.ts";
import type { ConnectionSummary, Engine, EngineContext, ListenerInfo } from "../../../client/engines/engine.ts";
import { tunnelOpenError } from "../../../client/engines/tunnel-open-error.ts";
import { authenticateSshClient } from "./local-auth.ts";
import { generateEd25519KeyPair, type LocalAuth } from "../../../client/listener-auth/local-auth.ts";
import { writePrivateFile } from "../../../client/listener-auth/state-dir.ts";
import { SshTunnel, type ChannelSink, type TunnelEnd } from "./tunnel.ts";
import { LocalForwarding } from "./forwarding.ts";
import { EXIT_GATEWAY_ERROR, type PtyRequest } from "../codec/frames.ts";
import type { X11Request } from "../codec/forward.ts";

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
  const pair = generateEd25519KeyPair();
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

/**
 * A local client that has not authenticated within this time is dropped (OpenSSH's LoginGraceTime):
 * another local user must not hold unauthenticated connections open for ever and exhaust the
 * listener's file descriptors.
 */
const LOGIN_GRACE_MS = 30_000;

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
    const grace = setTimeout(() => {
      summary.detail ??= "not authenticated within the login grace time";
      socket.destroy();
    }, LOGIN_GRACE_MS);
    grace.unref();
    server.on("connection", (conn: Connection, info) => {
      conn.once("ready", () => clearTimeout(grace));
      new LocalSshConnection(conn, ctx, info.header?.identRaw ?? "", summary, done).run();
    });
    socket.on("close", () => {
      clearTimeout(grace);
      done(summary.outcome === "closed" ? "client disconnected" : summary.outcome);
    });
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
  private readonly forwarding: LocalForwarding;
  private stopWatchingToken?: () => void;

  constructor(
    private readonly conn: Connection,
    private readonly ctx: EngineContext,
    private readonly clientIdent: string,
    private readonly summary: ConnectionSummary,
    private readonly done: (outcome: string, detail?: string) => void,
  ) {
    this.forwarding = new LocalForwarding(conn, async () => (await this.tunnelPromise) ?? null, (message) => ctx.log(message));
  }

  run(): void {
    const { conn } = this;
    let refusals = 0;
    conn.on("authentication", (auth) => {
      if (authenticateSshClient(auth, this.ctx.localAuth.sshKey)) return;
      // OpenSSH first asks "none", then offers its keys: log only offers of a real key or password.
      if (auth.method !== "none" && refusals++ === 0) this.ctx.log(`gatehouse: local authentication failed: ${auth.method} for user ${JSON.stringify(String(auth.username).slice(0, 64))} refused (only this listener's key is accepted)`);
    });
    conn.on("ready", () => {
      if (!this.ctx.authenticated()) {
        this.summary.outcome = "refused";
        this.summary.detail = "--once: the listener's one connection is taken";
        conn.end();
        return;
      }
      this.tunnelPromise = this.openTunnel();
    });
    conn.on("session", (accept) => this.onSession(accept()));
    // Forwarding: every request is decided by the gateway before anything opens (forwarding.ts).
    conn.on("tcpip", (accept, reject, info) => void this.forwarding.direct("local", { host: info.destIP, port: info.destPort, originHost: info.srcIP, originPort: info.srcPort }, accept, reject));
    conn.on("openssh.streamlocal", (accept, reject, info) => void this.forwarding.direct("streamlocal", { path: info.socketPath }, accept, reject));
    conn.on("request", (accept, reject, name, info) => void this.forwarding.listen(name, info as { bindAddr?: string; bindPort?: number; socketPath?: string }, accept, reject));
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
    const tunnel: SshTunnel = new SshTunnel(ws, {
      onSession: (id) => (this.summary.sessionId = id),
      onForwardResult: (id, ok, message, port) => this.forwarding.answer(id, ok, message, port),
      onIncoming: (open): ChannelSink => this.forwarding.incoming(open, tunnel),
      onEnd: (end) => this.fail(end),
      onPause: () => {
        this.channels.forEach((c) => c.pause());
        this.forwarding.pause();
      },
      onResume: () => {
        this.channels.forEach((c) => c.resume());
        this.forwarding.resume();
      },
    });
    this.tunnel = tunnel;
    tunnel.start(this.clientIdent);
    // Renewed identity tokens follow the session on its tunnel (the gateway ends it at expiry otherwise).
    this.stopWatchingToken = this.ctx.watchToken((token) => !tunnel.isEnded && tunnel.control({ t: "token", token }));
    return tunnel;
  }

  private onSession(session: Session): void {
    const env: Record<string, string> = {};
    let pty: PtyRequest | undefined;
    let agent = false;
    let x11: X11Request | undefined;
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
    // -A / -X ride on the exec/shell request: the gateway decides them there and says so on
    // stderr when it refuses (as an SSH server that refuses forwarding lets the command run).
    session.on("auth-agent", (accept) => {
      agent = true;
      accept?.();
    });
    session.on("x11", (accept, _reject, info) => {
      // The cookie is sent as the hex text of the (fake) cookie; ssh2 hands over those bytes.
      x11 = { single: info.single === true, protocol: String(info.protocol), cookie: Buffer.isBuffer(info.cookie) ? info.cookie.toString("latin1") : String(info.cookie), screen: Number(info.screen) || 0 };
      accept?.();
    });
    const start = (stream: ServerChannel, request: Parameters<SshTunnel["openChannel"]>[0]) => {
      channel = new LocalChannel(stream, pty !== undefined);
      this.channels.add(channel);
      stream.on("close", () => this.channels.delete(channel!));
      void this.startChannel(channel, request);
    };
    const envPart = () => (Object.keys(env).length > 0 ? { env } : {});
    const fwdPart = () => ({ ...(agent ? { agent: true as const } : {}), ...(x11 ? { x11 } : {}) });
    session.on("exec", (accept, _reject, info) => start(accept(), { t: "ssh.exec", command: info.command, ...(pty ? { pty } : {}), ...envPart(), ...fwdPart() }));
    session.on("shell", (accept) => start(accept(), { t: "ssh.shell", ...(pty ? { pty } : {}), ...envPart(), ...fwdPart() }));
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
    this.stopWatchingToken?.();
    this.failure = end;
    const message = end.message.startsWith("gatehouse:") ? end.message : `gatehouse: ${end.message}`;
    for (const c of this.channels) c.fail(message);
    this.forwarding.fail(message);
    if (end.code !== "ok" && end.code !== "client-closed") this.summary.detail = message;
    // Give the SSH client time to read the message, then hang up.
    setTimeout(() => this.conn.end(), 200).unref();
  }

  private end(outcome: string, detail?: string): void {
    this.stopWatchingToken?.();
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
  async writeLocalAuthFiles(info: ListenerInfo, auth: LocalAuth): Promise<void> {
    const host = info.host.replace(/^\[|\]$/g, "");
    const files = { key: path.join(info.dir, "id_ed25519"), knownHosts: path.join(info.dir, "known_hosts"), config: path.join(info.dir, "ssh_config") };
    await writePrivateFile(files.key, auth.sshKey.privateKey.endsWith("\n") ? auth.sshKey.privateKey : `${auth.sshKey.privateKey}\n`);
    await writePrivateFile(`${files.key}.pub`, `${auth.sshKey.publicLine} gatehouse-listener\n`);
    await writePrivateFile(files.knownHosts, `${knownHostsLine(info.host, info.port)}\n`);
    await writePrivateFile(
      files.config,
      [
        `Host ${info.resource}`,
        `  HostName ${host}`,
        `  Port ${info.port}`,
        `  User gatehouse`,
        `  IdentityFile "${files.key}"`,
        `  IdentitiesOnly yes`,
        `  UserKnownHostsFile "${files.knownHosts}"`,
        `  StrictHostKeyChecking yes`,
        "",
      ].join("\n"),
    );
    auth.files.sshKey = files.key;
    auth.files.knownHosts = files.knownHosts;
    auth.files.sshConfig = files.config;
  },
  usage(info: ListenerInfo, auth: LocalAuth): string[] {
    const host = info.host.replace(/^\[|\]$/g, "");
    return [
      `host key:    ${localHostKey().fingerprint} (generated for this run)`,
      `known_hosts: ${knownHostsLine(info.host, info.port)}`,
      `ssh:         ssh -F ${auth.files.sshConfig} ${info.resource}`,
      `  or:        ssh -p ${info.port} -i ${auth.files.sshKey} -o IdentitiesOnly=yes -o UserKnownHostsFile=${auth.files.knownHosts} gatehouse@${host}`,
      `key:         ${auth.files.sshKey} (0600; only this listener accepts it, only while it runs)`,
    ];
  },
  serve,
};
