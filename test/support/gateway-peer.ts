/**
 * TEST PEER — a small stand-in for the gateway's client-facing endpoints, speaking the documented
 * tunnel protocol (docs/PROTOCOL.md), so the CLI can be tested before/without the real worker:
 * `GET /v1/resources/:name`, `POST /v1/cancel`, `GET /v1/tunnel/:resource` (WebSocket, gatehouse.v1).
 * Each tunnel is handed to the test as a PeerTunnel that records every frame.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer, WebSocket } from "ws";
import { TUNNEL_SUBPROTOCOL, decodeFrame, encodeControl, encodeCredit, encodeDataChunks, FrameType, type ControlMessage } from "../../parsers/tunnel/frames.ts";

export interface PeerOptions {
  resources?: Record<string, { type: string; online?: boolean; labels?: Record<string, string> }>;
  /** Return a reason string to answer 401 for this request, undefined to accept. */
  authorize?: (token: string | undefined, what: "resource" | "tunnel" | "cancel") => string | undefined;
  onTunnel?: (tunnel: PeerTunnel) => void;
}

export class PeerTunnel {
  readonly data: Buffer[] = [];
  readonly controls: ControlMessage[] = [];
  dataBytes = 0;
  creditReceived = 0;
  private waiters: Array<() => void> = [];
  onFrame?: () => void;
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly resource: string,
    readonly token: string | undefined,
  ) {
    ws.on("message", (raw: Buffer, isBinary) => {
      if (!isBinary) return;
      const frame = decodeFrame(raw);
      if (frame.type === FrameType.Data) {
        this.data.push(Buffer.from(frame.payload));
        this.dataBytes += frame.payload.length;
      } else if (frame.type === FrameType.Credit) this.creditReceived += frame.bytes;
      else this.controls.push(frame.message);
      this.onFrame?.();
      this.wake();
    });
    ws.on("close", () => {
      this.closed = true;
      this.wake();
    });
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves once `predicate` holds (checked after every frame). */
  async until(predicate: () => boolean): Promise<void> {
    while (!predicate()) {
      if (this.closed) throw new Error("tunnel closed while waiting");
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  allData(): Buffer {
    return Buffer.concat(this.data);
  }

  sendData(bytes: Uint8Array) {
    for (const f of encodeDataChunks(bytes)) this.ws.send(f);
  }
  sendCredit(n: number) {
    this.ws.send(encodeCredit(n));
  }
  sendControl(m: ControlMessage) {
    this.ws.send(encodeControl(m));
  }
  /** Orderly end with a reason, as the worker does. */
  close(code: string, message: string) {
    this.sendControl({ t: "close", code, message });
    this.ws.close(1000);
  }
}

export interface GatewayPeer {
  url: string;
  port: number;
  cancels: Array<{ body: unknown; authorization: string | undefined }>;
  resourceLookups: number;
  tunnels: PeerTunnel[];
  close(): Promise<void>;
}

function bearer(h: string | undefined): string | undefined {
  const m = /^Bearer (.+)$/.exec(h ?? "");
  return m?.[1];
}

export async function startGatewayPeer(opts: PeerOptions = {}): Promise<GatewayPeer> {
  const resources = opts.resources ?? { "demo-pg": { type: "postgres", online: true } };
  const peer: GatewayPeer = { url: "", port: 0, cancels: [], resourceLookups: 0, tunnels: [], close: async () => {} };
  const deny = (res: http.ServerResponse, reason: string) => {
    res.writeHead(401, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "unauthorized", reason }));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const token = bearer(req.headers.authorization);
    const m = /^\/v1\/resources\/([^/]+)$/.exec(url.pathname);
    if (req.method === "GET" && m) {
      peer.resourceLookups++;
      const why = opts.authorize?.(token, "resource");
      if (why) return deny(res, why);
      const r = resources[decodeURIComponent(m[1]!)];
      if (!r) {
        res.writeHead(404, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: "not_found", reason: "no such resource" }));
      }
      res.writeHead(200, { "content-type": "application/json" });
      return res.end(JSON.stringify({ name: m[1], type: r.type, labels: r.labels ?? {}, online: r.online ?? true }));
    }
    if (req.method === "POST" && url.pathname === "/v1/cancel") {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const why = opts.authorize?.(token, "cancel");
        if (why) return deny(res, why);
        peer.cancels.push({ body: JSON.parse(Buffer.concat(chunks).toString("utf8")), authorization: req.headers.authorization });
        res.writeHead(202, { "content-type": "application/json" });
        res.end(JSON.stringify({ ok: true }));
      });
      return;
    }
    if (url.pathname === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" });
      return res.end('{"ok":true}');
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end('{"error":"not_found"}');
  });
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has(TUNNEL_SUBPROTOCOL) ? TUNNEL_SUBPROTOCOL : false) });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://x");
    const m = /^\/v1\/tunnel\/([^/]+)$/.exec(url.pathname);
    const token = bearer(req.headers.authorization);
    const why = m ? opts.authorize?.(token, "tunnel") : "no such endpoint";
    if (!m || why) {
      const body = JSON.stringify({ error: "unauthorized", reason: why });
      socket.end(`HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const tunnel = new PeerTunnel(ws, decodeURIComponent(m[1]!), token);
      peer.tunnels.push(tunnel);
      tunnel.sendControl({ t: "session", id: `s_test_${peer.tunnels.length}`, resource: tunnel.resource, type: "postgres" });
      opts.onTunnel?.(tunnel);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  peer.port = (server.address() as AddressInfo).port;
  peer.url = `http://127.0.0.1:${peer.port}`;
  peer.close = async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return peer;
}
