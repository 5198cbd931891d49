/**
 * The connector's local operations endpoint: `GET /healthz` (200 while the control channel is up,
 * 503 otherwise, JSON either way) and `GET /metrics` (Prometheus text). Read-only and unauthenticated,
 * so it binds to loopback unless the operator names another address on purpose (`--ops-listen`).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ConnectorMetrics, MetricsSnapshot } from "./metrics.ts";

export interface OpsServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/** `host:port`, `[v6]:port` or a bare port (loopback). */
export function parseListenAddress(value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d{1,5})$/.exec(value) ?? (/^\d{1,5}$/.test(value) ? [value, undefined, "127.0.0.1", value] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--ops-listen: expected host:port or a port, got ${JSON.stringify(value)}`);
  return { host: m[1] ?? m[2]!, port };
}

export async function startOpsServer(where: { host: string; port: number }, metrics: ConnectorMetrics, snapshot: () => MetricsSnapshot & { connectorId: string; version: string }): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "application/json" }).end(JSON.stringify({ error: "method_not_allowed" }));
      return;
    }
    const now = snapshot();
    if (path === "/healthz") {
      const body = { status: now.connected ? "ok" : "disconnected", connector: now.connectorId, version: now.version, connected: now.connected, sessions: now.liveSessions };
      res.writeHead(now.connected ? 200 : 503, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body) + "\n");
      return;
    }
    if (path === "/metrics") {
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" }).end(metrics.render(now));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not_found", paths: ["/healthz", "/metrics"] }) + "\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(where.port, where.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    port: address.port,
    host: where.host,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
