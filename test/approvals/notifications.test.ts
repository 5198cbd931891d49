/**
 * Notifications end to end: the real worker (wrangler dev) posts to a local HTTP receiver acting
 * as a generic webhook endpoint and as a Slack incoming webhook. Verified: HMAC signatures as a
 * receiver checks them, retries with backoff after receiver failures (same delivery id), the
 * Slack message shape, per-target event filters, secrets from worker variables only.
 *
 * Needs the policy loader to accept the `notifications:` section (docs/APPROVALS.md,
 * "Pending policy support").
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { LocalStack } from "../../client/dev/stack.ts";
import { freePort } from "../../client/dev/ports.ts";
import { api, grantPolicy, startApprovalsStack, startReceiver, verifySignature, waitFor } from "./helpers.ts";

const SECRET = "whsec-test-0123456789";

describe("approval notifications", () => {
  let home: string;
  let stack: LocalStack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let grantId = "";

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), "gatehouse-notify-"));
    receiver = await startReceiver(2);
    const issuerPort = await freePort();
    const notifications = `notifications:
  - name: ops-webhook
    type: webhook
    url: ${receiver.url}/hook
    secret: env:GATEHOUSE_WEBHOOK_SECRET
  - name: team-slack
    type: slack
    url: env:GATEHOUSE_SLACK_WEBHOOK_URL
    events: [grant.requested, grant.approved]
`;
    stack = await startApprovalsStack(home, issuerPort, grantPolicy(`http://127.0.0.1:${issuerPort}`, notifications), {
      GATEHOUSE_WEBHOOK_SECRET: SECRET,
      GATEHOUSE_SLACK_WEBHOOK_URL: `${receiver.url}/slack`,
    });
    const carol = await stack.mintToken({ sub: "carol", claims: { email: "carol@example.com" } });
    const alice = await stack.mintToken({ sub: "alice", claims: { groups: ["approvers"], email: "alice@example.com" } });
    const created = await api(stack.gatewayUrl, "POST", "/v1/grants", carol, { resource: "demo-pg", duration: "30m", reason: "incident 1234" });
    expect(created.status).toBe(201);
    grantId = created.json.request.id;
    expect((await api(stack.gatewayUrl, "POST", `/v1/grants/${grantId}/approve`, alice, {})).status).toBe(200);
    expect((await api(stack.gatewayUrl, "POST", `/v1/grants/${grantId}/revoke`, carol, { reason: "done" })).status).toBe(200);
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver?.close();
    await rm(home, { recursive: true, force: true });
  });

  it("delivers signed webhooks, retrying after receiver failures", async () => {
    const hooks = await waitFor("three delivered webhooks", () => {
      const ok = receiver.received.filter((r) => r.path === "/hook" && r.status === 200);
      return ok.length >= 3 && ok;
    });
    for (const h of receiver.received.filter((r) => r.path === "/hook")) expect(verifySignature(h, SECRET)).toBe(true);
    // Tampering and a wrong secret are detected by the same check.
    expect(verifySignature({ ...hooks[0]!, body: hooks[0]!.body.replace("demo-pg", "demo-pf") }, SECRET)).toBe(false);
    expect(verifySignature(hooks[0]!, "another-secret")).toBe(false);

    const events = hooks.map((h) => JSON.parse(h.body) as { event: string; delivery: string; request: { id: string; requester: { label: string } } });
    expect(events.map((e) => e.event).sort()).toEqual(["grant.approved", "grant.requested", "grant.revoked"]);
    for (const e of events) expect(e.request).toMatchObject({ id: grantId, requester: { label: "carol@example.com" } });
    for (const h of hooks) {
      const body = JSON.parse(h.body) as { event: string; delivery: string };
      expect(h.headers["x-gatehouse-event"]).toBe(body.event);
      expect(h.headers["x-gatehouse-delivery"]).toBe(body.delivery);
    }

    // The first two attempts failed (HTTP 500) and were retried with the same delivery id.
    const failed = receiver.received.filter((r) => r.path === "/hook" && r.status === 500);
    expect(failed).toHaveLength(2);
    const retried = failed.map((f) => f.headers["x-gatehouse-delivery"]);
    expect(hooks.some((h) => retried.includes(h.headers["x-gatehouse-delivery"]))).toBe(true);

    const alice = await stack.mintToken({ sub: "alice", claims: { groups: ["approvers"] } });
    const shown = await api(stack.gatewayUrl, "GET", `/v1/grants/${grantId}`, alice);
    const webhookRows = (shown.json.deliveries as Array<{ kind: string; status: string; attempts: number }>).filter((d) => d.kind === "webhook");
    expect(webhookRows.every((d) => d.status === "delivered")).toBe(true);
    expect(Math.max(...webhookRows.map((d) => d.attempts))).toBeGreaterThanOrEqual(2);
  });

  it("posts Slack-compatible messages for the events the target asked for", async () => {
    const slack = await waitFor("two Slack messages", () => {
      const got = receiver.received.filter((r) => r.path === "/slack");
      return got.length >= 2 && got;
    });
    const messages = slack.map((s) => JSON.parse(s.body) as { text: string; blocks: Array<{ type: string; text?: { type: string; text: string } }> });
    const requested = messages.find((m) => m.text.includes("approval needed"))!;
    expect(requested.text).toContain("carol@example.com requests access to *demo-pg* for 30m");
    expect(requested.blocks[0]).toEqual({ type: "section", text: { type: "mrkdwn", text: requested.text } });
    expect(JSON.stringify(requested.blocks)).toContain(`gatehouse approvals approve ${grantId}`);
    expect(messages.some((m) => m.text.includes(`Grant ${grantId} approved`))).toBe(true);
    // grant.revoked was not subscribed by this target; Slack messages are not signed.
    expect(messages.some((m) => m.text.includes("revoked"))).toBe(false);
    expect(slack.every((s) => s.headers["x-gatehouse-signature"] === undefined)).toBe(true);
  });
});
