/**
 * `gatehouse connect <mysql-resource> --port N`: the CLI's MySQL listener engine.
 *
 * Locally it terminates the connection phase (local-handshake.ts): the client proves the
 * listener's per-run password with mysql_native_password (the database's password never exists
 * on this side); TLS, compression and LOCAL INFILE are not offered on loopback, only UTF-8
 * character sets are accepted. Only then does it open the tunnel and send, as the session's first
 * bytes, the client's HandshakeResponse41 re-encoded without any credential (capabilities,
 * collation, database): the worker decides, the connector logs in with the access level's own
 * account, and the worker answers the client's handshake (OK, or an ERR saying why).
 *
 * The greeting is sent before the client authenticates, so before any tunnel exists: the listener
 * learns the target's version when it starts, with one short session of its own (version-probe.ts),
 * and its first connection waits for that before it is greeted; every session tells the listener
 * the target's version again (`mysql-server` control message: an upgraded server is followed).
 * Clients pick dialect features by it (mysql2 and Connector/J detect MariaDB from it). Only when
 * the probe fails (connector offline, connect refused) is a connection greeted as
 * `GREETING_VERSION`; its own session then says why, or teaches the listener the version.
 * What the gateway classifies by is always the real server's version.
 */
import type { Socket } from "node:net";
import path from "node:path";
import { randomInt } from "node:crypto";
import WebSocket from "ws";
import { writePrivateFile } from "../../../client/listener-auth/state-dir.ts";
import { describeError } from "../../../client/errors.ts";
import { tunnelOpenError } from "../../../client/engines/tunnel-open-error.ts";
import { bridge, describeTunnelEnd, type TunnelEnd } from "../../../client/tunnel/bridge.ts";
import { encodeControl } from "../../../parsers/tunnel/frames.ts";
import type { ConnectionSummary, Engine, EngineContext, EngineStartContext, ListenerInfo } from "../../../client/engines/engine.ts";
import type { LocalAuth } from "../../../client/listener-auth/local-auth.ts";
import { PacketFramer, encodePacket } from "../codec/packets.ts";
import { CLIENT, GATEWAY_CAPABILITIES, THREAD_ATTRIBUTE } from "../codec/constants.ts";
import { encodeHandshakeResponse41 } from "../codec/handshake.ts";
import { refusal } from "../codec/responses.ts";
import { LocalHandshake, doubleSha1, type LocalHandshakeResult } from "./local-handshake.ts";
import { greetableVersion, probeServerVersion } from "./version-probe.ts";

/** What a greeting says when the target's version could not be learned (the probe failed, no session yet). */
export const GREETING_VERSION = "8.0.0-gatehouse";
/** Per listener (its local auth): the target's version the last session reported; a version string is short and printable. */
const learnedVersion = new WeakMap<object, string>();
/** Per listener: the greeting-version probe started with the listener (settles with or without a version). */
const probes = new WeakMap<object, Promise<void>>();
const PROBE_TIMEOUT_MS = 30_000;
const HANDSHAKE_TIMEOUT_MS = 30_000;

function endSoon(socket: Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), 5000).unref();
}

/** Runs the local connection phase; resolves with the client's session parameters and the sequence id of its last packet. */
function localHandshake(socket: Socket, hs: LocalHandshake): Promise<{ result: LocalHandshakeResult; seq: number }> {
  return new Promise((resolve, reject) => {
    const framer = new PacketFramer(64 * 1024);
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("close", onClose);
      clearTimeout(timer);
    };
    const fail = (bytes: Uint8Array | null, message: string) => {
      cleanup();
      if (bytes && socket.writable) socket.write(bytes);
      reject(new Error(message));
    };
    const onData = (chunk: Buffer) => {
      let packets;
      try {
        packets = framer.push(new Uint8Array(chunk));
      } catch (e) {
        return fail(encodePacket(2, refusal("malformed", (e as Error).message)), (e as Error).message);
      }
      for (const [i, p] of packets.entries()) {
        let step;
        try {
          step = hs.onPacket(p);
        } catch (e) {
          return fail(encodePacket((p.lastSeq + 1) & 0xff, refusal("malformed", (e as Error).message)), (e as Error).message);
        }
        if (step.fail) return fail(step.send[0] ?? null, step.fail);
        if (!step.done) {
          for (const s of step.send) socket.write(s);
          continue;
        }
        // The OK in step.send is not ours to give: the worker answers once the session is open.
        if (i !== packets.length - 1 || framer.buffered) return fail(encodePacket((p.lastSeq + 1) & 0xff, refusal("malformed", "data after the handshake response, before the server's answer")), "client pipelined past the handshake");
        cleanup();
        socket.pause();
        return resolve({ result: step.done, seq: p.lastSeq });
      }
    };
    const onClose = () => fail(null, "client closed the connection during the handshake");
    const timer = setTimeout(() => fail(null, "handshake timed out"), HANDSHAKE_TIMEOUT_MS);
    socket.on("data", onData);
    socket.on("close", onClose);
    socket.write(hs.greeting());
    socket.resume();
  });
}

/** Follows MySQL packet boundaries in the gateway → client direction (headers only, nothing buffered). */
class DownstreamPackets {
  private headerLeft = 4;
  private header: number[] = [];
  private payloadLeft = 0;
  private firstByteNext = false;
  seen = false;
  lastFirstByte = -1;

  push(bytes: Uint8Array): void {
    if (bytes.length) this.seen = true;
    let i = 0;
    while (i < bytes.length) {
      if (this.headerLeft > 0) {
        this.header.push(bytes[i++]!);
        if (--this.headerLeft === 0) {
          this.payloadLeft = this.header[0]! | (this.header[1]! << 8) | (this.header[2]! << 16);
          this.header = [];
          this.firstByteNext = this.payloadLeft > 0;
          if (this.payloadLeft === 0) this.headerLeft = 4;
        }
        continue;
      }
      if (this.firstByteNext) {
        this.lastFirstByte = bytes[i]!;
        this.firstByteNext = false;
      }
      const take = Math.min(this.payloadLeft, bytes.length - i);
      i += take;
      this.payloadLeft -= take;
      if (this.payloadLeft === 0) this.headerLeft = 4;
    }
  }

  get atBoundary(): boolean {
    return this.headerLeft === 4 && this.payloadLeft === 0;
  }
}

async function serve(socket: Socket, ctx: EngineContext): Promise<ConnectionSummary> {
  const summary: ConnectionSummary = { outcome: "closed", bytesUp: 0, bytesDown: 0 };
  socket.setNoDelay(true); // small request/response packets: no Nagle delay
  // A random thread id per connection: the `mariadb` client's Ctrl-C sends `KILL QUERY <it>` on a
  // second connection, and the worker finds this session by it (and the identity) — threads.ts.
  const threadId = randomInt(1, 2 ** 31);
  // The first connections wait for the listener's probe: greeted with the target's own version.
  if (!learnedVersion.has(ctx.localAuth)) await probes.get(ctx.localAuth);
  const hs = new LocalHandshake(doubleSha1(ctx.localAuth.password), learnedVersion.get(ctx.localAuth) ?? GREETING_VERSION, GATEWAY_CAPABILITIES, threadId);
  let local: { result: LocalHandshakeResult; seq: number };
  try {
    local = await localHandshake(socket, hs);
  } catch (err) {
    const detail = describeError(err);
    ctx.log(`gatehouse: local MySQL handshake failed: ${detail}`);
    endSoon(socket);
    return { ...summary, outcome: "local authentication failed", detail };
  }
  const answer = (kind: "accessDenied" | "connection" | "tooManyConnections", message: string) => encodePacket((local.seq + 1) & 0xff, refusal(kind, message.replace(/^gatehouse: /, "")));
  if (!ctx.authenticated()) {
    socket.write(answer("connection", "this listener (--once) has already served its one connection"));
    endSoon(socket);
    return { ...summary, outcome: "refused", detail: "--once: the listener's one connection is taken" };
  }
  let ws: WebSocket;
  try {
    ws = await ctx.openTunnel();
  } catch (err) {
    const { code, message } = tunnelOpenError(err);
    // The tunnel-open codes are SQLSTATEs (PostgreSQL's): 28000 → access denied, 53300 (a cap on
    // sessions or session starts) → MySQL's own "too many connections", anything else → connection.
    const kind = code === "28000" ? "accessDenied" : code === "53300" ? "tooManyConnections" : "connection";
    if (socket.writable) socket.write(answer(kind, message));
    endSoon(socket);
    return { ...summary, outcome: "refused", detail: message };
  }
  const c = local.result;
  // The session's first bytes: what the client negotiated, without its proof (worker/mysql-engine.ts reads it).
  const initial = encodePacket(
    local.seq,
    encodeHandshakeResponse41({ capabilities: c.capabilities | CLIENT.CONNECT_ATTRS, maxPacket: 1 << 24, charset: c.collation, user: c.user, authResponse: new Uint8Array(0), database: c.database, authPlugin: "mysql_native_password", attributes: new Map([[THREAD_ATTRIBUTE, String(threadId)]]) }),
  );
  const downstream = new DownstreamPackets();
  const stopWatching = ctx.watchToken((token) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeControl({ t: "token", token }));
  });
  const result = await bridge({
    ws,
    socket,
    initial,
    observeDownstream: (payload) => downstream.push(payload),
    onControl: (message) => {
      // Approval notices: MySQL cannot show a message while a statement waits, so the listener's log does.
      if (message.t === "notice" && typeof message.message === "string") ctx.log(message.message);
      if (message.t === "mysql-server" && greetableVersion(message.version)) learnedVersion.set(ctx.localAuth, message.version);
    },
    finalWords: (end) => finalError(end, downstream, (m) => answer("connection", m)),
  });
  stopWatching();
  return { outcome: describeTunnelEnd(result.end), sessionId: result.sessionId, bytesUp: result.bytesUp, bytesDown: result.bytesDown };
}

/**
 * The ERR to give the local client when the gateway side ends. Only before the session answered
 * the handshake: afterwards the worker sends its own ERR (with the right sequence id), and bytes
 * injected here between commands would desynchronise the client.
 */
function finalError(end: TunnelEnd, downstream: DownstreamPackets, err: (message: string) => Uint8Array): Uint8Array | undefined {
  if (downstream.seen || end.kind === "local-closed") return undefined;
  switch (end.kind) {
    case "close-control":
      return err(end.message ?? "session closed by the gateway");
    case "ws-closed":
      return err(`connection to the gateway closed${end.reason ? `: ${end.reason}` : ""}`);
    case "protocol-error":
      return err(`tunnel protocol error: ${end.message}`);
  }
}

/** An option-file value: quoted, with the escapes MySQL option files understand. */
function optionValue(v: string): string {
  return `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export function mysqlUrl(info: Pick<ListenerInfo, "host" | "port" | "user">, password?: string): string {
  const secret = password === undefined ? "" : `:${encodeURIComponent(password)}`;
  return `mysql://${encodeURIComponent(info.user)}${secret}@${info.host}:${info.port}/`;
}

export const mysqlEngine: Engine = {
  type: "mysql",
  start(ctx: EngineStartContext): void {
    const probe = probeServerVersion(ctx.openTunnel, PROBE_TIMEOUT_MS).then(
      (version) => {
        if (!learnedVersion.has(ctx.localAuth)) learnedVersion.set(ctx.localAuth, version);
      },
      (err: unknown) => ctx.log(`could not learn the target's version for the MySQL greeting (${describeError(err)}); connections are greeted as ${GREETING_VERSION} until a session reports it`),
    );
    probes.set(ctx.localAuth, probe);
  },
  async writeLocalAuthFiles(info: ListenerInfo, auth: LocalAuth): Promise<void> {
    const cnf = path.join(info.dir, "my.cnf");
    const url = path.join(info.dir, "url");
    const host = info.host.replace(/^\[|\]$/g, "");
    await writePrivateFile(cnf, `[client]\nhost=${host}\nport=${info.port}\nuser=${optionValue(info.user)}\npassword=${optionValue(auth.password)}\nprotocol=TCP\nssl=0\n`);
    await writePrivateFile(url, `${mysqlUrl(info, auth.password)}\n`);
    auth.files.mycnf = cnf;
    auth.files.url = url;
  },
  usage(info: ListenerInfo, auth: LocalAuth): string[] {
    return [
      `mariadb/mysql:  mariadb --defaults-extra-file=${auth.files.mycnf} <database>   (option file 0600 with this listener's password, valid while it runs)`,
      `connection URL: ${mysqlUrl(info)}   (full URL with the password for drivers such as mysql2: DATABASE_URL="$(cat ${auth.files.url})")`,
    ];
  },
  serve,
};
