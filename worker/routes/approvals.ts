/**
 * REST for human approvals and just-in-time grants (docs/APPROVALS.md):
 *   /v1/approvals            list, show, approve, deny (held statements and grant requests)
 *   /v1/grants               request, list, show, approve, deny, revoke
 * Every route verifies the OIDC token first (401). Who may approve is the policy's answer at vote
 * time (policy.canApprove for a statement's approve rules; role `approver` for grants); the
 * ApprovalsObject refuses self-approval, double votes and late votes.
 */
import { Hono, type Context } from "hono";
import type { Identity } from "../../parsers/identity.ts";
import type { CompiledPolicy } from "../../parsers/policy/types.ts";
import { parseDuration } from "../../parsers/policy/duration.ts";
import { bearerIdentity, type AppEnv } from "../auth/bearer-identity.ts";
import { BadRequestError, ForbiddenError, GatewayError, NotFoundError } from "../errors.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import { approvalsStub, countApprovalRequest } from "../approvals/client.ts";
import { principalKey, principalOf } from "../approvals/ci-context.ts";
import { ApprovalError, GRANT_REQUIREMENT, type ApprovalRecord, type RequestKind, type RequestStatus, type VoteDecision } from "../approvals/core.ts";
import type { Result } from "../approvals/approvals-object.ts";
import { requestUrl } from "../approvals/notifications.ts";
import { isResourceName } from "../../parsers/resource-name.ts";

const ID = /^(apr|grt)_[a-z2-9]{16}$/;
const STATUSES: readonly RequestStatus[] = ["pending", "approved", "denied", "expired", "withdrawn", "revoked"];
const MAX_BODY_BYTES = 16 * 1024;
/** Roles that see every request (not only their own and those they may decide). */
const OVERSEER_ROLES = ["admin", "auditor", "approver"];

type Ctx = Context<AppEnv>;

/**
 * The requirements of `record` that `who` may vote for. A grant's one requirement is the approver
 * role's; a held statement's are approve rules of the policy, each decided by its own `approvers:`
 * — by the kind of the request, never by the name: an approve rule may well be called `grant`.
 */
export function mayVoteOn(policy: CompiledPolicy, record: ApprovalRecord, who: Identity): string[] {
  const rules = record.requirements.map((r) => r.rule);
  if (record.kind === "grant") return rules.filter((rule) => rule === GRANT_REQUIREMENT && policy.rolesOf(who).includes("approver"));
  return rules.filter((rule) => policy.canApprove(rule, who));
}

export function visible(policy: CompiledPolicy, record: ApprovalRecord, who: Identity): boolean {
  if (principalKey(record.requester) === principalKey(who)) return true;
  if (policy.rolesOf(who).some((r) => OVERSEER_ROLES.includes(r))) return true;
  return mayVoteOn(policy, record, who).length > 0;
}

function view(c: Ctx, policy: CompiledPolicy, record: ApprovalRecord) {
  const me = c.var.identity;
  const self = principalKey(record.requester) === principalKey(me);
  return {
    ...record,
    url: requestUrl(c.env.GATEHOUSE_PUBLIC_URL, record),
    can_vote: record.status === "pending" && !self && !record.votes.some((v) => principalKey(v.approver) === principalKey(me)) && mayVoteOn(policy, record, me).length > 0,
  };
}

export function fail(r: Extract<Result<unknown>, { ok: false }>): never {
  switch (r.code) {
    case "not-found":
      throw new NotFoundError(r.message);
    case "self-approval":
    case "not-approver":
    case "forbidden":
      throw new ForbiddenError(r.message);
    case "invalid":
      throw new BadRequestError(r.message);
    default:
      throw new GatewayError(409, r.code, r.message);
  }
}

async function body(c: Ctx): Promise<Record<string, unknown>> {
  const declared = Number(c.req.header("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new BadRequestError(`request body larger than ${MAX_BODY_BYTES} bytes`);
  const text = await c.req.text();
  if (text.length > MAX_BODY_BYTES) throw new BadRequestError(`request body larger than ${MAX_BODY_BYTES} bytes`);
  if (!text.trim()) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new BadRequestError("body must be a JSON object");
}

function optionalString(v: unknown, what: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw new BadRequestError(`${what} must be a string`);
  return v;
}

async function loadVisible(c: Ctx, id: string, kind?: RequestKind): Promise<{ policy: CompiledPolicy; record: ApprovalRecord }> {
  if (!ID.test(id)) throw new BadRequestError("invalid request id");
  const policy = await currentPolicy(c.env);
  const record = await approvalsStub(c.env).get(id);
  // Invisible and missing look the same: ids are not an oracle.
  if (!record || (kind && record.kind !== kind) || !visible(policy, record, c.var.identity)) throw new NotFoundError(`no request ${id}`);
  return { policy, record };
}

async function listVisible(c: Ctx, kind?: RequestKind) {
  const status = c.req.query("status");
  if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) throw new BadRequestError(`status must be one of ${STATUSES.join(", ")}`);
  const k = kind ?? c.req.query("kind");
  if (k !== undefined && k !== "statement" && k !== "grant") throw new BadRequestError("kind must be statement or grant");
  const limitText = c.req.query("limit");
  const limit = limitText === undefined ? 50 : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new BadRequestError("limit must be 1..200");
  const mine = c.req.query("mine") === "1" || c.req.query("mine") === "true";
  const policy = await currentPolicy(c.env);
  const records = await approvalsStub(c.env).list({
    kind: k as RequestKind | undefined,
    status: status as RequestStatus | undefined,
    requesterKey: mine ? principalKey(c.var.identity) : undefined,
    limit: 200,
  });
  const shown = records.filter((r) => visible(policy, r, c.var.identity)).slice(0, limit);
  return c.json({ requests: shown.map((r) => view(c, policy, r)) });
}

async function show(c: Ctx, kind?: RequestKind) {
  const { policy, record } = await loadVisible(c, c.req.param("id")!, kind);
  const stub = approvalsStub(c.env);
  const [history, deliveries] = await Promise.all([stub.history(record.id), stub.outbox(record.id)]);
  return c.json({ request: view(c, policy, record), history, deliveries });
}

async function vote(c: Ctx, decision: VoteDecision, kind?: RequestKind) {
  const { policy, record } = await loadVisible(c, c.req.param("id")!, kind);
  const b = await body(c);
  const reason = optionalString(b.reason, "reason");
  if (decision === "deny" && !reason?.trim()) throw new BadRequestError("a denial needs a reason");
  const eligible = mayVoteOn(policy, record, c.var.identity);
  const result = await approvalsStub(c.env).vote(record.id, principalOf(c.var.identity), decision, reason, eligible);
  if (!result.ok) fail(result);
  return c.json({ request: view(c, policy, result.value) });
}

const admitted = bearerIdentity();

export const approvalRoutes = new Hono<AppEnv>()
  .use("*", admitted)
  .get("/", (c) => listVisible(c))
  .get("/:id", (c) => show(c))
  .post("/:id/approve", (c) => vote(c, "approve"))
  .post("/:id/deny", (c) => vote(c, "deny"));

export const grantRoutes = new Hono<AppEnv>()
  .use("*", admitted)
  .post("/", async (c) => {
    const b = await body(c);
    const resource = b.resource;
    if (!isResourceName(resource)) throw new BadRequestError("resource must be a resource name");
    let durationMs: number;
    if (typeof b.duration === "string") {
      try {
        durationMs = parseDuration(b.duration);
      } catch (e) {
        throw new BadRequestError((e as Error).message);
      }
    } else if (typeof b.duration_ms === "number") {
      durationMs = b.duration_ms;
    } else {
      throw new BadRequestError('duration is required, e.g. "30m"');
    }
    const reason = optionalString(b.reason, "reason");
    if (!reason?.trim()) throw new BadRequestError("a grant request needs a reason");
    const policy = await currentPolicy(c.env);
    try {
      await countApprovalRequest(c.env);
    } catch (e) {
      if (e instanceof ApprovalError) throw new ForbiddenError(e.message);
      throw e;
    }
    const result = await approvalsStub(c.env).createGrant({ resource, requester: principalOf(c.var.identity), durationMs, reason });
    if (!result.ok) fail(result);
    return c.json({ request: view(c, policy, result.value) }, 201);
  })
  .get("/", async (c) => {
    if (c.req.query("active") === "1" || c.req.query("active") === "true") {
      const policy = await currentPolicy(c.env);
      const now = Date.now();
      const records = await approvalsStub(c.env).list({ kind: "grant", status: "approved", limit: 200 });
      const shown = records.filter((r) => r.grant?.endsAt != null && r.grant.endsAt > now && visible(policy, r, c.var.identity));
      return c.json({ requests: shown.map((r) => view(c, policy, r)) });
    }
    return listVisible(c, "grant");
  })
  .get("/:id", (c) => show(c, "grant"))
  .post("/:id/approve", (c) => vote(c, "approve", "grant"))
  .post("/:id/deny", (c) => vote(c, "deny", "grant"))
  .post("/:id/revoke", async (c) => {
    const { policy, record } = await loadVisible(c, c.req.param("id")!, "grant");
    const me = c.var.identity;
    const roles = policy.rolesOf(me);
    // The holder may give a grant up; approvers and admins may take it away.
    if (principalKey(record.requester) !== principalKey(me) && !roles.includes("approver") && !roles.includes("admin")) {
      throw new ForbiddenError("only the grant's holder, an approver or an admin may revoke it");
    }
    const reason = optionalString((await body(c)).reason, "reason");
    const result = await approvalsStub(c.env).revoke(record.id, principalOf(me), reason?.trim() || null);
    if (!result.ok) fail(result);
    return c.json({ request: view(c, policy, result.value) });
  });
