/**
 * ApprovalHolds (the session side) against the real ApprovalsObject: the notice, the audit events,
 * approved → consumed once → run; denied / expired / withdrawn → refused with 42501.
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import { approvalsStub, getApproval } from "./client.ts";
import { principalOf } from "./ci-context.ts";
import { outcomeOf, type ApprovalRecord } from "./core.ts";
import { ApprovalHolds } from "./session-hold.ts";

const testEnv = env as unknown as Env;
const RULE = "writes-need-approval";
const PIPELINE = { issuer: "https://token.actions.githubusercontent.com", subject: "repo:acme/shop:ref:refs/heads/main", claims: { repository: "acme/shop", run_id: "5" } };
const ALICE = principalOf({ issuer: "https://idp.example", subject: "alice", claims: { email: "alice@example.com" } });
const decision = { rule: RULE, reason: `rule '${RULE}' requires approval for write on demo-pg`, approvals: [{ rule: RULE, approvers: [{ role: "approver" }], timeoutMs: 60_000 }] };

let n = 0;
function setup(pollGraceMs?: number) {
  const sessionId = `10000000-0000-4000-8000-${String(++n).padStart(12, "0")}`;
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  const holds = new ApprovalHolds({ env: testEnv, sessionId, audit: { onEvent: async (type, data) => void events.push({ type, data }) }, pollGraceMs });
  return { sessionId, events, holds };
}

async function decided(id: string) {
  return outcomeOf((await getApproval(testEnv, id))!)!;
}

describe("ApprovalHolds", () => {
  it("announces the hold, then runs the statement once approved (consuming the approval)", async () => {
    const { holds, events, sessionId } = setup();
    const held = await holds.hold({ resource: "demo-pg", identity: PIPELINE, statement: "UPDATE orders SET x = 1", decision });
    expect(held.notice).toBe(`gatehouse: statement held for approval ${held.id} — approve with 'gatehouse approvals approve ${held.id}' or at ${held.url}`);
    expect(events[0]).toMatchObject({ type: "approval.requested", data: { request_id: held.id, text: "UPDATE orders SET x = 1" } });
    expect(holds.pendingCount).toBe(1);

    await approvalsStub(testEnv).vote(held.id, ALICE, "approve", "ok", [RULE]);
    expect(await holds.deliver(held.id, await decided(held.id))).toBe(true);
    expect(await held.verdict).toEqual({ run: true, id: held.id, reason: "approved by alice@example.com" });
    expect(events[1]).toMatchObject({ type: "approval.granted", data: { request_id: held.id, approver: "alice@example.com", votes: [{ approver: "alice@example.com", decision: "approve", reason: "ok" }] } });
    expect((await getApproval(testEnv, held.id))!.statement!.consumedAt).not.toBeNull();
    // A retried callback is acknowledged and changes nothing; other sessions' outcomes are not ours.
    expect(await holds.deliver(held.id, await decided(held.id))).toBe(true);
    expect(await setup().holds.deliver(held.id, await decided(held.id))).toBe(false);
    expect(sessionId).toBeTruthy();
  });

  it("refuses a denied statement with the reason", async () => {
    const { holds, events } = setup();
    const held = await holds.hold({ resource: "demo-pg", identity: PIPELINE, statement: "DELETE FROM orders", displayText: "DELETE FROM orders -- masked", decision });
    expect((await getApproval(testEnv, held.id))!.statement!.text).toBe("DELETE FROM orders -- masked");
    await approvalsStub(testEnv).vote(held.id, ALICE, "deny", "freeze", [RULE]);
    await holds.deliver(held.id, await decided(held.id));
    expect(await held.verdict).toEqual({ run: false, id: held.id, status: "denied", code: "42501", message: `gatehouse: statement not run: denied by alice@example.com: freeze (request ${held.id})` });
    expect(events[1]).toMatchObject({ type: "approval.denied", data: { approver: "alice@example.com", reason: "denied by alice@example.com: freeze" } });
  });

  it("refuses when the deadline passes, even if the callback never comes (fail closed)", async () => {
    const { holds, events } = setup(0);
    const held = await holds.hold({ resource: "demo-pg", identity: PIPELINE, statement: "UPDATE t SET y = 2", decision, timeoutMs: 10_000 });
    const stub = testEnv.APPROVALS.get(testEnv.APPROVALS.idFromName("approvals"));
    await runInDurableObject(stub, async (_o: unknown, state: DurableObjectState) => {
      const r = JSON.parse(state.storage.sql.exec<{ record: string }>("SELECT record FROM requests WHERE id = ?", held.id).one().record) as ApprovalRecord;
      r.expiresAt = Date.now() - 1;
      state.storage.sql.exec("UPDATE requests SET record = ?, deadline = ? WHERE id = ?", JSON.stringify(r), r.expiresAt, held.id);
    });
    await runDurableObjectAlarm(stub);
    // No deliver(): the safety timer (10 s deadline + 0 grace) asks the ApprovalsObject.
    const verdict = await held.verdict;
    expect(verdict).toMatchObject({ run: false, status: "expired", code: "42501" });
    expect(events.at(-1)).toMatchObject({ type: "approval.expired", data: { request_id: held.id } });
  });

  it("withdraws what still waits when the session ends", async () => {
    const { holds } = setup();
    const held = await holds.hold({ resource: "demo-pg", identity: PIPELINE, statement: "UPDATE t SET z = 3", decision });
    await holds.withdrawAll("the client disconnected");
    expect(await held.verdict).toMatchObject({ run: false, status: "withdrawn", message: `gatehouse: statement not run: the client disconnected (request ${held.id})` });
    expect((await getApproval(testEnv, held.id))!.status).toBe("withdrawn");
  });
});
