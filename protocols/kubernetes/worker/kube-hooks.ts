/**
 * The Kubernetes engine: the HTTP engine's per-request path (framing, approval hold, forwarding,
 * streaming, recording) with Kubernetes' own parts plugged into its hooks (HttpEngineHooks):
 *
 *   admit      planKubeRequest (parse by meaning; client Impersonate-* refused; Authorization,
 *              Cookie, Accept-Encoding dropped; Accept rewritten to JSON) → the policy request
 *              (`k8s` rules; discovery, OpenAPI and version allowed as system:discovery does);
 *              SPDY upgrades refused with the kubectl version to use; recorded as `k8s.request`
 *   refusal    a Kubernetes Status (403 worded as the API server words authorization failures)
 *   response   KubeResponseMasker (Secrets in JSON, Tables, watch events, last-applied), logs
 *              through the content detectors, streamed as they come; protobuf never (Accept)
 *   approval   the answer to a held request carries a Warning naming the approval
 *   upgrade    exec/attach channel streams recorded (kube-exec-recorder.ts), the server's output
 *              masked in flight by the content detectors (kube-exec-output.ts); port-forward
 *              re-framed, each stream decided per port before it is relayed (kube-portforward.ts)
 */
import type { EngineHost } from "../../../worker/engines/engine.ts";
import type { Admission, BodyTransform, HttpEngineHooks, UpgradedVerdict } from "../../http/worker/http-engine.ts";
import { mediaType, type HttpHeader } from "../../http/codec/head.ts";
import { header } from "../../http/codec/serialize.ts";
import type { Decision } from "../../../parsers/policy/types.ts";
import type { RequestDescription } from "../../types.ts";
import { KubeResponseError, KubeResponseMasker, planKubeRequest, type ForwardPlan } from "../exchange.ts";
import { forbiddenStatus, kubeStatus, warningHeader, type KubeStatus } from "../codec/status.ts";
import { execCommands, ExecCommandError } from "../codec/exec-command.ts";
import { CHANNEL_PROTOCOLS, restrictOffer, type ChannelProtocol } from "../codec/channel.ts";
import type { KubeRequest, KubeResourceRequest } from "../codec/request.ts";
import { BodyNameError, bodyObjectName, MAX_NAMED_BODY, type BodyObjectName } from "../codec/body-name.ts";
import type { KubePolicyRequest } from "../policy/rules.ts";
import type { ResponseMasking } from "../../http/worker/response-masking.ts";
import { KubeExecRecorder } from "./kube-exec-recorder.ts";
import { KubePortForward, PORTFORWARD_PROTOCOL } from "./kube-portforward.ts";

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  413: "RequestEntityTooLarge",
  415: "UnsupportedMediaType",
  429: "TooManyRequests",
  431: "BadRequest",
  502: "InternalError",
  503: "ServiceUnavailable",
};

/** Discovery, OpenAPI and version are the same for every user (the cluster's system:discovery role). */
const DISCOVERY: Decision = { effect: "allow", rule: null, reason: "discovery, OpenAPI and version documents are public to every authenticated user (system:discovery)", matched: [] };

const SPDY_REFUSED = "gatehouse: SPDY streams are not supported; use kubectl 1.30 or later (exec, attach and port-forward over WebSocket)";


/** Verbs that only read the API server's own objects (no proxy, exec, attach, portforward). */
const READ_VERBS: ReadonlySet<string> = new Set(["get", "list", "watch", "log"]);
export class KubeHooks implements HttpEngineHooks {
  readonly protocol = "kubernetes" as const;
  /** The request being served (one at a time, as the HTTP engine reads them). */
  private request: KubeRequest | null = null;
  private plan: ForwardPlan | null = null;
  private approvalId: string | null = null;
  private exec: KubeExecRecorder | null = null;
  private execFailure: string | null = null;
  private portForward: KubePortForward | null = null;
  /** The policy input and description of the request being served (port-forward decides per port later). */
  private input: KubePolicyRequest | null = null;
  private description: RequestDescription | null = null;

  constructor(
    private readonly host: EngineHost,
    /** The session's content detectors (logs); undefined when no masking rule applies. */
    private readonly textMasking: () => ResponseMasking | undefined,
  ) {}

  async admit(req: { method: string; target: string; headers: readonly HttpHeader[]; upgrade: string | null }): Promise<Admission> {
    this.request = null;
    this.plan = null;
    this.approvalId = null;
    const plan = planKubeRequest(
      req.method,
      req.target,
      req.headers.map((h) => [h.rawName, h.value]),
      { identity: this.host.identity },
    );
    if (plan.kind === "refuse") return this.refuse(plan.status);
    const r = plan.request;
    this.request = r;
    this.plan = plan;
    const input: KubePolicyRequest = { request: r };
    // kubectl 1.35 names the ports only inside the SPDY streams: `ports:` rules are checked per
    // stream (kube-portforward.ts); ports in the URL are checked here as well.
    if (r.kind === "resource" && r.verb === "portforward" && r.ports.length === 0) input.portsPerStream = true;
    if (r.kind === "resource" && r.verb === "exec") {
      try {
        input.commands = execCommands(r.command);
      } catch (e) {
        if (e instanceof ExecCommandError) return this.refuse(kubeStatus(400, "BadRequest", `gatehouse: ${e.message}`));
        throw e;
      }
    }
    // Upstream headers: the plan's (Accept JSON; no client credential or impersonation), never a
    // content coding the masker would have to undo; a WebSocket offer cut to the channel protocols.
    const headers: HttpHeader[] = [];
    for (const [name, value] of plan.headers) {
      const lower = name.toLowerCase();
      // No content coding the masker would have to undo; no WebSocket extension (a compressed
      // exec stream could not be read passively).
      if (lower === "accept-encoding" || lower === "sec-websocket-extensions") continue;
      if (lower === "sec-websocket-protocol" && r.kind === "resource" && (r.verb === "exec" || r.verb === "attach")) {
        const offer = restrictOffer(value);
        if (offer.length === 0) return this.refuse(kubeStatus(400, "BadRequest", "gatehouse: exec and attach need the v5.channel.k8s.io or v4.channel.k8s.io WebSocket protocol (kubectl 1.30 or later)"));
        headers.push(header(name, offer.join(", ")));
        continue;
      }
      if (lower === "sec-websocket-protocol" && r.kind === "resource" && r.verb === "portforward") {
        // Only the SPDY tunnel: its streams are what the gateway reads to decide each port.
        if (!value.split(",").some((p) => p.trim() === PORTFORWARD_PROTOCOL)) return this.refuse(kubeStatus(400, "BadRequest", `gatehouse: port-forward needs the ${PORTFORWARD_PROTOCOL} WebSocket protocol (kubectl 1.30 or later)`));
        headers.push(header(name, PORTFORWARD_PROTOCOL));
        continue;
      }
      headers.push(header(name, value));
    }
    await this.host.audit.onEvent("k8s.request", {
      ...(r.kind === "resource"
        ? { verb: r.verb, group: r.group, resource: r.resource, ...(r.subresource ? { subresource: r.subresource } : {}), namespace: r.namespace, name: r.name, ...(r.verb === "exec" ? { command: this.maskArgs(r.command) } : {}), ...(r.dryRun ? { dryRun: true } : {}) }
        : { nonResource: r.category, path: r.path }),
      // kubectl's own description: context for reviewers, never used to decide.
      ...(plan.context.command ? { kubectlCommand: plan.context.command.slice(0, 512) } : {}),
      ...(plan.context.session ? { kubectlSession: plan.context.session.slice(0, 64) } : {}),
    });
    // SPDY (kubectl before 1.30, or its fallback when the WebSocket upgrade was refused): decided
    // first, as the API server authorises before upgrading — a denied exec stays a 403 — and
    // refused only when policy would let it through.
    if (req.upgrade !== null && req.upgrade.toLowerCase() !== "websocket") {
      const { decision } = this.host.policy.decide(this.describe(req, r, input));
      // The refusal hook words it as the API server would (forbiddenStatus), once.
      if (decision.effect === "deny") return { kind: "refuse", status: 403, detail: `gatehouse: ${decision.reason}` };
      return this.refuse(kubeStatus(400, "BadRequest", SPDY_REFUSED));
    }
    // A WebSocket upgrade is read only for exec, attach and port-forward (their channel and SPDY
    // readers). The API server also serves a watch (and logs, and the proxy) over WebSocket to a
    // GET that asks to upgrade: relayed unread, Secret data and log lines would pass unmasked.
    if (req.upgrade !== null && !(r.kind === "resource" && (r.verb === "exec" || r.verb === "attach" || r.verb === "portforward"))) {
      return this.refuse(kubeStatus(400, "BadRequest", `gatehouse: a WebSocket upgrade is accepted only for exec, attach and port-forward, not for ${r.kind === "resource" ? r.verb : "a non-resource path"}: the gateway cannot mask what it would carry (ask without Upgrade)`));
    }
    this.input = input;
    this.description = this.describe(req, r, input);
    // A create names its object only in the body: read it (bounded) so `names:` rules can decide.
    // A JSON patch of a Secret can copy or move its data where the masker does not look (an
    // annotation) or test a guess against it: its operations are read before anything is decided.
    const body = r.kind === "resource" && r.verb === "create" && r.name === "" ? this.createBody(req, r, input) : r.kind === "resource" && r.verb === "patch" && r.resource === "secrets" ? this.secretPatchBody(req) : undefined;
    if (body && "refuse" in body) return this.refuse(body.refuse);
    const informational = r.kind === "nonresource" && (r.category === "discovery" || r.category === "openapi" || r.category === "version") && r.method === "GET";
    return {
      kind: "decide",
      description: this.description,
      headers,
      target: req.target,
      // Only reads of the API's own objects may reach the API server before their events are
      // durable: a GET through `proxy` (or any other subresource or non-resource path) can act on a pod or service.
      readOnly: informational || (r.kind === "resource" && READ_VERBS.has(r.verb)),
      ...(informational ? { decision: DISCOVERY } : {}),
      ...(body ? { body: body.read } : {}),
    };
  }

  /** How a create's body is read for its object's name (codec/body-name.ts); one Content-Type only. */
  private createBody(req: { method: string; target: string; headers: readonly HttpHeader[] }, r: KubeResourceRequest, input: KubePolicyRequest): { read: NonNullable<Extract<Admission, { kind: "decide" }>["body"]> } | { refuse: KubeStatus } {
    const contentType = oneContentType(req.headers);
    if (typeof contentType === "object" && contentType !== null) return contentType;
    return {
      read: {
        limit: MAX_NAMED_BODY,
        describe: (bytes) => {
          let named: BodyObjectName;
          try {
            named = bodyObjectName(contentType, bytes, r.namespace);
          } catch (e) {
            if (e instanceof BodyNameError) return { refuse: { status: 400, detail: `gatehouse: ${e.message}` } };
            throw e;
          }
          const withName: KubePolicyRequest = { ...input, bodyName: named.name };
          this.input = withName;
          const described = this.describe(req, r, withName);
          const description = named.name ? { ...described, target: `${r.namespace}/${r.resource}/${named.name}` } : described;
          this.description = description;
          return { description };
        },
      },
    };
  }

  /**
   * A patch of a Secret: a JSON patch (RFC 6902) whose `copy`, `move` or `test` operations would
   * read the Secret's values (into an annotation the answer shows, or as a yes/no oracle) is
   * refused; other patch types cannot refer to existing values. Any other patch type is decided as
   * it is. One Content-Type only.
   */
  private secretPatchBody(req: { headers: readonly HttpHeader[] }): { read: NonNullable<Extract<Admission, { kind: "decide" }>["body"]> } | { refuse: KubeStatus } | undefined {
    const contentType = oneContentType(req.headers);
    if (typeof contentType === "object" && contentType !== null) return contentType;
    if (mediaType(contentType) !== "application/json-patch+json") return undefined;
    const description = this.description;
    return {
      read: {
        limit: MAX_NAMED_BODY,
        describe: (bytes) => {
          const refuse = (why: string) => ({ refuse: { status: 400, detail: `gatehouse: ${why}` } });
          let ops: unknown;
          try {
            ops = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
          } catch {
            return refuse("the JSON patch of a Secret is not valid JSON");
          }
          if (!Array.isArray(ops)) return refuse("a JSON patch must be an array of operations");
          for (const op of ops) {
            const kind = op !== null && typeof op === "object" && !Array.isArray(op) ? (op as Record<string, unknown>).op : undefined;
            if (typeof kind !== "string") return refuse("a JSON patch operation without an op");
            if (["copy", "move", "test"].includes(kind.toLowerCase())) return refuse(`a JSON patch '${kind}' operation on a Secret is refused: it would read the Secret's values past the masking (use add, replace or remove)`);
          }
          return { description: description! };
        },
      },
    };
  }

  /** argv for the trail, each word through the content detectors (a secret passed on the command line). */
  private maskArgs(argv: readonly string[]): string[] {
    const m = this.textMasking();
    return m ? argv.map((a) => m.text(a)) : [...argv];
  }

  private describe(req: { method: string; target: string }, r: KubeRequest, input: KubePolicyRequest): RequestDescription {
    return {
      protocol: "kubernetes",
      actions: [r.kind === "resource" ? r.verb : "get"],
      target: r.kind === "resource" ? `${r.namespace}/${r.resource}/${r.name}` : r.path,
      text: `${req.method} ${req.target}`,
      attributes: { request: input },
    };
  }

  private refuse(status: KubeStatus): Admission {
    // Worded already (planKubeRequest's Status); the refusal hook passes it on as is.
    this.request = null;
    return { kind: "refuse", status: status.code, detail: status.message };
  }

  refusal(p: { status: number; detail: string; rule: string | null; extra: Record<string, unknown> }): { contentType: string; body: string } {
    const message = p.detail.replace(/^(gatehouse: )+/, "gatehouse: ");
    const approval = typeof p.extra.approval === "string" ? ` (approval ${p.extra.approval})` : "";
    // 429 carries retryAfterSeconds as the API server's own throttling Status does (client-go waits that long).
    const details = typeof p.extra.retry_after === "number" ? { retryAfterSeconds: p.extra.retry_after } : undefined;
    const status = p.status === 403 && this.request ? forbiddenStatus(this.request, `${message}${approval}`) : kubeStatus(p.status, REASONS[p.status] ?? "InternalError", `${message}${approval}`, details);
    return { contentType: "application/json", body: JSON.stringify(status) };
  }

  held(approvalId: string): void {
    this.approvalId = approvalId;
  }

  responseHeaders(): HttpHeader[] {
    return this.approvalId ? [header("Warning", warningHeader(`gatehouse: this request was held for approval ${this.approvalId} and approved`))] : [];
  }

  responseBody(response: { status: number; contentType: string; encodings: string[] }, emit: (bytes: Uint8Array) => void): BodyTransform | undefined {
    const plan = this.plan;
    if (!plan) return undefined;
    if (response.encodings.length > 0) throw new Error(`the API server sent Content-Encoding ${response.encodings.join(", ")}, which the gateway did not ask for and cannot mask`);
    let masker: KubeResponseMasker;
    try {
      masker = new KubeResponseMasker(plan, response.contentType || null, response.status);
    } catch (e) {
      if (e instanceof KubeResponseError) throw new Error(e.status.message);
      throw e;
    }
    // Container logs: the session's content detectors, streamed as lines come (never the whole log).
    const text = plan.response.mode === "stream" ? this.textMasking()?.body("text/plain", [], emit) : undefined;
    const wrap = (f: () => Uint8Array): void => {
      try {
        emit(f());
      } catch (e) {
        throw e instanceof KubeResponseError ? new Error(e.status.message) : e;
      }
    };
    if (text) return { push: (b) => text.push(masker.push(b)), end: async () => text.end() };
    return {
      push: async (b) => wrap(() => masker.push(b)),
      end: async () => wrap(() => masker.end()),
    };
  }

  upgradeAccepted(headers: readonly HttpHeader[]): void {
    const r = this.request;
    if (r && r.kind === "resource" && r.verb === "portforward") {
      const chosen = headers.find((h) => h.name === "sec-websocket-protocol")?.value.trim() ?? "";
      const input = this.input;
      const description = this.description;
      // Another protocol cannot be read: no reader, so the first upgraded bytes end the stream.
      if (chosen !== PORTFORWARD_PROTOCOL || !input || !description) return;
      this.portForward = new KubePortForward(
        this.host,
        (port) => this.host.policy.decide({ ...description, attributes: { request: { ...input, portsPerStream: false, ports: [port] } } }).decision,
        this.approvalId !== null,
      );
      return;
    }
    if (!r || r.kind !== "resource" || (r.verb !== "exec" && r.verb !== "attach")) return;
    const chosen = headers.find((h) => h.name === "sec-websocket-protocol")?.value.trim() ?? "";
    // The offer went up cut to v5/v4; an answer outside it cannot be read: no recorder, so the
    // first upgraded bytes end the stream (upgraded()).
    if (!(CHANNEL_PROTOCOLS as readonly string[]).includes(chosen)) return;
    try {
      // kubectl cp runs tar in the pod: its archive is masked byte for byte (same length).
      const tar = this.input?.commands?.commands.some((c) => c.name === "tar") ?? false;
      this.exec = new KubeExecRecorder(this.host, { ...r, command: this.maskArgs(r.command) }, chosen as ChannelProtocol, this.textMasking(), { sameLength: tar });
    } catch (e) {
      // No masker, no stream: the first upgraded bytes end the session (fail closed).
      this.execFailure = `the exec output cannot be masked (${(e as Error).message})`;
    }
  }

  /** Resolves once the events describing the bytes are recorded (kubectl's: durable before they are forwarded). */
  async upgraded(from: "client" | "upstream", bytes: Uint8Array): Promise<UpgradedVerdict> {
    const r = this.request;
    if (this.exec) return this.exec.push(from, bytes);
    if (this.execFailure) throw new Error(this.execFailure);
    if (this.portForward) return { replace: from === "client" ? await this.portForward.pushFromClient(bytes) : await this.portForward.pushFromUpstream(bytes) };
    // A port-forward whose protocol was not accepted: nothing unread is relayed.
    if (r && r.kind === "resource" && r.verb === "portforward") throw new Error("the port-forward stream's protocol is unknown");
    // exec/attach whose protocol was not accepted: nothing unread is relayed.
    if (r && r.kind === "resource" && (r.verb === "exec" || r.verb === "attach")) throw new Error("the exec stream's protocol is unknown");
  }

  async upgradeClosed(): Promise<void> {
    // The server ended without a close frame: what the output windows hold goes out masked.
    const rest = this.exec?.flushOutput() ?? [];
    if (rest.length > 0) this.host.sendToClient(rest);
    await this.exec?.close();
    await this.portForward?.close();
  }
}

/** The request's Content-Type (null when absent); refused when given more than once (the body's reading would be ambiguous). */
function oneContentType(headers: readonly HttpHeader[]): string | null | { refuse: KubeStatus } {
  const types = headers.filter((h) => h.name === "content-type");
  if (types.length > 1) return { refuse: kubeStatus(400, "BadRequest", "gatehouse: Content-Type given more than once") };
  return types[0]?.value ?? null;
}
