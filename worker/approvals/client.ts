/**
 * What the rest of the worker calls: thin functions over the single ApprovalsObject
 * ("approvals"). The session Durable Object uses createApprovalRequest when policy says
 * `approve`, waits for `approvalDecided` (RPC on itself, see SessionApprovalCallbacks), and runs
 * the statement only after consumeApproval succeeds.
 */
import type { Identity } from "../../parsers/identity.ts";
import type { ApprovalRequirement } from "../../parsers/policy/types.ts";
import type { Env } from "../env.ts";
import { principalKey, principalOf } from "./ci-context.ts";
import { ApprovalError, type ApprovalRecord } from "./core.ts";
import type { Result } from "./approvals-object.ts";
import { approvalShards, shardedApprovals, type ApprovalsApi } from "./shards.ts";
import { toHex } from "../../parsers/encoding/hex-base64.ts";
import { addUsage } from "../tenancy/tenant-usage.ts";

export type { ApprovalRecord, ApprovalOutcome, Vote, Requirement } from "./core.ts";
export type { SessionApprovalCallbacks } from "./approvals-object.ts";
export { GRANT_ENDED_SQLSTATE } from "./approvals-object.ts";

export const APPROVALS_OBJECT_NAME = "approvals";

/** The object's RPC surface as plain promises (the generated stub type cannot express `unknown` fields). */
export type { ApprovalsApi };

/**
 * The tenant's approvals: the one object, or (hosted mode with `shards.approvals` > 1) a router
 * over its shards with the same surface (shards.ts).
 */
export function approvalsStub(env: Pick<Env, "APPROVALS" | "TENANT">): ApprovalsApi {
  const shards = approvalShards(env, APPROVALS_OBJECT_NAME);
  return shards.length === 1 ? shards[0]! : shardedApprovals(shards);
}

function unwrap<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw new ApprovalError(r.code, r.message);
}

export interface CreateApprovalInput {
  sessionId: string;
  resource: string;
  identity: Identity;
  /** As approvers will see it: pass the masked text when masking rules apply to statement text. */
  statementText: string;
  /** SHA-256 (lowercase hex) of the exact statement bytes the session will run if approved (with its parameters, when bound). */
  statementSha256: string;
  /** Bound parameters as approvers see them (`$1 = '…'`), in order. */
  parameters?: string[];
  /** The deciding approve rule (Decision.rule). */
  rule: string;
  /** Decision.approvals. A requirement may carry `required` (N distinct approvals; default 1). */
  approvals: ReadonlyArray<ApprovalRequirement & { required?: number }>;
  /** Decision deadline; null/undefined = the shortest rule timeout, else 15 minutes. Clamped to [10 s, 24 h]. */
  timeoutMs?: number | null;
}

/**
 * Hosted mode: counts one approval request (statement or grant) against the tenant's limit and
 * usage counter; throws ApprovalError("forbidden") once the limit is reached. No-op single-tenant.
 */
export async function countApprovalRequest(env: Env): Promise<void> {
  if (!env.TENANT) return;
  const limit = env.TENANT.limits.maxApprovalRequests;
  const counted = await addUsage(env.DB, "approval_requests", 1, limit);
  if (!counted.ok) throw new ApprovalError("forbidden", `the tenant's limit of ${limit} approval requests is reached: ask the platform to raise it`);
}

/** Persists the request, queues notifications, and returns at once. Throws ApprovalError when refused. */
export async function createApprovalRequest(env: Env, req: CreateApprovalInput): Promise<{ id: string; url: string; expiresAt: number }> {
  await countApprovalRequest(env);
  const result = await approvalsStub(env).createStatement({
    sessionId: req.sessionId,
    resource: req.resource,
    requester: principalOf(req.identity),
    statementText: req.statementText,
    statementSha256: req.statementSha256,
    ...(req.parameters ? { parameters: req.parameters } : {}),
    rule: req.rule,
    requirements: req.approvals.map((a) => ({ rule: a.rule, approvers: a.approvers, timeoutMs: a.timeoutMs, required: a.required })),
    timeoutMs: req.timeoutMs ?? null,
  });
  return unwrap(result);
}

export async function getApproval(env: Env, id: string): Promise<ApprovalRecord | null> {
  return approvalsStub(env).get(id);
}

/**
 * Marks the approval used by this session for this statement. Succeeds once; throws ApprovalError
 * ("binding-mismatch", "already-used", "not-pending") otherwise — then the statement must not run.
 */
export async function consumeApproval(env: Env, id: string, sessionId: string, statementSha256: string): Promise<ApprovalRecord> {
  return unwrap(await approvalsStub(env).consume(id, sessionId, statementSha256));
}

/** The session ends while a statement waits (client disconnected): record it; nothing will run. */
export async function withdrawApprovalRequest(env: Env, id: string, sessionId: string, reason: string): Promise<void> {
  unwrap(await approvalsStub(env).withdraw(id, sessionId, reason));
}

/** Resource names with an active just-in-time grant for this identity (optionally only `resource`). */
export async function activeGrants(env: Env, identity: Identity, resource?: string): Promise<string[]> {
  return approvalsStub(env).activeGrants(principalKey(identity), resource);
}

/**
 * The session relies on this identity's active grant(s) for `resource` (call it when a decision
 * used activeGrants). Revocation or expiry of those grants then ends the session via
 * `terminate(code, reason)`. Returns the grant ids noted.
 */
export async function noteGrantUse(env: Env, sessionId: string, identity: Identity, resource: string): Promise<string[]> {
  return approvalsStub(env).noteGrantUse(sessionId, principalKey(identity), resource);
}

/** SHA-256 (lowercase hex) of a statement's exact text, as createApprovalRequest expects. */
export async function statementSha256(text: string | Uint8Array): Promise<string> {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}
