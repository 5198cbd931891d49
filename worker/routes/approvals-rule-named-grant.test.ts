/**
 * Who may vote on a held statement is its approve rule's `approvers:`, whatever the rule is called —
 * also a rule named `grant` (a natural name for the rule that holds GRANT statements), which is the
 * name of a just-in-time grant's requirement. Through the worker's own /v1/approvals routes in
 * workerd: real tokens verified against an inline JWKS, the real ApprovalsObject, the request made
 * as the session makes it (createApprovalRequest with the policy's decision).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import type { Env } from "../env.ts";
import worker from "../index.ts";
import { testIssuer, type TestIssuer } from "../limits/test-issuer.ts";
import { createApprovalRequest, getApproval } from "../approvals/client.ts";
import { compilePolicyText } from "../policy/current-policy.ts";
import { stmt } from "../../parsers/policy/test-fixtures.ts";

const ISSUER = "https://idp.rule-named-grant.test";
let idp: TestIssuer;
let e: Env;

const POLICY = `version: 1
roles:
  approver: [{ issuer: "${ISSUER}", claims: { groups: approvers } }]
rules:
  - name: everyone
    effect: allow
    subjects: [{ issuer: "${ISSUER}" }]
    resources: any
    actions: [connect, sql.read]
  - name: grant
    effect: approve
    subjects: [{ issuer: "${ISSUER}" }]
    resources: any
    actions: [sql.write]
    approvers: [{ issuer: "${ISSUER}", claims: { groups: security } }]
`;

beforeAll(async () => {
  idp = await testIssuer(ISSUER, "gatehouse-rule-named-grant");
  e = { ...(env as unknown as Env), GATEHOUSE_ISSUERS: idp.issuers, GATEHOUSE_POLICY: POLICY };
});

async function vote(id: string, token: string, decision: "approve" | "deny" = "approve") {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`http://127.0.0.1/v1/approvals/${id}/${decision}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ reason: "looks fine" }) }),
    e,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { status: res.status, json: (await res.json()) as { error?: string; reason?: string; request?: { status: string } } };
}

/** A statement held by the policy's rule `grant`, as the session holds it (with the policy's own decision). */
async function held(n: number): Promise<string> {
  const policy = await compilePolicyText(POLICY, "policy.yaml", []);
  const identity = { issuer: ISSUER, subject: "ci", claims: { sub: "ci" } };
  const decision = policy.decideSql({ identity, resource: { name: "orders", type: "postgres", labels: {} }, statements: [stmt("write", "UPDATE")] });
  expect(decision).toMatchObject({ effect: "approve", rule: "grant" });
  const created = await createApprovalRequest(e, {
    sessionId: `30000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    resource: "orders",
    identity,
    statementText: "UPDATE orders SET owner = 'ci'",
    statementSha256: "a".repeat(64),
    rule: decision.rule!,
    approvals: decision.approvals!,
  });
  return created.id;
}

describe("a held statement's approve rule named `grant`", () => {
  it("is decided by that rule's approvers, not by the grant approver role", async () => {
    const id = await held(1);
    // Bob holds the `approver` role (he approves just-in-time grants) but is not in `security`.
    const bob = await vote(id, await idp.token("bob", ["approvers"]));
    expect(bob.status).toBe(403);
    expect(bob.json.error).toBe("forbidden");
    expect((await getApproval(e, id))!.status).toBe("pending");
    // Nor can he deny it (a denial is a vote too).
    expect((await vote(id, await idp.token("bob", ["approvers"]), "deny")).status).toBe(403);
    expect((await getApproval(e, id))!.votes).toEqual([]);
    // Sue is in `security`: her vote decides it.
    const sue = await vote(id, await idp.token("sue", ["security"]));
    expect(sue.status).toBe(200);
    expect((await getApproval(e, id))!.status).toBe("approved");
  });

  it("leaves just-in-time grants to the approver role", async () => {
    const ctx = createExecutionContext();
    const asked = await worker.fetch(
      new Request("http://127.0.0.1/v1/grants", { method: "POST", headers: { authorization: `Bearer ${await idp.token("ci")}`, "content-type": "application/json" }, body: JSON.stringify({ resource: "orders", duration: "30m", reason: "migration" }) }),
      e,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(asked.status).toBe(201);
    const id = ((await asked.json()) as { request: { id: string } }).request.id;
    // Sue decides the rule named `grant`, not grants: she holds no approver role.
    expect((await vote(id, await idp.token("sue", ["security"]))).status).toBe(404);
    expect((await vote(id, await idp.token("bob", ["approvers"]))).status).toBe(200);
    expect((await getApproval(e, id))!.status).toBe("approved");
  });
});
