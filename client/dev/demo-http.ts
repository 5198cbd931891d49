/**
 * The HTTP demo target (`demo-http`): a small JSON API on a loopback port that requires a bearer
 * token only the connector holds. DEVELOPMENT ONLY. Endpoints:
 *
 *   GET    /customers            customer-like records (e-mails, card numbers, API tokens)
 *   GET    /customers/{id}
 *   DELETE /customers/{id}       (the demo policy denies it)
 *   POST   /deploy/{env}         echoes what it deployed (the demo policy holds it for approval)
 *   GET    /customers.gz         the same JSON, gzip-encoded
 *   GET    /customers/bulk?n=N   N records, streamed (benchmarks)
 *   GET    /events               server-sent events (three, then the stream ends)
 *   GET    /ws                   WebSocket echo
 *   anything else: 404 JSON
 *
 * Every request it saw is kept in `seen` (method, path, headers) so tests can check what the
 * upstream received — e.g. that the client's own Authorization never arrived.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { WebSocketServer } from "ws";

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface DemoHttp {
  url: string;
  port: number;
  /** The bearer token the API requires (only the connector is given it). */
  token: string;
  seen: SeenRequest[];
  /** Deployments the API performed (POST /deploy/{env}). */
  deployments: string[];
  stop(): Promise<void>;
}

export const DEMO_CUSTOMERS = [
  { id: 1, name: "Ada Lovelace", email: "ada@example.com", card_number: "4111 1111 1111 1111", api_token: "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", plan: "pro" },
  { id: 2, name: "Grace Hopper", email: "grace@example.org", card_number: "5500 0000 0000 0004", api_token: "ghp_abcdefghijklmnopqrstuvwxyz0123456789AB", plan: "free" },
  { id: 3, name: "Alan Turing", email: "alan@example.net", card_number: "3400 000000 00009", api_token: "ghp_ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zy", plan: "team" },
];

function json(res: http.ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(`${JSON.stringify(value)}\n`);
  res.writeHead(status, { "content-type": "application/json", "content-length": body.length });
  res.end(body);
}

export async function startDemoHttp(opts: { port?: number; token?: string } = {}): Promise<DemoHttp> {
  const token = opts.token ?? randomBytes(24).toString("base64url");
  const seen: SeenRequest[] = [];
  const deployments: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      if (req.headers.authorization !== `Bearer ${token}`) return json(res, 401, { error: "missing or wrong bearer token" });
      const url = new URL(req.url ?? "/", "http://demo");
      const m = /^\/customers\/(\d+)$/.exec(url.pathname);
      if (req.method === "GET" && url.pathname === "/customers") return json(res, 200, { customers: DEMO_CUSTOMERS });
      if (req.method === "GET" && url.pathname === "/customers.gz") {
        const gz = gzipSync(Buffer.from(JSON.stringify({ customers: DEMO_CUSTOMERS })));
        res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": gz.length });
        return res.end(gz);
      }
      if (req.method === "GET" && url.pathname === "/customers/bulk") {
        // Many records, streamed (benchmarks: a large JSON body to mask).
        const n = Math.min(Number(url.searchParams.get("n") ?? 1000) || 0, 5_000_000);
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"customers":[');
        for (let i = 0; i < n; i++) {
          const c = DEMO_CUSTOMERS[i % DEMO_CUSTOMERS.length]!;
          res.write(`${i ? "," : ""}${JSON.stringify({ ...c, id: i })}`);
        }
        return res.end("]}\n");
      }
      if (m && req.method === "GET") {
        const c = DEMO_CUSTOMERS.find((x) => x.id === Number(m[1]));
        return c ? json(res, 200, c) : json(res, 404, { error: "no such customer" });
      }
      if (m && req.method === "DELETE") return json(res, 200, { deleted: Number(m[1]) });
      const d = /^\/deploy\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
      if (d && req.method === "POST") {
        deployments.push(d[1]!);
        return json(res, 200, { deployed: d[1], body });
      }
      if (req.method === "GET" && url.pathname === "/events") {
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
        let n = 0;
        const timer = setInterval(() => {
          n++;
          res.write(`event: tick\ndata: {"n":${n},"contact":"ops@example.com"}\n\n`);
          if (n === 3) {
            clearInterval(timer);
            res.end();
          }
        }, 50);
        return;
      }
      return json(res, 404, { error: "not found", path: url.pathname });
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: "" });
    if (req.headers.authorization !== `Bearer ${token}` || req.url !== "/ws") {
      socket.end("HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary })));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    token,
    seen,
    deployments,
    stop: () =>
      new Promise<void>((resolve) => {
        // Upgraded (WebSocket) sockets are no longer HTTP connections: closeAllConnections misses
        // them, and server.close would wait for them forever (npm start's SIGHUP/SIGTERM stop).
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
