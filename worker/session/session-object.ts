/**
 * One Durable Object per session. The edge worker (worker/routes/) has already verified the
 * client's OIDC token or the connector's assertion before anything reaches this object; it
 * passes the verified facts in internal headers that only the worker can set (a Durable Object
 * is reachable only through its binding).
 *
 * Sockets are accepted without hibernation: the session's decoder state and flow-control windows
 * live in memory for the life of the connection.
 */
import { encodeControl, encodeData, type Frame } from "../../parsers/tunnel/frames.ts";
import { resourceHub } from "../connectors/hub-shards.ts";
import { GatehouseObject, CLOSE_POLICY } from "../objects/gatehouse-object.ts";
import type { Env } from "../env.ts";
import type { OpenStreamResult, SessionObjectRpc } from "../bindings.ts";
import { describeResource, type ClientAdmission } from "./admission.ts";
import { noLongerTrusted } from "../tenancy/still-trusted.ts";
import { Session } from "./session.ts";
import { SessionPolicy } from "./session-policy.ts";
import { validateSession } from "./session-factory.ts";
import { protocolModule } from "../../protocols/registry.ts";
import type { Refusal } from "../../protocols/types.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import { sqlClassifier } from "../wasm-modules.ts";
import { openSessionAudit } from "./open-session-audit.ts";
import { SessionSlot } from "../limits/session-slot.ts";
import { bucketLimits, RequestGate, type Throttle } from "../limits/request-gate.ts";
import { RefusalTrail } from "../limits/refusal-trail.ts";
import { logRateRefusal } from "../tenancy/rate-refusals.ts";
import { TokenRejected, verifyOidcToken } from "../auth/verify-oidc-token.ts";
import { gatewayConfig } from "../config/gateway-config.ts";
import { ApprovalHolds } from "../approvals/session-hold.ts";
import { activeGrants, GRANT_ENDED_SQLSTATE, noteGrantUse } from "../approvals/client.ts";
import type { ApprovalOutcome } from "../approvals/core.ts";
import { recordingLimitReached } from "../tenancy/tenant-usage.ts";
import { tenantSuspension } from "../tenancy/tenant-suspension.ts";
import { withTimeout } from "../objects/with-timeout.ts";
import { STREAM_TICKET_TTL_MS } from "../../parsers/tunnel/stream-ticket.ts";
import { StreamTickets } from "./stream-tickets.ts";
import { SessionRecorder } from "../audit/recorder.ts";
import { isValidSessionId } from "../audit/storage-keys.ts";

export type { ClientAdmission };

export const ADMISSION_HEADER = "x-gatehouse-admission";
export const CONNECTOR_HEADER = "x-gatehouse-connector";
/** Internal header from the stream route: the stream ticket the connector presented (checked here, docs/PROTOCOL.md). */
export const STREAM_TICKET_HEADER = "x-gatehouse-stream-ticket";
/** How long the session waits for the hub's answer to its stream request before it ends with an error. */
export const OPEN_STREAM_TIMEOUT_MS = 10_000;
/**
 * While a session is recorded, its object's alarm looks in this often. A live session re-arms it; an
 * object that restarted (a deploy, an eviction: the sockets, kept in memory, are gone with it) finds
 * a trail started and not ended, and closes it: session.end, the last chunk sealed and uploaded,
 * the index row finished (docs/AUDIT.md "A session lost with its object").
 */
export const ORPHAN_CHECK_MS = 5 * 60_000;

export class SessionObject extends GatehouseObject<Env> implements SessionObjectRpc {
  protected override readonly hibernate = false;
  private session: Session | undefined;
  private holds: ApprovalHolds | undefined;
  /** The connector the hub chose for this session's stream (the latest request's answer). */
  private connectorId: string | undefined;
  /** The connector whose stream actually attached: what the trail's session.end names. */
  private attachedConnectorId: string | undefined;
  /** The hash of the stream ticket the hub sent the chosen connector (stream-tickets.ts). */
  private readonly tickets = new StreamTickets();
  /** Hooks for tests (as openAudit): how long the hub may take to answer, how long a ticket lives. */
  protected openStreamTimeoutMs = OPEN_STREAM_TIMEOUT_MS;
  protected streamTicketTtlMs = STREAM_TICKET_TTL_MS;
  /** The latest request to the hub for this session's stream; its answer names the connector (connectorId). */
  private streamRequest: Promise<void> | undefined;
  /** How many stream requests were made: only the latest one's answer names the connector. */
  private streamRequests = 0;
  /** Settles once the client's admission is over: the session exists, or it was refused. */
  private starting: Promise<void> | undefined;
  /** True while the client's admission runs (the session does not exist yet). */
  private admitting = false;
  /**
   * An end asked for while the session was starting (a connector revoked, a grant revoked, an
   * admin's terminate): applied the moment the session exists, before it serves anything.
   */
  private endedWhileStarting: { code: string; reason: string } | undefined;
  /** The place under the caps asked for while the session was starting (askStreamEarly). */
  private earlySlot: SessionSlot | undefined;

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.headers.get("upgrade") !== "websocket") return new Response("expected websocket", { status: 426 });
    if (url.pathname === "/client") return this.acceptClient(JSON.parse(request.headers.get(ADMISSION_HEADER)!) as ClientAdmission);
    if (url.pathname === "/connector") {
      const ticket = request.headers.get(STREAM_TICKET_HEADER);
      return ticket !== null ? this.acceptTicketStream(ticket) : this.acceptConnector(request.headers.get(CONNECTOR_HEADER)!);
    }
    return new Response("not found", { status: 404 });
  }

  private async acceptClient(admission: ClientAdmission): Promise<Response> {
    if (this.session || this.starting) return Response.json({ error: "conflict", reason: "session already has a client" }, { status: 409 });
    let started!: () => void;
    this.starting = new Promise<void>((resolve) => (started = resolve));
    this.admitting = true;
    try {
      return await this.admitClient(admission);
    } finally {
      this.admitting = false;
      // A place under the caps taken early (askStreamEarly) is given back when no session came of
      // this admission — refused (e.g. its start could not be recorded) or failed; the stream asked
      // for then finds no session (410).
      if (!this.session) {
        void this.earlySlot?.release().catch(() => {});
        this.tickets.withdraw();
      }
      started();
    }
  }

  private async admitClient(asked: ClientAdmission): Promise<Response> {
    const env = this.env;
    // What the resource is (its type and labels) is asked of the hub here when the route did not,
    // together with the grants and the policy.
    const described = asked.describeInSession ? describeResource(resourceHub(env, asked.resource.name), asked.resource) : undefined;
    described?.catch(() => {}); // awaited below, after the policy (whose error comes first, as before)
    // Just-in-time grants are looked up once per session; revoking or expiring one ends the
    // sessions that relied on it (the ApprovalsObject calls terminate()). The reads are
    // independent: asked together, the session waits for the slowest one instead of each in turn.
    const grantsRead = activeGrants(env, asked.identity, asked.resource.name);
    grantsRead.catch(() => {}); // awaited below: a policy error still comes first, as before
    const policy = await currentPolicy(env);
    const grants = await grantsRead;
    const admission: ClientAdmission = described === undefined ? asked : { ...asked, resource: await described, describeInSession: false };
    const sessionPolicy = new SessionPolicy(policy, sqlClassifier(), admission.identity, admission.resource, () => grants, env.GATEHOUSE_MASKING_KEY);
    // Session factory: the configuration is validated before anything is recorded, so a session
    // that cannot run leaves no session.start without a session.end.
    const valid = validateSession(admission.resource, sessionPolicy);
    if (!valid.ok) return this.refuseInTunnel(admission, valid.refusal);
    const protocol = valid.protocol;
    // Hosted mode: a suspended tenant starts no session, even one that passed a boundary's stale cache.
    if (env.TENANT?.suspended) return this.refuseInTunnel(admission, { kind: "denied", message: `gatehouse: the tenant ${env.TENANT.name} is suspended by the platform` });
    // Hosted mode: the token was verified with the edge's cached issuers; this object read the record afresh (tenancy/still-trusted.ts).
    const untrusted = env.TENANT ? noLongerTrusted(admission.identity, env.GATEHOUSE_ISSUERS) : null;
    if (untrusted) return this.refuseInTunnel(admission, { kind: "denied", message: untrusted });
    // Hosted mode: a tenant whose recording bytes are used up starts no session (it could not be recorded).
    const unrecordable = await recordingLimitReached(env);
    if (unrecordable) return this.refuseInTunnel(admission, { kind: "unavailable", code: "53100", message: unrecordable });
    // Hosted mode adds the tenant's own cap on live sessions to the policy's. (Its starts per minute
    // were decided at the edge, before this object was reached: worker/routes/tunnel.ts.)
    const caps = { ...sessionPolicy.caps(), maxSessionsInTenant: env.TENANT?.limits.maxSessions ?? null, maxStartsPerMinute: null };
    const rateLog = (counter: "requests_rate_limited" | "session_starts_rate_limited", count: number, message: string) =>
      logRateRefusal(env, { counter, sessionId: admission.sessionId, identity: admission.identity, resource: admission.resource, count, message });
    const slot = new SessionSlot(
      env,
      admission.sessionId,
      admission.identity,
      admission.resource,
      caps,
      () => this.session?.terminate("57P01", "session ended: its place under the session limits expired"),
      (message) => void rateLog("session_starts_rate_limited", 1, message).catch(() => {}),
    );
    const requestStream = (): Promise<void> => {
      // A new request supersedes the earlier answer at once: until this one is answered no
      // connector may attach, and should it fail or time out, the connector an earlier request
      // chose stays refused — its ticket (401) and its assertion on the older path (410) alike.
      this.connectorId = undefined;
      this.tickets.supersede();
      const request = ++this.streamRequests;
      const asked = (async () => {
        // Bounded: a stuck hub shard ends this session with a clear error instead of holding it for ever.
        const result = await withTimeout(
          this.askHubForStream(admission.sessionId, admission.resource.name),
          this.openStreamTimeoutMs,
          `gatehouse: resource ${admission.resource.name}: the connector hub did not answer the stream request within ${this.openStreamTimeoutMs / 1000} s; try again`,
        );
        if (!result.ok) throw new Error(result.reason);
        if (request !== this.streamRequests) return; // a later request was made meanwhile: its answer decides
        this.connectorId = result.connectorId;
        // A hub of an older release sends no ticket: its connector dials with an assertion (acceptConnector).
        if (result.ticketHash) this.tickets.issue(result.ticketHash, result.connectorId, this.streamTicketTtlMs);
      })();
      this.streamRequest = asked;
      asked.catch(() => {}); // the caller awaits it; acceptConnector only waits for it to settle
      return asked;
    };
    // The stream a starting engine would ask for anyway (ProtocolModule.streamAtSessionStart) is
    // asked for now, while session.start is recorded: place under the caps first, then the hub, as
    // the engine does. The connector's dial touches nothing on the target, and its socket is not
    // attached before the session exists (acceptConnector waits for this admission), so nothing
    // reaches the connector — let alone the target — before session.start is durable.
    const early = protocolModule(admission.resource.type)?.streamAtSessionStart && sessionPolicy.decideConnect().effect === "allow" ? this.askStreamEarly(slot, requestStream) : undefined;
    let audit: Awaited<ReturnType<typeof openSessionAudit>>;
    try {
      audit = await this.openAudit({ ctx: this.ctx, env, admission, policyHash: policy.hash, mode: sessionPolicy.recordingMode() });
    } catch (e) {
      // Fail closed: a session that cannot be recorded does not start. Answer in the tunnel so the
      // client's own protocol carries the reason.
      const code = typeof (e as { sqlstate?: unknown }).sqlstate === "string" ? (e as { sqlstate: string }).sqlstate : "58030";
      return this.refuseInTunnel(admission, { kind: "unavailable", code, message: (e as Error).message });
    }
    // session.start is durable: should this object restart before session.end, its alarm closes the trail.
    await this.ctx.storage.setAlarm(Date.now() + ORPHAN_CHECK_MS);
    // Hosted mode: the session is registered now (session.start durable, its row in the tenant's
    // session index). A suspension that listed the open sessions before that row existed wrote its
    // marker first: found here, the session ends before it serves anything (tenant-suspension.ts).
    if (env.TENANT) {
      let suspended: string | null;
      try {
        suspended = await tenantSuspension(env.DB);
      } catch (e) {
        suspended = `gatehouse: session ended: could not confirm that the tenant ${env.TENANT.name} is not suspended (${(e as Error).message})`;
      }
      if (suspended !== null) return this.endAtRegistration(admission, audit, suspended);
    }
    if (grants.length > 0) {
      // Registered as the user of the grants only now (revoking or expiring them ends the sessions
      // registered): one that ended since they were read above found no session to end, so this
      // session does not go on with it (fail closed; connecting again decides without it).
      const noted = await noteGrantUse(env, admission.sessionId, admission.identity, admission.resource.name);
      if (noted.length === 0) {
        return this.endAtRegistration(admission, audit, `gatehouse: session ended: the just-in-time grant for ${admission.resource.name} ended while the session started; connect again`, GRANT_ENDED_SQLSTATE);
      }
    }
    const holds = new ApprovalHolds({ env, sessionId: admission.sessionId, audit, reminderMs: reminderMs(env) });
    this.holds = holds;
    // Hosted mode: the tenant's request rate, asked before every request is decided (worker/limits/request-gate.ts).
    const rate = bucketLimits(env.TENANT?.limits);
    const gate = rate
      ? new RequestGate(
          rate,
          () => env.SESSION_LIMITER.get(env.SESSION_LIMITER.idFromName("limits")),
          (count, message) => rateLog("requests_rate_limited", count, message),
          Date.now,
          new RefusalTrail(({ count, first_ts, last_ts, reason }) => audit.onEvent("rate.refused", { count, first_ts, last_ts, reason })),
        )
      : null;
    // Synchronously null while the session holds a token (the common case: no await per statement).
    const refuseBeforeParse = (gate: RequestGate) => (): Promise<Throttle | null> | null => {
      const pending = gate.beforeParse();
      return pending === null
        ? null
        : pending.then((throttled) => {
            // A session that ignores Retry-After through a whole streak is ended after this refusal is answered.
            const end = throttled?.end;
            if (end) {
              const code = protocolModule(admission.resource.type)?.sessionCodes?.tooManySessions ?? "too-many-sessions";
              setTimeout(() => this.session?.terminate(code, end), 0);
            }
            return throttled;
          });
    };
    const services = { env, sessionId: admission.sessionId };
    return this.acceptSocket(["client"], (ws) => {
      const session = new Session(ws, {
        sessionId: admission.sessionId,
        identity: admission.identity,
        resource: admission.resource,
        policy: sessionPolicy,
        approvals: holds,
        audit,
        acquireSlot: () => early?.slotTaken ?? slot.acquire(),
        ...(gate ? { admitRequest: (cost?: number) => gate.admit(cost), refuseBeforeParse: refuseBeforeParse(gate) } : {}),
        verifyToken: async (token) => {
          try {
            const v = await verifyOidcToken(token, { issuers: gatewayConfig(env).issuers });
            return { issuer: v.issuer, subject: v.subject, claims: v.claims };
          } catch (e) {
            throw new Error(e instanceof TokenRejected ? e.message : `verification failed: ${(e as Error).message}`);
          }
        },
        requestConnector: () => early?.streamAsked ?? requestStream(),
        onEnded: async (outcome, stats, maskingCounts) => {
          await slot.release().catch(() => {});
          await gate?.flush().catch(() => {});
          if (Object.keys(maskingCounts).length > 0) await audit.onMasking(maskingCounts).catch(() => {});
          await holds.withdrawAll(`the session ended before a decision (${outcome.reason})`).catch(() => {});
          this.tickets.withdraw();
          // The connector that served the session, not merely the one asked (none: no connector attached).
          await audit.end(outcome, stats, { connectorId: this.attachedConnectorId ?? null });
          await protocol.onSessionEnded?.(services);
          // The trail is sealed: hand it to the SIEM export (a no-op without GATEHOUSE_EXPORT).
          if (env.GATEHOUSE_EXPORT) await env.EXPORTER.get(env.EXPORTER.idFromName("exporter")).enqueue(admission.sessionId).catch(() => {});
        },
      });
      this.session = session;
      session.start(protocol.createEngine(session, services));
      const ended = this.endedWhileStarting;
      if (ended) session.terminate(ended.code, ended.reason);
    });
  }

  /**
   * Take the session's place under the caps, then ask the hub for the connector's stream, without
   * waiting: the engine awaits these same promises (one request, its error — e.g. too many
   * sessions — reported where the engine reports it today).
   */
  private askStreamEarly(slot: SessionSlot, requestStream: () => Promise<void>): { slotTaken: Promise<void>; streamAsked: Promise<void> } {
    this.earlySlot = slot;
    const slotTaken = slot.acquire();
    const streamAsked = slotTaken.then(requestStream);
    slotTaken.catch(() => {}); // awaited by the engine (openConnectorStream)
    streamAsked.catch(() => {});
    return { slotTaken, streamAsked };
  }

  /**
   * Ask the shard holding `resource` to have a connector dial this session's stream. A hook, like
   * openAudit: the workerd tests hold the real hub's answer back to see a connector that dials
   * before it arrives, and a hub that never answers.
   */
  protected askHubForStream(sessionId: string, resource: string): Promise<OpenStreamResult> {
    return resourceHub(this.env, resource).openStream(sessionId, resource) as Promise<OpenStreamResult>;
  }

  /**
   * Hook: the session's audit trail. The product always records (worker/audit/); the benchmark
   * subclasses this in its own worker build (bench/recording-off/) to measure what recording costs.
   */
  protected openAudit(opts: Parameters<typeof openSessionAudit>[0]): ReturnType<typeof openSessionAudit> {
    return openSessionAudit(opts);
  }

  /**
   * A session registered after its tenant's suspension listed the sessions to end: its trail ends
   * as theirs did (57P01 with the platform's reason), and the client is told so in its protocol.
   * Likewise one whose just-in-time grant ended before it registered as the grant's user (`code`
   * 42501, as for sessions ended by a revoked or expired grant).
   * Its place under the caps is given back by acceptClient (no session came of this admission).
   */
  private async endAtRegistration(admission: ClientAdmission, audit: Awaited<ReturnType<typeof openSessionAudit>>, reason: string, code = "57P01"): Promise<Response> {
    const now = Date.now();
    const said = reason.startsWith("gatehouse:") ? reason.slice(10).trim() : reason;
    await audit.end({ status: "error", reason: said, code }, { bytesFromClient: 0, bytesToClient: 0, startedAt: now, endedAt: now }, { connectorId: null }).catch(() => {});
    return this.refuseInTunnel(admission, { kind: "unavailable", code, message: reason });
  }

  /**
   * Accept the tunnel only to tell the client why its session cannot start, then close it: the
   * protocol module's refusal encoder says it in the client's own protocol (PostgreSQL: a FATAL
   * ErrorResponse), the close frame carries it for every client.
   */
  private refuseInTunnel(admission: ClientAdmission, refusal: Refusal): Response {
    return this.acceptSocket(["client"], (ws) => {
      const message = refusal.message.startsWith("gatehouse:") ? refusal.message : `gatehouse: ${refusal.message}`;
      const said = { ...refusal, message, fatal: true };
      for (const bytes of protocolModule(admission.resource.type)?.refusalAtStart(said) ?? []) ws.send(encodeData(bytes));
      ws.send(encodeControl({ t: "close", code: refusal.code ?? refusal.kind, message }));
      this.closeSocket(ws, 1011, message);
    });
  }

  /**
   * A stream presenting a stream ticket (the route asked nothing of the registry): the ticket is
   * judged before anything about the session is told, so a caller without this session's ticket
   * learns nothing but 401. Then the checks every stream gets (acceptConnector).
   */
  private async acceptTicketStream(ticket: string): Promise<Response> {
    // The connector may dial before the hub's answer (with the ticket's hash) reaches this object.
    if (!this.session) await this.starting;
    await this.streamRequest?.catch(() => {});
    const verdict = await this.tickets.admit(ticket);
    if (!verdict.ok && verdict.withdrawn) return Response.json({ error: "gone", reason: verdict.reason }, { status: 410 });
    if (!verdict.ok) return Response.json({ error: "unauthorized", reason: verdict.reason }, { status: 401 });
    return this.acceptConnector(verdict.connectorId);
  }

  private async acceptConnector(connectorId: string): Promise<Response> {
    // A stream asked for while the session was starting (askStreamEarly) waits until the session
    // exists — its session.start durable — or was refused (then: 410, nothing attached).
    if (!this.session) await this.starting;
    const session = this.session;
    if (!session || session.isEnded) return Response.json({ error: "gone", reason: "no such live session" }, { status: 410 });
    if (session.hasConnector) return Response.json({ error: "conflict", reason: "session already has a connector stream" }, { status: 409 });
    // Only the connector the hub asked may serve this session: any other connector of the tenant
    // (admitted, but not chosen) is refused, also when it dials first. The connector may dial
    // before the hub's answer reaches this object, so the request is awaited first.
    const asked = this.streamRequest;
    if (!asked) return Response.json({ error: "conflict", reason: "no connector stream was asked for this session" }, { status: 409 });
    await asked.catch(() => {});
    if (this.connectorId === undefined) return Response.json({ error: "gone", reason: "the hub found no connector for this session" }, { status: 410 });
    if (this.connectorId !== connectorId) return Response.json({ error: "forbidden", reason: `this session's stream was asked of another connector, not ${connectorId}` }, { status: 403 });
    if (session.isEnded) return Response.json({ error: "gone", reason: "no such live session" }, { status: 410 });
    if (session.hasConnector) return Response.json({ error: "conflict", reason: "session already has a connector stream" }, { status: 409 });
    this.attachedConnectorId = connectorId;
    return this.acceptSocket(["connector"], (ws) => session.attachConnector(ws));
  }

  protected override onFrame(ws: WebSocket, frame: Frame): void {
    const session = this.session;
    if (!session) return this.closeSocket(ws, CLOSE_POLICY, "no session");
    if (session.isClient(ws)) session.onFrame("client", frame);
    else if (session.isConnector(ws)) session.onFrame("connector", frame);
  }

  protected override onSocketClose(ws: WebSocket, _code: number, reason: string): void {
    this.session?.onSocketClosed(ws, reason);
  }

  protected override onSocketError(ws: WebSocket, error: Error): void {
    this.session?.onSocketClosed(ws, error.message);
  }

  /** RPC from the ApprovalsObject: a held statement of this session was decided. */
  async approvalDecided(id: string, outcome: ApprovalOutcome): Promise<boolean> {
    if (!this.holds || !this.session || this.session.isEnded) return false;
    return this.holds.deliver(id, outcome);
  }

  /** RPC from the ApprovalsObject: a grant this session relied on was revoked or expired. */
  async terminate(code: string, reason: string): Promise<boolean> {
    const session = this.session;
    // Still starting (e.g. session.start being recorded while its connector is revoked): ended as
    // soon as it exists — a caller told "not live" would forget it (the hub drops its record).
    // The session's stream ticket admits nothing from now on (a revoked connector holding it included).
    this.tickets.withdraw();
    if (!session && this.admitting) {
      this.endedWhileStarting ??= { code, reason };
      return true;
    }
    if (!session || session.isEnded) return false;
    session.terminate(code, reason);
    return true;
  }

  /**
   * The recorded session's check-in (ORPHAN_CHECK_MS). Sockets are not hibernated, so a live
   * session is in this instance's memory: it re-arms. With none (this instance is a fresh one:
   * the one that served the session is gone, and its connections with it), a trail that was
   * started and not ended is closed here — nothing else would ever seal its last chunk, and the
   * index would call the session open for ever.
   */
  protected override async onAlarm(): Promise<void> {
    if (this.admitting || (this.session && !this.session.isEnded)) {
      await this.ctx.storage.setAlarm(Date.now() + ORPHAN_CHECK_MS);
      return;
    }
    if (this.session) return; // ended here: the session closed its own trail
    const name = this.ctx.id.name;
    const sessionId = name?.slice(name.lastIndexOf(":") + 1);
    if (!sessionId || !isValidSessionId(sessionId)) return;
    // Best effort: what cannot be sealed or uploaded now is counted in session.end, never thrown at nobody.
    const recorder = new SessionRecorder({ storage: this.ctx.storage, env: this.env, sessionId, mode: "best-effort" });
    const status = await recorder.status();
    if (!status.started || status.ended) return;
    await recorder.onSessionEnd({
      reason: "the session's Durable Object restarted while the session was live: its client and connector connections were dropped with it; the trail ends here",
      status: "aborted",
      bytes_in: 0,
      bytes_out: 0,
    });
  }

  /** RPC from POST /v1/cancel: cancel the running statement if the caller owns the session. */
  async cancel(caller: { issuer: string; subject: string }): Promise<boolean> {
    const session = this.session;
    if (!session || session.isEnded) return false;
    if (session.identity.issuer !== caller.issuer || session.identity.subject !== caller.subject) return false;
    session.cancel();
    return true;
  }
}

/** How often a held statement's client is reminded (GATEHOUSE_APPROVAL_REMINDER_SECONDS, default 60; 0 = never). */
function reminderMs(env: Env): number | undefined {
  const raw = env.GATEHOUSE_APPROVAL_REMINDER_SECONDS;
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? n * 1000 : undefined;
}
