/**
 * The ApprovalsObject in workerd with its real SQLite storage and alarms: requests persist,
 * decisions queue the session callback, deadlines settle on the alarm, grants end the sessions
 * that relied on them. (Webhook delivery to a real receiver: test/approvals/, against wrangler dev.)
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import { approvalsStub, activeGrants, consumeApproval, createApprovalRequest, getApproval, noteGrantUse, statementSha256, withdrawApprovalRequest } from "./client.ts";
import { principalOf } from "./ci-context.ts";
import { ApprovalError, type ApprovalRecord } from "./core.ts";

const testEnv = env as unknown as Env;
const stub = () => testEnv.APPROVALS.get(testEnv.APPROVALS.idFromName("approvals"));

const PIPELINE = {
  issuer: "https://token.actions.githubusercontent.com",
  subject: "repo:acme/shop:ref:refs/heads/main",
  claims: { repository: "acme/shop", ref: "refs/heads/main", sha: "cafe", workflow: "deploy", run_id: "99", actor: "octocat" },
};
const ALICE = principalOf({ issuer: "https://idp.example", subject: "alice", claims: { email: "alice@example.com" } });
const BOB = principalOf({ issuer: "https://idp.example", subject: "bob", claims: {} });
const RULE = "writes-need-approval";

let n = 0;
async function newRequest(text = "UPDATE orders SET status = 'x' WHERE id = 1", required?: number) {
  const sessionId = `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
  const sha = await statementSha256(text);
  const created = await createApprovalRequest(testEnv, {
    sessionId,
    resource: "demo-pg",
    identity: PIPELINE,
    statementText: text,
    statementSha256: sha,
    rule: RULE,
    approvals: [{ rule: RULE, approvers: [{ role: "approver" }], timeoutMs: 60_000, ...(required ? { required } : {}) }],
  });
  return { ...created, sessionId, sha };
}

/** Moves a request's deadline (or a grant's end) into the past, as if time had passed. */
async function backdate(id: string, field: "expiresAt" | "endsAt") {
  await runInDurableObject(stub(), async (_o: unknown, state: DurableObjectState) => {
    const row = state.storage.sql.exec<{ record: string }>("SELECT record FROM requests WHERE id = ?", id).one();
    const r = JSON.parse(row.record) as ApprovalRecord;
    const past = Date.now() - 1;
    if (field === "expiresAt") r.expiresAt = past;
    else r.grant!.endsAt = past;
    state.storage.sql.exec("UPDATE requests SET record = ?, deadline = ? WHERE id = ?", JSON.stringify(r), past, id);
  });
}

async function outboxRows(id: string) {
  return runInDurableObject(stub(), async (_o: unknown, state: DurableObjectState) =>
    state.storage.sql.exec<{ kind: string; target: string; event: string; payload: string; status: string }>("SELECT kind, target, event, payload, status FROM outbox WHERE request_id = ? ORDER BY id", id).toArray(),
  );
}

async function refusedCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApprovalError) return e.code;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("ApprovalsObject: held statements", () => {
  it("persists a request with the requester's CI context and answers at once", async () => {
    const before = Date.now();
    const { id, url, expiresAt, sessionId, sha } = await newRequest();
    expect(id).toMatch(/^apr_[a-z2-9]{16}$/);
    expect(url).toBe(`${testEnv.GATEHOUSE_PUBLIC_URL}/v1/approvals/${id}`);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 60_000);
    const record = await getApproval(testEnv, id);
    expect(record).toMatchObject({ status: "pending", kind: "statement", resource: "demo-pg", rule: RULE, statement: { sessionId, sha256: sha, consumedAt: null } });
    expect(record!.requester.ci?.runUrl).toBe("https://github.com/acme/shop/actions/runs/99");
    // Notifications are queued in the same transaction as the request: never lost, never blocking.
    const rows = await outboxRows(id);
    expect(rows[0]).toMatchObject({ kind: "fanout", event: "approval.requested" });
    const history = await approvalsStub(testEnv).history(id);
    expect(history[0]).toMatchObject({ type: "requested" });
  });

  it("refuses self-approval, counts N distinct approvers, then tells the session", async () => {
    const { id, sessionId, sha } = await newRequest("DELETE FROM orders WHERE id = 7", 2);
    const s = approvalsStub(testEnv);
    const self = await s.vote(id, principalOf(PIPELINE), "approve", null, [RULE]);
    expect(self).toMatchObject({ ok: false, code: "self-approval" });
    const notApprover = await s.vote(id, BOB, "approve", null, []);
    expect(notApprover).toMatchObject({ ok: false, code: "not-approver" });
    const first = await s.vote(id, ALICE, "approve", "looks fine", [RULE]);
    expect(first.ok && first.value.status).toBe("pending");
    expect(await s.vote(id, ALICE, "approve", null, [RULE])).toMatchObject({ ok: false, code: "already-voted" });
    const second = await s.vote(id, BOB, "approve", null, [RULE]);
    expect(second.ok && second.value.status).toBe("approved");

    const callback = (await outboxRows(id)).find((r) => r.kind === "session-decided");
    expect(callback).toMatchObject({ target: sessionId, event: "approved" });
    expect(JSON.parse(callback!.payload)).toMatchObject({ id, status: "approved", sessionId, statementSha256: sha });
    expect(JSON.parse(callback!.payload).votes).toHaveLength(2);

    // Bound to the session and the statement, and usable once.
    expect(await refusedCode(consumeApproval(testEnv, id, "00000000-0000-4000-8000-ffffffffffff", sha))).toBe("binding-mismatch");
    expect(await refusedCode(consumeApproval(testEnv, id, sessionId, await statementSha256("DELETE FROM orders")))).toBe("binding-mismatch");
    const used = await consumeApproval(testEnv, id, sessionId, sha);
    expect(used.statement!.consumedAt).not.toBeNull();
    expect(await refusedCode(consumeApproval(testEnv, id, sessionId, sha))).toBe("already-used");
    const types = (await s.history(id)).map((h) => h.type);
    // No live session exists in this test: when the callback alarm runs before the consume, the
    // SessionObject answers "no session waiting" and that delivery is recorded as session-gone.
    expect(types.filter((t) => t !== "session-gone")).toEqual(["requested", "vote", "vote", "approved", "executed"]);
  });

  it("records a denial with its reason and never lets the statement run", async () => {
    const { id, sessionId, sha } = await newRequest();
    const s = approvalsStub(testEnv);
    const denied = await s.vote(id, ALICE, "deny", "change freeze", [RULE]);
    expect(denied.ok && denied.value.outcomeReason).toBe("denied by alice@example.com: change freeze");
    expect(await refusedCode(consumeApproval(testEnv, id, sessionId, sha))).toBe("not-pending");
    const callback = (await outboxRows(id)).find((r) => r.kind === "session-decided");
    expect(JSON.parse(callback!.payload)).toMatchObject({ status: "denied", reason: "denied by alice@example.com: change freeze" });
  });

  it("expires on the alarm and queues the session callback", async () => {
    const { id } = await newRequest();
    await backdate(id, "expiresAt");
    await runDurableObjectAlarm(stub());
    const record = await getApproval(testEnv, id);
    expect(record!.status).toBe("expired");
    expect(record!.outcomeReason).toMatch(/timed out/);
    const rows = await outboxRows(id);
    expect(rows.some((r) => r.kind === "session-decided" && r.event === "expired")).toBe(true);
    // Late votes lose.
    expect(await approvalsStub(testEnv).vote(id, ALICE, "approve", null, [RULE])).toMatchObject({ ok: false, code: "not-pending" });
  });

  it("settles a deadline on a late vote even before the alarm ran", async () => {
    const { id } = await newRequest();
    await backdate(id, "expiresAt");
    expect(await approvalsStub(testEnv).vote(id, ALICE, "approve", null, [RULE])).toMatchObject({ ok: false, code: "not-pending" });
    expect((await getApproval(testEnv, id))!.status).toBe("expired");
  });

  it("keeps notifications queued while they cannot be configured (no policy here)", async () => {
    const { id } = await newRequest();
    await runDurableObjectAlarm(stub());
    const fanout = (await outboxRows(id)).find((r) => r.kind === "fanout");
    expect(fanout!.status).toBe("pending");
  });

  it("is withdrawn when the asking session ends first, without calling it back", async () => {
    const { id, sessionId } = await newRequest();
    await withdrawApprovalRequest(testEnv, id, sessionId, "client disconnected");
    expect((await getApproval(testEnv, id))!.status).toBe("withdrawn");
    expect((await outboxRows(id)).some((r) => r.kind === "session-decided")).toBe(false);
  });
});

describe("ApprovalsObject: just-in-time grants", () => {
  const CAROL = { issuer: "https://idp.example", subject: "carol", claims: { email: "carol@example.com" } };

  it("activates on approval, is noted per session, and revocation ends those sessions", async () => {
    const s = approvalsStub(testEnv);
    const created = await s.createGrant({ resource: "demo-pg", requester: principalOf(CAROL), durationMs: 30 * 60_000, reason: "incident 42" });
    expect(created.ok).toBe(true);
    const id = created.ok ? created.value.id : "";
    expect(id).toMatch(/^grt_/);
    expect(await activeGrants(testEnv, CAROL)).toEqual([]);
    expect(await s.vote(id, principalOf(CAROL), "approve", null, ["grant"])).toMatchObject({ ok: false, code: "self-approval" });
    const approved = await s.vote(id, ALICE, "approve", null, ["grant"]);
    expect(approved.ok && approved.value.status).toBe("approved");
    expect(await activeGrants(testEnv, CAROL)).toEqual(["demo-pg"]);
    expect(await activeGrants(testEnv, CAROL, "other-db")).toEqual([]);

    const session = "00000000-0000-4000-8000-aaaaaaaaaaaa";
    expect(await noteGrantUse(testEnv, session, CAROL, "demo-pg")).toEqual([id]);
    const revoked = await s.revoke(id, ALICE, "incident closed");
    expect(revoked.ok && revoked.value.status).toBe("revoked");
    expect(await activeGrants(testEnv, CAROL)).toEqual([]);
    const end = (await outboxRows(id)).find((r) => r.kind === "session-terminate");
    expect(end).toMatchObject({ target: session });
    expect(JSON.parse(end!.payload)).toEqual({ code: "42501", reason: `just-in-time grant ${id} for demo-pg was revoked by alice@example.com: incident closed` });
  });

  it("expires on time and ends the sessions that relied on it", async () => {
    const s = approvalsStub(testEnv);
    const dave = { issuer: "https://idp.example", subject: "dave", claims: {} };
    const created = await s.createGrant({ resource: "demo-pg", requester: principalOf(dave), durationMs: 5 * 60_000, reason: "migration" });
    const id = created.ok ? created.value.id : "";
    await s.vote(id, BOB, "approve", null, ["grant"]);
    const session = "00000000-0000-4000-8000-bbbbbbbbbbbb";
    await noteGrantUse(testEnv, session, dave, "demo-pg");
    await backdate(id, "endsAt");
    // Even before the alarm settles it, a grant past its end is not active.
    expect(await activeGrants(testEnv, dave)).toEqual([]);
    await runDurableObjectAlarm(stub());
    expect((await s.get(id))!.status).toBe("expired");
    const end = (await outboxRows(id)).find((r) => r.kind === "session-terminate");
    expect(end).toMatchObject({ target: session });
    expect(JSON.parse(end!.payload).reason).toBe(`just-in-time grant ${id} for demo-pg expired`);
  });
});
