/**
 * Adapter from the session Durable Object's semantic audit interface (worker/session/
 * session-audit.ts: onQuery/onDecision/onResult/onNotice/onMasking/onEvent + end) to the
 * SessionRecorder. Shapes are declared structurally here so this file does not depend on the
 * session code; `openRecorderAudit` has the signature of worker/session/open-session-audit.ts's
 * `openSessionAudit`, whose body can simply be `return openRecorderAudit(opts)`.
 */
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import { AUDIT_EVENT_TYPES, type AuditEventDataMap, type QueryData, type RecordingMode, type ResultData } from "../../parsers/audit/index.ts";
import type { AuditEnv } from "./env.ts";
import { SessionRecorder, type GenericEventType, type RecorderLimits } from "./recorder.ts";
import type { SessionAudit } from "../session/session-audit.ts";
import type { SessionOutcome } from "../engines/engine.ts";
import type { SessionStats } from "../session/session.ts";

export interface RecorderAuditOptions {
  ctx: { storage: DurableObjectStorage };
  env: AuditEnv;
  admission: { sessionId: string; identity: Identity; resource: ResourceInfo; clientAddress: string | null };
  policyHash: string;
  mode: RecordingMode;
  /** Policy-driven recording settings (docs/AUDIT.md "Limits"). */
  limits?: Partial<RecorderLimits>;
  rowsSample?: number;
  /** Connector id when already known at start (else recorded at end). */
  connector?: string;
}

/** The session's semantic audit interface (worker/session/session-audit.ts), backed by the recorder. */
export interface RecorderAudit extends SessionAudit {
  readonly recorder: SessionRecorder;
  end(outcome: SessionOutcome, stats: SessionStats, extra: { connectorId: string | null }): Promise<void>;
}

/** Types onEvent accepts: the reserved approval.* and term.* events and the other non-lifecycle types. */
// Every documented type except the two the recorder writes itself (start/end), derived so a new type cannot be forgotten here.
const GENERIC_TYPES = new Set<string>(AUDIT_EVENT_TYPES.filter((t) => t !== "session.start" && t !== "session.end"));

/** Records session.start (throws RecordingError in fail-closed mode if it cannot) and returns the audit sink. */
export async function openRecorderAudit(opts: RecorderAuditOptions): Promise<RecorderAudit> {
  const { admission } = opts;
  const recorder = new SessionRecorder({
    storage: opts.ctx.storage,
    env: opts.env,
    sessionId: admission.sessionId,
    mode: opts.mode,
    limits: opts.limits,
    rowsSample: opts.rowsSample,
    // One write per round trip: the session commits before it sends to the client (session.ts).
    batching: "round-trip",
  });
  await recorder.onSessionStart({
    identity: { issuer: admission.identity.issuer, subject: admission.identity.subject, claims: admission.identity.claims },
    resource: admission.resource.name,
    resource_type: admission.resource.type,
    connector: opts.connector ?? "",
    client_addr: admission.clientAddress ?? "",
    policy_hash: opts.policyHash,
  });
  return {
    recorder,
    onQuery(e) {
      const data: QueryData = { text: e.text, via: e.message };
      // Binary parameters are recorded by size only: their bytes are not text and may be secrets.
      if (e.params) data.params = e.params.map((p) => (p === null || typeof p === "string" ? p : `<binary ${p.binary} bytes>`));
      if (e.statements) data.statements = e.statements.map((s) => (s.flags && s.flags.length > 0 ? { kind: s.kind, command: s.command, flags: s.flags } : { kind: s.kind, command: s.command }));
      if (!e.readOnly) recorder.holdForwardUntilCommitted();
      return recorder.onQuery(data);
    },
    onDecision(e) {
      return recorder.onDecision({ effect: e.effect, rule: e.rule ?? "default", reason: e.reason, ...(e.statementIndex !== undefined ? { statement: e.statementIndex } : {}) });
    },
    onResult(e) {
      const data: ResultData = { rows: e.rows, command_tag: e.commandTag ?? "" };
      if (e.columns) data.columns = e.columns.map((name) => ({ name }));
      if (e.rowsSample) data.rows_sample = e.rowsSample;
      if (e.error) data.error = e.error;
      if (e.durationMs !== undefined) data.duration_ms = e.durationMs;
      return recorder.onResult(data);
    },
    onNotice(e) {
      return recorder.onNotice({ severity: e.severity, code: e.code, message: e.message });
    },
    onMasking(counts) {
      return recorder.onMasking(counts);
    },
    onEvent(type, data) {
      if (!GENERIC_TYPES.has(type)) return Promise.reject(new TypeError(`unknown audit event type ${JSON.stringify(type)}`));
      return recorder.onEvent(type as GenericEventType, data as unknown as AuditEventDataMap[GenericEventType]);
    },
    commit() {
      return recorder.commit();
    },
    commitBeforeForward() {
      return recorder.forwardNeedsCommit ? recorder.commit() : undefined;
    },
    holdForwardUntilCommitted() {
      recorder.holdForwardUntilCommitted();
    },
    end(outcome, stats, extra) {
      return recorder.onSessionEnd(
        {
          reason: outcome.reason,
          status: outcome.status,
          bytes_in: stats.bytesFromClient,
          bytes_out: stats.bytesToClient,
          ...(outcome.code ? { code: outcome.code } : {}),
          ...(extra.connectorId ? { connector: extra.connectorId } : {}),
        },
        stats.endedAt,
      );
    },
  };
}
