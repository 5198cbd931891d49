/**
 * HTTP engine of the worker: one client connection (keep-alive) = one session; requests one at a
 * time, each through the chain
 *
 *   client bytes → codec (smuggling shapes refused: 400 + close) → normalised target
 *     → policy (method, path, query, headers, upgrade) → deny: 403 problem+json naming the rule
 *     → approve: body buffered (≤ 64 KiB, shown to approvers whole), request held while the client waits, forwarded once
 *     → allow: forwarded to the connector (which adds the credential)
 *   connector bytes → response codec → content decoding (gzip/deflate; br refused)
 *     → masking (JSON by key/path + detectors; text by detectors; headers by rule) → client
 *   every exchange recorded: http.request, decision, http.response (status, headers, masked capped body).
 *
 * The next request is read only once the previous response is complete (pipelined requests wait
 * in the tunnel's flow-control window), so at most one exchange is in flight. A 101 response to an
 * allowed upgrade turns the session into an opaque relay, recorded as byte counts.
 */
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import type { Decision } from "../../../parsers/policy/types.ts";
import type { RequestDescription } from "../../types.ts";
import type { Engine, EngineHost } from "../../../worker/engines/engine.ts";
import { HttpCodecError } from "../codec/errors.ts";
import { bodyMethodField, overrideBodyKind, refuseMethodOverride, type OverrideBodyKind } from "../codec/method-override.ts";
import { MessageReader } from "../codec/reader.ts";
import { cgiHeaderName, headerValues, tokenList, type BodyFraming, type HttpHeader, type RequestHead, type ResponseHead } from "../codec/head.ts";
import { normaliseTarget, queryParams } from "../codec/path.ts";
import { chunk, connectionListed, header, HOP_BY_HOP, LAST_CHUNK, problemResponse, serializeRequestHead, serializeResponseHead } from "../codec/serialize.ts";
import type { HttpRequestDescription } from "../policy/http-policy.ts";
import { httpRequest } from "../policy/describe.ts";
import type { BodyTransform, ResponseMasking } from "./response-masking.ts";
import { RATE_LIMIT_RULE, type Throttle } from "../../../worker/limits/request-gate.ts";
import { FilterChain } from "../../../worker/chain/chain.ts";
import { approvalHoldFilter } from "../../../worker/chain/filters/approval-hold.ts";
import { decidedFilter } from "../../../worker/chain/filters/decided.ts";
import { concatBytes as concat } from "../../../parsers/encoding/bytes.ts";
import { recordingRefusal } from "../../../worker/chain/filters/recording.ts";
import { visibleText } from "../../../worker/approvals/display.ts";
import { MAX_STATEMENT_TEXT } from "../../../worker/approvals/core.ts";

export type { BodyTransform } from "./response-masking.ts";

const CONNECT_TIMEOUT_MS = 30_000;
/** Largest body an approve rule can hold: approvers are shown all of it (as a held SQL statement, never cut); it is forwarded from memory. */
export const MAX_HELD_BODY = MAX_STATEMENT_TEXT;
/** A body a framework may read `_method` from (a form, a POST's JSON) is read whole before it is decided; more is a 413. */
export const MAX_FORM_BODY = 4 * 1024 * 1024;

/** Decides such a request once its body is read: refused when a field would override the method. */
function overrideBodyDecides(kind: OverrideBodyKind, request: HttpRequestDescription): NonNullable<Extract<Admission, { kind: "decide" }>["body"]> {
  return {
    limit: MAX_FORM_BODY,
    describe: (bytes) => {
      const field = bodyMethodField(kind, bytes);
      if (field !== null) return { refuse: { status: 400, detail: `gatehouse: the ${kind === "json" ? "JSON" : "form"} field ${JSON.stringify(field.slice(0, 64))} is not accepted: the upstream could run another method than the one the policy decided` } };
      return { description: httpRequest(request) };
    },
  };
}
/** How much of each (masked) body the trail keeps. */
export const RECORDED_BODY_BYTES = 4096;
/** Request headers the client never gets to send upstream (the connector drops them again). */
const CLIENT_ONLY = new Set(["authorization", "proxy-authorization", "x-gatehouse-listener-token", "forwarded", "x-real-ip", "expect"]);
/** Headers recorded in the trail (values masked); the rest only by name. */
const RECORDED_HEADERS = new Set(["content-type", "content-length", "accept", "user-agent", "location", "content-encoding", "transfer-encoding", "upgrade"]);

export interface HttpEngineOptions {
  /** Builds response masking for this session (undefined = no masking rule applies). Throws = unavailable → fail closed. */
  masking?: () => ResponseMasking | undefined;
  /** Extension points for a protocol built on HTTP (Kubernetes); plain HTTP sets none. */
  hooks?: HttpEngineHooks;
  /**
   * Masks what the trail and approvers see (request line, decision reasons, recorded headers and
   * bodies) when `masking` is not set: Kubernetes masks its responses in its own hooks but still
   * runs the content detectors on what it records.
   */
  recordText?: () => ((text: string) => string) | undefined;
}

/**
 * How a protocol that rides on HTTP (protocols/kubernetes/worker/) reuses this engine's
 * per-request path — framing, approval hold, forwarding, streaming, recording — and replaces only
 * its own parts: what a request means to policy, how a refusal looks to its client, how a body is
 * masked, and what an upgraded stream carries. Every hook is optional; unset = HTTP's behaviour.
 */
export interface HttpEngineHooks {
  /** The protocol named in the trail's query events (default "http"). */
  readonly protocol?: "http" | "kubernetes";
  /** Reads a request in place of the HTTP policy description (before the upgrade check). */
  admit?(request: { method: string; target: string; headers: readonly HttpHeader[]; upgrade: string | null }): Promise<Admission>;
  /** Body (and Content-Type) of a refusal in the client's protocol (default: problem+json). */
  refusal?(problem: { status: number; detail: string; rule: string | null; extra: Record<string, unknown> }): { contentType: string; body: string };
  /** Masks one response body in place of `masking` (throws = the response is refused with a 502). */
  responseBody?(response: { status: number; contentType: string; encodings: string[] }, emit: (bytes: Uint8Array) => void): BodyTransform | undefined;
  /** Headers added to the response the client gets (e.g. a Warning naming the approval). */
  responseHeaders?(status: number): HttpHeader[];
  /** The approval a held request waited for (its id), once requested. */
  held?(approvalId: string): void;
  /** The upstream's 101 answer (its headers name the negotiated subprotocol). */
  upgradeAccepted?(headers: readonly HttpHeader[]): void;
  /**
   * Bytes of an upgraded connection, read before they are relayed (throws or rejects = the session
   * ends, the bytes are not relayed; "withhold" = these bytes are not relayed, the session goes on;
   * `replace` = these parts are relayed in their place, e.g. exec output re-framed after masking).
   * May be asynchronous: the bytes wait until it settles (e.g. until the events describing them
   * are recorded), and later bytes of either direction wait behind them.
   */
  upgraded?(from: "client" | "upstream", bytes: Uint8Array): UpgradedVerdict | Promise<UpgradedVerdict>;
  /** The upgraded connection ended (flush what the stream readers hold). */
  upgradeClosed?(): Promise<void>;
}

/** What an upgraded stream's reader makes of some bytes: relay them, hold them back, or relay others in their place. */
export type UpgradedVerdict = void | "withhold" | { replace: Uint8Array[] };

/** What `admit` made of a request: refused here, or described for policy (optionally decided already). */
export type Admission =
  | { kind: "refuse"; status: number; detail: string }
  | {
      kind: "decide";
      description: RequestDescription;
      headers: HttpHeader[];
      target: string;
      decision?: Decision;
      /**
       * false: this GET may change something on the target (Kubernetes' API-server `proxy`), so its
       * events are durable before it is forwarded, as for writes. Default: GET/HEAD are reads.
       */
      readOnly?: boolean;
      /**
       * The decision needs the body (a Kubernetes create names its object only there): it is
       * read whole, at most `limit` bytes (more: 413), before anything is decided or forwarded,
       * then `describe` gives the description to decide on, or a refusal.
       */
      body?: { limit: number; describe(body: Uint8Array): { description: RequestDescription } | { refuse: { status: number; detail: string } } };
    };

interface Exchange {
  method: string;
  target: string;
  framing: BodyFraming;
  state: "forwarding" | "holding" | "reading" | "refused";
  /** reading: what describes the request once its body is read. */
  bodyDecides?: NonNullable<Extract<Admission, { kind: "decide" }>["body"]>;
  /** Approve: the body, collected before the hold. */
  held: Uint8Array[];
  heldBytes: number;
  head: RequestHead;
  closeAfter: boolean;
  decision: Decision;
  done: Promise<void>;
  finish: () => void;
  upgrade: string | null;
  /** The client sent `Expect: 100-continue` and has not been answered yet. */
  expectContinue: boolean;
}

interface ResponseState {
  status: number;
  chunked: boolean;
  transform?: BodyTransform;
  refused: boolean;
  recorded: Uint8Array[];
  recordedBytes: number;
  bytes: number;
  headers: Array<[string, string]>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const CONTINUE = enc.encode("HTTP/1.1 100 Continue\r\n\r\n");

export class HttpEngine implements Engine {
  private phase: "init" | "connecting" | "ready" | "upgraded" | "closed" = "init";
  private readonly requests = new MessageReader("request");
  private readonly responses = new MessageReader<ResponseHead>("response");
  private current?: Exchange;
  private response?: ResponseState;
  private connectorReady?: { resolve: () => void; reject: (e: { code?: string; message?: string }) => void };
  private connecting?: Promise<void>;
  private masking: ResponseMasking | undefined;
  private maskingBuilt = false;
  private upgradedUp = 0;
  private upgradedDown = 0;
  private exchanges = 0;
  /** While a connector frame is processed: what goes to the client, sent as one frame at the end. */
  private batch: Uint8Array[] | undefined;

  private readonly holdChain: FilterChain<HeldExchange>;

  constructor(
    private readonly host: EngineHost,
    private readonly options: HttpEngineOptions = {},
  ) {
    this.holdChain = this.createHoldChain();
  }

  /** Approvals on the shared chain (decidedFilter + approvalHoldFilter); the engine answers refusals itself (403 problem+json). */
  private createHoldChain(): FilterChain<HeldExchange> {
    return new FilterChain<HeldExchange>(
      [
        decidedFilter(),
        approvalHoldFilter<HeldExchange>({
          hold: async (input, frame) => {
            const held = await this.host.holdForApproval({ ...input, displayText: frame.message.displayText });
            frame.message.approvalId = held.id;
            this.options.hooks?.held?.(held.id);
            return held;
          },
          notify: (line) => this.host.sendControlToClient({ t: "notice", message: line }),
          record: async (event, frame) => {
            const outcome: Decision = { ...frame.message.ex.decision, effect: event.effect, reason: event.reason };
            await this.recordDecision(outcome);
            frame.message.ex.decision = outcome;
          },
          failed: (decision, e, frame) => {
            const reason = `${frame.message.ex.method} ${frame.message.ex.target} requires approval (${decision.reason}) but the approval request failed: ${e.message}`;
            return { recorded: reason, message: `gatehouse: ${reason}` };
          },
          notRun: (message) => `gatehouse: ${message}`,
        }),
      ],
      { forward: () => {}, deliver: () => {}, refuse: () => {} },
    );
  }

  // ---------------------------------------------------------------- client → upstream

  async onClientData(bytes: Uint8Array): Promise<void> {
    if (this.is("closed")) return;
    if (this.is("upgraded")) {
      await this.relayUp(bytes);
      return;
    }
    this.requests.push(bytes);
    try {
      for (let e = this.requests.next(); e; e = this.requests.next()) {
        if (this.is("closed")) return;
        if (e.t === "head") await this.onRequestHead(e.head, e.framing);
        else if (e.t === "body") await this.onRequestBody(e.bytes);
        else if (e.t === "end") await this.onRequestEnd();
        else if (e.t === "raw") {
          await this.relayUp(e.bytes);
        }
        if (this.is("upgraded")) {
          // Bytes the client sent after the upgrade request are the new protocol's.
          const rest = this.requests.next();
          if (rest && rest.t === "raw") {
            await this.relayUp(rest.bytes);
          }
          return;
        }
      }
    } catch (e) {
      if (e instanceof HttpCodecError) return this.refuseAndClose(e.status, e.message);
      throw e;
    }
  }

  private async onRequestHead(head: RequestHead, framing: BodyFraming): Promise<void> {
    const { host } = this;
    // The tenant's request rate (hosted mode), first: a refusal for an empty bucket is already
    // counted in the trail (docs/TENANCY.md "Cheap refusals"), nothing more is read or recorded.
    const early = host.refuseBeforeParse?.();
    const refusedEarly = early === undefined || early === null ? null : await early;
    if (refusedEarly?.recorded) return this.refuseThrottled(head, framing, head.headers.some((h) => h.name === "upgrade") ? "upgrade" : null, "", refusedEarly);
    const target = normaliseTarget(head.target);
    // A method override would let the upstream run another method than the one decided.
    refuseMethodOverride(head.headers, target.query);
    const upgradeValues = headerValues(head.headers, "upgrade");
    if (upgradeValues.length > 1) throw new HttpCodecError(400, "Upgrade given more than once");
    const upgrade = upgradeValues.length === 1 ? (tokenList(upgradeValues[0]!)[0] ?? null) : null;
    const hooks = this.options.hooks;
    // The tenant's request rate (hosted mode) before anything else is done for the request: 429.
    const throttled = await host.admitRequest?.();
    if (throttled) return this.refuseThrottled(head, framing, upgrade, target.path, throttled);
    // Names with `_` read as `-` (CGI-style upstreams file both spellings as one variable).
    const headers0 = head.headers.filter((h) => {
      const n = cgiHeaderName(h.name);
      return !CLIENT_ONLY.has(n) && !HOP_BY_HOP.has(n) && !n.startsWith("x-forwarded-") && !n.startsWith("x-gatehouse-");
    });
    const admitted = hooks?.admit ? await hooks.admit({ method: head.method, target: head.target, headers: headers0, upgrade }) : undefined;
    if (admitted?.kind === "refuse") {
      this.exchanges++;
      const close = framing.kind !== "none" || upgrade !== null;
      this.sendProblem(admitted.status, "Refused", admitted.detail, null, close);
      await host.audit.onEvent("http.refused", { status: admitted.status, reason: admitted.detail });
      if (close) this.end("denied", admitted.detail, "denied");
      return;
    }
    if (upgrade !== null && (upgrade !== "websocket" || head.method !== "GET" || framing.kind !== "none")) throw new HttpCodecError(400, "only a WebSocket upgrade on a GET without body is supported");
    const headers = admitted?.headers ?? headers0;
    const request: HttpRequestDescription = {
      method: head.method,
      path: target.path,
      query: queryParams(target.query),
      headers: headers.map((h) => [h.name, h.value]),
      upgrade,
    };
    this.exchanges++;
    const closeAfter = head.version === "HTTP/1.0" ? !headerValues(head.headers, "connection").some((v) => tokenList(v).includes("keep-alive")) : headerValues(head.headers, "connection").some((v) => tokenList(v).includes("close"));
    // GET and HEAD are safe methods (RFC 9110 §9.2.1): like SQL reads they may reach the upstream
    // before their events are durable; the events are durable before any answer reaches the
    // client. Every other method (and any upgrade) is durable before it is forwarded.
    // A protocol on these hooks may say a GET is not side-effect free (admitted.readOnly === false).
    const readOnly = (head.method === "GET" || head.method === "HEAD") && upgrade === null && !(admitted?.kind === "decide" && admitted.readOnly === false);
    await host.audit.onQuery({ protocol: this.options.hooks?.protocol ?? "http", message: head.method, text: this.maskText(`${head.method} ${target.target}`), readOnly });
    await host.audit.onEvent("http.request", {
      n: this.exchanges,
      method: head.method,
      path: this.maskText(target.path),
      ...(target.query !== null ? { query: this.maskText(target.query) } : {}),
      headers: this.recordedHeaders(headers),
      ...(upgrade ? { upgrade } : {}),
      body: framing.kind === "none" ? 0 : framing.kind === "length" ? framing.length : "chunked",
    });
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const forwardTarget = admitted?.target ?? target.target;
    const forwardHead: RequestHead = { ...head, target: forwardTarget, headers };
    // A form body (Rails, Hono) or a POST's JSON (Laravel) may carry a `_method` field: read whole before deciding (plain HTTP).
    const overridable = admitted === undefined && framing.kind !== "none" ? overrideBodyKind(head.method, head.headers) : null;
    const bodyDecides = admitted?.kind === "decide" && admitted.body && framing.kind !== "none" ? admitted.body : overridable ? overrideBodyDecides(overridable, request) : undefined;
    if (bodyDecides) {
      // Decided at the end of the body (onRequestEnd → decideOnBody); nothing is forwarded before.
      const pending: Decision = { effect: "deny", rule: null, reason: "the request body was not read", matched: [] };
      this.current = { method: head.method, target: forwardTarget, framing, state: "reading", bodyDecides, held: [], heldBytes: 0, head: forwardHead, closeAfter, decision: pending, done, finish, upgrade, expectContinue: headerValues(head.headers, "expect").some((v) => v.toLowerCase() === "100-continue") };
      this.sendContinue(this.current);
      return;
    }
    const decision = admitted?.decision ?? host.policy.decide(admitted?.description ?? httpRequest(request)).decision;
    await this.recordDecision(decision);

    const exchange: Exchange = { method: head.method, target: forwardTarget, framing, state: "refused", held: [], heldBytes: 0, head: forwardHead, closeAfter, decision, done, finish, upgrade, expectContinue: headerValues(head.headers, "expect").some((v) => v.toLowerCase() === "100-continue") };
    this.current = exchange;
    await this.applyDecision(exchange);
  }

  /** deny → 403; approve → held until the end of the body; allow → forwarded. */
  private async applyDecision(exchange: Exchange): Promise<void> {
    const { decision, framing } = exchange;

    if (decision.effect === "deny") {
      exchange.state = "refused";
      // A body we will not read to the end cannot be skipped safely on this connection: close after.
      if (framing.kind !== "none") exchange.closeAfter = true;
      this.sendProblem(403, "Forbidden", `gatehouse: ${decision.reason}`, decision.rule, exchange.closeAfter);
      exchange.finish();
      if (exchange.closeAfter) this.end("denied", `gatehouse: ${decision.reason}`, "denied");
      return;
    }
    if (decision.effect === "approve") {
      exchange.state = "holding";
      // The body is needed (the approval binds it); nothing is forwarded before the verdict.
      this.sendContinue(exchange);
      return; // the hold starts at the end of the body (onRequestEnd)
    }
    await this.forwardHead(exchange);
  }

  private async forwardHead(exchange: Exchange): Promise<void> {
    try {
      await this.ensureConnector();
    } catch (e) {
      const err = e as { message?: string };
      exchange.state = "refused";
      // (the message already starts with "gatehouse:")
      exchange.closeAfter = true;
      this.sendProblem(502, "Bad Gateway", err.message ?? "gatehouse: the connector is unavailable", null, true);
      exchange.finish();
      this.end("error", err.message ?? "connector unavailable", "http-upstream");
      return;
    }
    exchange.state = "forwarding";
    this.responses.expectResponseTo(exchange.method);
    // Framing is written from what the gateway read (a held body is re-framed with its exact length).
    const headers = exchange.head.headers.filter((h) => h.name !== "content-length");
    if (exchange.framing.kind === "chunked") headers.push(header("Transfer-Encoding", "chunked"));
    else if (exchange.framing.kind === "length") headers.push(header("Content-Length", String(exchange.framing.length)));
    if (exchange.upgrade) headers.push(header("Upgrade", exchange.upgrade));
    // Masking needs bodies it can decode: ask for identity, gzip or deflate only (never br).
    const masking = this.maskingFor();
    if (masking) {
      for (let i = headers.length - 1; i >= 0; i--) if (headers[i]!.name === "accept-encoding") headers.splice(i, 1);
      headers.push(header("Accept-Encoding", "gzip, deflate"));
    }
    this.host.sendToConnector([serializeRequestHead(exchange.method, exchange.target, headers)]);
    // The client may wait for 100 Continue before sending its body: the decision is made, go on.
    this.sendContinue(exchange);
  }

  private sendContinue(exchange: Exchange): void {
    if (!exchange.expectContinue || exchange.framing.kind === "none") return;
    exchange.expectContinue = false;
    this.toClient([CONTINUE]);
  }

  private async onRequestBody(bytes: Uint8Array): Promise<void> {
    const ex = this.current;
    if (!ex) return;
    if (ex.state === "forwarding") this.host.sendToConnector([ex.framing.kind === "chunked" ? chunk(bytes) : bytes]);
    else if (ex.state === "reading") {
      ex.heldBytes += bytes.length;
      const limit = ex.bodyDecides!.limit;
      if (ex.heldBytes > limit) {
        ex.state = "refused";
        ex.closeAfter = true;
        this.sendProblem(413, "Content Too Large", `gatehouse: this request is decided on its body, which may carry at most ${limit} bytes`, null, true);
        ex.finish();
        this.end("denied", "request body too large to decide on", "denied");
        return;
      }
      ex.held.push(bytes.slice());
    } else if (ex.state === "holding") {
      ex.heldBytes += bytes.length;
      if (ex.heldBytes > MAX_HELD_BODY) {
        ex.state = "refused";
        ex.closeAfter = true;
        this.sendProblem(413, "Content Too Large", `gatehouse: a request held for approval carries at most ${MAX_HELD_BODY} bytes of body`, ex.decision.rule, true);
        ex.finish();
        this.end("denied", "held request body too large", "denied");
        return;
      }
      ex.held.push(bytes.slice());
    }
  }

  private async onRequestEnd(): Promise<void> {
    const ex = this.current;
    if (!ex) return;
    if (ex.state === "reading") await this.decideOnBody(ex);
    if (ex.state === "holding") await this.holdAndForward(ex);
    else if (ex.state === "forwarding" && ex.framing.kind === "chunked") this.host.sendToConnector([LAST_CHUNK]);
    if (ex.state === "forwarding") await ex.done;
    if (ex.closeAfter && !this.is("upgraded")) this.end("ok", "client asked to close the connection");
  }

  /**
   * The whole body is here: described by the hook, decided, then refused, held (approval binds
   * this body) or forwarded with its exact length.
   */
  private async decideOnBody(ex: Exchange): Promise<void> {
    const body = concat(ex.held);
    const described = ex.bodyDecides!.describe(body);
    if ("refuse" in described) {
      ex.state = "refused";
      this.sendProblem(described.refuse.status, "Refused", described.refuse.detail, null, ex.closeAfter);
      await this.host.audit.onEvent("http.refused", { status: described.refuse.status, reason: described.refuse.detail });
      ex.finish();
      return;
    }
    ex.decision = this.host.policy.decide(described.description).decision;
    await this.recordDecision(ex.decision);
    ex.framing = body.length > 0 ? { kind: "length", length: body.length } : { kind: "none" };
    if (ex.decision.effect === "approve") {
      if (body.length > MAX_HELD_BODY) {
        ex.state = "refused";
        this.sendProblem(413, "Content Too Large", `gatehouse: a request held for approval carries at most ${MAX_HELD_BODY} bytes of body`, ex.decision.rule, ex.closeAfter);
        ex.finish();
        return;
      }
      ex.state = "holding";
      return; // onRequestEnd goes on to holdAndForward with the body read
    }
    if (ex.decision.effect === "deny") {
      ex.state = "refused";
      this.sendProblem(403, "Forbidden", `gatehouse: ${ex.decision.reason}`, ex.decision.rule, ex.closeAfter);
      ex.finish();
      return;
    }
    ex.held = [];
    await this.forwardHead(ex);
    if (ex.state === "forwarding" && body.length > 0) this.host.sendToConnector([body]);
  }

  private async holdAndForward(ex: Exchange): Promise<void> {
    const body = concat(ex.held);
    const statement = `${ex.method} ${ex.target}`;
    // The approval binds the method, the normalised target and the exact body.
    const binding = concat([enc.encode(`${statement}\n`), body]);
    // Approvers see the whole body the approval binds — never a cut — with invisible and
    // reordering characters as visible marks; one too long to show whole is refused, not held.
    // The headers that go on with it are listed as the trail records them (values of the recorded
    // ones, masked; the others by name only, so a header the upstream acts on is never unseen).
    const headerLines = this.recordedHeaders(ex.head.headers.filter((h) => h.name !== "content-length")).map(([name, value]) => `\n${name}: ${value}`);
    const head = `${this.maskText(statement)}${headerLines.join("")}`;
    const displayText = visibleText(body.length > 0 ? `${head}\n\n${this.maskText(dec.decode(body))}` : head);
    if (displayText.length > MAX_STATEMENT_TEXT) {
      ex.state = "refused";
      await this.recordDecision({ ...ex.decision, effect: "deny", reason: `held request too long to show approvers in full (${displayText.length} > ${MAX_STATEMENT_TEXT} characters)` });
      this.sendProblem(413, "Content Too Large", `gatehouse: a request held for approval must be shown to approvers in full: it shows as ${displayText.length} characters, at most ${MAX_STATEMENT_TEXT}`, ex.decision.rule, ex.closeAfter);
      ex.finish();
      return;
    }
    // The shared approval-hold filter (worker/chain/): the exchange carries the policy's decision.
    const request = { protocol: "http", actions: [ex.method.toLowerCase()], target: ex.target, text: statement, binding };
    const out = await this.holdChain.decode({ decision: ex.decision, ex, displayText, approvalId: undefined }, request);
    if (this.is("closed")) return;
    if (out.kind === "refused") {
      ex.state = "refused";
      const approvalId = out.frame.message.approvalId;
      this.sendProblem(403, "Forbidden", out.refusal.message, ex.decision.rule, ex.closeAfter, approvalId ? { approval: approvalId } : {});
      ex.finish();
      return;
    }
    // Forwarded exactly once, as approved: the buffered body with its exact length.
    ex.framing = body.length > 0 ? { kind: "length", length: body.length } : { kind: "none" };
    ex.expectContinue = false;
    await this.forwardHead(ex);
    if (ex.state === "forwarding" && body.length > 0) this.host.sendToConnector([body]);
  }

  // ---------------------------------------------------------------- upstream → client

  async onConnectorData(bytes: Uint8Array): Promise<void> {
    if (this.is("closed")) return;
    if (this.is("upgraded")) {
      await this.relayDown(bytes);
      return;
    }
    // A response head and its body usually arrive in one frame: answer with one frame (one
    // commit, one message per hop) instead of one per part.
    this.batch ??= [];
    try {
      await this.readResponses(bytes);
    } finally {
      this.flushToClient();
    }
  }

  private async readResponses(bytes: Uint8Array): Promise<void> {
    this.responses.push(bytes);
    try {
      for (let e = this.responses.next(); e; e = this.responses.next()) {
        if (this.is("closed")) return;
        if (e.t === "head") await this.onResponseHead(e.head, e.framing);
        else if (e.t === "body") await this.onResponseBody(e.bytes);
        else if (e.t === "end") await this.onResponseEnd();
        else if (e.t === "raw") {
          await this.relayDown(e.bytes);
        }
        if (this.is("upgraded")) {
          const rest = this.responses.next();
          if (rest && rest.t === "raw") {
            await this.relayDown(rest.bytes);
          }
          return;
        }
      }
    } catch (e) {
      if (e instanceof HttpCodecError) return this.upstreamFailure(e.message);
      throw e;
    }
  }

  private async onResponseHead(head: ResponseHead, framing: BodyFraming): Promise<void> {
    const ex = this.current;
    if (!ex || ex.state !== "forwarding") return this.upstreamFailure("a response nobody asked for");
    if (head.status >= 100 && head.status < 200 && head.status !== 101) return; // interim: 100 Continue was answered already
    const recordedHeaders: Array<[string, string]> = [];
    const masking = this.maskingFor();
    const listed = connectionListed(head.headers);
    const out: HttpHeader[] = [];
    for (const h of head.headers) {
      const upgradeHeader = head.status === 101 && (h.name === "upgrade" || h.name === "connection");
      if (!upgradeHeader && (HOP_BY_HOP.has(h.name) || listed.has(h.name))) continue;
      const value = masking ? masking.header(h.name, h.value) : h.value;
      out.push({ ...h, value });
      if (RECORDED_HEADERS.has(h.name) || h.name === "set-cookie") recordedHeaders.push([h.name, h.name === "set-cookie" ? value : this.maskText(value)]);
    }
    const state: ResponseState = { status: head.status, chunked: false, refused: false, recorded: [], recordedBytes: 0, bytes: 0, headers: recordedHeaders };
    this.response = state;

    if (head.status === 101) {
      if (!ex.upgrade) return this.upstreamFailure("101 Switching Protocols to a request that asked for no upgrade");
      this.toClient([serializeResponseHead(101, head.reason, out)]);
      this.options.hooks?.upgradeAccepted?.(out);
      this.phase = "upgraded";
      this.requests.switchToRaw();
      this.responses.switchToRaw();
      await this.host.audit.onEvent("http.response", { n: this.exchanges, status: 101, headers: recordedHeaders, upgrade: ex.upgrade });
      ex.finish();
      return;
    }

    const encodings = headerValues(head.headers, "content-encoding").flatMap(tokenList).filter((c) => c !== "identity");
    const type = headerValues(head.headers, "content-type")[0] ?? "";
    let transform: BodyTransform | undefined;
    const hooks = this.options.hooks;
    if ((masking || hooks?.responseBody) && framing.kind !== "none") {
      try {
        const emit = (bytes: Uint8Array) => this.emitBody(state, bytes);
        transform = hooks?.responseBody ? hooks.responseBody({ status: head.status, contentType: type, encodings }, emit) : masking!.body(type, encodings, emit);
      } catch (e) {
        // An encoding or type we cannot mask exactly: refuse the response (fail closed).
        state.refused = true;
        this.sendProblem(502, "Bad Gateway", `gatehouse: ${(e as Error).message}`, null, ex.closeAfter);
        await this.host.audit.onEvent("http.response", { n: this.exchanges, status: head.status, refused: (e as Error).message });
        return;
      }
    }
    let body = out;
    if (transform) {
      body = out.filter((h) => h.name !== "content-length" && !(h.name === "content-encoding" && masking?.decodes(encodings)));
    }
    if (this.options.hooks?.responseHeaders) body.push(...this.options.hooks.responseHeaders(head.status));
    const passLength = !transform && framing.kind === "length";
    state.chunked = framing.kind !== "none" && !passLength;
    if (state.chunked) body = [...body.filter((h) => h.name !== "content-length"), header("Transfer-Encoding", "chunked")];
    if (framing.kind === "none" && !body.some((h) => h.name === "content-length") && head.status !== 204 && head.status !== 304 && ex.method !== "HEAD") body.push(header("Content-Length", "0"));
    if (ex.closeAfter) body.push(header("Connection", "close"));
    state.transform = transform;
    this.toClient([serializeResponseHead(head.status, head.reason, body)]);
  }

  private emitBody(state: ResponseState, bytes: Uint8Array): void {
    if (bytes.length === 0 || this.is("closed")) return;
    state.bytes += bytes.length;
    if (state.recordedBytes < RECORDED_BODY_BYTES) {
      const part = bytes.subarray(0, RECORDED_BODY_BYTES - state.recordedBytes);
      state.recorded.push(part.slice());
      state.recordedBytes += part.length;
    }
    this.toClient([state.chunked ? chunk(bytes) : bytes]);
  }

  private async onResponseBody(bytes: Uint8Array): Promise<void> {
    const state = this.response;
    if (!state || state.refused) return;
    try {
      if (state.transform) await state.transform.push(bytes);
      else this.emitBody(state, bytes);
    } catch (e) {
      return this.maskingFailure(e as Error);
    }
  }

  private async onResponseEnd(): Promise<void> {
    const state = this.response;
    const ex = this.current;
    if (!state || !ex) return;
    if (!state.refused) {
      try {
        if (state.transform) await state.transform.end();
      } catch (e) {
        return this.maskingFailure(e as Error);
      }
      if (state.chunked) this.toClient([LAST_CHUNK]);
    }
    const recorded = concat(state.recorded);
    const text = recorded.length > 0 && this.textLike(state.headers) ? this.maskText(dec.decode(recorded)) : undefined;
    await this.host.audit.onEvent("http.response", {
      n: this.exchanges,
      status: state.status,
      headers: state.headers,
      bytes: state.bytes,
      ...(text !== undefined ? { body: text, truncated: state.bytes > RECORDED_BODY_BYTES } : {}),
      ...(state.refused ? { refused: true } : {}),
    });
    await this.recordMaskingCounts();
    this.response = undefined;
    ex.finish();
  }

  private textLike(headers: Array<[string, string]>): boolean {
    const type = headers.find(([n]) => n === "content-type")?.[1] ?? "";
    return /json|text|xml|form|javascript|event-stream/i.test(type) || type === "";
  }

  /** Masking could not finish a body it had started: the client must not get an unmasked rest. */
  private maskingFailure(e: Error): void {
    this.end("error", `gatehouse: response masking failed (${e.message}); the response was cut off`, "masking");
  }

  private upstreamFailure(text: string): void {
    const message = text.replace(/^(gatehouse: )+/, "");
    if (this.current?.state === "forwarding" && !this.response) this.sendProblem(502, "Bad Gateway", `gatehouse: ${message}`, null, true);
    this.current?.finish();
    this.end("error", `gatehouse: ${message}`, "http-upstream");
  }

  // ---------------------------------------------------------------- connector control

  async onConnectorControl(message: ControlMessage): Promise<void> {
    if (message.t === "ready") {
      this.connectorReady?.resolve();
      return;
    }
    if (message.t === "error") {
      const err = { code: typeof message.code === "string" ? message.code : "http-upstream", message: typeof message.message === "string" ? message.message : "connector error" };
      if (this.connectorReady) return this.connectorReady.reject(err);
      return this.upstreamFailure(err.message);
    }
    if (message.t === "close") {
      if (this.is("upgraded")) {
        await this.options.hooks?.upgradeClosed?.();
        await this.host.audit.onEvent("http.upgrade-closed", { up: this.upgradedUp, down: this.upgradedDown });
        return this.end("ok", "upstream closed the upgraded connection");
      }
      return this.upstreamFailure(typeof message.reason === "string" ? message.reason : "connector closed the stream");
    }
  }

  private ensureConnector(): Promise<void> {
    if (this.is("ready")) return Promise.resolve();
    if (this.connecting !== undefined) return this.connecting;
    this.phase = "connecting";
    const { host } = this;
    this.connecting = (async () => {
      const ready = new Promise<void>((resolve, reject) => (this.connectorReady = { resolve, reject }));
      const timer = setTimeout(() => this.connectorReady?.reject({ message: "timed out waiting for the connector" }), CONNECT_TIMEOUT_MS);
      try {
        await host.openConnectorStream();
        host.connectorControl({ t: "open", resource: host.resource.name, identity: { sub: host.identity.subject, iss: host.identity.issuer } });
        await ready;
        // The session may have ended while the connector dialled (terminated): never reopen it.
        if (this.is("closed")) throw { message: "gatehouse: the session ended while the connector was connecting" };
        this.phase = "ready";
      } catch (e) {
        const err = e as { message?: string };
        const text = err.message ?? String(e);
        throw { message: text.startsWith("gatehouse:") ? text : `gatehouse: resource ${host.resource.name}: ${text}` };
      } finally {
        clearTimeout(timer);
        this.connectorReady = undefined;
      }
    })();
    return this.connecting;
  }

  async onClientClosed(): Promise<void> {
    if (!this.is("upgraded")) return;
    await this.options.hooks?.upgradeClosed?.();
    await this.host.audit.onEvent("http.upgrade-closed", { up: this.upgradedUp, down: this.upgradedDown });
  }

  onConnectorLost(reason: string): void {
    if (this.is("upgraded")) void this.host.audit.onEvent("http.upgrade-closed", { up: this.upgradedUp, down: this.upgradedDown }).catch(() => {});
    this.upstreamFailure(`connector lost: ${reason}`);
  }

  onTerminate(code: string, reason: string): void {
    if (this.current && !this.response && !this.is("upgraded")) this.sendProblem(503, "Service Unavailable", reason, null, true);
    this.current?.finish();
    this.end("error", reason, code);
  }

  cancel(): void {}

  maskingCounts(): Record<string, number> {
    return this.masking?.counts() ?? {};
  }

  // ---------------------------------------------------------------- helpers

  /** Everything for the client goes through here (batched while a connector frame is processed). */
  private toClient(parts: readonly Uint8Array[]): void {
    if (this.batch) this.batch.push(...parts);
    else this.host.sendToClient(parts);
  }

  /** Sends the batch; the session commits the events recorded so far before the bytes leave. */
  private flushToClient(): void {
    const parts = this.batch;
    this.batch = undefined;
    if (parts && parts.length > 0) this.host.sendToClient(parts);
  }

  /**
   * Relays upgraded bytes once a passive stream reader has seen them (hooks.upgraded) and what it
   * recorded of them is durable: the reader may wait for its events (typed input, a port-forward
   * stream opened), and the commit here writes them before the bytes leave (the output gate holds
   * the send until the write is durable). The session hands the engine one message at a time, so
   * a later message waits for this one: the relay order is the arrival order. A failed write ends
   * the session and nothing is relayed.
   */
  private async relayUp(bytes: Uint8Array): Promise<void> {
    const parts = await this.readUpgraded("client", bytes);
    if (parts.length === 0 || this.is("closed")) return;
    const failure = this.host.audit.commitBeforeForward?.();
    if (failure) {
      const refusal = recordingRefusal(failure);
      return this.end("error", refusal.message, refusal.code ?? "http-upgrade");
    }
    for (const p of parts) this.upgradedUp += p.length;
    this.host.sendToConnector(parts);
  }

  private async relayDown(bytes: Uint8Array): Promise<void> {
    const parts = await this.readUpgraded("upstream", bytes);
    if (parts.length === 0 || this.is("closed")) return;
    for (const p of parts) this.upgradedDown += p.length;
    this.toClient(parts);
  }

  /**
   * What to relay of these bytes (the reader's replacement, or the bytes as they are). A stream
   * reader that cannot read them, or whose events cannot be recorded, ends the session before
   * anything is relayed (fail closed).
   */
  private async readUpgraded(from: "client" | "upstream", bytes: Uint8Array): Promise<Uint8Array[]> {
    try {
      const verdict = await this.options.hooks?.upgraded?.(from, bytes);
      if (verdict === "withhold") return [];
      if (verdict) return verdict.replace.filter((p) => p.length > 0);
      return [bytes];
    } catch (e) {
      this.end("error", `gatehouse: the upgraded stream could not be read (${(e as Error).message}); it was closed`, "http-upgrade");
      return [];
    }
  }

  /** A method, not a field check, so TypeScript does not narrow the phase away across awaits. */
  private is(phase: HttpEngine["phase"]): boolean {
    return this.phase === phase;
  }

  private maskingFor(): ResponseMasking | undefined {
    if (!this.maskingBuilt) {
      this.maskingBuilt = true;
      this.masking = this.options.masking?.();
    }
    return this.masking;
  }

  private maskText(text: string): string {
    const m = this.maskingFor();
    if (m) return m.text(text);
    const record = this.options.recordText?.();
    return record ? record(text) : text;
  }

  private recordedHeaders(headers: readonly HttpHeader[]): Array<[string, string]> {
    return headers.map((h) => [h.name, RECORDED_HEADERS.has(h.name) ? this.maskText(h.value) : "…"]);
  }

  private maskedSoFar = 0;
  private async recordMaskingCounts(): Promise<void> {
    const counts = this.masking?.counts();
    if (!counts) return;
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (total === this.maskedSoFar) return;
    this.maskedSoFar = total;
    await this.host.audit.onMasking(counts);
  }

  private async recordDecision(decision: Decision): Promise<void> {
    await this.host.audit.onDecision({ effect: decision.effect, rule: decision.rule, reason: this.maskText(decision.reason) });
  }

  private sendProblem(status: number, title: string, detail: string, rule: string | null, close: boolean, extra: Record<string, unknown> = {}): void {
    const hooks = this.options.hooks;
    // A throttled request says when to come back, in the header every HTTP client knows.
    const extraHeaders = typeof extra.retry_after === "number" ? [header("Retry-After", String(extra.retry_after))] : [];
    if (hooks?.refusal) {
      const { contentType, body } = hooks.refusal({ status, detail, rule, extra });
      const bytes = enc.encode(body);
      const head = serializeResponseHead(status, title, [header("Content-Type", contentType), header("Content-Length", String(bytes.length)), ...extraHeaders, ...(close ? [header("Connection", "close")] : [])]);
      this.toClient([head, bytes]);
      return;
    }
    this.toClient([problemResponse({ status, title, detail, rule, resource: this.host.resource.name, session: this.host.sessionId, ...extra }, { close, extraHeaders })]);
  }

  /** 429 with Retry-After (a problem+json body, or the protocol's own through its hooks: Kubernetes Status). */
  private async refuseThrottled(head: RequestHead, framing: BodyFraming, upgrade: string | null, path: string, throttled: Throttle): Promise<void> {
    this.exchanges++;
    // A body we will not read cannot be skipped safely on this connection: close after (as for denials).
    const close = framing.kind !== "none" || upgrade !== null;
    if (!throttled.recorded) {
      await this.host.audit.onQuery({ protocol: this.options.hooks?.protocol ?? "http", message: head.method, text: this.maskText(`${head.method} ${path}`) });
      await this.recordDecision({ effect: "deny", rule: RATE_LIMIT_RULE, reason: throttled.message, matched: [] });
    }
    this.sendProblem(429, "Too Many Requests", throttled.message, RATE_LIMIT_RULE, close, { retry_after: throttled.retryAfterSeconds });
    if (close) this.end("denied", throttled.message, "rate-limited");
  }

  private refuseAndClose(status: number, message: string): void {
    this.sendProblem(status, status === 431 ? "Request Header Fields Too Large" : status === 405 ? "Method Not Allowed" : "Bad Request", `gatehouse: ${message}`, null, true);
    void this.host.audit.onEvent("http.refused", { status, reason: message }).catch(() => {});
    this.end("denied", `gatehouse: ${message}`, "http-malformed");
  }

  private end(status: "ok" | "error" | "denied", reason: string, code?: string): void {
    if (this.is("closed")) return;
    // What was answered before the end (e.g. a problem response) leaves before the close.
    this.flushToClient();
    this.phase = "closed";
    this.current?.finish();
    this.host.end({ status, reason: this.safeMask(reason), ...(code ? { code } : {}) });
  }

  private safeMask(text: string): string {
    try {
      return this.maskText(text);
    } catch {
      return "gatehouse: session ended (its reason could not be masked)";
    }
  }
}


/** A request held for approval on the chain: its exchange, what approvers see, and the approval's id once requested. */
interface HeldExchange {
  decision: Decision;
  ex: Exchange;
  displayText: string;
  approvalId: string | undefined;
}
