/**
 * `gatehouse connect <cluster>`: the local listener for resource type `kubernetes`.
 *
 * kubectl never sends credentials over plain HTTP, so the listener speaks HTTPS with a CA made
 * for this listener alone (client/listener-auth/x509.ts), and authenticates the local user by a
 * client certificate from the same CA: both are written only into the listener's 0700 directory,
 * in a kubeconfig (0600) that points at https://127.0.0.1:<port>. A local process without that
 * file cannot finish the TLS handshake, so nothing of its reaches the gateway.
 *
 * After the handshake the decrypted HTTP/1.1 stream goes through the tunnel unchanged; the
 * gateway's Kubernetes engine reads it (protocols/kubernetes/codec), decides per request and
 * forwards with the connector's cluster credential. ALPN offers only http/1.1 (kubectl would
 * otherwise speak HTTP/2, which the gateway does not read).
 */
import type { Socket } from "node:net";
import path from "node:path";
import { TLSSocket } from "node:tls";
import type { LocalAuth } from "../../../client/listener-auth/local-auth.ts";
import { writePrivateFile } from "../../../client/listener-auth/state-dir.ts";
import { listenerTls, type ListenerTls } from "../../../client/listener-auth/x509.ts";
import { GatewayHttpError, GatewayUnreachableError, describeError } from "../../../client/errors.ts";
import { bridge, describeTunnelEnd, type TunnelEnd } from "../../../client/tunnel/bridge.ts";
import WebSocket from "ws";
import { encodeControl } from "../../../parsers/tunnel/frames.ts";
import type { ConnectionSummary, Engine, EngineContext, ListenerInfo } from "../../../client/engines/engine.ts";
import { kubeStatus, type KubeStatus } from "../codec/status.ts";

const HANDSHAKE_TIMEOUT_MS = 10_000;

/** An HTTP/1.1 response carrying a Status, for what the listener must tell kubectl itself. */
export function statusHttpResponse(status: KubeStatus): Buffer {
  const body = JSON.stringify(status);
  const reason = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable" }[status.code] ?? "Error";
  return Buffer.from(`HTTP/1.1 ${status.code} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function tunnelOpenStatus(err: unknown): KubeStatus {
  if (err instanceof GatewayHttpError) {
    const why = err.reason ? `: ${err.reason}` : "";
    if (err.status === 401) return kubeStatus(401, "Unauthorized", `gatehouse: ${err.error}${why}`);
    if (err.status === 403) return kubeStatus(403, "Forbidden", `gatehouse: access denied${why}`);
    if (err.status === 404) return kubeStatus(404, "NotFound", `gatehouse: unknown resource${why}`);
    return kubeStatus(502, "InternalError", `gatehouse: gateway refused the tunnel (HTTP ${err.status} ${err.error})${why}`);
  }
  if (err instanceof GatewayUnreachableError) return kubeStatus(503, "ServiceUnavailable", `gatehouse: ${err.message}`);
  return kubeStatus(503, "ServiceUnavailable", `gatehouse: could not open the tunnel: ${describeError(err)}`);
}

function endSoon(socket: TLSSocket | Socket): void {
  socket.end();
  setTimeout(() => socket.destroy(), 2_000).unref();
}

/** TLS server side of one accepted connection; resolves once the client proved its certificate. */
function handshake(socket: Socket, tls: ListenerTls): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = new TLSSocket(socket, {
      isServer: true,
      cert: tls.serverCertPem,
      key: tls.serverKeyPem,
      ca: [tls.caPem],
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ["http/1.1"],
      minVersion: "TLSv1.2",
    });
    const timer = setTimeout(() => secure.destroy(new Error("TLS handshake timed out")), HANDSHAKE_TIMEOUT_MS);
    secure.once("secure", () => {
      clearTimeout(timer);
      resolve(secure);
    });
    secure.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.resume();
  });
}

async function serve(socket: Socket, ctx: EngineContext): Promise<ConnectionSummary> {
  const summary = { bytesUp: 0, bytesDown: 0 };
  const tls = ctx.localAuth.tls;
  if (!tls) {
    socket.destroy();
    return { ...summary, outcome: "refused", detail: "the listener's certificates are not ready yet" };
  }
  let secure: TLSSocket;
  try {
    secure = await handshake(socket, tls);
  } catch (err) {
    socket.destroy();
    const detail = describeError(err);
    ctx.log(`gatehouse: local TLS authentication failed: ${detail}`);
    return { ...summary, outcome: "local authentication failed", detail };
  }
  if (!ctx.authenticated()) {
    secure.write(statusHttpResponse(kubeStatus(503, "ServiceUnavailable", "gatehouse: this listener (--once) has already served its one connection")));
    endSoon(secure);
    return { ...summary, outcome: "refused", detail: "--once: the listener's one connection is taken" };
  }
  let ws;
  try {
    ws = await ctx.openTunnel();
  } catch (err) {
    const status = tunnelOpenStatus(err);
    secure.write(statusHttpResponse(status));
    endSoon(secure);
    return { ...summary, outcome: "refused", detail: status.message };
  }
  const stopWatching = ctx.watchToken((token) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeControl({ t: "token", token }));
  });
  let answered = false;
  const result = await bridge({
    ws,
    socket: secure,
    observeDownstream: () => {
      answered = true;
    },
    // Approval notices (a held request: kubectl waits and cannot show them) go to the listener's log.
    onControl: (m) => {
      if (m.t === "notice" && typeof m.message === "string") ctx.log(`gatehouse: ${m.message.replace(/^gatehouse: /, "").slice(0, 500)}`);
    },
    finalWords: (end) => (answered ? undefined : finalStatus(end)),
  });
  stopWatching();
  return { outcome: describeTunnelEnd(result.end), sessionId: result.sessionId, bytesUp: result.bytesUp, bytesDown: result.bytesDown };
}

/** Before the gateway answered anything on this connection, kubectl gets a Status saying why it ended. */
function finalStatus(end: TunnelEnd): Buffer | undefined {
  switch (end.kind) {
    case "close-control":
      return end.code === "ok" ? undefined : statusHttpResponse(kubeStatus(503, "ServiceUnavailable", `gatehouse: ${end.message ?? "session closed by the gateway"}`));
    case "ws-closed":
      return statusHttpResponse(kubeStatus(503, "ServiceUnavailable", `gatehouse: connection to the gateway closed${end.reason ? `: ${end.reason}` : ""}`));
    case "protocol-error":
      return statusHttpResponse(kubeStatus(502, "InternalError", `gatehouse: tunnel protocol error: ${end.message}`));
    case "local-closed":
      return undefined;
  }
}


const b64 = (s: string) => Buffer.from(s).toString("base64");

/** The kubeconfig written for the local user: the listener as the cluster, the client certificate as the user. */
export function listenerKubeconfig(info: Pick<ListenerInfo, "host" | "port" | "resource">, tls: ListenerTls): string {
  const name = `gatehouse-${info.resource}`;
  return [
    "# Written by `gatehouse connect`: valid while that listener runs (its own CA and client certificate).",
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    `- name: ${name}`,
    "  cluster:",
    `    server: https://${info.host}:${info.port}`,
    `    certificate-authority-data: ${b64(tls.caPem)}`,
    "users:",
    `- name: ${name}`,
    "  user:",
    `    client-certificate-data: ${b64(tls.clientCertPem)}`,
    `    client-key-data: ${b64(tls.clientKeyPem)}`,
    "contexts:",
    `- name: ${name}`,
    "  context:",
    `    cluster: ${name}`,
    `    user: ${name}`,
    `current-context: ${name}`,
    "",
  ].join("\n");
}

export const kubernetesEngine: Engine = {
  type: "kubernetes",
  async writeLocalAuthFiles(info: ListenerInfo, auth: LocalAuth): Promise<void> {
    const tls = listenerTls(info.user);
    const file = path.join(info.dir, "kubeconfig");
    await writePrivateFile(file, listenerKubeconfig(info, tls));
    auth.files.kubeconfig = file;
    auth.tls = tls;
  },
  usage(_info: ListenerInfo, auth: LocalAuth): string[] {
    const file = auth.files.kubeconfig!;
    return [
      `kubeconfig:        export KUBECONFIG=${file}   (0600; this listener's CA and client certificate, valid while it runs)`,
      `kubectl:           KUBECONFIG=${file} kubectl get pods`,
    ];
  },
  serve,
};
