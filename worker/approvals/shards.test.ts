/**
 * A tenant's approvals over several ApprovalsObjects (hosted mode, `shards.approvals`): requests
 * land on the shard their id names, grants on their resource's shard, listings and grant lookups
 * fan out, and every shard's name carries the tenant, so another tenant's router never finds them.
 * Real objects in workerd, reached through the tenant namespaces the hosted worker uses.
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { TenantNamespace } from "../tenancy/tenant-env.ts";
import { approvalsStub, activeGrants, consumeApproval, createApprovalRequest, getApproval, noteGrantUse, statementSha256 } from "./client.ts";
import { principalOf } from "./ci-context.ts";
import { ID_ALPHABET, shardOfKey, type ApprovalsApi } from "./shards.ts";

const testEnv = env as unknown as Env;
const SHARDS = 3;
const RULE = "writes-need-approval";
const PIPELINE = { issuer: "https://token.actions.githubusercontent.com", subject: "repo:acme/shop:ref:refs/heads/main", claims: { repository: "acme/shop" } };
const ALICE = principalOf({ issuer: "https://idp.example", subject: "alice", claims: {} });
const CAROL = { issuer: "https://idp.example", subject: "carol", claims: {} };

function tenantEnv(name: string): Env {
  return {
    ...testEnv,
    APPROVALS: new TenantNamespace(testEnv.APPROVALS, name) as unknown as Env["APPROVALS"],
    TENANT: { name, via: "path", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null }, shards: { approvals: SHARDS } },
  };
}
/** Shard k of a tenant, reached directly by its full name. */
const shard = (tenant: string, k: number) => testEnv.APPROVALS.get(testEnv.APPROVALS.idFromName(`tenant:${tenant}:${k === 0 ? "approvals" : `approvals-${k}`}`)) as unknown as ApprovalsApi;
const shardOfId = (id: string) => ID_ALPHABET.indexOf(id.charAt(4));

let n = 0;
async function hold(e: Env) {
  const sessionId = `00000000-0000-4000-9000-${String(++n).padStart(12, "0")}`;
  const text = `UPDATE orders SET status = 'x' WHERE id = ${n}`;
  const sha = await statementSha256(text);
  const created = await createApprovalRequest(e, {
    sessionId,
    resource: "orders",
    identity: PIPELINE,
    statementText: text,
    statementSha256: sha,
    rule: RULE,
    approvals: [{ rule: RULE, approvers: [{ role: "approver" }], timeoutMs: 60_000 }],
  });
  return { ...created, sessionId, sha };
}

describe("approvals sharded within a tenant", () => {
  const acme = tenantEnv("acme");
  const beta = tenantEnv("beta");

  it("a held statement lives on its session's shard, named by its id; decided and used through the router", async () => {
    const held = await Promise.all(Array.from({ length: 12 }, () => hold(acme)));
    const used = new Set<number>();
    for (const h of held) {
      expect(h.id).toMatch(/^apr_[a-z2-9]{16}$/);
      const k = shardOfId(h.id);
      used.add(k);
      expect(k).toBe(shardOfKey(h.sessionId, SHARDS));
      // On its shard, and on no other.
      for (let j = 0; j < SHARDS; j++) expect((await shard("acme", j).get(h.id))?.id ?? null).toBe(j === k ? h.id : null);
    }
    expect(used.size).toBeGreaterThanOrEqual(2);
    const [first] = held;
    const voted = await approvalsStub(acme).vote(first!.id, ALICE, "approve", null, [RULE]);
    expect(voted.ok && voted.value.status).toBe("approved");
    expect((await consumeApproval(acme, first!.id, first!.sessionId, first!.sha)).statement?.consumedAt).not.toBeNull();
    // The listing asks every shard: all twelve, newest first.
    const listed = await approvalsStub(acme).list({ kind: "statement", limit: 200 });
    expect(held.every((h) => listed.some((r) => r.id === h.id))).toBe(true);
    expect(listed.map((r) => r.createdAt)).toEqual([...listed.map((r) => r.createdAt)].sort((a, b) => b - a));
    expect(new Set(listed.map((r) => shardOfId(r.id))).size).toBeGreaterThanOrEqual(2);

    // Another tenant's router never reaches acme's shards: not found, cannot be decided, not listed.
    expect(await getApproval(beta, held[1]!.id)).toBeNull();
    expect((await approvalsStub(beta).vote(held[1]!.id, ALICE, "approve", null, [RULE])).ok).toBe(false);
    expect((await getApproval(acme, held[1]!.id))!.status).toBe("pending");
    const betaListed = await approvalsStub(beta).list({ limit: 200 });
    expect(betaListed.some((r) => held.some((h) => h.id === r.id))).toBe(false);
  });

  it("grants live on their resource's shard; lookups for one resource ask one shard, without one every shard", async () => {
    const resources = ["orders", "billing", "users", "audit", "search", "ledger"];
    const ids: Record<string, string> = {};
    for (const resource of resources) {
      const created = await approvalsStub(acme).createGrant({ resource, requester: principalOf(CAROL), durationMs: 30 * 60_000, reason: "incident 7" });
      expect(created.ok).toBe(true);
      const id = created.ok ? created.value.id : "";
      expect(shardOfId(id)).toBe(shardOfKey(resource, SHARDS));
      expect((await approvalsStub(acme).vote(id, ALICE, "approve", null, ["grant"])).ok).toBe(true);
      ids[resource] = id;
    }
    expect(new Set(Object.values(ids).map(shardOfId)).size).toBeGreaterThanOrEqual(2);
    expect(await activeGrants(acme, CAROL)).toEqual([...resources].sort());
    for (const resource of resources) {
      expect(await activeGrants(acme, CAROL, resource)).toEqual([resource]);
      expect(await noteGrantUse(acme, "00000000-0000-4000-9000-ffffffffffff", CAROL, resource)).toEqual([ids[resource]]);
    }
    const revoked = await approvalsStub(acme).revoke(ids.billing!, ALICE, "done");
    expect(revoked.ok && revoked.value.status).toBe("revoked");
    expect(await activeGrants(acme, CAROL)).toEqual(resources.filter((r) => r !== "billing").sort());
    // The same identity has nothing at another tenant, whatever the shard.
    expect(await activeGrants(beta, CAROL)).toEqual([]);
    for (const resource of resources) expect(await activeGrants(beta, CAROL, resource)).toEqual([]);
    expect((await approvalsStub(beta).revoke(ids.orders!, ALICE, "not yours")).ok).toBe(false);
    expect(await activeGrants(acme, CAROL, "orders")).toEqual(["orders"]);
  });

  it("an unsharded deployment keeps its one object", async () => {
    const created = await createApprovalRequest(testEnv, {
      sessionId: "00000000-0000-4000-9000-eeeeeeeeeeee",
      resource: "orders",
      identity: PIPELINE,
      statementText: "DELETE FROM orders",
      statementSha256: await statementSha256("DELETE FROM orders"),
      rule: RULE,
      approvals: [{ rule: RULE, approvers: [{ role: "approver" }], timeoutMs: 60_000 }],
    });
    const one = testEnv.APPROVALS.get(testEnv.APPROVALS.idFromName("approvals")) as unknown as ApprovalsApi;
    expect((await one.get(created.id))?.id).toBe(created.id);
  });
});
