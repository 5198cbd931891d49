/**
 * The audit event model: what a recorded session is made of. Protocol-neutral (SQL today,
 * terminal sessions later), runtime-neutral, and the unit of the hash chain. See docs/AUDIT.md.
 *
 * Every line of an export is either an {@link AuditEvent} or a {@link Checkpoint}.
 */

/** Format version of events and checkpoints; a verifier refuses versions it does not know. */
export const AUDIT_FORMAT_VERSION = 1;

// ---------------------------------------------------------------------------------------------
// Payloads, one per event type
// ---------------------------------------------------------------------------------------------

/** The verified identity behind the session, as the worker established it. */
export interface AuditIdentity {
  issuer: string;
  subject: string;
  /** Every claim of the verified token (iss/sub/aud/exp… and CI claims such as repository, ref, workflow, environment). */
  claims: Record<string, unknown>;
}

export interface SessionStartData {
  session_id: string;
  identity: AuditIdentity;
  resource: string;
  /** "postgres" | "ssh" | … */
  resource_type: string;
  connector: string;
  client_addr: string;
  /** SHA-256 (hex) of the policy document in force when the session started. */
  policy_hash: string;
  /** How this session is recorded; the choice itself is part of the trail. */
  recording: { mode: RecordingMode; rows_sample: number };
  /** Terminal sessions only: initial size (asciicast v2 header width/height). */
  terminal?: { cols: number; rows: number; term?: string };
  /** Anything protocol-specific (PostgreSQL database/user requested, application_name…). */
  attributes?: Record<string, unknown>;
}

export type RecordingMode = "fail-closed" | "best-effort";

export interface QueryStatement {
  /** Statement kind as classified (parsers/sql/types.ts StatementKind for SQL). */
  kind: string;
  /** Command name, e.g. "SELECT", "CREATE TABLE". */
  command: string;
  /** Classifier flags (no-where, explain-analyze, …), when any. */
  flags?: string[];
}

/** A client request as decoded. Parameters are masked by the same rules as results before they get here. */
export interface QueryData {
  text: string;
  params?: (string | null)[];
  statements?: QueryStatement[];
  /** Protocol detail: "simple" | "parse" | "bind" | "execute" | "exec" (ssh) … */
  via?: string;
  /** Extended protocol: prepared statement / portal names. */
  statement_name?: string;
  portal?: string;
}

/** allow | deny | approve (held for approval; the outcome follows as approval.* and a second decision). */
export type DecisionEffect = "allow" | "deny" | "approve" | string;

export interface DecisionData {
  effect: DecisionEffect;
  /** Name/id of the rule that decided, or "default". */
  rule: string;
  reason: string;
  /** Index into the preceding query's statements when the decision is about one statement. */
  statement?: number;
}

export interface ResultColumn {
  name: string;
  /** Type name or OID as text, when known. */
  type?: string;
}

export interface NoticeData {
  severity: string;
  code?: string;
  message: string;
}

/** A response as it was sent to the client (after masking). */
export interface ResultData {
  columns?: ResultColumn[];
  /** Masked rows as the client saw them (text form, null for SQL NULL), at most the policy's sample size. */
  rows_sample?: (string | null)[][];
  /** Total rows sent to the client for this statement (sample may be shorter). */
  rows: number;
  command_tag: string;
  error?: { code: string; message: string; detail?: string };
  notices?: NoticeData[];
  /** Milliseconds from the request to this response. */
  duration_ms?: number;
}

/** A statement reads masked data: its derived values, errors and notices are masked (docs/MASKING.md). */
export interface MaskingDerivedData {
  /** The masking rule the values may derive from (derived values are always redacted). */
  rule: string | null;
  /** Why, e.g. "column email", "table customers", "DO statement" — never values. */
  sources: string[];
  /** The statement was refused (a write or sink fed with masked data, or `predicates: refuse`). */
  refused: boolean;
}

export interface MaskingCountsData {
  /** Masked values per rule (or per column) for the preceding result. */
  counts: Record<string, number>;
}

/** Marks that the recording itself is incomplete from this point (limits, persistence failures). */
export interface TruncatedData {
  reason: "session-limit" | "persist-failed" | string;
  /** What happens next: recording continues without detail ("truncate") or the session ends. */
  action: "truncate" | "end-session" | "continue";
  /** Events not recorded because of this (known at the time of writing). */
  omitted_events?: number;
  message?: string;
}

export type SessionStatus = "ok" | "error" | "denied" | "aborted" | "recording-failed" | string;

export interface SessionEndData {
  reason: string;
  status: SessionStatus;
  bytes_in: number;
  bytes_out: number;
  rows: number;
  /** Events the recorder could not persist (best-effort only; always 0 in fail-closed). */
  lost_events?: number;
  /** Events omitted after a "truncate" limit. */
  omitted_events?: number;
  /** Protocol-level code of the end (SQLSTATE…), when the session ended with an error. */
  code?: string;
  /** The connector that served the session (known only after session.start). */
  connector?: string;
}

/** Reserved: the approval flow (issue: approvals). `approver` is who decided. */
export interface ApprovalData {
  request_id: string;
  approver?: string;
  reason?: string;
  /** The statement(s) the approval covers. */
  text?: string;
}

/** Terminal output/input: maps 1:1 onto asciicast v2 "o"/"i" events (time = event ts − start ts). */
export interface TermIOData {
  data: string;
}

/**
 * Typed input (SSH shells and pty sessions, Kubernetes exec/attach stdin). Each chunk of input is
 * recorded, and durable, before it is relayed to the target. `data` is the masked text whose
 * masking is settled. `held`, when present, is a placeholder: the number of typed bytes already
 * relayed to the target that the masking window still holds (they could be the start of a
 * secret), so they are in no `data` yet — a later term.input of the same channel carries them,
 * masked, and then no longer counts them. A trail whose last term.input of a channel still has
 * `held` (a worker lost mid-session) says how many bytes reached the target unrecorded, never what
 * they were. Replay uses `data` only (docs/AUDIT.md "Typed input").
 */
export interface TermInputData extends TermIOData {
  held?: number;
}

export interface TermResizeData {
  cols: number;
  rows: number;
}

/** SSH session events (docs/SSH.md): forwarding and channel bookkeeping. `ch` is the SSH channel. */
export interface SshForwardData {
  ch?: number;
  id?: number;
  kind?: string;
  /** Canonical target (`local:db:5432`, `remote:127.0.0.1:8080`, `agent`, `x11`). */
  target?: string;
  /** Originator of the connection, host:port. */
  origin?: string;
  /** ssh.forward-close: who closed it and the bytes each way (the content of forwarded connections is not recorded). */
  by?: "client" | "host";
  bytesUp?: number;
  bytesDown?: number;
  ok?: boolean;
  reason?: string;
  refused?: string;
  message?: string;
}

export interface SshChannelData {
  ch: number;
  signal?: string;
  names?: string[];
  message?: string;
  target?: string;
}

/** HTTP exchanges (docs/HTTP.md): the request as forwarded (normalised), values masked. */
export interface HttpRequestData {
  /** 1, 2 … per session (keep-alive connection). */
  n: number;
  method: string;
  path: string;
  query?: string;
  /** [name, value] pairs; values only for a few descriptive headers ("…" otherwise). */
  headers: Array<[string, string]>;
  upgrade?: string;
  /** Declared body size, "chunked", or 0. */
  body: number | string;
}

export interface HttpResponseData {
  n: number;
  status: number;
  headers?: Array<[string, string]>;
  /** Body bytes sent to the client (after masking). */
  bytes?: number;
  /** The first RECORDED_BODY_BYTES of the masked body (text bodies only). */
  body?: string;
  truncated?: boolean;
  upgrade?: string;
  refused?: boolean | string;
}

export interface HttpRefusedData {
  status: number;
  reason: string;
}

export interface HttpUpgradeClosedData {
  up: number;
  down: number;
}

/** One Kubernetes API request as the gateway read it (protocols/kubernetes/worker/kube-hooks.ts). */
export interface K8sRequestData {
  verb?: string;
  group?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  command?: string[];
  dryRun?: boolean;
  /** Discovery, OpenAPI, version, health or other non-resource paths. */
  nonResource?: string;
  path?: string;
  /** kubectl's own Kubectl-Command / Kubectl-Session headers: context, never used to decide. */
  kubectlCommand?: string;
  kubectlSession?: string;
}

export interface K8sExecStartData {
  verb: string;
  namespace: string;
  pod: string;
  container: string | null;
  command: string[];
  tty: boolean;
  protocol: string;
}

export interface K8sExecExitData {
  code: number | null;
  status: string;
  reason?: string;
  message?: string;
}

/** One stream of a Kubernetes port-forward (kubectl opens an error and a data stream per connection), decided by its port. */
export interface K8sPortForwardStreamData {
  stream: number;
  type: "data" | "error";
  port: number;
  requestId: string;
  effect: "allow" | "deny";
  rule: string | null;
  reason: string;
}

/** A Kubernetes port-forward session's ports (recorded when it ends or a port is refused). */
export interface K8sPortForwardEndData {
  requested: number[];
  allowed: number[];
  refused: number[];
}

/** Event type → payload. New types must be added here (and to docs/AUDIT.md). */
export interface AuditEventDataMap {
  "session.start": SessionStartData;
  query: QueryData;
  decision: DecisionData;
  result: ResultData;
  notice: NoticeData;
  "masking.counts": MaskingCountsData;
  "masking.derived": MaskingDerivedData;
  truncated: TruncatedData;
  "approval.requested": ApprovalData;
  "approval.granted": ApprovalData;
  "approval.denied": ApprovalData;
  "approval.expired": ApprovalData;
  "term.output": TermIOData;
  "term.input": TermInputData;
  "term.resize": TermResizeData;
  "ssh.signal": SshChannelData;
  "ssh.env-dropped": SshChannelData;
  "ssh.channel-error": SshChannelData;
  "ssh.forward-open": SshForwardData;
  "ssh.forward-close": SshForwardData;
  "ssh.forward-refused": SshForwardData;
  "ssh.forward-listen": SshForwardData;
  "ssh.forward-cancel": SshForwardData;
  "ssh.forward-cancelled": SshForwardData;
  "http.request": HttpRequestData;
  "http.response": HttpResponseData;
  "http.refused": HttpRefusedData;
  "http.upgrade-closed": HttpUpgradeClosedData;
  "k8s.request": K8sRequestData;
  "k8s.exec.start": K8sExecStartData;
  "k8s.exec.exit": K8sExecExitData;
  "k8s.portforward.stream": K8sPortForwardStreamData;
  "k8s.portforward.end": K8sPortForwardEndData;
  /** The client renewed its identity token on the tunnel (same issuer and subject, re-admitted by policy). */
  "identity.renewed": IdentityRenewedData;
  /** Requests refused by the tenant's request rate before they were parsed, counted per window (docs/TENANCY.md). */
  "rate.refused": RateRefusedData;
  "session.end": SessionEndData;
}

export interface RateRefusedData {
  /** How many requests were refused in this window (each was answered only after this event was durable). */
  count: number;
  /** When the window's first and last refusal happened (epoch ms). */
  first_ts: number;
  last_ts: number;
  /** The refusal the client was told last (the tenant's limit, or an unavailable limiter). */
  reason: string;
}

export interface IdentityRenewedData {
  /** `exp` of the new token (seconds), the session's new end of life. */
  exp: number;
  /** Every claim of the renewed token, as in session.start. */
  claims: Record<string, unknown>;
}

export type AuditEventType = keyof AuditEventDataMap;

export const AUDIT_EVENT_TYPES: readonly AuditEventType[] = [
  "session.start",
  "query",
  "decision",
  "result",
  "notice",
  "masking.counts",
  "masking.derived",
  "truncated",
  "approval.requested",
  "approval.granted",
  "approval.denied",
  "approval.expired",
  "term.output",
  "term.input",
  "term.resize",
  "ssh.signal",
  "ssh.env-dropped",
  "ssh.channel-error",
  "ssh.forward-open",
  "ssh.forward-close",
  "ssh.forward-refused",
  "ssh.forward-listen",
  "ssh.forward-cancel",
  "ssh.forward-cancelled",
  "http.request",
  "http.response",
  "http.refused",
  "http.upgrade-closed",
  "k8s.request",
  "k8s.exec.start",
  "k8s.exec.exit",
  "k8s.portforward.stream",
  "k8s.portforward.end",
  "identity.renewed",
  "rate.refused",
  "session.end",
];

/** A field of the payload that was cut to the size limit (never dropped silently). */
export interface FieldTruncation {
  /** Dotted path into `data`, e.g. "text", "params.3", "rows_sample.10.2". */
  field: string;
  /** UTF-8 size of the original value. */
  original_bytes: number;
}

// ---------------------------------------------------------------------------------------------
// Envelope
// ---------------------------------------------------------------------------------------------

/** An event as it travels before chaining (what producers hand to the recorder). */
export interface UnchainedEvent<T extends AuditEventType = AuditEventType> {
  type: T;
  /** Wall-clock time, epoch milliseconds. */
  ts: number;
  data: AuditEventDataMap[T];
  /** Present when fields of `data` were truncated to the event size limit. */
  truncated?: FieldTruncation[];
}

/**
 * A chained event: one line of the trail.
 * hash = hex(SHA-256(ascii(prev) || utf8(canonical(event without "hash")))).
 */
export type AuditEvent<T extends AuditEventType = AuditEventType> = UnchainedEvent<T> & {
  v: typeof AUDIT_FORMAT_VERSION;
  /** 0, 1, 2 … without gaps across the whole session (not per chunk). */
  seq: number;
  /** hash of the previous event; for seq 0, hex(SHA-256(utf8(session id))). */
  prev: string;
  hash: string;
};

/** Seals a chunk: signed by the gateway's audit key over canonical(checkpoint without "sig"). */
export interface Checkpoint {
  type: "checkpoint";
  v: typeof AUDIT_FORMAT_VERSION;
  session: string;
  /** 0, 1, 2 … */
  chunk: number;
  first_seq: number;
  last_seq: number;
  /** hash of the event last_seq. */
  last_hash: string;
  /** true only on the chunk that ends with `session.end`. */
  final: boolean;
  /** Signing time, epoch ms. */
  ts: number;
  kid: string;
  /** base64url Ed25519 signature. */
  sig: string;
}

export type TrailLine = AuditEvent | Checkpoint;

export function isCheckpoint(line: TrailLine): line is Checkpoint {
  return line.type === "checkpoint";
}

/** An Ed25519 public key as published at /.well-known/gatehouse-audit-keys. */
export interface AuditPublicKey {
  kid: string;
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  /** epoch ms */
  created?: number;
  status?: "active" | "retired";
}

export interface AuditKeySet {
  keys: AuditPublicKey[];
}
