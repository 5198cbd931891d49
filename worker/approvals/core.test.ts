import { describe, expect, it } from "vitest";
import { ciContextOf, principalOf, type Principal } from "./ci-context.ts";
import {
  ApprovalError,
  castVote,
  consume,
  createGrantRequest,
  createStatementRequest,
  expireIfDue,
  isGrantActive,
  isSelf,
  nextDeadline,
  outcomeOf,
  revokeGrant,
  withdraw,
  type ApprovalRecord,
  type NewStatementRequest,
} from "./core.ts";
import { hmacSha256Hex, parseNotificationTargets, signWebhook, slackMessage, notificationTargetsFromPolicyText, NotificationConfigError } from "./notifications.ts";

const T0 = Date.UTC(2026, 10, 27, 4, 0, 0);
const SHA = "a".repeat(64);
const GH = "https://token.actions.githubusercontent.com";
const IDP = "https://idp.example";

const pipeline = principalOf({
  issuer: GH,
  subject: "repo:acme/shop:ref:refs/heads/main",
  claims: { repository: "acme/shop", ref: "refs/heads/main", sha: "0123456789abcdef", workflow: "deploy", run_id: "4711", run_attempt: "2", actor: "octocat" },
});
const alice: Principal = { issuer: IDP, subject: "alice", label: "alice@example.com" };
const bob: Principal = { issuer: IDP, subject: "bob", label: "bob@example.com" };
const carol: Principal = { issuer: IDP, subject: "carol", label: "carol@example.com" };

function request(over: Partial<NewStatementRequest> = {}): ApprovalRecord {
  return createStatementRequest(
    {
      sessionId: "s-1",
      resource: "demo-pg",
      requester: pipeline,
      statementText: "UPDATE orders SET status = 'shipped' WHERE id = 1",
      statementSha256: SHA,
      rule: "writes-need-approval",
      requirements: [{ rule: "writes-need-approval", approvers: [{ role: "approver" }], timeoutMs: 15 * 60_000 }],
      ...over,
    },
    "apr_test",
    T0,
  );
}

function refused(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApprovalError) return e.code;
    throw e;
  }
  throw new Error("expected an ApprovalError");
}

const approve = (r: ApprovalRecord, voter: Principal, at = T0 + 1000, rules = ["writes-need-approval"]) => castVote(r, { voter, decision: "approve", reason: null, eligibleRules: rules }, at);

describe("CI context", () => {
  it("describes a GitHub Actions requester with a link to the run", () => {
    expect(pipeline.ci).toEqual({
      provider: "github",
      repository: "acme/shop",
      ref: "refs/heads/main",
      sha: "0123456789abcdef",
      workflow: "deploy",
      runId: "4711",
      runAttempt: "2",
      actor: "octocat",
      runUrl: "https://github.com/acme/shop/actions/runs/4711/attempts/2",
    });
    expect(pipeline.label).toBe("acme/shop@refs/heads/main (deploy)");
  });

  it("describes a GitLab CI requester with a pipeline link on its own instance", () => {
    const ci = ciContextOf({
      issuer: "https://gitlab.example.com",
      subject: "project_path:grp/app:ref_type:branch:ref:main",
      claims: { project_path: "grp/app", ref: "main", sha: "abc", pipeline_id: 99, user_login: "dev1", ci_config_ref_uri: "gitlab.example.com/grp/app//.gitlab-ci.yml@refs/heads/main" },
    });
    expect(ci).toMatchObject({ provider: "gitlab", repository: "grp/app", runId: "99", actor: "dev1", runUrl: "https://gitlab.example.com/grp/app/-/pipelines/99" });
  });

  it("does not build links from unsafe claim values", () => {
    const ci = ciContextOf({ issuer: GH, subject: "x", claims: { repository: "evil\"><script>", run_id: "1" } });
    expect(ci?.runUrl).toBeUndefined();
  });

  it("treats people as people", () => {
    expect(principalOf({ issuer: IDP, subject: "u1", claims: { email: "u1@example.com" } })).toEqual({ issuer: IDP, subject: "u1", label: "u1@example.com" });
  });
});

describe("statement approval requests", () => {
  it("keeps the parameters approvers saw, and refuses what is too long to show whole instead of cutting it", () => {
    expect(request({ parameters: ["$1 = '7'"] }).statement?.parameters).toEqual(["$1 = '7'"]);
    expect(request().statement?.parameters).toBeUndefined();
    expect(refused(() => request({ statementText: "x".repeat(64 * 1024 + 1) }))).toBe("invalid");
    expect(refused(() => request({ statementText: "select $1", parameters: ["x".repeat(64 * 1024)] }))).toBe("invalid");
  });

  it("takes the shortest rule timeout and clamps it", () => {
    const r = request({
      requirements: [
        { rule: "a", approvers: null, timeoutMs: 30 * 60_000 },
        { rule: "b", approvers: null, timeoutMs: 5 * 60_000 },
      ],
    });
    expect(r.expiresAt - T0).toBe(5 * 60_000);
    expect(request({ requirements: [{ rule: "a", approvers: null, timeoutMs: null }] }).expiresAt - T0).toBe(15 * 60_000);
    expect(request({ timeoutMs: 1 }).expiresAt - T0).toBe(10_000);
    expect(nextDeadline(r)).toBe(r.expiresAt);
  });

  it("is approved by one eligible approver by default", () => {
    const r = approve(request(), alice);
    expect(r.status).toBe("approved");
    expect(r.outcomeReason).toBe("approved by alice@example.com");
    expect(outcomeOf(r)).toMatchObject({ id: "apr_test", status: "approved", sessionId: "s-1", statementSha256: SHA });
    expect(nextDeadline(r)).toBeNull();
  });

  it("refuses the requester itself, jobs of the same run, and pipelines of the same actor", () => {
    const r = request();
    expect(refused(() => approve(r, pipeline))).toBe("self-approval");
    const sameRunOtherJob = principalOf({ issuer: GH, subject: "repo:acme/shop:environment:prod", claims: { repository: "acme/shop", run_id: "4711", actor: "someone" } });
    expect(refused(() => approve(r, sameRunOtherJob))).toBe("self-approval");
    const sameActorOtherRepo = principalOf({ issuer: GH, subject: "repo:acme/tools:ref:refs/heads/main", claims: { repository: "acme/tools", run_id: "5", actor: "octocat" } });
    expect(refused(() => approve(r, sameActorOtherRepo))).toBe("self-approval");
    expect(isSelf(pipeline, alice)).toBeNull();
  });

  it("refuses identities the policy does not name as approvers", () => {
    expect(refused(() => approve(request(), alice, T0 + 1, []))).toBe("not-approver");
    expect(refused(() => approve(request(), alice, T0 + 1, ["some-other-rule"]))).toBe("not-approver");
  });

  it("needs N distinct approvals when the policy says so", () => {
    let r = request({ requirements: [{ rule: "writes-need-approval", approvers: null, timeoutMs: null, required: 2 }] });
    r = approve(r, alice);
    expect(r.status).toBe("pending");
    expect(refused(() => approve(r, alice))).toBe("already-voted");
    r = approve(r, bob);
    expect(r.status).toBe("approved");
    expect(r.votes.map((v) => v.approver.subject)).toEqual(["alice", "bob"]);
  });

  it("counts two jobs of one CI run as one approver", () => {
    const job1 = principalOf({ issuer: GH, subject: "repo:acme/ops:job:1", claims: { repository: "acme/ops", run_id: "77", actor: "a" } });
    const job2 = principalOf({ issuer: GH, subject: "repo:acme/ops:job:2", claims: { repository: "acme/ops", run_id: "77", actor: "b" } });
    const r = approve(request({ requirements: [{ rule: "writes-need-approval", approvers: null, timeoutMs: null, required: 2 }] }), job1);
    expect(refused(() => approve(r, job2))).toBe("already-voted");
  });

  it("needs every requirement met", () => {
    let r = request({
      requirements: [
        { rule: "orders", approvers: null, timeoutMs: null },
        { rule: "payments", approvers: null, timeoutMs: null },
      ],
    });
    r = approve(r, alice, T0 + 1, ["orders"]);
    expect(r.status).toBe("pending");
    r = approve(r, bob, T0 + 2, ["payments"]);
    expect(r.status).toBe("approved");
  });

  it("is denied by one eligible denial, which needs a reason", () => {
    const r = request();
    expect(refused(() => castVote(r, { voter: alice, decision: "deny", reason: "  ", eligibleRules: ["writes-need-approval"] }, T0 + 1))).toBe("invalid");
    const denied = castVote(r, { voter: alice, decision: "deny", reason: "not during the freeze", eligibleRules: ["writes-need-approval"] }, T0 + 1);
    expect(denied.status).toBe("denied");
    expect(denied.outcomeReason).toBe("denied by alice@example.com: not during the freeze");
    expect(refused(() => approve(denied, bob))).toBe("not-pending");
  });

  it("expires at its deadline and refuses late votes", () => {
    const r = request();
    expect(expireIfDue(r, r.expiresAt - 1)).toBeNull();
    expect(refused(() => approve(r, alice, r.expiresAt))).toBe("expired");
    const expired = expireIfDue(r, r.expiresAt)!;
    expect(expired.status).toBe("expired");
    expect(expired.outcomeReason).toBe("no decision within 15m: the request timed out");
    expect(outcomeOf(expired)?.status).toBe("expired");
  });

  it("runs only in the asking session, only for the approved statement, only once", () => {
    const approved = approve(request(), alice);
    expect(refused(() => consume(request(), "s-1", SHA, T0))).toBe("not-pending");
    expect(refused(() => consume(approved, "s-2", SHA, T0))).toBe("binding-mismatch");
    expect(refused(() => consume(approved, "s-1", "b".repeat(64), T0))).toBe("binding-mismatch");
    const used = consume(approved, "s-1", SHA, T0 + 5);
    expect(used.statement!.consumedAt).toBe(T0 + 5);
    expect(refused(() => consume(used, "s-1", SHA, T0 + 6))).toBe("already-used");
  });

  it("is withdrawn when its session ends first", () => {
    const r = withdraw(request(), "s-1", "client disconnected", T0 + 1);
    expect(r.status).toBe("withdrawn");
    expect(refused(() => withdraw(request(), "s-9", "x", T0))).toBe("binding-mismatch");
    expect(outcomeOf(r)?.status).toBe("withdrawn");
  });

  it("rejects malformed requests", () => {
    expect(refused(() => request({ statementSha256: "xyz" }))).toBe("invalid");
    expect(refused(() => request({ requirements: [] }))).toBe("invalid");
    expect(refused(() => request({ requirements: [{ rule: "r", approvers: null, timeoutMs: null, required: 0 }] }))).toBe("invalid");
  });
});

describe("just-in-time grants", () => {
  const grant = () => createGrantRequest({ resource: "demo-pg", requester: carol, durationMs: 30 * 60_000, reason: "incident 123" }, "grt_test", T0);

  it("validates duration and reason", () => {
    expect(refused(() => createGrantRequest({ resource: "demo-pg", requester: carol, durationMs: 1000, reason: "x" }, "g", T0))).toBe("invalid");
    expect(refused(() => createGrantRequest({ resource: "demo-pg", requester: carol, durationMs: 13 * 3_600_000, reason: "x" }, "g", T0))).toBe("invalid");
    expect(refused(() => createGrantRequest({ resource: "demo-pg", requester: carol, durationMs: 60_000, reason: " " }, "g", T0))).toBe("invalid");
  });

  it("is active from approval for its duration, then expires", () => {
    const g = castVote(grant(), { voter: alice, decision: "approve", reason: null, eligibleRules: ["grant"] }, T0 + 10_000);
    expect(g.status).toBe("approved");
    expect(g.grant).toMatchObject({ startsAt: T0 + 10_000, endsAt: T0 + 10_000 + 30 * 60_000 });
    expect(isGrantActive(g, T0 + 20_000)).toBe(true);
    expect(nextDeadline(g)).toBe(g.grant!.endsAt);
    expect(expireIfDue(g, g.grant!.endsAt - 1)).toBeNull();
    const ended = expireIfDue(g, g.grant!.endsAt)!;
    expect(ended.status).toBe("expired");
    expect(isGrantActive(ended, g.grant!.endsAt)).toBe(false);
    expect(isGrantActive(grant(), T0)).toBe(false);
  });

  it("cannot be approved by its requester and can be revoked", () => {
    expect(refused(() => castVote(grant(), { voter: carol, decision: "approve", reason: null, eligibleRules: ["grant"] }, T0 + 1))).toBe("self-approval");
    const g = castVote(grant(), { voter: alice, decision: "approve", reason: null, eligibleRules: ["grant"] }, T0 + 1);
    const revoked = revokeGrant(g, bob, "incident over", T0 + 2);
    expect(revoked.status).toBe("revoked");
    expect(revoked.grant).toMatchObject({ revokedAt: T0 + 2, revokeReason: "incident over" });
    expect(isGrantActive(revoked, T0 + 3)).toBe(false);
    expect(refused(() => revokeGrant(revoked, bob, null, T0 + 4))).toBe("not-pending");
  });
});

describe("notifications", () => {
  it("parses a valid section and refuses secrets in the policy text", () => {
    const targets = parseNotificationTargets([
      { name: "ops", type: "webhook", url: "https://hooks.example.com/x", secret: "env:GATEHOUSE_WEBHOOK_SECRET", events: ["approval.requested"] },
      { name: "chat", type: "slack", url: "env:GATEHOUSE_SLACK_WEBHOOK_URL", resources: ["demo-pg"] },
    ]);
    expect(targets).toHaveLength(2);
    expect(() => parseNotificationTargets([{ name: "x", type: "webhook", url: "https://a.example", secret: "hunter2" }])).toThrow(NotificationConfigError);
    expect(() => parseNotificationTargets([{ name: "x", type: "webhook", url: "https://a.example", secret: "env:GATEHOUSE_AUDIT_KEYS" }])).toThrow(/env reference/);
    expect(() => parseNotificationTargets([{ name: "x", type: "slack", url: "http://hooks.example.com" }])).toThrow(/https/);
    expect(() => parseNotificationTargets([{ name: "x", type: "slack", url: "http://127.0.0.1:9/x", extra: 1 }])).toThrow(/unknown key/);
    expect(notificationTargetsFromPolicyText("version: 1\nrules: []\n")).toEqual([]);
  });

  it("signs with HMAC-SHA256 over '<timestamp>.<body>'", async () => {
    // RFC 4231 test case 2.
    expect(await hmacSha256Hex("Jefe", "what do ya want for nothing?")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    expect(await signWebhook("k", 1700000000, "{}")).toBe(`v1=${await hmacSha256Hex("k", "1700000000.{}")}`);
  });

  it("builds Slack messages that cannot inject links or mentions", () => {
    const r = request({ statementText: "UPDATE t SET x = '<!channel> <https://evil|click>'" });
    const msg = slackMessage(r, "approval.requested", "https://gw.example");
    expect(msg.text).toContain("approval needed");
    const all = JSON.stringify(msg.blocks);
    expect(all).not.toContain("<!channel>");
    expect(all).toContain("&lt;!channel&gt;");
    expect(all).toContain("gatehouse approvals approve apr_test");
    expect(all).toContain("<https://github.com/acme/shop/actions/runs/4711/attempts/2|run 4711>");
  });
});
