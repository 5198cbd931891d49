/**
 * Request headers the Kubernetes engine refuses or rewrites before anything reaches the API server.
 *
 *  - `Impersonate-*` from the client are always refused: impersonation is the connector's
 *    credential acting as someone else, and only policy decides it (policy/impersonation.ts).
 *    So are `X-Remote-*`: the user, groups and extras an API server takes from an authenticating
 *    front proxy (`--requestheader-*-headers`; kubeadm's X-Remote-User, X-Remote-Group,
 *    X-Remote-Extra-*) whenever the connection carries a front-proxy client certificate — the
 *    connector's, if it was given one, or a proxy in front of the API server.
 *  - `Authorization` from the client never reaches the server (the connector injects its own).
 *  - `Accept` is rewritten to JSON: protobuf and CBOR responses cannot be masked, so the gateway
 *    asks for JSON (keeping a Table request a Table request).
 *  - `Kubectl-Command` / `Kubectl-Session` are context for the trail only, never for a decision.
 */
import { cgiHeaderName, mediaType } from "../../http/codec/head.ts";

export type HeaderList = ReadonlyArray<readonly [string, string]>;

export class KubeHeaderError extends Error {}

/**
 * Does this header name who the request is from (impersonation, front-proxy identity)? `_` is read
 * as `-` (cgiHeaderName): a server behind a CGI-style or header-normalising proxy reads
 * `X_Remote_User` as X-Remote-User.
 */
export function isClientIdentityHeader(name: string): boolean {
  const n = cgiHeaderName(name);
  return n.startsWith("impersonate-") || n.startsWith("x-remote-");
}

/** Throws KubeHeaderError when the client sent any impersonation or front-proxy identity header. */
export function refuseClientImpersonation(headers: HeaderList): void {
  for (const [name] of headers) {
    if (isClientIdentityHeader(name)) throw new KubeHeaderError(`the client may not send ${name}: who a request acts as is decided by the gateway's policy and the connector's credential`);
  }
}

const TABLE_V1 = "application/json;as=Table;v=v1;g=meta.k8s.io";
const PARTIAL_V1 = (as: string) => `application/json;as=${as};v=v1;g=meta.k8s.io`;

interface MediaRange {
  type: string;
  params: Map<string, string>;
}

function parseAccept(accept: string): MediaRange[] {
  return accept
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [type, ...params] = part.split(";").map((s) => s.trim());
      return { type: (type ?? "").toLowerCase(), params: new Map(params.map((p) => [p.slice(0, p.indexOf("=")).trim().toLowerCase(), p.slice(p.indexOf("=") + 1).trim()] as [string, string])) };
    });
}

/**
 * The Accept header sent upstream: JSON only. A Table (meta.k8s.io/v1 or v1beta1, any encoding)
 * stays a v1 JSON Table; PartialObjectMetadata(List) stays that, in JSON; a watch stream in
 * protobuf (`;stream=watch`) becomes a JSON watch. Anything else becomes `application/json`.
 */
export function rewriteAccept(accept: string | null): string {
  if (!accept) return "application/json";
  const out: string[] = [];
  for (const r of parseAccept(accept)) {
    const as = r.params.get("as");
    const g = r.params.get("g");
    if (as === "Table" && g === "meta.k8s.io") out.push(TABLE_V1);
    else if ((as === "PartialObjectMetadata" || as === "PartialObjectMetadataList") && g === "meta.k8s.io") out.push(PARTIAL_V1(as));
  }
  out.push("application/json");
  return [...new Set(out)].join(",");
}

/** Is a response body JSON the masker can read (`application/json`, any parameters)? */
export function isJsonContentType(contentType: string | null): boolean {
  return mediaType(contentType) === "application/json";
}

/** Request bodies the gateway can read: JSON, YAML (server-side apply) and the patch types. */
export function requestBodyKind(contentType: string | null): "json" | "yaml" | "protobuf" | "other" {
  const t = mediaType(contentType);
  if (t === "application/json" || t === "application/merge-patch+json" || t === "application/strategic-merge-patch+json" || t === "application/json-patch+json") return "json";
  if (t === "application/apply-patch+yaml" || t === "application/yaml") return "yaml";
  if (t === "application/vnd.kubernetes.protobuf") return "protobuf";
  return "other";
}

/** kubectl's own description of the command (`Kubectl-Command: kubectl delete`): for the trail, never for policy. */
export function kubectlContext(headers: HeaderList): { command: string | null; session: string | null } {
  const get = (n: string) => headers.find(([k]) => k.toLowerCase() === n)?.[1] ?? null;
  const clean = (v: string | null) => (v === null ? null : v.replace(/[^\x20-\x7e]/g, "?").slice(0, 200));
  return { command: clean(get("kubectl-command")), session: clean(get("kubectl-session")) };
}
