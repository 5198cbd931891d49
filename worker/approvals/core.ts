/**
 * The approval workflow's state machine, pure (no storage, no clock, no platform APIs), so every
 * rule about who may decide what is in one place and testable anywhere:
 *
 *   statement request:  pending ──votes──▶ approved ──consume (once, same session + SHA-256)──▶ used
 *                          ├── any eligible deny ──▶ denied
 *                          ├── deadline ──────────▶ expired
 *                          └── session withdrew ──▶ withdrawn
 *   grant request:      pending ──votes──▶ approved (active until endsAt) ──▶ expired | revoked
 *                          ├── deny ──▶ denied      └── deadline ──▶ expired
 *
 * A requirement (one per approve rule that held the statement) is met when `required` distinct
 * eligible approvers approved. Every requirement must be met. The requester never counts: same
 * issuer+subject, same CI run, or same CI actor is "self" (see isSelf).
 */
import { principalKey, type Principal } from "./ci-context.ts";

export type RequestKind = "statement" | "grant";
export type RequestStatus = "pending" | "approved" | "denied" | "expired" | "withdrawn" | "revoked";
export type VoteDecision = "approve" | "deny";

export interface Requirement {
  /** The approve rule (statements) or GRANT_REQUIREMENT (grants). */
  rule: string;
  /** Who may approve, as written in the policy (display only; eligibility is decided by the policy at vote time). */
  approvers: unknown;
  /** Distinct approvals needed. */
  required: number;
}

export interface Vote {
  approver: Principal;
  decision: VoteDecision;
  reason: string | null;
  at: number;
  /** Requirements (rule names) this approver was eligible for when voting. */
  counts: string[];
}

export interface StatementDetails {
  sessionId: string;
  /** As shown to approvers (masked where the policy says so). */
  text: string;
  /** SHA-256 (hex) of the exact statement bytes that will run (and of its bound parameters). */
  sha256: string;
  /** Extended protocol: the bound parameters as shown to approvers (`$1 = '…'`), all of them, in order. */
  parameters?: string[];
  /** Set once the session ran it: an approval is used at most once. */
  consumedAt: number | null;
}

export interface GrantDetails {
  durationMs: number;
  /** Set on approval: the grant is active in [startsAt, endsAt). */
  startsAt: number | null;
  endsAt: number | null;
  revokedAt: number | null;
  revokedBy: Principal | null;
  revokeReason: string | null;
}

/** What happened after the decision, as far as the requesting session is concerned (statements). */
export interface Delivery {
  status: "pending" | "delivered" | "session-gone" | "failed";
  at: number | null;
  detail: string | null;
}

export interface ApprovalRecord {
  id: string;
  kind: RequestKind;
  status: RequestStatus;
  resource: string;
  requester: Principal;
  /** Grants: why the requester asks. Statements: null. */
  requestReason: string | null;
  /** Statements: the rule that held the statement. */
  rule: string | null;
  requirements: Requirement[];
  createdAt: number;
  /** Decision deadline: a request still pending then expires. */
  expiresAt: number;
  decidedAt: number | null;
  /** One human sentence on the outcome ("approved by …", "denied by …: reason", "timed out after 15m"). */
  outcomeReason: string | null;
  votes: Vote[];
  statement?: StatementDetails;
  grant?: GrantDetails;
  delivery?: Delivery;
}

/** What the requesting session is told when a statement request is decided. */
export interface ApprovalOutcome {
  id: string;
  status: "approved" | "denied" | "expired" | "withdrawn";
  reason: string;
  sessionId: string;
  statementSha256: string;
  decidedAt: number;
  votes: Vote[];
}

export const GRANT_REQUIREMENT = "grant";
export const DEFAULT_APPROVAL_TIMEOUT_MS = 15 * 60_000;
export const MIN_APPROVAL_TIMEOUT_MS = 10_000;
export const MAX_APPROVAL_TIMEOUT_MS = 24 * 3_600_000;
export const GRANT_REQUEST_TIMEOUT_MS = 60 * 60_000;
export const MIN_GRANT_MS = 60_000;
export const MAX_GRANT_MS = 12 * 3_600_000;
export const MAX_STATEMENT_TEXT = 64 * 1024;
export const MAX_REASON = 1000;
export const MAX_REQUIRED_APPROVALS = 10;

/** A refused transition, with a stable code the REST edge maps to HTTP (403 / 409 / 400). */
export class ApprovalError extends Error {
  override name = "ApprovalError";
  constructor(
    readonly code: "self-approval" | "not-approver" | "already-voted" | "not-pending" | "expired" | "invalid" | "binding-mismatch" | "already-used" | "not-found" | "forbidden",
    message: string,
  ) {
    super(message);
  }
}

export interface NewStatementRequest {
  sessionId: string;
  resource: string;
  requester: Principal;
  statementText: string;
  statementSha256: string;
  parameters?: string[];
  rule: string;
  requirements: Array<{ rule: string; approvers: unknown; timeoutMs: number | null; required?: number }>;
  /** Overrides the policy's timeouts when given. */
  timeoutMs?: number | null;
}

export function createStatementRequest(input: NewStatementRequest, id: string, now: number): ApprovalRecord {
  if (!/^[0-9a-f]{64}$/.test(input.statementSha256)) throw new ApprovalError("invalid", "statementSha256 must be 64 lowercase hex digits");
  if (!input.sessionId) throw new ApprovalError("invalid", "sessionId is required");
  // Approvers approve what they see: a statement too long to show whole is refused, never cut.
  const shown = input.statementText.length + (input.parameters ?? []).reduce((n, p) => n + p.length, 0);
  if (shown > MAX_STATEMENT_TEXT) throw new ApprovalError("invalid", `the statement and its parameters are too long to show approvers in full (${shown} > ${MAX_STATEMENT_TEXT} characters)`);
  if (input.requirements.length === 0) throw new ApprovalError("invalid", "an approval request needs at least one requirement");
  const timeouts = input.requirements.map((r) => r.timeoutMs).filter((t): t is number => typeof t === "number" && t > 0);
  // Several rules held the statement: the strictest (shortest) deadline applies.
  const timeout = clampTimeout(input.timeoutMs ?? (timeouts.length > 0 ? Math.min(...timeouts) : DEFAULT_APPROVAL_TIMEOUT_MS));
  return {
    id,
    kind: "statement",
    status: "pending",
    resource: input.resource,
    requester: input.requester,
    requestReason: null,
    rule: input.rule,
    requirements: mergeRequirements(input.requirements),
    createdAt: now,
    expiresAt: now + timeout,
    decidedAt: null,
    outcomeReason: null,
    votes: [],
    statement: {
      sessionId: input.sessionId,
      text: input.statementText,
      sha256: input.statementSha256,
      ...(input.parameters ? { parameters: [...input.parameters] } : {}),
      consumedAt: null,
    },
    delivery: { status: "pending", at: null, detail: null },
  };
}

export interface NewGrantRequest {
  resource: string;
  requester: Principal;
  durationMs: number;
  reason: string;
  required?: number;
}

export function createGrantRequest(input: NewGrantRequest, id: string, now: number): ApprovalRecord {
  if (!Number.isInteger(input.durationMs) || input.durationMs < MIN_GRANT_MS || input.durationMs > MAX_GRANT_MS) {
    throw new ApprovalError("invalid", `a grant lasts between ${MIN_GRANT_MS / 60_000}m and ${MAX_GRANT_MS / 3_600_000}h`);
  }
  const reason = input.reason.trim();
  if (!reason) throw new ApprovalError("invalid", "a grant request needs a reason");
  return {
    id,
    kind: "grant",
    status: "pending",
    resource: input.resource,
    requester: input.requester,
    requestReason: truncate(reason, MAX_REASON),
    rule: null,
    requirements: [{ rule: GRANT_REQUIREMENT, approvers: [{ role: "approver" }], required: clampRequired(input.required) }],
    createdAt: now,
    expiresAt: now + GRANT_REQUEST_TIMEOUT_MS,
    decidedAt: null,
    outcomeReason: null,
    votes: [],
    grant: { durationMs: input.durationMs, startsAt: null, endsAt: null, revokedAt: null, revokedBy: null, revokeReason: null },
  };
}

/**
 * Is `voter` the requester, for the purpose of approving? Returns why, or null.
 * - same issuer and subject;
 * - same CI pipeline run (same issuer, repository and run id): another job of the asking run;
 * - same CI actor at the same issuer: another pipeline started by the person whose run asks.
 * Identities from different issuers are never matched by name (a GitHub `actor` and an IdP
 * username are different namespaces); policies should keep approvers and pipelines apart.
 */
export function isSelf(requester: Principal, voter: Principal): string | null {
  if (requester.issuer === voter.issuer && requester.subject === voter.subject) return "the requester cannot approve its own request";
  const a = requester.ci;
  const b = voter.ci;
  if (a && b && requester.issuer === voter.issuer) {
    if (a.runId && a.runId === b.runId && a.repository === b.repository) return "an identity of the same CI pipeline run cannot approve the run's own request";
    if (a.actor && a.actor === b.actor) return `a pipeline started by the same actor (${a.actor}) cannot approve the request`;
  }
  return null;
}

/** Distinct approvers: people by issuer+subject; a CI run counts once however many jobs vote. */
function approverKey(p: Principal): string {
  if (p.ci?.runId && p.ci.repository) return `${p.issuer} run ${p.ci.repository}#${p.ci.runId}`;
  return principalKey(p);
}

export interface Ballot {
  voter: Principal;
  decision: VoteDecision;
  reason: string | null;
  /** Requirement rules the voter may approve under the current policy. */
  eligibleRules: readonly string[];
}

/** Applies one vote. Returns the new record (never mutates); throws ApprovalError when refused. */
export function castVote(record: ApprovalRecord, ballot: Ballot, now: number): ApprovalRecord {
  if (record.status !== "pending") throw new ApprovalError("not-pending", `request ${record.id} is already ${record.status}`);
  if (now >= record.expiresAt) throw new ApprovalError("expired", `request ${record.id} timed out`);
  const self = isSelf(record.requester, ballot.voter);
  if (self) throw new ApprovalError("self-approval", self);
  const counts = record.requirements.map((r) => r.rule).filter((rule) => ballot.eligibleRules.includes(rule));
  if (counts.length === 0) throw new ApprovalError("not-approver", `${ballot.voter.label} is not an approver for request ${record.id} (${record.requirements.map((r) => r.rule).join(", ")})`);
  const key = approverKey(ballot.voter);
  if (record.votes.some((v) => approverKey(v.approver) === key)) throw new ApprovalError("already-voted", `${ballot.voter.label} already voted on request ${record.id}`);
  const reason = ballot.reason?.trim() ? truncate(ballot.reason.trim(), MAX_REASON) : null;
  if (ballot.decision === "deny" && !reason) throw new ApprovalError("invalid", "a denial needs a reason");

  const vote: Vote = { approver: ballot.voter, decision: ballot.decision, reason, at: now, counts };
  const next: ApprovalRecord = { ...record, votes: [...record.votes, vote] };
  if (ballot.decision === "deny") {
    // One eligible "no" is enough: approvals are a brake, not a majority vote.
    return decide(next, "denied", `denied by ${ballot.voter.label}: ${reason}`, now);
  }
  if (record.requirements.every((req) => approvalsFor(next, req.rule) >= req.required)) {
    const by = next.votes.filter((v) => v.decision === "approve").map((v) => v.approver.label);
    const approved = decide(next, "approved", `approved by ${by.join(", ")}`, now);
    if (approved.grant) approved.grant = { ...approved.grant, startsAt: now, endsAt: now + approved.grant.durationMs };
    return approved;
  }
  return next;
}

/** Distinct approvals counted toward requirement `rule`. */
export function approvalsFor(record: ApprovalRecord, rule: string): number {
  const keys = new Set<string>();
  for (const v of record.votes) if (v.decision === "approve" && v.counts.includes(rule)) keys.add(approverKey(v.approver));
  return keys.size;
}

/** Pending past its deadline → expired; an approved grant past its end → expired. Else null. */
export function expireIfDue(record: ApprovalRecord, now: number): ApprovalRecord | null {
  if (record.status === "pending" && now >= record.expiresAt) {
    return decide(record, "expired", `no decision within ${formatMs(record.expiresAt - record.createdAt)}: the request timed out`, now);
  }
  if (record.kind === "grant" && record.status === "approved" && record.grant?.endsAt != null && now >= record.grant.endsAt) {
    return { ...record, status: "expired", outcomeReason: `grant ended after ${formatMs(record.grant.durationMs)}` };
  }
  return null;
}

/** The next moment this record changes by itself, or null. */
export function nextDeadline(record: ApprovalRecord): number | null {
  if (record.status === "pending") return record.expiresAt;
  if (record.kind === "grant" && record.status === "approved") return record.grant?.endsAt ?? null;
  return null;
}

export function isGrantActive(record: ApprovalRecord, now: number): boolean {
  return record.kind === "grant" && record.status === "approved" && record.grant?.startsAt != null && record.grant.endsAt != null && now >= record.grant.startsAt && now < record.grant.endsAt;
}

export function revokeGrant(record: ApprovalRecord, by: Principal, reason: string | null, now: number): ApprovalRecord {
  if (record.kind !== "grant") throw new ApprovalError("invalid", `${record.id} is not a grant`);
  if (record.status === "pending") {
    // Withdrawing a request that nobody decided yet.
    return { ...decide(record, "revoked", `withdrawn by ${by.label}${reason ? `: ${reason}` : ""}`, now), grant: { ...record.grant!, revokedAt: now, revokedBy: by, revokeReason: reason } };
  }
  if (record.status !== "approved") throw new ApprovalError("not-pending", `grant ${record.id} is already ${record.status}`);
  return {
    ...record,
    status: "revoked",
    outcomeReason: `revoked by ${by.label}${reason ? `: ${reason}` : ""}`,
    grant: { ...record.grant!, revokedAt: now, revokedBy: by, revokeReason: reason ? truncate(reason, MAX_REASON) : null },
  };
}

/**
 * The session runs an approved statement: only the session that asked, only the statement whose
 * SHA-256 was approved, only once.
 */
export function consume(record: ApprovalRecord, sessionId: string, statementSha256: string, now: number): ApprovalRecord {
  if (record.kind !== "statement" || !record.statement) throw new ApprovalError("invalid", `${record.id} is not a statement approval`);
  if (record.statement.sessionId !== sessionId || record.statement.sha256 !== statementSha256) {
    throw new ApprovalError("binding-mismatch", `approval ${record.id} was given for another session or statement`);
  }
  if (record.status !== "approved") throw new ApprovalError("not-pending", `approval ${record.id} is ${record.status}`);
  if (record.statement.consumedAt !== null) throw new ApprovalError("already-used", `approval ${record.id} was already used`);
  return { ...record, statement: { ...record.statement, consumedAt: now } };
}

/** The asking session ended before a decision (client disconnected): nothing can run any more. */
export function withdraw(record: ApprovalRecord, sessionId: string, reason: string, now: number): ApprovalRecord {
  if (record.kind !== "statement" || record.statement?.sessionId !== sessionId) throw new ApprovalError("binding-mismatch", `approval ${record.id} belongs to another session`);
  if (record.status !== "pending") return record;
  return decide(record, "withdrawn", truncate(reason, MAX_REASON), now);
}

export function outcomeOf(record: ApprovalRecord): ApprovalOutcome | null {
  if (record.kind !== "statement" || !record.statement || record.status === "pending" || record.status === "revoked") return null;
  return {
    id: record.id,
    status: record.status,
    reason: record.outcomeReason ?? record.status,
    sessionId: record.statement.sessionId,
    statementSha256: record.statement.sha256,
    decidedAt: record.decidedAt ?? record.createdAt,
    votes: record.votes,
  };
}

function decide(record: ApprovalRecord, status: RequestStatus, reason: string, now: number): ApprovalRecord {
  return { ...record, status, decidedAt: now, outcomeReason: reason };
}

function mergeRequirements(list: NewStatementRequest["requirements"]): Requirement[] {
  const byRule = new Map<string, Requirement>();
  for (const r of list) {
    if (!r.rule) throw new ApprovalError("invalid", "a requirement needs a rule name");
    const required = clampRequired(r.required);
    const prev = byRule.get(r.rule);
    if (prev) prev.required = Math.max(prev.required, required);
    else byRule.set(r.rule, { rule: r.rule, approvers: r.approvers, required });
  }
  return [...byRule.values()];
}

function clampRequired(n: number | undefined): number {
  if (n === undefined || n === null) return 1;
  if (!Number.isInteger(n) || n < 1 || n > MAX_REQUIRED_APPROVALS) throw new ApprovalError("invalid", `required approvals must be an integer from 1 to ${MAX_REQUIRED_APPROVALS}`);
  return n;
}

function clampTimeout(ms: number): number {
  if (!Number.isFinite(ms) || ms <= 0) return DEFAULT_APPROVAL_TIMEOUT_MS;
  return Math.min(MAX_APPROVAL_TIMEOUT_MS, Math.max(MIN_APPROVAL_TIMEOUT_MS, Math.round(ms)));
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function formatMs(ms: number): string {
  if (ms <= 0) return "0s";
  let rest = Math.round(ms);
  let out = "";
  for (const [unit, size] of [["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out || `${ms}ms`;
}
