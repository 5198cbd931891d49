/**
 * A test Kubernetes API server: the subset of the API the real kubectl needs, over HTTPS with
 * bearer-token and client-certificate authentication (docs/KUBERNETES.md § Test API server).
 * Development and tests only: it is checked by running kubectl against it, never by Gatehouse's
 * own client code.
 */
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { EventEmitter } from "node:events";
import YAML from "yaml";
import { makeClusterCerts, type ClusterCerts } from "./certs.ts";
import { VERSION_INFO, discoveryDocument, findType, type ResourceType } from "./resources.ts";
import { ApiError, ObjectStore, type KubeObject } from "./store.ts";
import { applyPatch, jsonPatch, mergePatch, strategicMergePatch } from "./patch.ts";
import { toTable, tableRow, wantsTable, type IncludeObject } from "./table.ts";
import { compileSelectors } from "./selectors.ts";
import { openApiDocument } from "./openapi.ts";
import { attachStreams, type ExecRecord } from "./streams.ts";
import { decodeProtobufObject } from "./protobuf.ts";
import type { PortForwardRecord, PortTargets } from "./portforward.ts";
import { serveNodeProxy, type NodeProxyRecord } from "./node-proxy.ts";

export interface User {
  name: string;
  groups: string[];
}

/** What the server saw of one request: tests assert on it (which credential, which headers arrived). */
export interface SeenRequest {
  method: string;
  url: string;
  user: string | null;
  headers: IncomingMessage["headers"];
}

export interface KubeApiServer {
  url: string;
  port: number;
  certs: ClusterCerts;
  /** Bearer token → user. */
  tokens: Map<string, User>;
  store: ObjectStore;
  requests: SeenRequest[];
  /** Container logs: append lines with `logs.append(ns, pod, line)`; `logs -f` streams them. */
  logs: PodLogs;
  /** exec/attach sessions as the server saw them (protocol, resizes, stdin close, exit code). */
  execs: ExecRecord[];
  /** Protobuf request bodies as kubectl sent them (typed `create` commands), for codec tests. */
  protobufBodies: Buffer[];
  /** Service-account tokens the server issued (TokenRequest, `kubectl create token`). */
  issuedTokens: string[];
  /** "namespace/pod:port" → local TCP port: where port-forward connections to that pod port go. */
  portTargets: PortTargets;
  portForwards: PortForwardRecord[];
  /** What reached the nodes' kubelets through `nodes/<n>/proxy` (node-proxy.ts). */
  nodeProxy: NodeProxyRecord[];
  close(): Promise<void>;
}

export class PodLogs extends EventEmitter {
  private readonly lines = new Map<string, string[]>();
  get(ns: string, pod: string): string[] {
    return this.lines.get(`${ns}/${pod}`) ?? [];
  }
  append(ns: string, pod: string, line: string): void {
    const key = `${ns}/${pod}`;
    const list = this.lines.get(key) ?? [];
    list.push(line);
    this.lines.set(key, list);
    this.emit(key, line);
  }
}

export function status(code: number, reason: string, message: string, details?: Record<string, unknown>): KubeObject {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: code < 400 ? "Success" : "Failure", message, reason, ...(details ? { details } : {}), code };
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), "Audit-Id": "test" });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function authenticate(req: IncomingMessage, tokens: Map<string, User>): User | null {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer ([^\s]+)$/i.exec(auth);
    return (m && tokens.get(m[1]!)) || null;
  }
  const sock = req.socket as TLSSocket;
  if (sock.authorized) {
    const cert = sock.getPeerCertificate();
    const groups = cert.subject?.O;
    return { name: String(cert.subject?.CN ?? ""), groups: Array.isArray(groups) ? groups : groups ? [groups] : [] };
  }
  return null;
}

/** Where a resource URL points. */
export interface Target {
  rt: ResourceType;
  namespace: string;
  name?: string;
  subresource?: string;
}

export function resolveTarget(path: string): Target | undefined {
  let m = /^\/api\/(v1)\/(.*)$/.exec(path);
  let group = "";
  let version: string;
  let rest: string[];
  if (m) {
    version = m[1]!;
    rest = m[2]!.split("/");
  } else {
    m = /^\/apis\/([^/]+)\/([^/]+)\/(.*)$/.exec(path);
    if (!m) return undefined;
    group = m[1]!;
    version = m[2]!;
    rest = m[3]!.split("/");
  }
  if (rest.some((s) => s === "")) return undefined;
  let namespace = "";
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const rt = findType(group, version, rest[0]!);
  if (!rt || rest.length > 3) return undefined;
  if (rt.namespaced === false && namespace) return undefined;
  if (rest[2] && !rt.subresources[rest[2]]) return undefined;
  return { rt, namespace, name: rest[1], subresource: rest[2] };
}

/**
 * The query as the API server reads it: Go's `url.URL.Query()` (net/url parseQuery, error
 * ignored). Pairs split on `&` only; a pair with `;`, or whose key or value has a malformed `%`
 * escape, is dropped silently — not kept literally as WHATWG URLSearchParams keeps it.
 */
/** The request-target's query as sent (Go's RawQuery), not re-encoded as WHATWG URL's `search` is. */
export function rawQueryOf(target: string | undefined): string {
  const t = target ?? "";
  const q = t.indexOf("?");
  return q < 0 ? "" : t.slice(q + 1);
}

export function goQuery(rawQuery: string): URLSearchParams {
  const out = new URLSearchParams();
  const unescape = (s: string): string | null => {
    const bytes: number[] = [];
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (c === "%") {
        const hex = s.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
        bytes.push(parseInt(hex, 16));
        i += 2;
      } else if (c === "+") bytes.push(0x20);
      else bytes.push(...Buffer.from(c, "utf8"));
    }
    return Buffer.from(bytes).toString("utf8");
  };
  for (const pair of rawQuery.split("&")) {
    if (pair === "" || pair.includes(";")) continue;
    const eq = pair.indexOf("=");
    const key = unescape(eq < 0 ? pair : pair.slice(0, eq));
    const value = unescape(eq < 0 ? "" : pair.slice(eq + 1));
    if (key === null || value === null) continue;
    out.append(key, value);
  }
  return out;
}

function listKind(rt: ResourceType): string {
  return `${rt.kind}List`;
}

export async function startKubeApiServer(opts: { tokens?: Record<string, User>; certs?: ClusterCerts } = {}): Promise<KubeApiServer> {
  const certs = opts.certs ?? (await makeClusterCerts());
  const tokens = new Map(Object.entries(opts.tokens ?? {}));
  const store = new ObjectStore();
  const logs = new PodLogs();
  const requests: SeenRequest[] = [];
  const protobufBodies: Buffer[] = [];
  const issuedTokens: string[] = [];
  const nodeProxy: NodeProxyRecord[] = [];
  const server: Server = createServer({ cert: certs.serverCertPem, key: certs.serverKeyPem, ca: certs.caPem, requestCert: true, rejectUnauthorized: false });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "https://kube");
    const user = authenticate(req, tokens);
    requests.push({ method: req.method ?? "", url: req.url ?? "", user: user?.name ?? null, headers: req.headers });
    if (!user) return send(res, 401, status(401, "Unauthorized", "Unauthorized"));
    const path = url.pathname;
    if (req.method === "GET") {
      if (path === "/version") return send(res, 200, VERSION_INFO);
      if (path === "/healthz" || path === "/readyz" || path === "/livez") {
        res.writeHead(200, { "Content-Type": "text/plain" });
        return res.end("ok");
      }
      if (path.startsWith("/openapi/")) {
        const doc = openApiDocument(path);
        if (doc === undefined) return send(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
        return send(res, 200, doc);
      }
      const disco = discoveryDocument(path);
      if (disco) return send(res, 200, disco);
    }
    if (await serveNodeProxy(req, res, url, nodeProxy)) return;
    const target = resolveTarget(path);
    if (!target) return send(res, 404, status(404, "NotFound", "the server could not find the requested resource"));
    const { rt, namespace, name, subresource } = target;
    const q = goQuery(rawQueryOf(req.url));
    const dryRun = q.getAll("dryRun").includes("All");
    if (subresource === "log" && req.method === "GET") return serveLogs(res, store, logs, rt, namespace, name!, q);
    if (subresource === "token" && rt.resource === "serviceaccounts" && req.method === "POST") {
      // TokenRequest (kubectl create token): a bound service-account token, recorded for assertions.
      await readBody(req);
      store.get(rt, namespace, name!);
      const token = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: `system:serviceaccount:${namespace}:${name}`, n: issuedTokens.length })).toString("base64url")}.c2lnbmF0dXJl`;
      issuedTokens.push(token);
      const expiration = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, "Z");
      return send(res, 201, { kind: "TokenRequest", apiVersion: "authentication.k8s.io/v1", metadata: { name, namespace, creationTimestamp: null }, spec: { audiences: ["https://kubernetes.default.svc"], expirationSeconds: 3600, boundObjectRef: null }, status: { token, expirationTimestamp: expiration } });
    }
    if (subresource && subresource !== "ephemeralcontainers") return send(res, 400, status(400, "BadRequest", `${subresource} requires a streaming upgrade`));
    const accept = req.headers.accept;
    const include = (q.get("includeObject") ?? "Metadata") as IncludeObject;

    if (!name) {
      if (rt.namespaced && namespace) store.get(findType("", "v1", "namespaces")!, "", namespace);
      const filter = compileSelectors(q.get("labelSelector"), q.get("fieldSelector"));
      if (req.method === "GET" && (q.get("watch") === "true" || q.get("watch") === "1")) return serveWatch(req, res, store, rt, namespace, q, filter, wantsTable(accept) ? include : null);
      if (req.method === "GET") {
        const items = store.list(rt, namespace).filter(filter);
        const meta = { resourceVersion: String(store.resourceVersion) };
        if (wantsTable(accept)) return send(res, 200, toTable(rt, items, include, meta));
        return send(res, 200, { kind: listKind(rt), apiVersion: rt.group ? `${rt.group}/${rt.version}` : rt.version, metadata: meta, items });
      }
      if (req.method === "POST") {
        const raw = await readBody(req);
        const isProtobuf = (req.headers["content-type"] ?? "").startsWith("application/vnd.kubernetes.protobuf");
        if (isProtobuf) protobufBodies.push(raw);
        const body = isProtobuf ? decodeProtobufObject(raw) : parseBody(raw, req.headers["content-type"]);
        return send(res, 201, store.create(rt, namespace, body, dryRun));
      }
      if (req.method === "DELETE") {
        const items = store.list(rt, namespace).filter(filter).map((o) => store.delete(rt, namespace, o.metadata.name, dryRun));
        return send(res, 200, { kind: listKind(rt), apiVersion: rt.group ? `${rt.group}/${rt.version}` : rt.version, metadata: { resourceVersion: String(store.resourceVersion) }, items });
      }
      return send(res, 405, status(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`));
    }

    switch (req.method) {
      case "GET": {
        const obj = store.get(rt, namespace, name);
        if (wantsTable(accept)) return send(res, 200, toTable(rt, [obj], include, { resourceVersion: obj.metadata.resourceVersion }));
        return send(res, 200, obj);
      }
      case "PUT": {
        const body = parseBody(await readBody(req), req.headers["content-type"]);
        return send(res, 200, store.update(rt, namespace, name, subresource ? ephemeralOnly(store.get(rt, namespace, name), body) : body, dryRun));
      }
      case "PATCH": {
        const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
        const raw = await readBody(req);
        if (type === "application/apply-patch+yaml" && !subresource) {
          const applied = parseBody(raw, "application/yaml");
          const live = store.tryGet(rt, namespace, name);
          const merged = applyPatch(live, applied, q.get("fieldManager") ?? "unknown");
          if (!live) return send(res, 201, store.create(rt, namespace, { ...merged, metadata: { ...merged.metadata, name } }, dryRun));
          return send(res, 200, store.update(rt, namespace, name, { ...merged, metadata: { ...merged.metadata, resourceVersion: live.metadata.resourceVersion } }, dryRun));
        }
        const live = store.get(rt, namespace, name);
        const patch = parseBody(raw, "application/json");
        let next: KubeObject;
        if (type === "application/merge-patch+json") next = mergePatch(live, patch) as KubeObject;
        else if (type === "application/strategic-merge-patch+json") next = strategicMergePatch(live, patch) as KubeObject;
        else if (type === "application/json-patch+json") next = jsonPatch(live, patch);
        else return send(res, 415, status(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`));
        // A patch that names a resourceVersion is a precondition; one that does not applies to the current object.
        next.metadata ??= {};
        next.metadata.resourceVersion ??= live.metadata.resourceVersion;
        return send(res, 200, store.update(rt, namespace, name, subresource ? ephemeralOnly(live, next) : next, dryRun));
      }
      case "DELETE":
        await readBody(req);
        if (subresource) return send(res, 405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
        return send(res, 200, store.delete(rt, namespace, name, dryRun));
      default:
        return send(res, 405, status(405, "MethodNotAllowed", "the server does not allow this method on the requested resource"));
    }
  };

  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      if (err instanceof ApiError) return send(res, err.code, status(err.code, err.reason, err.message, err.details));
      send(res, 500, status(500, "InternalError", `Internal error occurred: ${(err as Error).message}`));
    });
  });
  const execs: ExecRecord[] = [];
  const portTargets: PortTargets = new Map();
  const portForwards: PortForwardRecord[] = [];
  attachStreams(server, { store, tokens, requests, execs, portTargets, portForwards, authenticate: (req) => authenticate(req, tokens) });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    certs,
    tokens,
    store,
    requests,
    logs,
    protobufBodies,
    issuedTokens,
    execs,
    portTargets,
    portForwards,
    nodeProxy,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** `pods/<p>/ephemeralcontainers` (kubectl debug): a write changes only the pod's ephemeral containers. */
function ephemeralOnly(live: KubeObject, next: KubeObject): KubeObject {
  return { ...live, metadata: { ...live.metadata, resourceVersion: next.metadata?.resourceVersion ?? live.metadata.resourceVersion }, spec: { ...live.spec, ephemeralContainers: next.spec?.ephemeralContainers ?? [] } };
}

function parseBody(raw: Buffer, contentType: string | undefined): KubeObject {
  const text = raw.toString("utf8");
  // Protobuf (except creates, protobuf.ts) and CBOR bodies are not decoded here: 415, as a server answers a media type it does not take.
  if (/^application\/(vnd\.kubernetes\.protobuf|cbor)/.test(contentType ?? "")) {
    throw new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml`);
  }
  try {
    const type = (contentType ?? "application/json").split(";")[0]!.trim();
    const v = type.includes("yaml") ? YAML.parse(text) : JSON.parse(text);
    if (typeof v !== "object" || v === null) throw new Error("not an object");
    return v;
  } catch (err) {
    throw new ApiError(400, "BadRequest", `the body of the request could not be decoded: ${(err as Error).message}`);
  }
}

function serveWatch(req: IncomingMessage, res: ServerResponse, store: ObjectStore, rt: ResourceType, namespace: string, q: URLSearchParams, filter: (o: KubeObject) => boolean, table: IncludeObject | null): void {
  const initial = q.get("sendInitialEvents") === "true";
  const rv = initial ? store.resourceVersion : Number(q.get("resourceVersion") || store.resourceVersion);
  res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked" });
  const write = (type: string, object: KubeObject) => {
    const obj = table ? toTable(rt, [object], table, {}) : object;
    if (table) (obj as KubeObject).rows = [tableRow(rt, object, table)];
    res.write(`${JSON.stringify({ type, object: obj })}\n`);
  };
  if (initial) {
    for (const o of store.list(rt, namespace).filter(filter)) write("ADDED", o);
    res.write(`${JSON.stringify({ type: "BOOKMARK", object: { kind: rt.kind, apiVersion: rt.group ? `${rt.group}/${rt.version}` : rt.version, metadata: { resourceVersion: String(rv), annotations: { "k8s.io/initial-events-end": "true" } } } })}\n`);
  } else if (!q.get("resourceVersion") || q.get("resourceVersion") === "0") {
    // No resourceVersion: the current state first, as ADDED events (what a real server does).
    for (const o of store.list(rt, namespace).filter(filter)) write("ADDED", o);
  }
  const stop = store.watch(rt, namespace, rv, (e) => {
    if (filter(e.object)) write(e.type, e.object);
  });
  const timeout = Number(q.get("timeoutSeconds") || 0);
  const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
  const end = () => {
    stop();
    if (timer) clearTimeout(timer);
  };
  req.on("close", end);
  res.on("close", end);
}

function serveLogs(res: ServerResponse, store: ObjectStore, logs: PodLogs, rt: ResourceType, namespace: string, pod: string, q: URLSearchParams): void {
  const obj = store.get(rt, namespace, pod);
  const containers = (obj.spec?.containers ?? []).map((c: KubeObject) => c.name as string);
  const container = q.get("container");
  if (!container && containers.length > 1) return send(res, 400, status(400, "BadRequest", `a container name must be specified for pod ${pod}, choose one of: [${containers.join(" ")}]`));
  if (container && !containers.includes(container)) return send(res, 400, status(400, "BadRequest", `container ${container} is not valid for pod ${pod}`));
  res.writeHead(200, { "Content-Type": "text/plain", "Transfer-Encoding": "chunked" });
  let lines = logs.get(namespace, pod);
  const tail = q.get("tailLines");
  if (tail !== null) lines = lines.slice(Math.max(0, lines.length - Number(tail)));
  for (const l of lines) res.write(`${l}\n`);
  if (q.get("follow") !== "true") return void res.end();
  const key = `${namespace}/${pod}`;
  const on = (line: string) => res.write(`${line}\n`);
  logs.on(key, on);
  res.on("close", () => logs.off(key, on));
}
