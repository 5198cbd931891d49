/**
 * HTTP engine of the client: `gatehouse connect <http-resource>` serves plain HTTP/1.1 on
 * loopback. Any local user can reach the port, so every request must carry the listener's
 * per-run secret, either as HTTP basic auth (any user name; `curl --netrc-file <dir>/netrc`, or a
 * URL with userinfo) or as `X-Gatehouse-Listener-Token: <secret>`; without it: 401 and close.
 * The secret is removed from every request before it goes up, so it never leaves this machine;
 * the upstream's credential is added by the connector, never here.
 *
 * Requests are read with the same strict codec as the worker (malformed or smuggling shapes are
 * answered 400 locally and the connection closed); after an upgrade request the rest of the
 * connection is passed as opaque bytes (the gateway decides whether the upgrade happens).
 */
import type { Socket } from "node:net";
import path from "node:path";
import { timingSafeEqual } from "node:crypto";
import type { ConnectionSummary, Engine, EngineContext, ListenerInfo } from "../../../client/engines/engine.ts";
import type { LocalAuth } from "../../../client/listener-auth/local-auth.ts";
import { writePrivateFile } from "../../../client/listener-auth/state-dir.ts";
import { bridge, describeTunnelEnd, type TunnelEnd } from "../../../client/tunnel/bridge.ts";
import { GatewayHttpError, GatewayUnreachableError, describeError } from "../../../client/errors.ts";
import { encodeControl } from "../../../parsers/tunnel/frames.ts";
import WebSocket from "ws";
import { MessageReader } from "../codec/reader.ts";
import { HttpCodecError } from "../codec/errors.ts";
import type { RequestHead } from "../codec/head.ts";
import { chunk, LAST_CHUNK, problemResponse, serializeRequestHead, header } from "../codec/serialize.ts";

export const LISTENER_TOKEN_HEADER = "x-gatehouse-listener-token";
/** A local client that sends no complete first request in this time is dropped. */
const FIRST_REQUEST_TIMEOUT_MS = 30_000;

function sameSecret(given: string, secret: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(secret);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Does this request head prove the listener secret? */
export function provesSecret(head: RequestHead, secret: string): boolean {
  for (const h of head.headers) {
    if (h.name === LISTENER_TOKEN_HEADER && sameSecret(h.value, secret)) return true;
    if (h.name === "authorization") {
      const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(h.value);
      if (!m) continue;
      const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon >= 0 && sameSecret(decoded.slice(colon + 1), secret)) return true;
    }
  }
  return false;
}

/**
 * Why this request is another site's, made through a browser; null when it is not. A browser that
 * once opened the listener (the 401 below asks for basic auth) keeps the secret in its auth cache
 * and attaches it to any page's form submission, link or no-cors fetch to this origin — requests
 * that need no CORS preflight, so the upstream would act on them. Browsers say where a request
 * comes from: `Sec-Fetch-Site` (same-origin, or none when the person typed the URL), and `Origin`
 * on cross-origin requests and every POST. Non-browser clients send neither. A page on another
 * loopback port is another origin too (Sec-Fetch-Site: same-site): refused as well.
 */
export function crossSiteBrowserRequest(head: RequestHead): string | null {
  const value = (name: string) => head.headers.find((h) => h.name === name)?.value;
  const site = value("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none") return `Sec-Fetch-Site: ${site}`;
  const origin = value("origin");
  if (origin !== undefined && origin !== `http://${value("host") ?? ""}`) return `Origin: ${origin}`;
  return null;
}

/**
 * The local side of one connection: reads requests, checks the secret on each, and re-emits
 * them without it. Throws HttpCodecError (400/401) for what must not go up.
 */
export class ListenerRequestFilter {
  private readonly reader = new MessageReader("request");
  private chunked = false;
  private raw = false;
  /** Requests whose head has been seen. */
  requests = 0;

  constructor(private readonly secret: string) {}

  push(bytes: Uint8Array): Uint8Array {
    if (this.raw) return bytes;
    this.reader.push(bytes);
    const out: Uint8Array[] = [];
    for (let e = this.reader.next(); e; e = this.reader.next()) {
      if (e.t === "head") {
        const crossSite = crossSiteBrowserRequest(e.head);
        if (crossSite) throw new HttpCodecError(403, `a browser request from another site (${crossSite}) is not forwarded: a page must not act with the listener's secret a browser cached`);
        if (!provesSecret(e.head, this.secret)) throw new HttpCodecError(401, "this listener needs its secret: basic auth (curl --netrc-file <listener dir>/netrc) or the X-Gatehouse-Listener-Token header");
        this.requests++;
        const headers = e.head.headers.filter((h) => h.name !== LISTENER_TOKEN_HEADER && h.name !== "authorization");
        this.chunked = e.framing.kind === "chunked";
        out.push(serializeRequestHead(e.head.method, e.head.target, e.head.version === "HTTP/1.0" && !headers.some((h) => h.name === "host") ? [header("Host", "localhost"), ...headers] : headers));
        if (headers.some((h) => h.name === "upgrade")) {
          this.reader.switchToRaw();
          this.raw = true;
        }
      } else if (e.t === "body") out.push(this.chunked ? chunk(e.bytes) : e.bytes);
      else if (e.t === "end") {
        if (this.chunked) out.push(LAST_CHUNK);
        this.chunked = false;
      } else if (e.t === "raw") out.push(e.bytes);
    }
    return Buffer.concat(out);
  }
}

function answer(socket: Socket, status: number, detail: string): void {
  if (!socket.writable) return;
  const extra = status === 401 ? [header("WWW-Authenticate", 'Basic realm="gatehouse listener"')] : [];
  socket.end(problemResponse({ status, title: status === 401 ? "Unauthorized" : status === 403 ? "Forbidden" : status === 502 ? "Bad Gateway" : "Bad Request", detail }, { close: true, extraHeaders: extra }));
  setTimeout(() => socket.destroy(), 5000).unref();
}

/** Read until the first request head is complete and authenticated; returns its bytes (rewritten). */
function firstRequest(socket: Socket, filter: ListenerRequestFilter): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onEnd);
      clearTimeout(timer);
    };
    const onData = (b: Buffer) => {
      try {
        parts.push(filter.push(b));
      } catch (e) {
        cleanup();
        socket.pause();
        return reject(e);
      }
      if (filter.requests > 0) {
        cleanup();
        socket.pause();
        resolve(Buffer.concat(parts));
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error("client closed before a request"));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new HttpCodecError(408, "no request in time"));
    }, FIRST_REQUEST_TIMEOUT_MS);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onEnd);
    socket.resume();
  });
}

function tunnelError(err: unknown): { status: number; detail: string } {
  if (err instanceof GatewayHttpError) {
    const why = err.reason ? `: ${err.reason}` : "";
    return { status: err.status === 401 || err.status === 403 ? 403 : 502, detail: `gatehouse: gateway refused the tunnel (HTTP ${err.status} ${err.error})${why}` };
  }
  if (err instanceof GatewayUnreachableError) return { status: 502, detail: `gatehouse: ${err.message}` };
  return { status: 502, detail: `gatehouse: could not open the tunnel: ${describeError(err)}` };
}

async function serve(socket: Socket, ctx: EngineContext): Promise<ConnectionSummary> {
  const summary: ConnectionSummary = { outcome: "closed", bytesUp: 0, bytesDown: 0 };
  const filter = new ListenerRequestFilter(ctx.localAuth.password);
  let initial: Uint8Array;
  try {
    initial = await firstRequest(socket, filter);
  } catch (e) {
    if (e instanceof HttpCodecError) {
      if (e.status === 401) ctx.log("gatehouse: request without the listener secret: refused (401)");
      if (e.status === 403) ctx.log(`gatehouse: ${e.message}: refused (403)`);
      answer(socket, e.status, `gatehouse: ${e.message}`);
      return { ...summary, outcome: e.status === 401 ? "local authentication failed" : "rejected", detail: e.message };
    }
    socket.destroy();
    return { ...summary, outcome: "ended before a request", detail: (e as Error).message };
  }
  if (!ctx.authenticated()) {
    answer(socket, 503, "gatehouse: this listener (--once) has already served its one connection");
    return { ...summary, outcome: "refused", detail: "--once: the listener's one connection is taken" };
  }
  let ws: WebSocket;
  try {
    ws = await ctx.openTunnel();
  } catch (err) {
    const { status, detail } = tunnelError(err);
    answer(socket, status, detail);
    return { ...summary, outcome: "refused", detail };
  }
  const stopWatching = ctx.watchToken((token) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(encodeControl({ t: "token", token }));
  });
  const result = await bridge({
    ws,
    socket,
    initial,
    transformUpstream: (b) => {
      try {
        return filter.push(b);
      } catch (e) {
        const status = e instanceof HttpCodecError ? e.status : 400;
        answer(socket, status, `gatehouse: ${(e as Error).message}`);
        return new Uint8Array(0);
      }
    },
    onControl: (m) => {
      if (m.t === "notice" && typeof m.message === "string") ctx.log(`gatehouse: ${m.message.replace(/^gatehouse: /, "").slice(0, 500)}`);
    },
    finalWords: (end) => finalWords(end),
  });
  stopWatching();
  return { outcome: describeHttpEnd(result.end), sessionId: result.sessionId, bytesUp: result.bytesUp, bytesDown: result.bytesDown };
}

/** The gateway answers refusals itself (problem+json); only a lost tunnel needs words from here — and only at a message boundary, which we do not track: none. */
function finalWords(_end: TunnelEnd): Uint8Array | undefined {
  return undefined;
}


export function listenerBaseUrl(info: Pick<ListenerInfo, "host" | "port">): string {
  return `http://${info.host}:${info.port}`;
}

export const httpEngine: Engine = {
  type: "http",
  async writeLocalAuthFiles(info: ListenerInfo, auth: LocalAuth): Promise<void> {
    const token = path.join(info.dir, "token");
    const netrc = path.join(info.dir, "netrc");
    const host = info.host.replace(/^\[|\]$/g, "");
    await writePrivateFile(token, `${auth.password}\n`);
    await writePrivateFile(netrc, `machine ${host} login gatehouse password ${auth.password}\nmachine localhost login gatehouse password ${auth.password}\n`);
    auth.files.token = token;
    auth.files.netrc = netrc;
  },
  usage(info: ListenerInfo, auth: LocalAuth): string[] {
    const base = listenerBaseUrl(info);
    return [
      `base URL:   ${base}/   (plain HTTP on loopback; the gateway adds the upstream's credential)`,
      `curl:       curl --netrc-file ${auth.files.netrc} ${base}/`,
      `header:     X-Gatehouse-Listener-Token: $(cat ${auth.files.token})   (or basic auth with that password, any user)`,
    ];
  },
  serve,
};

/** The shared phrase, plus the gateway's message: HTTP clients get a status, so the log carries the why. */
function describeHttpEnd(end: TunnelEnd): string {
  const phrase = describeTunnelEnd(end);
  return end.kind === "close-control" && end.message ? `${phrase}: ${end.message}` : phrase;
}
