/**
 * MySQL/MariaDB engine (worker): the session glue's `Engine` around the runtime-neutral protocol
 * core (engine-core.ts).
 *
 *   CLI listener (local handshake, per-listener password) ──tunnel──▶ this engine
 *     startup: a HandshakeResponse41 the listener re-encodes (capabilities, collation, database;
 *              no credential) → connect decision → connector `open` with the access level →
 *              the connector logs in with that level's credential → `ready` (server version,
 *              agreed capabilities, the server's sql_mode and character sets) → OK to the client
 *     command phase: MysqlEngineCore — per statement SessionPolicy.decide (sql.* kinds from the
 *              MySQL-dialect classifier) → approval hold (shared chain filter) → forward; rows
 *              masked (text and binary); every request, decision and (masked) result recorded.
 *
 * Refusals are MySQL ERR packets with MySQL's own codes (module.ts, codec/responses.ts); the
 * session survives a refused statement.
 */
import { FilterChain } from "../../../worker/chain/chain.ts";
import { approvalHoldFilter } from "../../../worker/chain/filters/approval-hold.ts";
import { decidedFilter } from "../../../worker/chain/filters/decided.ts";
import type { Engine, EngineHost } from "../../../worker/engines/engine.ts";
import type { DecisionEvent } from "../../../worker/session/session-audit.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import type { Decision } from "../../../parsers/policy/types.ts";
import type { RequestDescription } from "../../types.ts";
import { PacketFramer, encodePacket } from "../codec/packets.ts";
import { CLIENT, FORMAT_CAPABILITIES, GATEWAY_CAPABILITIES, PROBE_ATTRIBUTE, SERVER_STATUS, isUtf8Collation } from "../codec/constants.ts";
import { decodeHandshakeResponse41 } from "../codec/handshake.ts";
import { encodeOk, refusal } from "../codec/responses.ts";
import type { MysqlStatement } from "../sql/classify.ts";
import type { PinnedState } from "../sql/session.ts";
import { MysqlEngineCore, type Guard, type MysqlEngineEvent, type Verdict } from "./engine-core.ts";
import { RowMasker } from "./row-masker.ts";
import { RATE_LIMIT_RULE } from "../../../worker/limits/request-gate.ts";
import { createSessionMasker, type SessionMasker } from "../../../worker/masking/session-masker.ts";
import { maskTexts } from "../../../worker/masking/text-masker.ts";
import { requestMaskingFilter } from "../../../worker/chain/filters/request-masking.ts";
import { THREAD_ATTRIBUTE, type MysqlThreads } from "./threads.ts";
import { concatBytes } from "../../../parsers/encoding/bytes.ts";

const CONNECT_TIMEOUT_MS = 30_000;
const STARTUP_TIMEOUT_MS = 30_000;
/** Rule names recorded for the gateway's own guards (not policy rules). */
const PIN_RULE = "gatehouse:mysql-session-state";
const GUARD_RULES: Record<Guard, string> = { pin: PIN_RULE, "local-infile": "gatehouse:mysql-local-infile", decode: "gatehouse:mysql-decode", masking: "gatehouse:masking-derived" };
const PROTOCOL_RULE = "gatehouse:mysql-protocol";

type Phase = "startup" | "connecting" | "ready" | "closed";

interface HeldQuery {
  decision: Decision;
}

export class MysqlEngine implements Engine {
  private phase: Phase = "startup";
  private readonly startup = new PacketFramer(64 * 1024);
  private core?: MysqlEngineCore;
  private masker: RowMasker | null = null;
  /** The session's WASM masker (results through `masker`, request text through maskTexts). */
  private textMasker: SessionMasker | null = null;
  private connectorReady?: { resolve: (m: ControlMessage) => void; reject: (e: { code: string; message: string }) => void };
  /** The last decision per request, for the approval hold (the core asks decide → approve). */
  private lastDecision: Decision | null = null;
  private readonly holdChain: FilterChain<HeldQuery>;
  /** Sequence id of the client's last handshake packet: the session's first answer follows it. */
  private handshakeSeq = 1;
  private resultStarted = Date.now();

  constructor(
    private readonly host: EngineHost,
    private readonly opts: { threads?: MysqlThreads } = {},
  ) {
    this.holdChain = new FilterChain<HeldQuery>(
      [
        decidedFilter(),
        // Approvers see the statement as the trail records it: masked by the detectors and patterns.
        requestMaskingFilter({ display: (request) => ({ text: this.masked(request.text) }) }),
        approvalHoldFilter<HeldQuery>({
          hold: (input) => this.host.holdForApproval(input),
          // MySQL has no asynchronous notice while a command waits: the listener logs it.
          notify: (line) => this.host.sendControlToClient({ t: "notice", message: line }),
          record: (event) => this.host.audit.onDecision(event),
        }),
      ],
      { forward: () => {}, deliver: () => {}, refuse: () => {} },
    );
    setTimeout(() => {
      if (this.phase === "startup") this.fatalAtStart("no session start received in time");
    }, STARTUP_TIMEOUT_MS);
  }

  // ---------------------------------------------------------------- client → target

  async onClientData(bytes: Uint8Array): Promise<void> {
    if (this.phase === "closed") return;
    if (this.phase === "ready") return this.core!.onClientData(bytes);
    if (this.phase !== "startup") return; // client bytes queue in the session while connecting
    let packets;
    try {
      packets = this.startup.push(bytes);
    } catch (e) {
      return this.fatalAtStart(`malformed session start: ${(e as Error).message}`);
    }
    if (packets.length === 0) return;
    if (packets.length > 1 || this.startup.buffered) return this.fatalAtStart("data after the session start, before the session is ready");
    await this.connect(packets[0]!.seq, packets[0]!.payload);
  }

  private async connect(seq: number, payload: Uint8Array): Promise<void> {
    const { host } = this;
    this.handshakeSeq = seq;
    let hs;
    try {
      hs = decodeHandshakeResponse41(payload);
    } catch (e) {
      return this.fatalAtStart(`malformed session start: ${(e as Error).message}`);
    }
    if (hs.sslRequest) return this.fatalAtStart("TLS inside the tunnel is not offered (the tunnel is the encrypted channel)");
    const stray = (hs.capabilities & ~GATEWAY_CAPABILITIES & ~CLIENT.SSL) >>> 0;
    if (stray) return this.fatalAtStart(`capabilities the gateway does not decode were negotiated (0x${stray.toString(16)})`);
    if (hs.capabilities & CLIENT.LOCAL_FILES) return this.fatalAtStart("CLIENT_LOCAL_FILES is never negotiated through the gateway");
    if (!isUtf8Collation(hs.charset)) return this.fatalAtStart(`client character set (collation ${hs.charset}) is not UTF-8; use utf8mb4`);
    try {
      this.textMasker = createSessionMasker(host) ?? null;
      this.masker = this.textMasker ? new RowMasker(this.textMasker, host.policy.maskingConfig()) : null;
    } catch (e) {
      // An invalid masking configuration (e.g. a `hash` rule without the tenant key): never serve unmasked.
      await host.audit.onDecision({ effect: "deny", rule: null, reason: `masking configuration: ${(e as Error).message}` });
      return this.fatalAtStart(`masking for this resource cannot be applied exactly (${(e as Error).message}); the session is refused`, "denied");
    }
    const decision = host.policy.decideConnect();
    const event = decisionEvent(decision);
    await host.audit.onDecision(decision.effect === "allow" ? { ...event, reason: `${event.reason}; database access level ${host.policy.sqlAccessLevel()}` } : event);
    if (decision.effect !== "allow") {
      const why = decision.effect === "approve" ? `${decision.reason}; connecting requires an approval, which this gateway cannot grant at connect time` : decision.reason;
      return this.fatalAtStart(`access to resource ${host.resource.name} refused: ${why}`, "denied");
    }
    this.phase = "connecting";
    const ready = new Promise<ControlMessage>((resolve, reject) => (this.connectorReady = { resolve, reject }));
    const timer = setTimeout(() => this.connectorReady?.reject({ code: "08S01", message: "timed out waiting for the connector" }), CONNECT_TIMEOUT_MS);
    let message: ControlMessage;
    try {
      await host.openConnectorStream();
      host.connectorControl({
        t: "open",
        resource: host.resource.name,
        // The connector logs in with the credential of exactly this access level (the second wall).
        access: host.policy.sqlAccessLevel(),
        capabilities: hs.capabilities,
        collation: hs.charset,
        database: hs.database,
        max_session_ms: host.policy.limits().maxSessionMs,
        statement_timeout_ms: host.policy.limits().statementTimeoutMs,
      });
      message = await ready;
    } catch (e) {
      const err = e as { message?: string };
      const text = err.message ?? String(e);
      return this.fatalAtStart(text.startsWith("gatehouse: ") ? text.slice(11) : `resource ${host.resource.name}: ${text}`, "error", "connection");
    } finally {
      clearTimeout(timer);
      this.connectorReady = undefined;
    }
    if (this.phase !== "connecting") return;
    const serverVersion = typeof message.serverVersion === "string" ? message.serverVersion : "";
    const capabilities = typeof message.capabilities === "number" ? message.capabilities >>> 0 : -1;
    const pinned = readPinned(message.pinned);
    // The server must answer in exactly the format the client negotiated.
    if (capabilities < 0 || ((capabilities ^ hs.capabilities) & FORMAT_CAPABILITIES) !== 0 || !pinned) {
      return this.fatalAtStart("the connector's session does not match what the client negotiated", "error", "connection");
    }
    try {
      this.core = new MysqlEngineCore(
        {
          sendToClient: (b) => this.host.sendToClient([b]),
          sendToServer: (b) => this.host.sendToConnector([b]),
          decide: (statements, sql, kind) => this.decide(statements, sql, kind),
          refuseBeforeParse: () => this.host.refuseBeforeParse?.()?.then((t) => (t?.recorded ? t.message.replace(/^gatehouse: /, "") : null)) ?? null,
          approve: (sql, statements, reason, parameters) => this.approve(sql, parameters),
          record: (e) => this.record(e),
          // Awaited by the core before the statement runs (nothing it describes may happen before it is durable).
          recordDerived: (e) => this.host.audit.onEvent("masking.derived", { ...e }),
          end: (reason) => this.end(reason),
          killQuery: (threadId) => this.opts.threads?.killQuery(threadId).catch(() => false) ?? Promise.resolve(false),
        },
        // A read-level session's read-only transaction mode (set by the connector at login) is pinned.
        { capabilities: hs.capabilities, serverVersion, pinned, masker: this.masker, readOnly: host.policy.sqlAccessLevel() === "read", statementTimeoutMs: host.policy.limits().statementTimeoutMs },
      );
    } catch (e) {
      // sql_mode or a character set the gateway cannot read exactly (session.ts): refuse the session.
      await host.audit.onDecision({ effect: "deny", rule: PIN_RULE, reason: (e as Error).message });
      return this.fatalAtStart(`the server session cannot be pinned: ${(e as Error).message}`, "denied");
    }
    // The listener's greeting thread id for this connection: a KILL QUERY of it (Ctrl-C) finds this session.
    const threadId = Number(hs.attributes.get(THREAD_ATTRIBUTE));
    if (this.opts.threads && Number.isInteger(threadId) && threadId > 0 && threadId < 2 ** 31) await this.opts.threads.register(threadId).catch(() => {});
    // The server and the pinned settings the session's statements are classified under, in the trail.
    const probe = hs.attributes.get(PROBE_ATTRIBUTE) === "1" ? " (the listener's greeting-version probe: it quits at once)" : "";
    await host.audit.onDecision({ effect: "allow", rule: null, reason: `session open on ${serverVersion}; pinned sql_mode '${pinned.sqlMode}', character_set_client ${pinned.charsetClient}${probe}` });
    // The session may have ended during the awaits above (terminated, connector lost): never reopen it.
    if (this.phase !== "connecting") return;
    this.phase = "ready";
    // The listener greets its next connections with the target's real version (client/engine.ts).
    host.sendControlToClient({ t: "mysql-server", version: serverVersion });
    host.sendToClient([encodePacket((seq + 1) & 0xff, encodeOk({ status: SERVER_STATUS.AUTOCOMMIT }))]);
  }

  /** Policy for one request, recorded (request + decision) before anything is forwarded. */
  private async decide(statements: MysqlStatement[], sql: string, kind: "query" | "prepare" | "execute"): Promise<Verdict> {
    const request: RequestDescription = { protocol: "mysql", actions: statements.map((s) => `sql.${s.kind}`), text: sql, attributes: { statements } };
    // The tenant's request rate (hosted mode) before the decision: ERR 1226, session usable.
    // A query costs its statements (multi-statements included); a prepare or an execute one.
    const throttled = await this.host.admitRequest?.(kind === "query" ? statements.length : 1);
    if (throttled) {
      this.lastDecision = null;
      await Promise.all([
        this.host.audit.onQuery({ protocol: "mysql", message: kind, text: this.masked(sql), statements: [] }),
        this.host.audit.onDecision({ effect: "deny", rule: RATE_LIMIT_RULE, reason: throttled.message }),
      ]);
      return { effect: "deny", reason: throttled.message.replace(/^gatehouse: /, ""), rateLimited: true };
    }
    const { decision } = this.host.policy.decide(request);
    this.lastDecision = decision;
    await Promise.all([
      this.host.audit.onQuery({
        protocol: "mysql",
        message: kind,
        text: this.masked(sql),
        statements: statements.map((s) => ({ kind: s.kind, command: s.command, flags: [...s.flags] })),
        readOnly: statements.length > 0 && statements.every((s) => s.kind === "read" && s.flags.length === 0 && !(s.parts ?? []).length),
      }),
      // A prepare only parses; its approval (if any) is asked at each execute, with the parameters.
      this.host.audit.onDecision(kind === "prepare" && decision.effect === "approve" ? { ...decisionEvent(decision), reason: `${decision.reason} (held at each execute)` } : decisionEvent(decision)),
    ]);
    if (decision.effect === "allow") return { effect: "allow" };
    // The reason names the deciding rule (or says default deny), as for PostgreSQL.
    return { effect: decision.effect, reason: decision.effect === "deny" ? `statement refused: ${decision.reason}` : decision.reason };
  }

  /** The shared approval hold; resolves true when approvers let exactly this request run. */
  private async approve(sql: string, parameters?: Uint8Array): Promise<boolean> {
    const decision = this.lastDecision;
    if (!decision || decision.effect !== "approve") return false;
    const binding = parameters ? concat(new TextEncoder().encode(sql), Uint8Array.of(0), parameters) : undefined;
    const request: RequestDescription = { protocol: "mysql", actions: [], text: sql, ...(binding ? { binding } : {}) };
    const out = await this.holdChain.decode({ decision }, request);
    return out.kind === "passed";
  }

  /** Request text as the trail and approvers may see it (masked by the session's detectors and patterns). */
  private masked(text: string): string {
    return this.textMasker ? maskTexts(this.textMasker, [text])[0]! : text;
  }

  private record(e: MysqlEngineEvent): void {
    const audit = this.host.audit;
    const recorded = (() => {
      switch (e.type) {
        case "query":
        case "prepare":
          // Only refusals before policy reach here (pinned settings, LOAD DATA LOCAL, undecodable text).
          return Promise.all([
            audit.onQuery({ protocol: "mysql", message: e.type, text: this.masked(e.sql), ...(e.type === "query" ? { statements: e.statements.map((s) => ({ kind: s.kind, command: s.command, flags: [] })) } : {}) }),
            // As PostgreSQL: request, masking.derived (refused), then the refusal.
            ...(e.derived ? [audit.onEvent("masking.derived", { ...e.derived })] : []),
            audit.onDecision({ effect: "deny", rule: GUARD_RULES[e.guard], reason: e.reason }),
          ]);
        case "command":
          return Promise.all([
            audit.onQuery({ protocol: "mysql", message: "command", text: e.command }),
            audit.onDecision(e.verdict === "allow" ? { effect: "allow", rule: null, reason: "protocol command" } : { effect: "deny", rule: PROTOCOL_RULE, reason: e.reason ?? `${e.command} is refused by the gateway` }),
          ]);
        case "execute":
          return Promise.resolve();
        case "result": {
          const now = Date.now();
          const durationMs = now - this.resultStarted;
          this.resultStarted = now;
          return audit.onResult({
            rows: e.rows,
            durationMs,
            ...(e.columns ? { columns: e.columns, rowsSample: e.sample ?? [] } : {}),
            ...(e.affectedRows !== undefined ? { commandTag: `OK ${e.affectedRows}` } : {}),
            ...(e.error ? { error: { code: `${e.error.code}/${e.error.sqlState}`, message: e.error.message } } : {}),
          });
        }
      }
    })();
    // A recording failure in fail-closed mode ends the session (the session glue decides).
    recorded.catch(() => {});
  }

  private end(reason: string): void {
    if (this.phase === "closed") return;
    const quit = reason === "client quit";
    this.phase = "closed";
    this.host.end(quit ? { status: "ok", reason: "client ended the session (COM_QUIT)" } : { status: "error", reason: `gatehouse: ${reason}` });
  }

  // ---------------------------------------------------------------- target → client

  async onConnectorData(bytes: Uint8Array): Promise<void> {
    if (this.phase !== "ready") return;
    this.core!.onServerData(bytes);
  }

  async onConnectorControl(message: ControlMessage): Promise<void> {
    if (message.t === "ready") this.connectorReady?.resolve(message);
    else if (message.t === "error") {
      const err = { code: String(message.code ?? "08S01"), message: String(message.message ?? "connector error") };
      if (this.connectorReady) this.connectorReady.reject(err);
      else this.onConnectorLost(err.message);
    } else if (message.t === "close") {
      if (this.connectorReady) this.connectorReady.reject({ code: "08S01", message: String(message.reason ?? "connector closed the stream") });
      else if (this.phase === "ready") {
        this.phase = "closed";
        this.host.end({ status: "ok", reason: String(message.reason ?? "the target closed the connection") });
      } else if (this.phase === "connecting") this.fatal(`the target closed the connection before the session was ready: ${String(message.reason ?? "no reason given")}`);
    }
  }

  onConnectorLost(reason: string): void {
    if (this.connectorReady) {
      this.connectorReady.reject({ code: "08S01", message: `connector stream lost: ${reason}` });
      return;
    }
    this.fatal(`connection to resource ${this.host.resource.name} lost: ${reason.replace(/^gatehouse: /, "")}`);
  }

  onTerminate(_code: string, reason: string): void {
    this.fatal(reason.replace(/^gatehouse: /, ""));
  }

  /**
   * A KILL QUERY for this session (another session of the same identity named its greeting thread
   * id) or the statement timeout: the connector kills the server thread it opened, with the same
   * account, on a connection of its own (MySQL has no in-band cancel).
   */
  cancel(): void {
    if (this.phase === "ready") this.host.connectorControl({ t: "cancel" });
  }

  maskingCounts(): Record<string, number> {
    return { ...(this.masker?.counts ?? {}) };
  }

  // ---------------------------------------------------------------- endings

  /** Before the session is ready: an ERR in place of the handshake's OK, then end. */
  private fatalAtStart(message: string, status: "error" | "denied" = "error", kind: "accessDenied" | "connection" | "malformed" = status === "denied" ? "accessDenied" : "malformed"): void {
    if (this.phase === "closed" || this.phase === "ready") return this.fatal(message);
    this.phase = "closed";
    this.host.sendToClient([encodePacket((this.handshakeSeq + 1) & 0xff, refusal(kind, message))]);
    this.host.end({ status, reason: `gatehouse: ${message}` });
  }

  /**
   * During the command phase: an ERR the client reads as the answer to its current command (or,
   * idle, as the reason the connection ends), then end.
   */
  private fatal(message: string): void {
    if (this.phase === "closed") return;
    if (this.phase !== "ready") return this.fatalAtStart(message);
    this.phase = "closed";
    this.host.sendToClient([encodePacket(1, refusal("connection", message))]);
    this.host.end({ status: "error", reason: `gatehouse: ${message}` });
  }
}

function decisionEvent(decision: Decision): DecisionEvent {
  const event: DecisionEvent = { effect: decision.effect, rule: decision.rule, reason: decision.reason };
  if (decision.statementIndex !== undefined) event.statementIndex = decision.statementIndex;
  return event;
}

function readPinned(v: unknown): PinnedState | null {
  if (!v || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  const s = (k: string) => (typeof o[k] === "string" ? (o[k] as string) : null);
  const sqlMode = s("sqlMode");
  const charsetClient = s("charsetClient");
  const charsetResults = s("charsetResults");
  const charsetConnection = s("charsetConnection");
  if (sqlMode === null || charsetClient === null || charsetResults === null || charsetConnection === null) return null;
  return { sqlMode, charsetClient, charsetResults, charsetConnection };
}

const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);
