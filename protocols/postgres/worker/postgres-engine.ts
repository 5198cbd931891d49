/**
 * PostgreSQL engine. The worker terminates the client side of the startup (the client proved
 * itself with OIDC; it gets AuthenticationOk), the connector authenticates to the real server,
 * and from then on every frontend message is decoded and checked before anything is forwarded:
 *
 *   client → decode (WASM framer) → policy (classifier + rules) → [approval hold] → record → connector
 *   connector → decode (WASM framer) → denial rewrite → masking → record → client
 */
import { FilterChain } from "../../../worker/chain/chain.ts";
import { approvalHoldFilter } from "../../../worker/chain/filters/approval-hold.ts";
import { decidedFilter } from "../../../worker/chain/filters/decided.ts";
import { timeoutFilter } from "../../../worker/chain/filters/timeout.ts";
import { requestMaskingFilter } from "../../../worker/chain/filters/request-masking.ts";
import { gatedSends, recordingFilter, type AnswerRecord, type EngineSends, type Trail } from "../../../worker/chain/filters/recording.ts";
import { resultMaskingFilter, type ResultMaskingFilter } from "../../../worker/chain/filters/result-masking.ts";
import type { ChainFrame } from "../../../worker/chain/types.ts";
import { SQLSTATE_BY_KIND } from "../module.ts";
import { sqlRequest } from "../policy/describe.ts";
import type { ControlMessage } from "../../../parsers/tunnel/frames.ts";
import {
  authenticationOk,
  backendKeyData,
  decodeBind,
  decodeParse,
  decodeQuery,
  encodeParse,
  message,
  concat,
  cstring,
  errorResponse,
  PgProtocolError,
  noticeResponse,
  parameterStatus,
  parseErrorFields,
  parseStartupPacket,
  MAX_STARTUP_PACKET_BYTES,
  readCString,
  readyForQuery,
  type ErrorFields,
  type TransactionStatus,
} from "../codec/codec.ts";
import { decodeCommandComplete, decodeDataRow, forEachMessage } from "../codec/results.ts";
import { RowDescriptionMemo } from "../codec/row-description-memo.ts";
import { PgFramer, PgFrameError, type FrameBatch } from "../../../wasm/loader/pgframe.ts";
import type { Engine, EngineHost } from "../../../worker/engines/engine.ts";
import type { DecisionEvent, ResultEvent } from "../../../worker/session/session-audit.ts";
import { DenialTracker } from "./denial.ts";
import { forwardedStartupParameters, isReplicationStartup } from "./startup.ts";
import type { Decision } from "../../../parsers/policy/types.ts";
import type { SessionMasker } from "../../../worker/masking/session-masker.ts";
import { copyOutFormat, type CopyOutFormat } from "../codec/copy-options.ts";
import { maskTexts } from "../../../worker/masking/text-masker.ts";
import { ResponseOrder, ResponseOrderError, type ProbedCopyFormat } from "./response-order.ts";
import { catalogQuery, SessionTaint, mayRenameProtocolNames, type Taint } from "../../../worker/masking/taint/session-taint.ts";
import { MaskingConfigError } from "../../../parsers/masking/config.ts";
import type { ClassifiedStatement } from "../../../parsers/sql/types.ts";
import { PIN_RULE, pinViolation, startupViolation } from "./session-pin.ts";
import { RATE_LIMIT_RULE } from "../../../worker/limits/request-gate.ts";
import { hasHighByte, isUnsafeEncoding, unsafeEncodingMessage } from "./client-encoding.ts";
import { sameLexing, watchedSettingChange } from "./session-state.ts";
import { approvalBinding, HELD_PREFIX, HeldLimitError, HeldPrepared, readBind, type BoundParameter } from "./held-prepared.ts";
import { approvalDisplayText, parameterDisplay } from "../../../worker/approvals/display.ts";

const CONNECT_TIMEOUT_MS = 30_000;
const STARTUP_TIMEOUT_MS = 30_000;
const ROW_SAMPLE_LIMIT = 20;

/** Frontend message types (after startup) the gateway understands. Anything else is refused. */
const T = {
  Query: 0x51, // Q
  Parse: 0x50, // P
  Bind: 0x42, // B
  Execute: 0x45, // E
  Describe: 0x44, // D
  Close: 0x43, // C
  Sync: 0x53, // S
  Flush: 0x48, // H
  FunctionCall: 0x46, // F
  CopyData: 0x64, // d
  CopyDone: 0x63, // c
  CopyFail: 0x66, // f
  Terminate: 0x58, // X
} as const;

const B = {
  ErrorResponse: 0x45, // E
  NoticeResponse: 0x4e, // N
  ReadyForQuery: 0x5a, // Z
  RowDescription: 0x54, // T
  DataRow: 0x44, // D
  CommandComplete: 0x43, // C
  EmptyQuery: 0x49, // I
  ParameterStatus: 0x53, // S
  Notification: 0x41, // A
} as const;

/** Backend messages whose masking depends on the taint of the request being answered. */
const TAINTED_TYPES = new Set<number>([B.RowDescription, B.ErrorResponse, B.NoticeResponse, B.Notification, B.ParameterStatus, 0x48 /* CopyOutResponse */]);

export interface PostgresEngineOptions {
  framerModule: WebAssembly.Module;
  /** Masks complete backend messages and request text; absent when no masking rule applies to this session. */
  masker?: SessionMasker;
  /** Register the synthetic cancel key handed to the client (cancel-keys.ts: POST /v1/cancel finds the session by it). */
  registerCancelKey(pid: number, secret: number): Promise<void>;
}

type Phase = "startup" | "connecting" | "ready" | "closed";

export class PostgresEngine implements Engine {
  /** onConnectorData copies every chunk into the backend framer (or the catalogue's) first and keeps no view of it. */
  readonly copiesConnectorData = true;
  private phase: Phase = "startup";
  private startupBuffer = new Uint8Array(0);
  private readonly frontend: PgFramer;
  private readonly backend: PgFramer;
  private readonly denials = new DenialTracker();
  private txStatus: TransactionStatus = "I";
  private standardConformingStrings = true;
  private connectorReady?: { resolve: (m: ControlMessage) => void; reject: (e: PendingError) => void };
  /** Statements forwarded and not yet answered by ReadyForQuery (a settled session has none). */
  private outstanding = 0;
  /** The policy's statement_timeout: the shared timeout filter (worker/chain/filters/timeout.ts). */
  private readonly statementTimeout = timeoutFilter<"statement" | "ready">({
    limitMs: () => this.host.policy.limits().statementTimeoutMs,
    completes: (frame) => frame.message === "ready",
    onTimeout: (ms) => {
      void this.host.audit.onEvent("statement.timeout", { limit_ms: ms }).catch(() => {});
      this.cancel("timeout");
    },
  });
  /** Prepared statements whose Parse was plain reads: their Bind may reach the target before it is durable. */
  private readonly readOnlyStatements = new Set<string>();
  /**
   * The shared recording filter's trail (worker/chain/filters/recording.ts), driven where the framer
   * cuts messages: a statement's query event joined by its decision (one batch), the trail text
   * masked by the session's detectors, writes durable before forwarding (reads may go first), the
   * answers recorded as the client receives them and held until durable, a failed write → FATAL.
   */
  private readonly trail: Trail;
  /**
   * Sends through the trail's gates: to the target once a request that is not read-only is
   * durable, to the client once what describes the bytes is written; a failed write → FATAL with
   * the recorder's code (not recorded → not sent). (`fatal` itself sends through the host, whose
   * own commit then has nothing left to write.)
   */
  private readonly sends: EngineSends;
  /** The shared result-masking filter over this session's WASM masker (absent: no masking rule applies). */
  private readonly resultMasking: ResultMaskingFilter<Uint8Array> | undefined;
  /** Set around the last masking call of a backend batch: its output may be borrowed (see onBackendBatch). */
  private borrowOutput = false;
  /** Whether that call's output is a view of the masker's memory. */
  private borrowed = false;
  private cancelledByTimeout = false;
  private result: ResultEvent & { formats?: number[]; startedAt: number } = { rows: 0, startedAt: Date.now() };
  /**
   * With masking: which request each backend message answers (response-order.ts), so the answers
   * to the gateway's own Describe/probe messages are swallowed and each COPY gets its own format.
   */
  private readonly order: ResponseOrder | undefined;
  /** The portal the client's last message described ('D' 'P'), if that was its last message (Flush aside). */
  private describedPortal: string | null = null;
  /** Extended-protocol messages forwarded since the last Sync (their answers are not yet due). */
  private unsynced = false;
  /** Waiters for a settled session: every forwarded message answered (ReadyForQuery). */
  private settledWaiters: Array<() => void> = [];
  /** Settings as the server reported them at login: the watched ones (session-state.ts), server_version (the catalogue query). */
  private readonly loginSettings = new Map<string, string>();
  /** Prepared statements that need approval, held at Bind/Execute with their parameters (held-prepared.ts). */
  private readonly held = new HeldPrepared();
  /** The approval hold, shared with every protocol (worker/chain/filters/approval-hold.ts). */
  private readonly holdChain = this.createHoldChain();
  /** Derived-value masking and binary containers (any masking session): catalogue, analysis, verdicts. */
  private readonly taint: SessionTaint | undefined;
  /** Waiting for the answers to the gateway's catalogue query (before the client's first statement). */
  private catalogWait?: { resolve: () => void; reject: (e: Error) => void };
  /**
   * The catalogue read started when the login succeeded, settled once the catalogue is built (true)
   * or the session has been ended because it could not be read (false). Every client message
   * waits for it: nothing is decided or forwarded on a catalogue the gateway has not read yet.
   */
  private catalogRead: Promise<boolean> | undefined;
  /** The connector stream asked for when the session started (see the constructor). */
  private connectorStream: Promise<void> | undefined;
  /** RowDescriptions decoded once for the masking plan and the trail (and once per repeat of a statement). */
  private readonly rowDescriptions = new RowDescriptionMemo();

  constructor(
    private readonly host: EngineHost,
    private readonly options: PostgresEngineOptions,
  ) {
    this.frontend = new PgFramer(options.framerModule, 64 * 1024 * 1024);
    this.backend = new PgFramer(options.framerModule, 256 * 1024 * 1024);
    if (options.masker) this.order = new ResponseOrder();
    const maskingConfig = options.masker ? host.policy.maskingConfig() : undefined;
    if (options.masker && maskingConfig) this.taint = new SessionTaint(options.masker, maskingConfig);
    const masker = options.masker;
    this.trail = recordingFilter<Uint8Array>({ audit: () => this.host.audit, ...(masker ? { maskTexts: (texts: string[]) => maskTexts(masker, texts) } : {}) }).trail;
    this.sends = gatedSends(this.trail, () => this.host, (refusal) => this.fatal(refusal.code ?? "08P01", refusal.message, "error"));
    if (masker) {
      const taint = this.taint;
      // The codec-level masker: backend bytes in runs (messages, COPY data, across message
      // boundaries), then the derived-value pass; state between runs is the engine's (plans, COPY formats).
      this.resultMasking = resultMaskingFilter<Uint8Array>({
        masker: {
          process: (run) => {
            // Borrowed output (a view of the masker's memory, no fresh array per batch): only for
            // the last run of a batch, which onBackendBatch sends before anything can call the
            // masker again; and not while the taint pass rewrites rows (it calls maskText).
            if (this.borrowOutput && !taint?.rewritesRows) {
              const out = masker.processView(run);
              this.borrowed = out !== run;
              return out;
            }
            return taint ? taint.postProcess(masker.process(run)) : masker.process(run);
          },
          counts: () => masker.counts(),
        },
      });
    }
    // A tunnel that never completes its startup must not hold a session open.
    setTimeout(() => {
      if (this.phase === "startup") this.fatal("08P01", "gatehouse: no startup message received in time", "error");
    }, STARTUP_TIMEOUT_MS);
    // The connector's stream to this session touches nothing on the target (the connector logs in
    // only on `open`), so when the policy admits this identity to the resource at all it is asked
    // for now: its dial overlaps the client's StartupMessage round trip. The session's place under
    // the caps is still taken before the connector is asked; the login still waits for the startup
    // checks and the recorded connect decision (connect()).
    if (host.policy.decideConnect().effect === "allow") {
      this.connectorStream = host.openConnectorStream();
      this.connectorStream.catch(() => {}); // awaited in connect(), where a failure ends the session
    }
  }

  // ---------------------------------------------------------------- client → target

  async onClientData(bytes: Uint8Array): Promise<void> {
    if (this.phase === "closed") return;
    if (this.phase === "startup") return this.onStartupBytes(bytes);
    if (this.phase !== "ready") return; // the session chain does not deliver client bytes while connecting
    // Held (in arrival order: the session's client chain waits for this call) until the catalogue is read.
    if (this.catalogRead && !(await this.catalogRead)) return;
    if ((this.phase as Phase) !== "ready") return;
    let batch: FrameBatch;
    try {
      batch = this.frontend.push(bytes);
    } catch (e) {
      return this.fatal("08P01", `gatehouse: invalid message from client: ${(e as PgFrameError).message}`, "error");
    }
    for (;;) {
      await this.onFrontendBatch(batch);
      if (this.phase !== "ready" || !this.frontend.hasBufferedMessage) break;
      batch = this.frontend.drain();
    }
  }

  private async onStartupBytes(bytes: Uint8Array): Promise<void> {
    const merged = new Uint8Array(this.startupBuffer.length + bytes.length);
    merged.set(this.startupBuffer);
    merged.set(bytes, this.startupBuffer.length);
    this.startupBuffer = merged;
    while (this.phase === "startup" && this.startupBuffer.length >= 4) {
      const len = new DataView(this.startupBuffer.buffer, this.startupBuffer.byteOffset).getInt32(0);
      if (len < 8 || len > MAX_STARTUP_PACKET_BYTES) return this.fatal("08P01", "gatehouse: invalid startup packet length", "error");
      if (this.startupBuffer.length < len) return;
      const packet = this.startupBuffer.subarray(0, len);
      const rest = this.startupBuffer.slice(len);
      this.startupBuffer = rest;
      let parsed: ReturnType<typeof parseStartupPacket>;
      try {
        parsed = parseStartupPacket(packet);
      } catch (e) {
        return this.fatal("08P01", `gatehouse: ${(e as Error).message}`, "error");
      }
      if (parsed.kind === "ssl" || parsed.kind === "gssenc") {
        // The tunnel is the encrypted channel; in-band TLS to the gateway is not offered.
        this.sends.sendToClient([new Uint8Array([0x4e])]);
        continue;
      }
      if (parsed.kind === "cancel") {
        // Cancels go through POST /v1/cancel (the CLI does this); a cancel packet in a tunnel just ends it.
        this.phase = "closed";
        this.host.end({ status: "ok", reason: "cancel request received in tunnel" });
        return;
      }
      await this.connect(parsed.parameters);
      if ((this.phase as Phase) === "ready" && rest.length > 0) {
        this.startupBuffer = new Uint8Array(0);
        await this.onClientData(rest);
      }
      return;
    }
  }

  private async connect(parameters: Map<string, string>): Promise<void> {
    const { host } = this;
    if (isReplicationStartup(parameters)) {
      await this.recordDecision({ effect: "deny", rule: null, reason: "replication connections are refused through the gateway" });
      return this.fatal("42501", "gatehouse: replication connections are not allowed through the gateway", "denied");
    }
    const encoding = parameters.get("client_encoding") ?? "";
    const pinned = startupViolation(parameters) ?? (isUnsafeEncoding(encoding) ? unsafeEncodingMessage("client_encoding", encoding) : null);
    if (pinned) {
      await this.recordDecision({ effect: "deny", rule: PIN_RULE, reason: pinned });
      return this.fatal("42501", `gatehouse: ${pinned}`, "denied");
    }
    const decision = host.policy.decideConnect();
    // The trail names the database access level the connector will log in with (the second wall).
    const event = decisionEvent(decision);
    await this.recordDecision(decision.effect === "allow" ? { ...event, reason: `${event.reason}; database access level ${host.policy.sqlAccessLevel()}` } : event);
    if (decision.effect !== "allow") {
      const why = decision.effect === "approve" ? `${decision.reason}; connecting requires an approval, which this gateway cannot grant at connect time` : decision.reason;
      return this.fatal("28000", `gatehouse: access to resource ${host.resource.name} refused: ${why}`, "denied");
    }
    this.phase = "connecting";
    const ready = new Promise<ControlMessage>((resolve, reject) => (this.connectorReady = { resolve, reject }));
    const timer = setTimeout(() => this.connectorReady?.reject({ code: "08001", message: "timed out waiting for the connector" }), CONNECT_TIMEOUT_MS);
    // The synthetic cancel key is stored while the connector dials (it does not depend on the
    // target); it is awaited before BackendKeyData reaches the client, so a key the client holds works.
    const pid = randomInt31();
    const secret = randomInt31();
    const keyRegistered = this.options.registerCancelKey(pid, secret);
    keyRegistered.catch(() => {}); // awaited below, where a failure ends the session
    try {
      await (this.connectorStream ?? host.openConnectorStream());
      // The connector logs in with the credential of exactly this access level (the second wall).
      const access = host.policy.sqlAccessLevel();
      this.sends.connectorControl({ t: "open", resource: host.resource.name, startup: forwardedStartupParameters(parameters), access, max_session_ms: host.policy.limits().maxSessionMs });
      const message = await ready;
      clearTimeout(timer);
      // Answered: from here a lost or failing connector ends the session (onConnectorControl/Lost).
      this.connectorReady = undefined;
      const out: Uint8Array[] = [authenticationOk()];
      for (const pair of (message.parameters as Array<[string, string]>) ?? []) {
        if (!Array.isArray(pair) || typeof pair[0] !== "string" || typeof pair[1] !== "string") continue;
        if (pair[0] === "standard_conforming_strings") this.standardConformingStrings = pair[1] === "on";
        if ((pair[0] === "client_encoding" || pair[0] === "server_encoding") && isUnsafeEncoding(pair[1])) {
          const reason = unsafeEncodingMessage(pair[0], pair[1]);
          await this.recordDecision({ effect: "deny", rule: PIN_RULE, reason });
          return this.fatal("42501", `gatehouse: ${reason}`, "denied");
        }
        this.loginSettings.set(pair[0], pair[1]);
        out.push(parameterStatus(pair[0], pair[1]));
      }
      out.push(backendKeyData(pid, secret));
      this.txStatus = parseTxStatus(message.txStatus);
      out.push(readyForQuery(this.txStatus));
      // The catalogue query goes out now and its answer overlaps the client's ReadyForQuery → first
      // statement round trip instead of adding a round trip to the target before "ready": the
      // client's first message waits for it in onClientData (docs/MASKING.md "Derived values").
      await keyRegistered;
      // The session may have ended while the key was stored (client gone, fatal): never reopen it.
      if (this.phase !== "connecting") return;
      if (this.taint) this.catalogRead = this.startCatalogRead();
      this.phase = "ready";
      this.sends.sendToClient(out);
    } catch (e) {
      clearTimeout(timer);
      const err = e as PendingError;
      const code = typeof err.code === "string" && /^[0-9A-Z]{5}$/.test(err.code) ? err.code : "08001";
      const text = err.message ?? String(e);
      const message = text.startsWith("gatehouse:") ? text : `gatehouse: resource ${host.resource.name}: ${text}`;
      return this.fatal(code, message, "error");
    } finally {
      this.connectorReady = undefined;
    }
  }

  private async onFrontendBatch(batch: FrameBatch): Promise<void> {
    const out: Uint8Array[] = [];
    const bytes = batch.bytes;
    let runStart = 0;
    const flushRun = (end: number) => {
      if (end > runStart) out.push(bytes.subarray(runStart, end));
    };
    const replace = (i: number, replacement: Uint8Array | null) => {
      flushRun(batch.offset(i));
      if (replacement) out.push(replacement);
      runStart = batch.offset(i) + batch.length(i);
    };
    const order = this.order;
    try {
      for (let i = 0; i < batch.count; i++) {
        const type = batch.type(i);
        const start = batch.offset(i);
        const body = bytes.subarray(start + 5, start + batch.length(i));
        const original = () => bytes.subarray(start, start + batch.length(i));
        const describedPortal = this.describedPortal;
        if (type !== T.Flush) this.describedPortal = null;
        if (type === T.Query || type === T.Parse || type === T.Execute) {
          // The tenant's request rate (hosted mode), before anything is decoded or classified: a
          // refusal for an empty bucket is cheap and already counted in the trail (docs/TENANCY.md).
          const early = this.host.refuseBeforeParse?.();
          const throttled = early === undefined || early === null ? null : await early;
          if (throttled?.recorded) {
            this.refuseUnparsed(i, type, body, { code: "53400", message: throttled.message }, batch.count === 1, replace);
            continue;
          }
        }
        let unconfirmed: string | null = null;
        if ((type === T.Query || type === T.Parse) && !this.settled() && hasHighByte(type === T.Query ? body : queryBytesOfParse(body))) {
          // Non-ASCII bytes are read right only in a confirmed client encoding (client-encoding.ts):
          // wait until every earlier message is answered, or refuse when no Sync makes that happen.
          if (this.unsynced) {
            unconfirmed = "a statement with non-ASCII bytes pipelined behind unanswered extended-protocol messages is refused (the client encoding cannot be confirmed); send Sync first";
          } else {
            flushRun(start);
            runStart = start;
            this.sends.sendToConnector(out.splice(0));
            await new Promise<void>((resolve) => this.settledWaiters.push(resolve));
            if (this.phase !== "ready") return;
          }
        }
        if (type === T.Sync || type === T.Query || type === T.FunctionCall) this.unsynced = false;
        else if (type !== T.Flush && type !== T.CopyData && type !== T.CopyDone && type !== T.CopyFail && type !== T.Terminate) this.unsynced = true;
        switch (type) {
          case T.Query: {
            const sql = decodeQuery(body);
            const { refusal, statements, taint } = await this.check("simple", sql, unconfirmed);
            if (refusal) {
              replace(i, this.denials.sentinelQuery(refusal));
              order?.sent({ kind: "query", copies: [], resets: false });
            } else if (order) {
              const copies = this.copyFormats(sql, statements);
              const probe = this.copyProbe(copies);
              if (probe) {
                // Describe the COPY's output first, so CopyData fields can be masked by column name.
                replace(i, concat([probe.bytes, original()]));
                order.sent({ kind: "probe", format: probe.format });
              }
              const names = statements.map((s) => s.command);
              order.sent({ kind: "query", copies, resets: names.includes("DISCARD") || names.includes("DEALLOCATE"), taint: taint ?? null, renames: mayRenameProtocolNames(names, taint) });
            }
            this.statementStarted();
            break;
          }
          case T.Parse: {
            const parse = decodeParse(body);
            const { refusal: refused, statements, approve, taint } = await this.check("parse", parse.query, unconfirmed);
            let refusal = refused;
            if (!refusal && HeldPrepared.isReserved(parse.name)) refusal = { code: "42501", message: `gatehouse: statement names starting with ${HELD_PREFIX} are reserved for the gateway` };
            if (!refusal && approve) {
              // Held at Bind/Execute, with the parameters; forwarded under a private name only.
              try {
                replace(i, this.held.parse(parse.name, body, parse.query, approve));
              } catch (e) {
                if (!(e instanceof HeldLimitError)) throw e;
                refusal = { code: "54000", message: `gatehouse: ${e.message}` };
              }
            } else if (!refusal) this.held.forget(parse.name);
            if (!refusal && !approve && plainReads(statements)) this.readOnlyStatements.add(parse.name);
            else this.readOnlyStatements.delete(parse.name);
            if (refusal) replace(i, this.denials.sentinelParse(parse.name, refusal));
            order?.sent({ kind: "parse", name: parse.name, copy: refusal ? null : (this.copyFormats(parse.query, statements)[0] ?? null), taint: refusal ? null : (taint ?? null), renames: !refusal && mayRenameProtocolNames(statements.map((s) => s.command), taint) });
            break;
          }
          case T.Bind: {
            const bind = decodeBind(body);
            if (await this.refuseReservedName(i, replace, bind.statement, bind.portal)) break;
            // (The statement's name is recorded as sent; its parameters masked by the trail.)
            if (bind.params.length > 0) await this.trail.requestAlone({ protocol: "postgres", message: "bind", text: bind.statement, params: bind.params, readOnly: this.readOnlyStatements.has(bind.statement) }, { maskText: false });
            const heldStatement = this.held.statement(bind.statement);
            if (heldStatement) {
              const parts = readBind(body);
              const refusal = await this.holdExecution(heldStatement.sql, parts.params, heldStatement.decision);
              if (refusal) {
                this.held.forgetPortal(parts.portal);
                replace(i, this.denials.sentinelParse(`${HELD_PREFIX}refused`, refusal));
                order?.sent({ kind: "parse", name: `${HELD_PREFIX}refused`, copy: null });
                break;
              }
              replace(i, this.held.approvedBind(parts, body, heldStatement));
            } else this.held.forgetPortal(bind.portal);
            order?.sent({ kind: "bind", portal: bind.portal, statement: bind.statement });
            break;
          }
          case T.Describe: {
            const target = describeTarget(body);
            if (await this.refuseReservedName(i, replace, target.name)) break;
            const renamed = this.held.renamed("D", target.kind, target.name);
            if (renamed) replace(i, renamed);
            if (target.kind === "P") this.describedPortal = target.name;
            order?.sent({ kind: "describe", injected: false, target });
            break;
          }
          case T.Execute: {
            const [portal] = readCString(body, 0);
            if (await this.refuseReservedName(i, replace, portal)) break;
            // Every execution is a request under the tenant's rate, not only the Parse before it.
            const throttled = await this.host.admitRequest?.(1);
            if (throttled) {
              // A portal name is the client's label, recorded as sent (as a Bind's statement name).
              this.trail.request({ protocol: "postgres", message: "execute", text: portal }, { maskText: false });
              await this.recordDecision({ effect: "deny", rule: RATE_LIMIT_RULE, reason: throttled.message });
              replace(i, this.denials.sentinelParse(`${HELD_PREFIX}refused`, { code: "53400", message: throttled.message }));
              order?.sent({ kind: "parse", name: `${HELD_PREFIX}refused`, copy: null });
              break;
            }
            const execution = this.held.execute(portal);
            if (execution.kind === "hold") {
              // Another execution of an approved portal is another execution: it needs its own approval.
              const refusal = await this.holdExecution(execution.sql, execution.params, execution.decision);
              if (refusal) {
                replace(i, this.denials.sentinelParse(`${HELD_PREFIX}refused`, refusal));
                order?.sent({ kind: "parse", name: `${HELD_PREFIX}refused`, copy: null });
                break;
              }
            }
            // A held statement's portal exists on the server only under its private name.
            const serverPortal = execution.kind === "direct" ? portal : execution.serverPortal;
            const executeMessage = serverPortal === portal ? original() : HeldPrepared.renameExecute(body, serverPortal);
            if (order && describedPortal !== portal) {
              // No RowDescription would come for these rows (e.g. pgjdbc's Bind+Execute of a
              // prepared statement): describe the portal now, in the same round trip, so the
              // masker gets the exact shape — names, types, the formats this Bind asked for —
              // of the rows that follow. The answer goes to the masker only.
              replace(i, concat([describePortal(serverPortal), executeMessage]));
              order.sent({ kind: "describe", injected: true, target: { kind: "P", name: portal } });
            } else if (serverPortal !== portal) replace(i, executeMessage);
            order?.sent({ kind: "execute", portal });
            break;
          }
          case T.Close: {
            const target = describeTarget(body);
            if (await this.refuseReservedName(i, replace, target.name)) break;
            const renamed = this.held.renamed("C", target.kind, target.name);
            if (renamed) replace(i, renamed);
            order?.sent({ kind: "close", target: target.kind, name: target.name });
            break;
          }
          case T.FunctionCall: {
            // The fastpath function-call sub-protocol runs a function by OID, invisible to SQL policy.
            const reason = "the function-call sub-protocol is refused by the gateway";
            this.trail.request({ protocol: "postgres", message: "function-call", text: "" });
            await this.recordDecision({ effect: "deny", rule: null, reason });
            replace(i, this.denials.sentinelQuery({ code: "42501", message: `gatehouse: ${reason}` }));
            order?.sent({ kind: "query", copies: [], resets: false });
            this.statementStarted();
            break;
          }
          case T.Sync:
            order?.sent({ kind: "sync" });
            this.statementStarted();
            break;
          case T.CopyDone:
          case T.CopyFail:
            order?.sent({ kind: "copyEnd" });
            break;
          case T.Terminate:
            this.phase = "closed";
            break;
          case T.Flush:
          case T.CopyData:
            break;
          default:
            flushRun(start);
            this.sends.sendToConnector(out);
            return this.fatal("08P01", `gatehouse: unsupported frontend message type ${JSON.stringify(String.fromCharCode(type))}`, "error");
        }
      }
    } catch (e) {
      if (!(e instanceof ResponseOrderError) && !(e instanceof PgProtocolError)) throw e;
      return this.fatal("08P01", `gatehouse: ${e.message}`, "error");
    }
    flushRun(bytes.length);
    // (Empty when every message was answered by the gateway itself: a refusal before parsing.)
    if (out.length > 0) this.sends.sendToConnector(out);
    if (this.phase === "closed") this.host.end({ status: "ok", reason: "client terminated the session" });
  }

  /**
   * Answer a request refused before it was parsed (the tenant's rate; already counted in the
   * trail). Alone and with nothing in flight outside a transaction, a simple Query is answered here
   * (ErrorResponse + ReadyForQuery), so a refused flood never reaches the connector or the server;
   * otherwise a sentinel keeps the protocol state exact, as for any denial (inside a transaction
   * block the refusal aborts it like a failing statement).
   */
  private refuseUnparsed(i: number, type: number, body: Uint8Array, refusal: { code: string; message: string }, alone: boolean, replace: (i: number, replacement: Uint8Array | null) => void): void {
    const order = this.order;
    if (type === T.Query) {
      if (alone && this.settled() && this.txStatus === "I") {
        replace(i, null);
        this.sends.sendToClient([errorResponse({ severity: "ERROR", ...refusal }), readyForQuery("I")]);
      } else {
        replace(i, this.denials.sentinelQuery(refusal));
        order?.sent({ kind: "query", copies: [], resets: false });
        this.statementStarted();
      }
      this.unsynced = false;
      return;
    }
    // Parse: the client's statement name is taken by the failing sentinel, as for a denied Parse.
    const name = type === T.Parse ? readCString(body, 0)[0] : `${HELD_PREFIX}refused`;
    if (type === T.Parse) this.readOnlyStatements.delete(name);
    replace(i, this.denials.sentinelParse(name, refusal));
    order?.sent({ kind: "parse", name, copy: null });
    this.unsynced = true;
  }

  /** Classify and decide; records the request and the decision. Returns the denial to send (or null to forward) and the statements. */
  private async check(
    message: "simple" | "parse",
    sql: string,
    unconfirmed: string | null,
  ): Promise<{ refusal: { code: string; message: string } | null; statements: readonly ClassifiedStatement[]; approve?: Decision; taint?: Taint | null }> {
    const scs = this.standardConformingStrings;
    const { decision, statements } = this.host.policy.decide(sqlRequest(sql, scs, undefined, this.taint?.userFunctions));
    // The tenant's request rate (hosted mode): a simple query costs its statements, a Parse one.
    // 53400 (configuration_limit_exceeded); the session stays usable.
    const throttled = await this.host.admitRequest?.(message === "simple" ? statements.length : 1);
    if (throttled) {
      this.trail.request({ protocol: "postgres", message, text: sql, statements: [] });
      await this.recordDecision({ effect: "deny", rule: RATE_LIMIT_RULE, reason: throttled.message });
      return { refusal: { code: "53400", message: throttled.message }, statements: [] };
    }
    // Not awaited here: the decision joins it (recordDecision), so both are one batch, one write.
    this.trail.request({
      protocol: "postgres",
      message,
      text: sql,
      statements: statements.map((s) => ({ kind: s.kind, command: s.command, flags: [...s.flags] })),
      readOnly: plainReads(statements),
    });
    // Session state, fail closed (docs/SQL-CLASSIFIER.md, "Session state"): the decision must not
    // depend on standard_conforming_strings, nor on a client encoding that is not confirmed, and
    // the statement must not change a pinned setting.
    const pinned =
      unconfirmed ??
      // standard_conforming_strings changes only what a backslash means: without one, both
      // readings are the same and the second classification (and decision) is skipped.
      (!sql.includes("\\") || sameLexing(statements, this.host.policy.decide(sqlRequest(sql, !scs, undefined, this.taint?.userFunctions)).statements)
        ? null
        : "the query reads differently with standard_conforming_strings on and off (a backslash before a quote in a plain string); write it so both readings agree, e.g. with E'' or doubled quotes") ??
      pinViolation(sql, statements, scs);
    if (pinned) {
      await this.recordDecision({ effect: "deny", rule: PIN_RULE, reason: pinned });
      return { refusal: { code: "42501", message: `gatehouse: statement refused: ${pinned}` }, statements };
    }
    await this.recordDecision(decisionEvent(decision));
    // Guard rail: SQL-level EXECUTE/DEALLOCATE of the gateway's private prepared statements (docs/APPROVALS.md).
    if (decision.effect !== "deny" && /gatehouse_held_/i.test(sql)) {
      const message = `gatehouse: statement refused: names starting with ${HELD_PREFIX} are reserved for the gateway`;
      await this.recordDecision({ effect: "deny", rule: null, reason: message });
      return { refusal: { code: "42501", message }, statements };
    }
    if (decision.effect === "allow") return this.checkTaint(sql, statements);
    // A prepared statement is held when it is bound (and executed), with its parameters; its rows
    // are masked like any other statement's (derived values included).
    if (decision.effect === "approve" && message === "parse") return { ...(await this.checkTaint(sql, statements)), approve: decision };
    if (decision.effect === "approve") {
      const refusal = await this.holdForApproval(sql, decision);
      return refusal ? { refusal, statements } : this.checkTaint(sql, statements);
    }
    return { refusal: { code: "42501", message: `gatehouse: statement refused: ${decision.reason}` }, statements };
  }

  /**
   * Derived-value analysis of an allowed statement (worker/masking/taint/): its taint goes with
   * the request so the answers are masked by it; a write or sink fed with masked data, or (with
   * `predicates: refuse`) masked data in a predicate, is refused here. Recorded in the trail.
   */
  private async checkTaint(sql: string, statements: readonly ClassifiedStatement[]): Promise<{ refusal: { code: string; message: string } | null; statements: readonly ClassifiedStatement[]; taint?: Taint | null }> {
    if (!this.taint) return { refusal: null, statements };
    // A text COPY writes a value equal to its NULL string as that string, and the masker cannot
    // tell it from a NULL (which it leaves): `COPY t TO STDOUT (NULL 'guess')` would show a masked
    // value whenever it equals the guess. `\N` cannot collide (real backslashes are doubled); CSV
    // quotes such a value.
    if (this.taint.hasColumnRules) {
      for (const s of statements) {
        if (s.command !== "COPY TO") continue;
        const f = copyOutFormat(sql.slice(s.start, s.end), { standardConformingStrings: this.standardConformingStrings });
        if (f.format === "text" && f.null !== undefined && !f.null.includes("\\")) {
          const reason = "gatehouse: statement refused by masking: a text-format COPY with a NULL string without a backslash is refused (a value equal to it could not be told from a NULL and would pass unmasked); use the default \\N or FORMAT csv";
          await this.recordDecision({ effect: "deny", rule: null, reason });
          return { refusal: { code: "42501", message: reason }, statements };
        }
      }
    }
    const verdict = this.taint.analyze(sql, statements.map((s) => s.kind), this.standardConformingStrings);
    if (verdict.taint) {
      const rule = this.host.policy.maskingConfig().rules[verdict.taint.rule]?.name ?? null;
      await this.host.audit.onEvent("masking.derived", { rule, sources: verdict.taint.sources, refused: verdict.refusal !== null });
    }
    if (verdict.refusal) {
      const reason = `gatehouse: statement refused by masking: ${verdict.refusal}`;
      await this.recordDecision({ effect: "deny", rule: null, reason });
      return { refusal: { code: "42501", message: reason }, statements };
    }
    return { refusal: null, statements, taint: verdict.taint };
  }

  /**
   * Starts reading the catalogue; settles true once it is built, or false after ending the session
   * (08001) when it cannot be read — never with a partial or missing catalogue to decide on.
   */
  private startCatalogRead(): Promise<boolean> {
    return this.readCatalog().then(
      () => {
        this.catalogRead = undefined;
        return true;
      },
      (e: PendingError) => {
        this.fatal(e.code, e.message, "error");
        return false;
      },
    );
  }

  /** Reads the catalogue the taint analysis needs (its answers never reach the client). */
  private async readCatalog(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => (this.catalogWait = { resolve, reject }));
    const timer = setTimeout(() => this.catalogWait?.reject(new Error("timed out reading the catalogue")), CONNECT_TIMEOUT_MS);
    try {
      // The login's server_version picks how generated columns are read (catalog.ts: an unreadable one gets the slow form that is right everywhere).
      this.sends.sendToConnector([message("Q", cstring(catalogQuery(this.loginSettings.get("server_version"))))]);
      await done;
    } catch (e) {
      throw { code: "08001", message: `gatehouse: masking needs the target's catalogue: ${(e as Error).message}` } satisfies PendingError;
    } finally {
      clearTimeout(timer);
      this.catalogWait = undefined;
    }
  }

  /** Taint verdicts for the plan the masker just built from this RowDescription body. */
  private overridePlan(body: Uint8Array, taint: Taint | null): void {
    const rules = this.taint!.planFor(this.rowDescriptions.decode(body), taint);
    if (rules) this.options.masker!.overridePlan(rules);
  }

  private onCatalogData(bytes: Uint8Array): void {
    const wait = this.catalogWait!;
    try {
      // A chunk can hold more messages than one batch frames (a large catalogue): drain them all,
      // or the catalogue's ReadyForQuery would wait in the framer until the read timed out.
      for (let batch = this.backend.push(bytes); batch.count > 0; batch = this.backend.drain()) {
        for (let i = 0; i < batch.count; i++) {
          const start = batch.offset(i);
          if (this.taint!.catalogMessage(batch.type(i), batch.bytes.subarray(start + 5, start + batch.length(i)))) {
            // Cleared at once: from here on backend bytes are answers to the client's statements.
            this.catalogWait = undefined;
            return wait.resolve();
          }
        }
      }
    } catch (e) {
      wait.reject(e as Error);
    }
  }

  /**
   * CopyOutResponse says neither CSV vs text nor the column names, so each COPY … TO STDOUT of a
   * statement is read here (protocols/postgres/codec/copy-options.ts) and ResponseOrder hands its format to the
   * masker right before that statement's CopyOutResponse. One entry per COPY TO STDOUT statement,
   * in order. When the target of any COPY TO cannot be read, nothing is passed (the rows are then
   * of unknown shape: fail closed) — a misaligned list could give one COPY another one's format.
   * HEADER is honoured only for a string with a single COPY statement.
   */
  private copyFormats(sql: string, statements: readonly ClassifiedStatement[]): Array<CopyOutFormat | null> {
    const copies = statements.filter((s) => s.command === "COPY TO");
    const formats: CopyOutFormat[] = [];
    for (const s of copies) {
      const f = copyOutFormat(sql.slice(s.start, s.end), { standardConformingStrings: this.standardConformingStrings });
      if (f.target === "unknown") return [];
      if (f.target === "stdout") formats.push(f);
    }
    if (copies.length > 1 || statements.some((s) => s.command === "COPY FROM")) for (const f of formats) delete f.header;
    return formats;
  }

  /**
   * For a single text/CSV `COPY … TO STDOUT` without a column list in a simple query, the gateway
   * describes the same output first (Parse + Describe + Sync of the COPY's own query — parse
   * analysis only, nothing runs; a simple Query discards the unnamed statement anyway); the answers
   * are swallowed and the column names go into the COPY's format. (Only before a simple Query:
   * inside an extended-protocol batch an injected Sync would end the client's batch early.)
   */
  private copyProbe(copies: Array<CopyOutFormat | null>): { bytes: Uint8Array; format: CopyOutFormat } | null {
    const only = copies.length === 1 ? copies[0] : null;
    // (binary: also with a column list — the probe gives the types the binary fields need)
    if (!only || !only.shapeQuery || (only.columns && !(only.format === "binary" && this.taint))) return null;
    return {
      bytes: concat([encodeParse("", only.shapeQuery), message("D", new Uint8Array([0x53, 0])), message("S", new Uint8Array(0))]),
      format: only,
    };
  }

  /** Values masked so far per rule (for the audit trail; never the values). */
  maskingCounts(): Record<string, number> {
    return this.resultMasking?.counts() ?? {};
  }

  /**
   * The approval hold: the chain stops here (later client messages queue behind this one and the
   * client's credit is not returned) until approvers decide. The client is told at once with a
   * NoticeResponse. Approved → the exact statement that was approved is forwarded; anything else
   * (denied, timed out, the approval service unreachable) → 42501 and the session stays usable.
   */
  private async holdForApproval(sql: string, decision: Decision, bound?: { binding: Uint8Array; parameters: string[] }): Promise<{ code: string; message: string } | null> {
    const out = await this.holdChain.decode({ decision, bound }, sqlRequest(sql, this.standardConformingStrings, undefined, this.taint?.userFunctions));
    return out.kind === "refused" ? { code: out.refusal.code ?? SQLSTATE_BY_KIND[out.refusal.kind], message: out.refusal.message } : null;
  }

  /** The shared approval-hold filter (worker/chain/) on this session's chain; the decision comes from check(). */
  private createHoldChain(): FilterChain<HeldRequest> {
    // Callbacks read this.host when they run (this chain is created with the engine's fields).
    const notice = (line: string) => this.sends.sendToClient([noticeResponse({ severity: "NOTICE", code: "00000", message: line })]);
    return new FilterChain<HeldRequest>(
      [
        decidedFilter(),
        // Approvers see literal values masked, structure never hidden (approvals/display.ts).
        requestMaskingFilter({ display: (request) => ({ text: approvalDisplayText(request.text, { standardConformingStrings: this.standardConformingStrings, maskValues: this.maskValues() }) }) }),
        approvalHoldFilter<HeldRequest>({
          hold: (input, frame) => this.host.holdForApproval({ statement: input.statement, displayText: input.displayText, decision: input.decision, ...frame.message.bound }),
          notify: (line) => notice(line),
          record: (event) => this.recordDecision(event),
          failed: (decision, e) => {
            const reason = `gatehouse: statement requires approval (${decision.reason}) but the approval request failed: ${e.message}`;
            return { recorded: reason, message: reason };
          },
        }),
      ],
      // The refusal itself is sent by the engine (a sentinel keeps protocol state exact: Refusals in docs/ARCHITECTURE.md).
      { forward: () => {}, deliver: () => {}, refuse: () => {} },
    );
  }

  /**
   * The gateway's private statement and portal names can be read back (pg_prepared_statements,
   * pg_cursors) but never used by the client: a message naming one is refused like a denied one.
   */
  private async refuseReservedName(i: number, replace: (i: number, replacement: Uint8Array | null) => void, ...names: string[]): Promise<boolean> {
    if (!names.some((n) => HeldPrepared.isReserved(n))) return false;
    const denial = { code: "42501", message: `gatehouse: statement and portal names starting with ${HELD_PREFIX} are reserved for the gateway` };
    replace(i, this.denials.sentinelParse(`${HELD_PREFIX}refused`, denial));
    this.order?.sent({ kind: "parse", name: `${HELD_PREFIX}refused`, copy: null });
    await this.recordDecision({ effect: "deny", rule: null, reason: denial.message });
    return true;
  }

  /**
   * One execution of a held prepared statement with these parameters: approvers see the text and
   * every parameter (masked like literals); the approval binds text and parameter bytes.
   */
  private async holdExecution(sql: string, params: readonly BoundParameter[], decision: Decision): Promise<{ code: string; message: string } | null> {
    if (params.some((p) => p.format !== 0 && p.value !== null)) {
      const reason = `gatehouse: statement requires approval (${decision.reason}) but binds binary-format parameters, which approvers cannot read; bind them in text format`;
      await this.recordDecision({ effect: "deny", rule: decision.rule, reason });
      return { code: "42501", message: reason };
    }
    const mask = this.maskValues();
    const decoder = new TextDecoder(); // invalid UTF-8 in a text parameter is refused by the server anyway
    const parameters = params.map((p, k) => `$${k + 1} = ${parameterDisplay(p.value === null ? null : decoder.decode(p.value), mask)}`);
    return await this.holdForApproval(sql, decision, { binding: approvalBinding(sql, [...params]), parameters });
  }

  private maskValues(): ((values: string[]) => string[]) | undefined {
    const masker = this.options.masker;
    return masker ? (values) => maskTexts(masker, values) : undefined;
  }

  // ---------------------------------------------------------------- target → client

  async onConnectorData(bytes: Uint8Array): Promise<void> {
    if (this.catalogWait) return this.onCatalogData(bytes);
    if (this.phase !== "ready") return;
    let batch: FrameBatch;
    try {
      batch = this.backend.push(bytes);
    } catch (e) {
      return this.fatal("08P01", `gatehouse: invalid message from resource ${this.host.resource.name}: ${(e as Error).message}`, "error");
    }
    for (;;) {
      await this.onBackendBatch(batch);
      if (this.phase !== "ready" || !this.backend.hasBufferedMessage) break;
      batch = this.backend.drain();
    }
  }

  private async onBackendBatch(batch: FrameBatch): Promise<void> {
    if (batch.count === 0) return;
    const bytes = batch.bytes;
    const masker = this.options.masker;
    const order = this.order;
    // Backend bytes go through the masker in runs; a run ends where the masker needs state set in
    // between (a COPY format, the shape from an injected Describe) or a message is swallowed.
    const out: Uint8Array[] = [];
    let run: Uint8Array[] = [];
    let runStart = 0;
    const takeRun = (end: number) => {
      if (end > runStart) run.push(bytes.subarray(runStart, end));
    };
    const flush = () => {
      if (run.length === 0) return;
      const joined = run.length === 1 ? run[0]! : concat(run);
      out.push(this.resultMasking ? this.resultMasking.mask(joined) : joined);
      run = [];
    };
    try {
      for (let i = 0; i < batch.count; i++) {
        const type = batch.type(i);
        const start = batch.offset(i);
        const end = start + batch.length(i);
        // The taint of the request being answered (before received() moves past it).
        let taint = this.taint && TAINTED_TYPES.has(type) ? order!.currentTaint() : null;
        // A notification queued by opaque code (a function's pg_notify) arrives at some later commit.
        if (!taint && type === B.Notification && this.taint?.opaqueRan) taint = { rule: 0, sources: ["opaque code ran in this session"] };
        // One another session sent (an application trigger's row_to_json(NEW)) may carry any column.
        if (!taint && type === B.Notification && this.taint?.foreignNotification(bytes.subarray(start + 5, end))) taint = { rule: 0, sources: ["a notification from another session"] };
        // A trigger's (or any function's) RAISE or failed cast may echo a masked value the statement never named.
        if (!taint && (type === B.ErrorResponse || type === B.NoticeResponse) && this.taint?.raisedInFunction(bytes.subarray(start + 5, end))) taint = { rule: 0, sources: ["a message raised inside a function"] };
        const verdict = order ? order.received(type, bytes, start, end) : "forward";
        if (verdict === "drop" || verdict === "plan") {
          // Answers to the gateway's own messages: never forwarded, never recorded.
          takeRun(start);
          flush();
          if (verdict === "plan") {
            masker!.process(bytes.subarray(start, end));
            if (type === B.RowDescription) this.overridePlan(bytes.subarray(start + 5, end), taint);
          }
          runStart = end;
          continue;
        }
        if (type === B.RowDescription && this.taint) {
          // The masker builds the plan from this RowDescription; the taint verdicts amend it before any row.
          takeRun(end);
          flush();
          runStart = end;
          this.overridePlan(bytes.subarray(start + 5, end), taint);
          continue;
        }
        if (verdict !== "forward") {
          takeRun(start);
          flush();
          runStart = start;
          const f = verdict.copy;
          try {
            const shape = (f as ProbedCopyFormat | null)?.shape;
            if (f && f.format !== "binary") {
              const options = copyFormatOptions(f);
              const rules = this.taint?.copyRules(shape, f.columns?.length ?? 0, !f.table, taint ?? order!.currentTaint());
              if (rules) options.rules = rules;
              masker!.setCopyFormat(f.format, options);
            } else if (f && shape && this.taint) {
              // Binary COPY with a probed shape: per-column rules (containers NULL); the text
              // options are ignored for binary. Without a shape every field stays NULL (unknown).
              const rules = this.taint.copyRules(shape, shape.length, !f.table, taint ?? order!.currentTaint(), true)!;
              masker!.setCopyFormat("text", { columns: shape.map((c) => c.name), rules, ...(f.table ? { table: f.table } : {}) });
            }
          } catch (e) {
            // Options the masker cannot take (e.g. a NULL string over 64 bytes): no format, so
            // the COPY is masked as rows of unknown shape (fail closed).
            if (!(e instanceof MaskingConfigError)) throw e;
          }
        }
        if (type === B.ReadyForQuery) {
          this.txStatus = parseTxStatus(String.fromCharCode(bytes[start + 5]!));
          this.statementFinished();
        } else if (type === B.ErrorResponse) {
          const fields = parseErrorFields(bytes.subarray(start + 5, end));
          let replacement = this.denials.rewrite(fields.get("M"));
          if (!replacement && this.cancelledByTimeout && fields.get("C") === "57014") {
            const ms = this.host.policy.limits().statementTimeoutMs ?? 0;
            replacement = errorResponse({ severity: "ERROR", code: "57014", message: `gatehouse: statement cancelled: it exceeded the policy's statement timeout of ${formatMs(ms)}` });
          }
          if (!replacement && taint) replacement = message("E", this.taint!.maskedErrorBody(bytes.subarray(start + 5, end)));
          if (replacement) {
            takeRun(start);
            run.push(replacement);
            runStart = end;
          }

        } else if (type === B.ParameterStatus) {
          const text = new TextDecoder().decode(bytes.subarray(start + 5, end));
          if (text.startsWith("standard_conforming_strings\0")) this.standardConformingStrings = text.includes("\0on\0");
          // An unsafe encoding (the lexer and the masking scanners would misread it) or a pinned
          // setting changed by code the gateway could not see: end the session before anything
          // else of this answer reaches the client.
          const [name = "", value = ""] = text.split("\0");
          const changed = isUnsafeEncoding(value) && (name === "client_encoding" || name === "server_encoding") ? unsafeEncodingMessage(name, value) : watchedSettingChange(this.loginSettings, name, value);
          if (changed) {
            await this.recordDecision({ effect: "deny", rule: PIN_RULE, reason: changed });
            return this.fatal("42501", `gatehouse: ${changed}`, "denied");
          }
        }
        if (taint && (type === B.NoticeResponse || type === B.Notification || type === B.ParameterStatus)) {
          // While a statement that reads masked data runs, any text it makes the server send may echo a value.
          const body = bytes.subarray(start + 5, end);
          const masked = type === B.NoticeResponse ? this.taint!.maskedErrorBody(body) : type === B.Notification ? this.taint!.maskedNotificationBody(body) : this.taint!.maskedParameterStatusBody(body);
          if (masked !== body) {
            takeRun(start);
            run.push(message(String.fromCharCode(type), masked));
            runStart = end;
          }
        }
      }
    } catch (e) {
      if (!(e instanceof ResponseOrderError)) throw e;
      return this.fatal("08P01", `gatehouse: the server's answers do not match the client's requests (${e.message}); ending the session rather than mask rows by a guessed shape`, "error");
    }
    takeRun(bytes.length);
    // The batch's last run (a COPY or rows streaming through) may stay in the masker's memory
    // until it is copied into the client's frame below.
    const before = out.length;
    this.borrowOutput = true;
    this.borrowed = false;
    try {
      flush();
    } finally {
      this.borrowOutput = false;
    }
    if (out.length === 0) return;
    // The parts go to the client as they are (the frame is their one copy): each holds whole
    // messages (runs end at message boundaries), so recording reads them part by part.
    const borrowed = this.borrowed && out.length > before;
    // Recording sees exactly what the client will see (after masking).
    const records: AnswerRecord[] = [];
    for (const part of out) this.answerRecords(part, records);
    if (records.length > 0) {
      // While the trail writes, the client side may use the masker (request text for the trail,
      // the approval display): a borrowed output becomes the engine's own first.
      if (borrowed) out[out.length - 1] = out[out.length - 1]!.slice();
      await this.trail.answer(records);
    }
    this.sends.sendToClient(out);
  }

  /**
   * The events a part of a response completes (results, notices), appended in order to `pending`;
   * rows are counted and sampled into the result in progress (this.result: a CommandComplete
   * starts the next statement's, also within one part).
   */
  private answerRecords(payload: Uint8Array, pending: AnswerRecord[]): void {
    forEachMessage(payload, (type, start, end) => {
      const result = this.result;
      if (type === B.DataRow) {
        result.rows++;
        if ((result.rowsSample?.length ?? 0) < ROW_SAMPLE_LIMIT) {
          (result.rowsSample ??= []).push(decodeDataRow(payload.subarray(start + 5, end), result.formats));
        }
        return;
      }
      const body = payload.subarray(start + 5, end);
      if (type === B.RowDescription) {
        const columns = this.rowDescriptions.decode(body);
        result.columns = columns.map((c) => c.name);
        result.formats = columns.map((c) => c.format);
      } else if (type === B.CommandComplete || type === B.EmptyQuery) {
        const event = this.takeResult(type === B.EmptyQuery ? "EMPTY" : decodeCommandComplete(body));
        pending.push(() => this.host.audit.onResult(event));
      } else if (type === B.ErrorResponse) {
        const f = parseErrorFields(body);
        const event = this.takeResult(undefined);
        event.error = { code: f.get("C") ?? "XX000", message: f.get("M") ?? "", ...(f.has("D") ? { detail: f.get("D")! } : {}) };
        pending.push(() => this.host.audit.onResult(event));
      } else if (type === B.NoticeResponse) {
        const f = parseErrorFields(body);
        pending.push(() => this.host.audit.onNotice({ severity: f.get("S") ?? "NOTICE", code: f.get("C") ?? "00000", message: f.get("M") ?? "" }));
      }
    });
    // All of a response's events go in one batch (one storage write); the recorder keeps call order.
  }

  private takeResult(commandTag: string | undefined): ResultEvent {
    const r = this.result;
    this.result = { rows: 0, startedAt: Date.now() };
    const event: ResultEvent = { rows: r.rows, durationMs: Date.now() - r.startedAt };
    if (r.columns) event.columns = r.columns;
    if (r.rowsSample) event.rowsSample = r.rowsSample;
    if (commandTag !== undefined) event.commandTag = commandTag;
    return event;
  }

  async onConnectorControl(message: ControlMessage): Promise<void> {
    if (message.t === "ready") {
      this.connectorReady?.resolve(message);
    } else if (message.t === "error") {
      const err: PendingError = { code: String(message.code ?? "08006"), message: String(message.message ?? "connector error") };
      if (this.connectorReady) this.connectorReady.reject(err);
      else if (this.phase === "ready" || this.phase === "connecting") this.fatal(err.code, err.message.startsWith("gatehouse:") ? err.message : `gatehouse: resource ${this.host.resource.name}: ${err.message}`, "error");
    } else if (message.t === "close") {
      if (this.connectorReady) this.connectorReady.reject({ code: "08006", message: String(message.reason ?? "connector closed the stream") });
      else if (this.phase === "ready" || this.phase === "connecting") this.onConnectorLost(String(message.reason ?? "the target closed the connection"));
    }
  }

  onConnectorLost(reason: string): void {
    if (this.connectorReady) {
      this.connectorReady.reject({ code: "08006", message: `connector stream lost: ${reason}` });
      return;
    }
    if (this.phase === "closed") return;
    this.fatal("08006", `gatehouse: connection to resource ${this.host.resource.name} lost: ${reason}`, "error");
  }

  onTerminate(code: string, reason: string): void {
    if (this.phase === "closed") return;
    this.fatal(code, `gatehouse: ${reason}`, "error");
  }

  cancel(reason: "client" | "timeout"): void {
    // While the catalogue is read no client statement has reached the target (all are held): like
    // PostgreSQL with nothing running, there is nothing to cancel — and the gateway's own query is not the client's.
    if (this.phase !== "ready" || this.catalogWait) return;
    if (reason === "timeout") this.cancelledByTimeout = true;
    this.sends.connectorControl({ t: "cancel" });
  }

  // ---------------------------------------------------------------- helpers

  private statementStarted(): void {
    this.outstanding++;
    void this.statementTimeout.decode!(timeoutFrame("statement"));
  }

  private settled(): boolean {
    return this.outstanding === 0 && !this.unsynced;
  }

  private statementFinished(): void {
    this.outstanding = Math.max(0, this.outstanding - 1);
    if (this.outstanding === 0 && this.settledWaiters.length > 0) for (const resolve of this.settledWaiters.splice(0)) resolve();
    this.cancelledByTimeout = false;
    void this.statementTimeout.encode!(timeoutFrame("ready"));
  }

  private recordDecision(event: DecisionEvent): Promise<void> {
    return this.trail.decision(event);
  }

  private fatal(code: string, message: string, status: "error" | "denied"): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    this.statementTimeout.clear();
    this.catalogWait?.reject(new Error("the session ended"));
    for (const resolve of this.settledWaiters.splice(0)) resolve();
    const fields: ErrorFields = { severity: "FATAL", code, message };
    this.host.sendToClient([errorResponse(fields)]);
    this.host.end({ status, reason: message, code });
  }
}

/**
 * The statement timeout sees only what it counts: a statement forwarded (decode, with a request)
 * and a ReadyForQuery (encode). The engine's framing drives it synchronously at those two points,
 * so the clock starts with the forward and stops with the answer, exactly where they happen.
 */
const STATEMENT_REQUEST = { protocol: "postgres", actions: [], text: "" } as const;
// Built once: the timeout filter only reads them (a frame and its Map per statement were measurable).
const TIMEOUT_FRAMES: Record<"statement" | "ready", ChainFrame<"statement" | "ready">> = {
  statement: { message: "statement", request: STATEMENT_REQUEST, direction: "decode", notes: new Map() },
  ready: { message: "ready", request: null, direction: "encode", notes: new Map() },
};
function timeoutFrame(message: "statement" | "ready"): ChainFrame<"statement" | "ready"> {
  return TIMEOUT_FRAMES[message];
}

/** A statement held for approval on the chain: its decision, and for a prepared statement's execution the bound parameters. */
interface HeldRequest {
  decision: Decision;
  bound?: { binding: Uint8Array; parameters: string[] };
}

interface PendingError {
  code: string;
  message: string;
}

/** The query string's bytes of a Parse body (statement name, query, parameter types). */
function queryBytesOfParse(body: Uint8Array): Uint8Array {
  const afterName = body.indexOf(0) + 1;
  const end = body.indexOf(0, afterName);
  return afterName <= 0 || end < 0 ? body : body.subarray(afterName, end);
}

/** Describe/Close body: target kind ('S' statement, 'P' portal) and name. */
function describeTarget(body: Uint8Array): { kind: "S" | "P"; name: string } {
  const kind = body[0] === 0x53 ? "S" : body[0] === 0x50 ? "P" : null;
  const z = body.indexOf(0, 1);
  if (!kind || z < 0) throw new PgProtocolError("malformed Describe or Close message");
  return { kind, name: new TextDecoder().decode(body.subarray(1, z)) };
}

function describePortal(name: string): Uint8Array {
  return message("D", concat([new Uint8Array([0x50]), cstring(name)]));
}

function copyFormatOptions(f: CopyOutFormat): NonNullable<Parameters<SessionMasker["setCopyFormat"]>[1]> {
  const o: NonNullable<Parameters<SessionMasker["setCopyFormat"]>[1]> = {};
  if (f.delimiter !== undefined) o.delimiter = f.delimiter;
  if (f.quote !== undefined) o.quote = f.quote;
  if (f.escape !== undefined) o.escape = f.escape;
  if (f.null !== undefined) o.null = f.null;
  if (f.columns) o.columns = f.columns;
  if (f.table) o.table = f.table;
  if (f.header) o.header = true;
  return o;
}

function decisionEvent(decision: Decision): DecisionEvent {
  const event: DecisionEvent = { effect: decision.effect, rule: decision.rule, reason: decision.reason };
  if (decision.statementIndex !== undefined) event.statementIndex = decision.statementIndex;
  return event;
}

function parseTxStatus(value: unknown): TransactionStatus {
  return value === "T" || value === "E" ? value : "I";
}

function randomInt31(): number {
  const a = new Uint32Array(1);
  crypto.getRandomValues(a);
  return (a[0]! & 0x7fffffff) || 1;
}

function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/** Every statement a plain read (no flags such as locks or a dangerous function): see QueryEvent.readOnly. */
function plainReads(statements: readonly ClassifiedStatement[]): boolean {
  return statements.length > 0 && statements.every((s) => s.kind === "read" && s.flags.length === 0);
}
