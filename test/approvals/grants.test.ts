/**
 * Just-in-time grants and approval decisions end to end: the real worker (wrangler dev, workerd)
 * with the ApprovalsObject, the development OIDC issuer, and the `gatehouse` CLI as a child
 * process. Also: a pending request survives a worker restart and stays decidable.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { LocalStack } from "../../client/dev/stack.ts";
import { freePort } from "../../client/dev/ports.ts";
import { api, cli, grantPolicy, startApprovalsStack } from "./helpers.ts";

describe("grants and approvals through the real worker and CLI", () => {
  let home: string;
  let stack: LocalStack;
  let issuerPort: number;
  let tokens: { carol: string; alice: string; bob: string; dave: string };

  const start = async () => startApprovalsStack(home, issuerPort, grantPolicy(`http://127.0.0.1:${issuerPort}`));
  const mint = async () => ({
    carol: await stack.mintToken({ sub: "carol", claims: { email: "carol@example.com" } }),
    alice: await stack.mintToken({ sub: "alice", claims: { groups: ["approvers"], email: "alice@example.com" } }),
    bob: await stack.mintToken({ sub: "bob", claims: { groups: ["approvers"] } }),
    dave: await stack.mintToken({ sub: "dave" }),
  });

  beforeAll(async () => {
    home = await mkdtemp(path.join(tmpdir(), "gatehouse-grants-"));
    issuerPort = await freePort();
    stack = await start();
    tokens = await mint();
  });

  afterAll(async () => {
    await stack?.stop();
    await rm(home, { recursive: true, force: true });
  });

  let grantId = "";

  it("requests a grant with the CLI and lists it for approvers", async () => {
    const req = await cli(["access", "request", "demo-pg", "--for", "30m", "--reason", "incident 1234"], tokens.carol, stack.gatewayUrl);
    expect(req.stderr).toBe("");
    expect(req.code).toBe(0);
    grantId = /grant (grt_[a-z2-9]{16}) requested/.exec(req.stdout)![1]!;

    const list = await cli(["approvals", "list"], tokens.alice, stack.gatewayUrl);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${grantId}\\s+grant\\s+pending\\*\\s+demo-pg\\s+carol@example.com`));

    // Invisible to identities that are neither the requester nor an approver.
    expect((await api(stack.gatewayUrl, "GET", `/v1/grants/${grantId}`, tokens.dave)).status).toBe(404);
    expect((await api(stack.gatewayUrl, "GET", `/v1/grants/${grantId}`, "not-a-token")).status).toBe(401);
  });

  it("refuses self-approval, outsiders, and a denial without reason", async () => {
    const self = await cli(["approvals", "approve", grantId], tokens.carol, stack.gatewayUrl);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/HTTP 403: forbidden \(the requester cannot approve its own request\)/);
    const outsider = await api(stack.gatewayUrl, "POST", `/v1/approvals/${grantId}/approve`, tokens.dave, {});
    expect(outsider.status).toBe(404);
    const noReason = await cli(["approvals", "deny", grantId], tokens.alice, stack.gatewayUrl);
    expect(noReason.code).toBe(2);
  });

  it("activates on approval and ends on revocation", async () => {
    const ok = await cli(["approvals", "approve", grantId, "--reason", "on call"], tokens.alice, stack.gatewayUrl);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`${grantId} is approved: approved by alice@example.com`);
    const again = await cli(["approvals", "approve", grantId], tokens.bob, stack.gatewayUrl);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/HTTP 409: not-pending/);

    const active = await cli(["access", "list", "--active", "--json"], tokens.carol, stack.gatewayUrl);
    expect((JSON.parse(active.stdout) as Array<{ id: string }>).map((r) => r.id)).toContain(grantId);

    const revoke = await cli(["access", "revoke", grantId, "--reason", "done"], tokens.carol, stack.gatewayUrl);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(/status:\s+revoked/);
    const after = await api(stack.gatewayUrl, "GET", "/v1/grants?active=1", tokens.carol);
    expect(after.json.requests.map((r: { id: string }) => r.id)).not.toContain(grantId);

    const shown = await cli(["approvals", "show", grantId], tokens.alice, stack.gatewayUrl);
    expect(shown.stdout).toMatch(/vote:\s+approve by alice@example.com at .*: on call/);
    expect(shown.stdout).toMatch(/outcome:\s+revoked by carol@example.com: done/);
    expect(shown.stdout).toMatch(/history:\n.*requested\n.*vote\n.*approved\n.*revoked/);
  });

  it("keeps a pending request across a worker restart, still decidable", async () => {
    const created = await api(stack.gatewayUrl, "POST", "/v1/grants", tokens.carol, { resource: "demo-pg", duration: "15m", reason: "after restart" });
    expect(created.status).toBe(201);
    const id = created.json.request.id as string;

    await stack.stop();
    stack = await start();
    tokens = await mint();

    const pending = await api(stack.gatewayUrl, "GET", `/v1/grants/${id}`, tokens.alice);
    expect(pending.status).toBe(200);
    expect(pending.json.request.status).toBe("pending");
    const denied = await cli(["approvals", "deny", id, "--reason", "not today"], tokens.bob, stack.gatewayUrl);
    expect(denied.code).toBe(0);
    expect(denied.stdout).toContain(`${id} is denied: denied by bob: not today`);
  });
});
