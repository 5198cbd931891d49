/**
 * One HTTP session's connector stream: the worker sends the requests it let through (normalised,
 * one at a time, HTTP/1.1 framing), the connector sends each to the upstream with the credential
 * only it holds, and frames the response back.
 *
 *   worker ══DATA (request)══▶ connector ── header policy + credential ──▶ upstream (http/https)
 *   worker ◀═DATA (response)══ connector ◀── response (re-framed: Content-Length or chunked) ──
 *
 * Defence in depth: whatever the worker sent, the client's Authorization, Proxy-Authorization,
 * Forwarded/X-Forwarded-*, X-Gatehouse-*, hop-by-hop headers (and Cookie when configured) never
 * reach the upstream, and the credential never appears in what goes back (scrubbed from errors).
 * A WebSocket upgrade the worker allowed becomes an opaque byte relay after the 101.
 */
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { randomUUID } from "node:crypto";
import { SignJWT, importJWK, importPKCS8, type JWK } from "jose";

type KeyLike = Awaited<ReturnType<typeof importJWK>>;
import { MAX_DATA_PAYLOAD, type ControlMessage } from "../../../parsers/tunnel/frames.ts";
import { StreamProtocolError, TargetError } from "../../../connector/errors.ts";
import { TunnelStreamBase } from "../../../connector/stream-base.ts";
import { MessageReader } from "../codec/reader.ts";
import { cgiHeaderName, type RequestHead } from "../codec/head.ts";
import { HttpCodecError } from "../codec/errors.ts";
import { chunk, connectionListed, HOP_BY_HOP, LAST_CHUNK, problemResponse, serializeResponseHead, header } from "../codec/serialize.ts";
import type { HttpCredential, HttpUpstreamConfig } from "./config.ts";

/**
 * Request headers the client never gets to set on the upstream. Names are compared with `_` read
 * as `-`: Rack, WSGI, PHP and other CGI-style servers file `X_Gatehouse_Identity` and
 * `X-Gatehouse-Identity` as the same HTTP_X_GATEHOUSE_IDENTITY variable. `credentialHeader`: the
 * name of the header the connector's `header` credential sets (the client's own never goes up).
 */
export function droppedRequestHeader(rawName: string, dropCookies: boolean, credentialHeader: string | null = null): boolean {
  const name = cgiHeaderName(rawName);
  return (
    name === credentialHeader ||
    HOP_BY_HOP.has(name) ||
    name === "host" ||
    name === "authorization" ||
    name === "forwarded" ||
    name.startsWith("x-forwarded-") ||
    name === "x-real-ip" ||
    name.startsWith("x-gatehouse-") ||
    (dropCookies && name === "cookie")
  );
}

/** One request/response on the stream; body parts wait in `pending` until the request exists. */
interface Exchange {
  req?: http.ClientRequest;
  res?: http.IncomingMessage;
  chunked: boolean;
  pending: Array<{ t: "body"; bytes: Uint8Array; done: () => void } | { t: "end" }>;
}

export interface StreamIdentity {
  sub: string;
  iss: string;
}
type Identity = StreamIdentity;

/** The resource fields this stream needs; `type` is the protocol riding on it ("http", "kubernetes"). */
export type HttpLikeResource = HttpUpstreamConfig & { type: string };

export class HttpTunnelStream extends TunnelStreamBase {
  protected readonly protocolErrorCode = "http-protocol";
  private resource?: HttpLikeResource;
  /** The resource type this stream serves (a protocol built on HTTP overrides it). */
  protected readonly resourceType: string = "http";
  private agent?: http.Agent;
  private identity: Identity = { sub: "", iss: "" };
  private readonly reader = new MessageReader("request");
  private current?: Exchange;
  private upgraded?: Socket;
  private secrets: string[] = [];

  protected override onOtherControl(message: ControlMessage): void {
    this.ctx.logger.debug("ignoring control message", { session: this.session, t: String(message.t).slice(0, 40) });
  }

  protected override async connectTarget(open: ControlMessage): Promise<void> {
    if (open.resource !== this.resourceName) return this.protocolError(new StreamProtocolError("open names another resource", 1008));
    if (this.refusal) return this.failTarget(this.refusal.message);
    const resource = this.ctx.resources.get(this.resourceName);
    if (!resource || resource.type !== this.resourceType || !("url" in resource)) return this.failTarget(`gatehouse: resource ${this.resourceName}: not an ${this.resourceType} resource on connector ${this.ctx.connectorId}`);
    const id = open.identity as { sub?: unknown; iss?: unknown } | undefined;
    this.identity = { sub: typeof id?.sub === "string" ? id.sub : "", iss: typeof id?.iss === "string" ? id.iss : "" };
    try {
      const tls = resource.url.protocol === "https:";
      const [ca, cert, key] = await Promise.all([resource.ca?.(), resource.clientCert?.(), resource.clientKey?.()]);
      this.agent = tls ? new https.Agent({ keepAlive: true, maxSockets: 1, ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
      this.secrets = await credentialSecrets(resource.credential);
    } catch (e) {
      return this.failTarget(`gatehouse: resource ${this.resourceName}: ${(e as Error).message}`);
    }
    this.resource = resource as HttpLikeResource;
    this.state = "ready";
    this.sendControl({ t: "ready" });
    this.ctx.emit({ type: "stream-ready", stats: this.stats() });
  }

  private async failTarget(message: string): Promise<void> {
    const err = new TargetError("http-upstream", this.scrub(message));
    this.sendControl({ t: "error", code: err.code, message: err.message });
    this.ctx.emit({ type: "stream-error", stats: this.stats(), code: err.code, message: err.message });
    this.ws?.close(1000, "target error");
    this.finish("target error");
  }

  private scrub(text: string): string {
    return this.secrets.reduce((t, s) => (s.length >= 3 ? t.split(s).join("***") : t), text);
  }

  // ── worker → upstream ─────────────────────────────────────────────────────

  protected override onData(payload: Uint8Array): void {
    if (this.state !== "ready" || !this.resource) throw new StreamProtocolError("DATA before the stream is ready", 1008);
    this.receiveData(payload.length);
    if (this.upgraded) {
      const n = payload.length;
      this.upgraded.write(payload, () => this.returnCredit(n));
      return;
    }
    this.reader.push(payload);
    let writes = 1;
    const n = payload.length;
    const written = () => {
      if (--writes === 0) this.returnCredit(n);
    };
    try {
      for (let e = this.reader.next(); e; e = this.reader.next()) {
        if (e.t === "head") this.startRequest(e.head);
        else if (e.t === "body" && this.current) {
          writes++;
          if (this.current.req) this.current.req.write(e.bytes, written);
          else this.current.pending.push({ t: "body", bytes: e.bytes, done: written });
        } else if (e.t === "end" && this.current) {
          if (this.current.req) this.current.req.end();
          else this.current.pending.push({ t: "end" });
        }
      }
    } catch (e) {
      if (e instanceof HttpCodecError) throw new StreamProtocolError(`request from the worker: ${e.message}`, 1008);
      throw e;
    }
    written();
  }

  private startRequest(head: RequestHead): void {
    const resource = this.resource!;
    if (this.current && !this.current.res?.complete) throw new StreamProtocolError("a second request before the previous response ended", 1008);
    const listed = connectionListed(head.headers);
    const upgrade = head.headers.find((h) => h.name === "upgrade")?.value;
    const headers: Array<[string, string]> = [];
    const credentialHeader = resource.credential.kind === "header" ? cgiHeaderName(resource.credential.name) : null;
    for (const h of head.headers) {
      if (droppedRequestHeader(h.name, resource.dropCookies, credentialHeader) || listed.has(h.name)) continue;
      headers.push([h.rawName, h.value]);
    }
    if (head.headers.some((h) => h.name === "transfer-encoding")) headers.push(["Transfer-Encoding", "chunked"]);
    if (upgrade !== undefined) headers.push(["Connection", "Upgrade"], ["Upgrade", upgrade]);
    if (resource.identityHeaders) headers.push(["X-Gatehouse-Identity", this.identity.sub], ["X-Gatehouse-Session", this.session]);
    try {
      headers.splice(0, headers.length, ...this.adjustRequestHeaders(headers, this.identity));
    } catch (e) {
      this.current = { pending: [], chunked: false, res: { complete: true } as http.IncomingMessage };
      this.sendFramed(problemResponse({ status: 403, title: "Forbidden", detail: this.scrub(`gatehouse: ${(e as Error).message}`) }));
      return;
    }
    const current: Exchange = { pending: [], chunked: false };
    this.current = current;
    // The credential is added last, after the header policy, and never logged. Body bytes that
    // arrive while it is being prepared (a JWT is signed per request) wait in `pending`.
    void this.credentialHeaders(resource.credential).then(
      (extra) => {
        if (this.closed) return;
        this.sendRequest(current, head, [...headers, ...extra], upgrade !== undefined);
      },
      (err: Error) => this.failTarget(`gatehouse: resource ${resource.name}: cannot prepare the credential (${err.message})`),
    );
  }

  /** The last word on the upstream request's headers before the credential (a protocol's own header policy); throws = 403. */
  protected adjustRequestHeaders(headers: Array<[string, string]>, _identity: StreamIdentity): Array<[string, string]> {
    return headers;
  }

  private sendRequest(current: Exchange, head: RequestHead, headers: Array<[string, string]>, upgrade: boolean): void {
    const resource = this.resource!;
    const base = resource.url.pathname.replace(/\/+$/, "");
    const tls = resource.url.protocol === "https:";
    const agentOptions = tls ? (this.agent as https.Agent).options : {};
    const options: https.RequestOptions = {
      method: head.method,
      host: resource.url.hostname.replace(/^\[|\]$/g, ""),
      port: resource.url.port || (tls ? 443 : 80),
      path: `${base}${head.target}`,
      // An upgraded socket leaves the pool: its own connection with the same TLS settings.
      agent: upgrade ? false : this.agent,
      headers: headerObject(headers),
      setHost: true,
      ...(upgrade && tls ? { ca: agentOptions.ca, cert: agentOptions.cert, key: agentOptions.key } : {}),
    };
    const req = (tls ? https : http).request(options);
    current.req = req;
    req.on("response", (res) => this.onResponse(current, head.method, res));
    req.on("upgrade", (res, socket, rest) => this.onUpgrade(current, res, socket, rest));
    req.on("error", (err: NodeJS.ErrnoException) => {
      if (current.res) {
        // Mid-response: the framing cannot be completed honestly; end the session.
        void this.failTarget(`gatehouse: upstream connection failed mid-response (${err.code ?? err.message})`);
        return;
      }
      current.res = { complete: true } as http.IncomingMessage;
      this.sendFramed(problemResponse({ status: 502, title: "Bad Gateway", detail: this.scrub(`gatehouse: resource ${resource.name}: ${describeUpstreamFailure(err)}`) }));
    });
    for (const p of current.pending) {
      if (p.t === "end") req.end();
      else req.write(p.bytes, p.done);
    }
    current.pending = [];
  }

  private async credentialHeaders(c: HttpCredential): Promise<Array<[string, string]>> {
    switch (c.kind) {
      case "none":
        return [];
      case "bearer":
        return [["Authorization", `Bearer ${await c.token()}`]];
      case "basic":
        return [["Authorization", `Basic ${Buffer.from(`${c.username}:${await c.password()}`).toString("base64")}`]];
      case "header":
        return [[c.name, await c.value()]];
      case "jwt": {
        const now = Math.floor(Date.now() / 1000);
        const key = await signingKey(await c.privateKey(), c.alg);
        const jwt = await new SignJWT({ gatehouse_session: this.session, gatehouse_issuer: this.identity.iss, gatehouse_resource: this.resourceName })
          .setProtectedHeader({ alg: c.alg, typ: "JWT" })
          .setIssuer(c.issuer)
          .setSubject(this.identity.sub)
          .setAudience(c.audience)
          .setIssuedAt(now)
          .setExpirationTime(now + c.ttlSeconds)
          .setJti(randomUUID())
          .sign(key);
        return [["Authorization", `Bearer ${jwt}`]];
      }
    }
  }

  // ── upstream → worker ─────────────────────────────────────────────────────

  private onResponse(current: Exchange, method: string, res: http.IncomingMessage): void {
    current.res = res;
    const status = res.statusCode ?? 502;
    const bodyless = method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
    const length = res.headers["content-length"];
    const hasLength = typeof length === "string" && /^[0-9]+$/.test(length) && res.headers["transfer-encoding"] === undefined;
    current.chunked = !bodyless && !hasLength;
    const listed = new Set<string>();
    for (let i = 0; i < res.rawHeaders.length; i += 2) if (res.rawHeaders[i]!.toLowerCase() === "connection") for (const t of res.rawHeaders[i + 1]!.split(",")) listed.add(t.trim().toLowerCase());
    const headers = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) {
      const name = res.rawHeaders[i]!;
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue;
      if (lower === "content-length" && !hasLength) continue;
      headers.push(header(name, res.rawHeaders[i + 1]!));
    }
    if (current.chunked) headers.push(header("Transfer-Encoding", "chunked"));
    // The head goes out with the first body bytes when they are already here (one frame, one
    // message per hop for a small response), else on the next turn of the event loop (a slow or
    // streamed body, e.g. server-sent events, never delays the head).
    let head: Uint8Array | undefined = serializeResponseHead(status, res.statusMessage ?? "", headers);
    const withHead = (bytes: Uint8Array): Uint8Array => {
      if (!head) return bytes;
      const out = Buffer.concat([head, bytes]);
      head = undefined;
      return out;
    };
    const flushHead = setImmediate(() => {
      if (head) this.sendFramed(withHead(new Uint8Array(0)));
    });
    res.on("data", (b: Buffer) => {
      clearImmediate(flushHead);
      this.sendFramed(withHead(current.chunked ? chunk(b) : b));
      this.pauseIfOutOfCredit();
    });
    res.on("end", () => {
      clearImmediate(flushHead);
      if (current.chunked) this.sendFramed(withHead(LAST_CHUNK));
      else if (head) this.sendFramed(withHead(new Uint8Array(0)));
    });
    res.on("error", () => void this.failTarget("gatehouse: upstream response failed"));
    if (!this.sendWindow.open) this.pauseIfOutOfCredit();
  }

  private onUpgrade(current: Exchange, res: http.IncomingMessage, socket: Socket, rest: Buffer): void {
    const headers = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push(header(res.rawHeaders[i]!, res.rawHeaders[i + 1]!));
    current.res = res;
    this.upgraded = socket;
    this.sendFramed(serializeResponseHead(101, res.statusMessage ?? "Switching Protocols", headers));
    if (rest.length > 0) this.sendFramed(rest);
    socket.on("data", (b: Buffer) => {
      this.sendFramed(b);
      this.pauseIfOutOfCredit();
    });
    socket.on("close", () => {
      this.sendControl({ t: "close", reason: "upstream closed the upgraded connection" });
      this.ws?.close(1000, "closed");
      this.finish("upgraded connection closed");
    });
    socket.on("error", () => {});
  }

  private sendFramed(bytes: Uint8Array): void {
    for (let o = 0; o < bytes.length; o += MAX_DATA_PAYLOAD) this.sendData(bytes.subarray(o, Math.min(bytes.length, o + MAX_DATA_PAYLOAD)));
  }

  protected override pauseTarget(): void {
    this.current?.res?.pause?.();
    this.upgraded?.pause();
  }

  protected override resumeTarget(): boolean {
    if (this.upgraded) {
      this.upgraded.resume();
      return true;
    }
    if (!this.current?.res?.resume) return false;
    this.current.res.resume();
    return true;
  }

  protected override closeTarget(): void {
    this.current?.req?.destroy();
    this.upgraded?.destroy();
    this.agent?.destroy();
  }
}

/** Certificate verification failures (Node/OpenSSL codes): the upstream is not who the CA says. */
const UNTRUSTED_CERT = /^(ERR_TLS_CERT_ALTNAME_INVALID|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_|CERT_HAS_EXPIRED|ERR_TLS_CERT)/;

/** Why a request never got a response, in words an operator can act on (never with the credential). */
export function describeUpstreamFailure(err: NodeJS.ErrnoException): string {
  const code = err.code ?? "";
  if (UNTRUSTED_CERT.test(code)) return `the upstream's TLS certificate is not trusted (${code}: ${err.message}); check the resource's ca`;
  if (code.startsWith("ERR_SSL_") || code === "EPROTO") return `the TLS handshake with the upstream failed (${code}: ${err.message}); a client certificate may be required or refused`;
  return `upstream unreachable (${code || err.message})`;
}

/** Node's request options take an object; repeated names become lists (sent as repeated lines). */
function headerObject(headers: ReadonlyArray<[string, string]>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const byLower = new Map<string, string>();
  for (const [name, value] of headers) {
    const key = byLower.get(name.toLowerCase()) ?? name;
    byLower.set(name.toLowerCase(), key);
    const prev = out[key];
    out[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

async function credentialSecrets(c: HttpCredential): Promise<string[]> {
  switch (c.kind) {
    case "bearer":
      return [await c.token()];
    case "basic": {
      const p = await c.password();
      return [p, Buffer.from(`${c.username}:${p}`).toString("base64")];
    }
    case "header":
      return [await c.value()];
    default:
      return [];
  }
}

const keyCache = new Map<string, KeyLike>();
async function signingKey(text: string, alg: string): Promise<KeyLike> {
  const cacheKey = `${alg}:${text}`;
  const cached = keyCache.get(cacheKey);
  if (cached) return cached;
  const trimmed = text.trim();
  const key = (trimmed.startsWith("{") ? await importJWK(JSON.parse(trimmed) as JWK, alg) : await importPKCS8(trimmed, alg)) as KeyLike;
  keyCache.set(cacheKey, key);
  return key;
}
