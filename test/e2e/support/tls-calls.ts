/**
 * HTTPS calls of the self-hosted e2e tests (production-bundle-tenancy, production-bundle-placement):
 * requests that trust the test CA, a Host header naming a tenant on the same listener, and a
 * connector-style WebSocket upgrade (also over plain HTTP) whose status is all the test wants. Plus a superuser
 * connection to a database of the test's own PostgreSQL (ground truth).
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import pg from "pg";
import { TUNNEL_SUBPROTOCOL } from "../../../parsers/tunnel/frames.ts";

export interface CallResult {
  status: number;
  body: Record<string, unknown>;
  text: string;
}

/** An HTTPS request trusting `caCert`; `host` sends another Host header (a tenant's host name) to the same listener. */
export function httpsCall(caCert: string, method: string, url: string, opts: { token?: string; host?: string; body?: unknown; raw?: boolean } = {}): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.host) headers.host = `${opts.host}:${new URL(url).port}`;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      // Node sends a DELETE's body neither chunked nor with a length unless told.
      headers["content-length"] = String(Buffer.byteLength(body));
    }
    // The listener's certificate names 127.0.0.1/localhost: TLS checks that name, the Host header picks the tenant.
    const req = httpsRequest(url, { method, ca: caCert, headers, servername: "localhost" }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          if (!opts.raw) parsed = { text };
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text });
      });
    });
    req.on("error", reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.end(body);
  });
}

/** Status of a WebSocket upgrade as a connector sends it (fetch cannot send `upgrade`); over TLS trusting `caCert` when given. */
export function upgradeStatus(url: string, assertion: string, caCert?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: `Bearer ${assertion}`, connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": randomBytes(16).toString("base64"), "sec-websocket-protocol": TUNNEL_SUBPROTOCOL };
    const req = caCert === undefined ? httpRequest(url, { headers }) : httpsRequest(url, { ca: caCert, headers });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("upgrade", (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    req.on("error", reject);
    req.end();
  });
}

/** `fn` on a superuser connection to `database` of the server at `superuserUrl`, closed afterwards. */
export async function asSuperuser<T>(superuserUrl: string, database: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(superuserUrl);
  url.pathname = `/${database}`;
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
