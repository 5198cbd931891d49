/**
 * PostgreSQL engine of the client.
 *
 * Locally it answers what must not cross the gateway as-is:
 *  - SSLRequest / GSSENCRequest → 'N' (the hop to the gateway is the WebSocket, TLS in production;
 *    the local hop is loopback), repeatable (libpq may send GSSENCRequest then SSLRequest);
 *  - CancelRequest → `POST /v1/cancel { pid, secret }`, then close (PostgreSQL sends no reply) —
 *    only for a key the gateway gave one of this listener's live, authenticated connections;
 *  - startup packets over 10 kB are refused.
 * Then it authenticates the local client with SCRAM-SHA-256 against the listener's per-run secret
 * (postgres/local-auth.ts; 28P01 otherwise) and only then opens the tunnel and forwards the
 * StartupMessage and everything after as DATA frames. When the session ends
 * with a reason, or the tunnel cannot open, the local client receives a FATAL ErrorResponse so
 * psql prints a clear message.
 */
import type { Socket } from "node:net";
import path from "node:path";
import type { LocalAuth } from "../../../client/listener-auth/local-auth.ts";
import { writePrivateFile } from "../../../client/listener-auth/state-dir.ts";
import { describeError } from "../../../client/errors.ts";
import { tunnelOpenError } from "../../../client/engines/tunnel-open-error.ts";
import { bridge, describeTunnelEnd, type TunnelEnd } from "../../../client/tunnel/bridge.ts";
import WebSocket from "ws";
import { encodeControl } from "../../../parsers/tunnel/frames.ts";
import type { ConnectionSummary, Engine, EngineContext, ListenerInfo } from "../../../client/engines/engine.ts";
import { BackendMessageTracker, PgProtocolError, StartupPacketReader, type StartupPacket } from "./wire.ts";
import { errorResponse } from "../codec/codec.ts";
import { authenticateLocalClient } from "./local-auth.ts";

/** libpq sends at most GSSENCRequest + SSLRequest before its StartupMessage; allow a little slack. */
const MAX_NEGOTIATION_PACKETS = 4;
/** A local client that does not finish its startup in this time is dropped. */
const STARTUP_TIMEOUT_MS = 30_000;
const NO = Uint8Array.of(0x4e); // 'N'

function fatal(code: string, message: string, detail?: string): Uint8Array {
  return errorResponse({ severity: "FATAL", code, message, ...(detail !== undefined ? { detail } : {}) });
}

/** End the socket after its last bytes are flushed; destroy it if the peer does not read them. */
function endSoon(socket: Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), 5000).unref();
}

/** Read one startup-phase packet, pausing the socket once it is complete. */
function readPacket(socket: Socket, reader: StartupPacketReader): Promise<{ packet: StartupPacket; rest: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onError);
      clearTimeout(timer);
    };
    const onData = (chunk: Buffer) => {
      let got;
      try {
        got = reader.push(chunk);
      } catch (err) {
        cleanup();
        socket.pause();
        reject(err);
        return;
      }
      if (got) {
        cleanup();
        socket.pause();
        resolve(got);
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new PgProtocolError("client closed the connection during startup", "08006"));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const timer = setTimeout(() => {
      cleanup();
      socket.pause();
      reject(new PgProtocolError("startup timed out", "08006"));
    }, STARTUP_TIMEOUT_MS);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onError);
    socket.resume();
  });
}

async function serve(socket: Socket, ctx: EngineContext): Promise<ConnectionSummary> {
  const summary: ConnectionSummary = { outcome: "closed", bytesUp: 0, bytesDown: 0 };
  const reader = new StartupPacketReader();
  let got: { packet: StartupPacket; rest: Uint8Array };
  try {
    for (let round = 0; ; round++) {
      got = await readPacket(socket, reader);
      const kind = got.packet.kind;
      if (kind !== "ssl" && kind !== "gssenc") break;
      // Bytes after an encryption request, before our answer, would be a buffer-stuffing attempt (CVE-2021-23222 class).
      if (got.rest.length > 0) throw new PgProtocolError("received unencrypted data after an encryption request");
      if (round >= MAX_NEGOTIATION_PACKETS) throw new PgProtocolError("too many encryption requests");
      socket.write(NO);
    }
  } catch (err) {
    const e = err instanceof PgProtocolError ? err : new PgProtocolError(describeError(err), "08006");
    if (e.sqlstate !== "08006" && socket.writable) socket.write(fatal(e.sqlstate, `gatehouse: ${e.message}`));
    endSoon(socket);
    return { ...summary, outcome: e.sqlstate === "08006" ? "ended during startup" : "rejected", detail: e.message };
  }

  const packet = got.packet;
  if (packet.kind === "cancel") {
    socket.destroy();
    if (!ctx.localAuth.cancelKeys.has(`${packet.pid}:${packet.secret}`)) {
      // PostgreSQL answers nothing either way; the key was never given to one of our own clients.
      ctx.log("gatehouse: CancelRequest with a key this listener never handed out: dropped");
      return { ...summary, outcome: "cancel dropped", detail: "unknown cancel key" };
    }
    try {
      await ctx.gateway.cancel(packet.pid, packet.secret, await ctx.getToken());
      return { ...summary, outcome: "cancel forwarded" };
    } catch (err) {
      return { ...summary, outcome: "cancel failed", detail: describeError(err) };
    }
  }
  if (packet.kind !== "startup") throw new Error("unreachable");

  // Only the listener's own user holds its secret: authenticate before anything reaches the gateway.
  try {
    if (got.rest.length > 0) throw new PgProtocolError("unexpected data after the StartupMessage, before authentication");
    await authenticateLocalClient(socket, ctx.localAuth.scram, packet.parameters.get("user") ?? "", STARTUP_TIMEOUT_MS);
  } catch (err) {
    const e = err instanceof PgProtocolError ? err : new PgProtocolError(describeError(err), "28P01");
    ctx.log(`gatehouse: local authentication failed: ${e.message}`);
    if (e.sqlstate !== "08006" && socket.writable) socket.write(fatal(e.sqlstate, `gatehouse: ${e.message}`));
    endSoon(socket);
    return { ...summary, outcome: "local authentication failed", detail: e.message };
  }
  if (!ctx.authenticated()) {
    socket.write(fatal("53300", "gatehouse: this listener (--once) has already served its one connection"));
    endSoon(socket);
    return { ...summary, outcome: "refused", detail: "--once: the listener's one connection is taken" };
  }

  let ws;
  try {
    ws = await ctx.openTunnel();
  } catch (err) {
    const { code, message } = tunnelOpenError(err);
    if (socket.writable) socket.write(fatal(code, message));
    endSoon(socket);
    return { ...summary, outcome: "refused", detail: message };
  }

  const tracker = new BackendMessageTracker();
  const initial = packet.bytes;
  // Renewed identity tokens follow the session on its tunnel (the gateway ends it at expiry otherwise).
  const stopWatching = ctx.watchToken((token) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeControl({ t: "token", token }));
  });
  const result = await bridge({
    ws,
    socket,
    initial,
    observeDownstream: (payload) => {
      const known = tracker.backendKeys.length;
      tracker.push(payload);
      // Almost every payload brings no new key: no per-message array.
      for (let i = known; i < tracker.backendKeys.length; i++) {
        const k = tracker.backendKeys[i]!;
        ctx.localAuth.cancelKeys.add(`${k.pid}:${k.secret}`);
      }
    },
    finalWords: (end) => finalError(end, tracker),
  });
  stopWatching();
  for (const k of tracker.backendKeys) ctx.localAuth.cancelKeys.delete(`${k.pid}:${k.secret}`);
  return {
    outcome: describeTunnelEnd(result.end),
    sessionId: result.sessionId,
    bytesUp: result.bytesUp,
    bytesDown: result.bytesDown,
  };
}

/** The ErrorResponse to give the local client when the gateway side ends, if it did not already send one. */
function finalError(end: TunnelEnd, tracker: BackendMessageTracker): Uint8Array | undefined {
  if (!tracker.atBoundary) return undefined; // never splice into a half-sent message
  if (tracker.lastType === 0x45 /* 'E' */) return undefined; // the gateway already explained
  switch (end.kind) {
    case "close-control":
      // An orderly end (the client sent Terminate, or closed): PostgreSQL just closes, and so do we.
      if (end.code === "ok") return undefined;
      return fatal(end.code && /^[0-9A-Z]{5}$/.test(end.code) ? end.code : "08006", `gatehouse: ${end.message ?? "session closed by the gateway"}`);
    case "ws-closed":
      return fatal("08006", `gatehouse: connection to the gateway closed${end.reason ? `: ${end.reason}` : ""}`);
    case "protocol-error":
      return fatal("08P01", `gatehouse: tunnel protocol error: ${end.message}`);
    case "local-closed":
      return undefined;
  }
}


export const postgresEngine: Engine = {
  type: "postgres",
  async writeLocalAuthFiles(info: ListenerInfo, auth: LocalAuth): Promise<void> {
    const pgpass = path.join(info.dir, "pgpass");
    const url = path.join(info.dir, "url");
    // libpq matches the pgpass host field against the host as the client spelled it.
    const hosts = info.host === "[::1]" ? ["::1", "localhost"] : [info.host, "localhost"];
    await writePrivateFile(pgpass, hosts.map((h) => `${pgpassField(h)}:${info.port}:*:*:${pgpassField(auth.password)}\n`).join(""));
    await writePrivateFile(url, `${postgresConnectionString(info, auth.password)}\n`);
    auth.files.pgpass = pgpass;
    auth.files.url = url;
  },
  usage(info: ListenerInfo, auth: LocalAuth): string[] {
    const url = postgresConnectionString(info);
    const pgpass = auth.files.pgpass!;
    return [
      `connection string: ${url}&passfile=${encodeURIComponent(pgpass)}`,
      `psql:              PGPASSFILE=${pgpass} psql "${url}"`,
      `password file:     export PGPASSFILE=${pgpass}   (0600; this listener's password, valid while it runs)`,
      `full URL file:     ${auth.files.url}   (with the password, for drivers without passfile: DATABASE_URL="$(cat ${auth.files.url})")`,
    ];
  },
  serve,
};

/** pgpass escapes ':' and '\\' with a backslash. */
function pgpassField(value: string): string {
  return value.replace(/[\\:]/g, (c) => `\\${c}`);
}

export function postgresConnectionString(info: Pick<ListenerInfo, "host" | "port" | "resource" | "user">, password?: string): string {
  const secret = password === undefined ? "" : `:${encodeURIComponent(password)}`;
  return `postgresql://${encodeURIComponent(info.user)}${secret}@${info.host}:${info.port}/${encodeURIComponent(info.resource)}?sslmode=disable`;
}
