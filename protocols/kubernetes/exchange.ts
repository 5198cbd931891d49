/**
 * One Kubernetes API exchange, decided and shaped by meaning — the runtime-neutral core the
 * worker's Kubernetes engine runs on top of the HTTP engine (docs/KUBERNETES.md):
 *
 *   planKubeRequest: request-target + headers → refuse (a Status) | forward (the parsed request,
 *     the headers to send upstream, how to treat the response)
 *   KubeResponseMasker: the response body, masked as it streams (JSON documents whole, watch
 *     events per line, logs and upgrades passed through for the stream readers)
 *
 * Policy itself (decideKubeRequest) and the approval hold run between the two, in the chain.
 */
import type { Identity } from "../../parsers/identity.ts";
import { KubeRequestError, parseKubeRequest, type KubeRequest } from "./codec/request.ts";
import { KubeHeaderError, isClientIdentityHeader, isJsonContentType, kubectlContext, refuseClientImpersonation, rewriteAccept, type HeaderList } from "./codec/headers.ts";
import { badRequestStatus, forbiddenStatus, kubeStatus, type KubeStatus } from "./codec/status.ts";
import { MaskError, maskJsonBody } from "./codec/secret-mask.ts";
import { WatchEventMasker } from "./codec/watch-stream.ts";
import { ImpersonationError, impersonationHeaders, type ImpersonationSpec } from "./policy/impersonation.ts";

export type ResponseMode =
  /** A JSON document (object, list, Table, Status): read whole, masked, sent. */
  | "json"
  /** A watch: one JSON event per line, masked and released line by line. */
  | "watch"
  /** Container logs: text, streamed as it comes (content detectors apply, not Secret masking). */
  | "stream"
  /** exec/attach/portforward: an upgrade; the channel reader (codec/channel.ts) records it. */
  | "upgrade"
  /** Discovery, OpenAPI, version, health: JSON without Secret objects. */
  | "nonresource";

export interface ForwardPlan {
  kind: "forward";
  request: KubeRequest;
  /** Headers for the upstream request: the client's, minus Authorization, with Accept rewritten and impersonation added. */
  headers: Array<[string, string]>;
  /**
   * secretRequest: the resource is `secrets`; tokenRequest: `serviceaccounts/<name>/token` (its
   * answer carries a live token); csrRequest: CSRs (their answers carry issued client certificates).
   */
  response: { mode: ResponseMode; secretRequest: boolean; tokenRequest: boolean; csrRequest: boolean };
  /** kubectl's own description (Kubectl-Command, Kubectl-Session): for the trail only. */
  context: { command: string | null; session: string | null };
}

export type RequestPlan = { kind: "refuse"; status: KubeStatus } | ForwardPlan;

export interface PlanOptions {
  identity: Identity;
  /** Impersonation the policy derives from the identity (null: the connector's credential acts as itself). */
  impersonation?: ImpersonationSpec | null;
}

/** Hop-by-hop and credential headers never copied upstream from the client. */
const DROPPED = new Set(["authorization", "accept", "proxy-authorization", "cookie"]);

export function planKubeRequest(method: string, target: string, headers: HeaderList, opts: PlanOptions): RequestPlan {
  let request: KubeRequest;
  try {
    request = parseKubeRequest(method, target);
  } catch (err) {
    if (err instanceof KubeRequestError) return { kind: "refuse", status: badRequestStatus(err.message) };
    throw err;
  }
  // Discovery, OpenAPI and version are the same for every user: impersonation (and front-proxy
  // identity) headers there are dropped (kubectl --as sends them on discovery too, and shows a
  // refused discovery only as "unknown"); on every other request they are refused, with a Status
  // kubectl prints.
  const informational = request.kind === "nonresource" && request.category !== "other" && request.category !== "health";
  if (!informational) {
    try {
      refuseClientImpersonation(headers);
    } catch (err) {
      if (err instanceof KubeHeaderError) return { kind: "refuse", status: forbiddenStatus(request, `gatehouse: ${err.message}`) };
      throw err;
    }
  }
  const out: Array<[string, string]> = headers.filter(([k]) => !DROPPED.has(k.toLowerCase()) && !isClientIdentityHeader(k)).map(([k, v]) => [k, v]);
  const accept = headers.find(([k]) => k.toLowerCase() === "accept")?.[1] ?? null;
  const upgrade = request.kind === "resource" && (request.verb === "exec" || request.verb === "attach" || request.verb === "portforward");
  // An upgrade keeps its Accept (none of the JSON rules apply to a stream); everything else gets JSON.
  if (upgrade && accept !== null) out.push(["Accept", accept]);
  else if (!upgrade) out.push(["Accept", request.kind === "resource" && request.verb === "log" ? "*/*" : rewriteAccept(accept)]);
  if (opts.impersonation) {
    try {
      out.push(...impersonationHeaders(opts.impersonation, opts.identity));
    } catch (err) {
      if (err instanceof ImpersonationError) return { kind: "refuse", status: forbiddenStatus(request, `gatehouse: ${err.message}`) };
      throw err;
    }
  }
  let mode: ResponseMode;
  if (request.kind === "nonresource") mode = "nonresource";
  else if (upgrade) mode = "upgrade";
  else if (request.verb === "watch") mode = "watch";
  else if (request.verb === "log") mode = "stream";
  else mode = "json";
  const secretRequest = request.kind === "resource" && request.resource === "secrets";
  // A TokenRequest's answer is a bearer token of the cluster (kubectl create token): masked like Secret data.
  const tokenRequest = request.kind === "resource" && request.group === "" && request.resource === "serviceaccounts" && request.subresource === "token";
  // A CSR's answer carries the certificate issued for the requester's key: a client credential of the cluster.
  const csrRequest = request.kind === "resource" && request.group === "certificates.k8s.io" && request.resource === "certificatesigningrequests";
  return { kind: "forward", request, headers: out, response: { mode, secretRequest, tokenRequest, csrRequest }, context: kubectlContext(headers) };
}

export class KubeResponseError extends Error {
  constructor(readonly status: KubeStatus) {
    super(status.message);
  }
}

/**
 * The response body of one exchange, masked. `push` returns what may go to the client now; `end`
 * the rest. JSON documents are held until complete (bounded); watch events are released per line.
 * A response the masker cannot read where Secrets could be (not JSON) is refused: KubeResponseError.
 */
export class KubeResponseMasker {
  private readonly parts: Uint8Array[] = [];
  private size = 0;
  private readonly watch: WatchEventMasker | null;
  maskedValues = 0;

  constructor(
    private readonly plan: ForwardPlan,
    private readonly contentType: string | null,
    private readonly status: number,
    private readonly maxDocumentBytes = 64 * 1024 * 1024,
  ) {
    const m = plan.response.mode;
    const json = isJsonContentType(contentType);
    if ((m === "json" || m === "watch") && !json && status < 300) {
      throw new KubeResponseError(kubeStatus(502, "InternalError", `gatehouse: the API server answered ${contentType ?? "without a content type"}, which the gateway cannot mask; only JSON is passed on`));
    }
    this.watch = m === "watch" && status < 300 ? new WatchEventMasker(plan.response.secretRequest, undefined, plan.response.csrRequest) : null;
  }

  /** Is the body passed through as it comes (logs, upgrades, non-resource documents, errors that are not JSON)? */
  private get passthrough(): boolean {
    const m = this.plan.response.mode;
    return m === "stream" || m === "upgrade" || m === "nonresource" || (!isJsonContentType(this.contentType) && this.status >= 300);
  }

  push(chunk: Uint8Array): Uint8Array {
    if (this.passthrough) return chunk;
    if (this.watch) {
      const out = this.watch.push(chunk);
      this.maskedValues = this.watch.count.values;
      return out;
    }
    this.size += chunk.length;
    if (this.size > this.maxDocumentBytes) throw new KubeResponseError(kubeStatus(502, "InternalError", `gatehouse: the API server's response is larger than ${this.maxDocumentBytes} bytes, the most the gateway masks in one document`));
    this.parts.push(chunk.slice());
    return new Uint8Array(0);
  }

  end(): Uint8Array {
    if (this.passthrough) return new Uint8Array(0);
    if (this.watch) {
      const out = this.watch.end();
      this.maskedValues = this.watch.count.values;
      return out;
    }
    const all = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      all.set(p, o);
      o += p.length;
    }
    if (all.length === 0) return all;
    try {
      const { body, count } = maskJsonBody(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(all), this.plan.response.secretRequest, this.plan.response.tokenRequest, this.plan.response.csrRequest);
      this.maskedValues = count.values;
      return count.values > 0 ? new TextEncoder().encode(body) : all;
    } catch (err) {
      if (err instanceof MaskError || err instanceof TypeError) throw new KubeResponseError(kubeStatus(502, "InternalError", `gatehouse: ${err.message}`));
      throw err;
    }
  }
}
