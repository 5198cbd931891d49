/**
 * A Kubernetes API request read by meaning: verb, API group/version, resource, subresource,
 * namespace, name, plus the query parameters policy may look at. Mirrors the API server's own
 * RequestInfo rules (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go) so the policy decides
 * on what the server will do, and refuses every path whose meaning could differ between the
 * gateway and the server: encoded slashes/backslashes, dot segments, empty segments (duplicate or
 * trailing slashes), control characters, `;` in the query, repeated parameters that change the
 * meaning (watch, selectors, container, …), the deprecated `/watch/` and `/proxy/` path prefixes.
 *
 * Runtime-neutral: no sockets, no Node or Workers APIs.
 */

export const VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"] as const;
/** Subresources that are verbs of their own for policy (the pod's streams and the API proxy). */
export const STREAM_VERBS = ["exec", "attach", "portforward", "log", "proxy"] as const;
export type KubeVerb = (typeof VERBS)[number] | (typeof STREAM_VERBS)[number];
export const ALL_VERBS: readonly KubeVerb[] = [...VERBS, ...STREAM_VERBS];

export interface KubeResourceRequest {
  kind: "resource";
  verb: KubeVerb;
  /** The HTTP method as sent (exec over WebSocket is a GET, over SPDY a POST). */
  method: string;
  /** "" for the core group. */
  group: string;
  version: string;
  /** Plural resource, as in the URL ("pods", "deployments"). */
  resource: string;
  /** "status", "scale", "exec", "log"… ("" if none). */
  subresource: string;
  /** "" for cluster-scoped requests and for lists across all namespaces. */
  namespace: string;
  /** "" when the request names no object (list, watch, create, deletecollection). */
  name: string;
  /** `?dryRun=All`: the server changes nothing. */
  dryRun: boolean;
  fieldSelector: string | null;
  labelSelector: string | null;
  /** exec: the `command=` parameters, in order (argv). */
  command: string[];
  /** exec/attach/log: `container=`. */
  container: string | null;
  /** exec/attach: stdin/stdout/stderr/tty flags. */
  streams: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean };
  /** log: `follow=true`. */
  follow: boolean;
  /** portforward: `ports=` (SPDY sends ports per stream; WebSocket clients list them here). */
  ports: number[];
  /** proxy: the path after `…/proxy` ("" if none). */
  proxyPath: string;
}

export interface KubeNonResourceRequest {
  kind: "nonresource";
  method: string;
  /** "discovery" (/api, /apis, group/version lists), "openapi", "version", "health", or "other". */
  category: "discovery" | "openapi" | "version" | "health" | "other";
  path: string;
}

export type KubeRequest = KubeResourceRequest | KubeNonResourceRequest;

export class KubeRequestError extends Error {
  constructor(message: string) {
    super(message);
  }
}

/** Go strconv.ParseBool: what the server makes of `watch=`, `follow=`, `stdin=`… */
function parseBool(value: string, name: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  throw new KubeRequestError(`query parameter ${name}=${JSON.stringify(value)} is not a boolean`);
}

/** Parameters whose repetition could be read differently by the gateway and the server. */
const SINGLE_VALUED = ["watch", "fieldSelector", "labelSelector", "container", "follow", "stdin", "stdout", "stderr", "tty", "resourceVersion", "previous", "timestamps", "tailLines", "sinceSeconds", "limitBytes", "path"];

const SEGMENT = /^[A-Za-z0-9._:@~+-]+$/;
const DNS_LABEL_ISH = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

function decodeSegments(rawPath: string): string[] {
  if (!rawPath.startsWith("/")) throw new KubeRequestError("the request path must start with '/'");
  const raw = rawPath.slice(1).split("/");
  return raw.map((seg, i) => {
    if (seg === "") throw new KubeRequestError(i === raw.length - 1 && i > 0 ? "a trailing '/' in the request path is refused" : "an empty segment ('//') in the request path is refused");
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      throw new KubeRequestError(`malformed percent-encoding in the request path segment ${JSON.stringify(seg)}`);
    }
    if (decoded === "." || decoded === "..") throw new KubeRequestError("dot segments ('.', '..') in the request path are refused");
    if (!SEGMENT.test(decoded)) throw new KubeRequestError(`the request path segment ${JSON.stringify(decoded)} has characters the gateway refuses (encoded '/', '\\\\', blanks or controls)`);
    return decoded;
  });
}

function nonResource(method: string, path: string, segs: string[]): KubeNonResourceRequest {
  let category: KubeNonResourceRequest["category"] = "other";
  if (segs[0] === "api" && segs.length <= 2) category = "discovery";
  else if (segs[0] === "apis" && segs.length <= 3) category = "discovery";
  else if (segs[0] === "openapi") category = "openapi";
  else if (segs[0] === "version" && segs.length === 1) category = "version";
  else if (["healthz", "livez", "readyz"].includes(segs[0] ?? "")) category = "health";
  return { kind: "nonresource", method, category, path };
}

/**
 * Read one request. `target` is the request-target as sent (origin-form: path and query);
 * throws KubeRequestError for anything the gateway refuses to interpret.
 */
export function parseKubeRequest(method: string, target: string): KubeRequest {
  const m = method.toUpperCase();
  if (m !== method) throw new KubeRequestError(`the method ${JSON.stringify(method)} is not upper case`);
  const q = target.indexOf("?");
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? "" : target.slice(q + 1);
  if (target.includes("#")) throw new KubeRequestError("a fragment in the request target is refused");
  if (rawQuery.includes(";")) throw new KubeRequestError("';' in the query string is refused (Go's server does not read it as '&')");
  if (/[\u0000-\u0020\u007f]/.test(target)) throw new KubeRequestError("blanks or control characters in the request target are refused");
  const segs = rawPath === "/" ? [] : decodeSegments(rawPath);
  const params = new URLSearchParams(rawQuery);
  for (const name of SINGLE_VALUED) if (params.getAll(name).length > 1) throw new KubeRequestError(`query parameter ${name} given more than once`);
  for (const key of params.keys()) if (key.trim() !== key || key === "") throw new KubeRequestError("a query parameter name with blanks is refused");

  let group: string;
  let version: string;
  let rest: string[];
  if (segs[0] === "api" && segs.length >= 3) {
    group = "";
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs.length >= 4) {
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else return nonResource(m, rawPath, segs);
  if (!DNS_LABEL_ISH.test(version) || (group && !DNS_LABEL_ISH.test(group))) throw new KubeRequestError(`API group/version ${JSON.stringify(`${group}/${version}`)} is not a valid name`);
  if (rest[0] === "watch" || rest[0] === "proxy") throw new KubeRequestError(`the deprecated /${rest[0]}/ path prefix is refused; use ?watch=true or the proxy subresource`);

  let namespace = "";
  if (rest[0] === "namespaces" && rest.length > 1) {
    namespace = rest[1]!;
    // `namespaces/<ns>/status|finalize` are the namespace's own subresources.
    if (rest.length > 2 && rest[2] !== "status" && rest[2] !== "finalize") rest = rest.slice(2);
  }
  const resource = rest[0]!;
  if (!DNS_LABEL_ISH.test(resource)) throw new KubeRequestError(`resource ${JSON.stringify(resource)} is not a valid resource name`);
  const name = rest[1] ?? "";
  const subresource = rest[2] ?? "";
  let proxyPath = "";
  if (rest.length > 3) {
    if (subresource !== "proxy") throw new KubeRequestError(`the request path has segments after the subresource ${JSON.stringify(subresource)}`);
    proxyPath = `/${rest.slice(3).join("/")}`;
  }
  if (resource === "namespaces" && namespace && rest[0] === "namespaces" && rest.length <= 3) {
    // `/api/v1/namespaces/<name>[/status]`: the namespace object itself. As for the API server
    // (RequestInfo), its namespace is itself: a rule on namespace kube-system covers deleting it.
    return build(m, group, version, "namespaces", subresource, namespace, namespace, params, proxyPath);
  }
  return build(m, group, version, resource, subresource, namespace, name, params, proxyPath);
}

function build(method: string, group: string, version: string, resource: string, subresource: string, namespace: string, name: string, p: URLSearchParams, proxyPath: string): KubeResourceRequest {
  const flag = (n: string, dflt = false) => (p.has(n) ? parseBool(p.get(n)!, n) : dflt);
  let verb: KubeVerb;
  switch (method) {
    case "GET":
    case "HEAD":
      verb = name ? "get" : p.has("watch") && flag("watch") ? "watch" : "list";
      if (name && p.has("watch") && flag("watch")) verb = "watch";
      break;
    case "POST":
      verb = "create";
      break;
    case "PUT":
      verb = "update";
      break;
    case "PATCH":
      verb = "patch";
      break;
    case "DELETE":
      verb = name ? "delete" : "deletecollection";
      break;
    default:
      throw new KubeRequestError(`the method ${method} is not a Kubernetes API verb`);
  }
  if (subresource && !name) throw new KubeRequestError("a subresource needs an object name");
  if ((STREAM_VERBS as readonly string[]).includes(subresource)) {
    if (subresource === "log" && method !== "GET" && method !== "HEAD") throw new KubeRequestError("pods/log only takes GET");
    verb = subresource as KubeVerb;
  }
  const dryRunValues = p.getAll("dryRun");
  if (dryRunValues.some((v) => v !== "All")) throw new KubeRequestError(`dryRun=${JSON.stringify(dryRunValues.find((v) => v !== "All"))} is not a dry-run mode the gateway knows`);
  const ports = p.getAll("ports").map((v) => {
    if (!/^[0-9]{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new KubeRequestError(`ports=${JSON.stringify(v)} is not a port number`);
    return Number(v);
  });
  return {
    kind: "resource",
    verb,
    method,
    group,
    version,
    resource,
    subresource,
    namespace,
    name,
    dryRun: dryRunValues.length > 0,
    fieldSelector: p.get("fieldSelector"),
    labelSelector: p.get("labelSelector"),
    command: subresource === "exec" ? p.getAll("command") : [],
    container: p.get("container"),
    streams: { stdin: flag("stdin"), stdout: flag("stdout"), stderr: flag("stderr"), tty: flag("tty") },
    follow: flag("follow"),
    ports,
    proxyPath,
  };
}

/**
 * The object a list/watch is narrowed to by `fieldSelector=metadata.name=<x>` (kubectl's delete
 * --wait and get -w of one object): policy on names applies to it. null when the selector does
 * not pin one name.
 */
export function selectedName(req: KubeResourceRequest): string | null {
  if (!req.fieldSelector) return null;
  const parts = req.fieldSelector.split(",");
  for (const part of parts) {
    const m = /^metadata\.name(==|=)(.+)$/.exec(part.trim());
    if (m) return m[2]!;
  }
  return null;
}

/** "pods", "deployments.apps", "pods/exec": how kubectl and RBAC spell a resource. */
export function resourceLabel(req: KubeResourceRequest): string {
  return `${req.resource}${req.group ? `.${req.group}` : ""}${req.subresource ? `/${req.subresource}` : ""}`;
}

/** One line for logs, approvals and the trail: `delete deployments.apps apps/web`. */
export function describeKubeRequest(req: KubeRequest): string {
  if (req.kind === "nonresource") return `${req.method} ${req.path}`;
  const where = req.namespace ? `${req.namespace}/` : "";
  const what = req.name || (req.verb === "list" || req.verb === "watch" || req.verb === "deletecollection" || req.verb === "create" ? (req.namespace ? `${req.namespace}/*` : "*") : "");
  const obj = req.name ? `${where}${req.name}` : what;
  const cmd = req.verb === "exec" && req.command.length ? ` -- ${req.command.join(" ")}` : "";
  // exec/attach/log…: the verb already names the subresource.
  const label = (STREAM_VERBS as readonly string[]).includes(req.subresource) ? resourceLabel({ ...req, subresource: "" }) : resourceLabel(req);
  return `${req.verb} ${label}${obj ? ` ${obj}` : ""}${req.dryRun ? " (dry run)" : ""}${cmd}`;
}
