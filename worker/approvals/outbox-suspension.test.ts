/**
 * A suspended tenant's approvals object holds its outward notifications (docs/TENANCY.md
 * "Lifecycle"), in workerd with the real ApprovalsObject, its SQLite outbox and its alarm: while
 * told "suspended" a Slack notification is expanded and queued but not sent (not attempted, its
 * retries untouched, no alarm spinning on it); once told "resumed" it is sent at once; deleting the
 * tenant erases it unsent. The receiver is a loopback port nothing listens on, so an attempt shows
 * as a counted attempt with the network's error — ground truth that a send was tried, or not.
 */
import { describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import { TenantNamespace } from "../tenancy/tenant-env.ts";
import { createApprovalRequest, statementSha256 } from "./client.ts";
import { applyTestPolicy } from "../session/test-helpers.ts";

const testEnv = env as unknown as Env;
const WAIT = { timeout: 20_000, interval: 50 };
const POLICY = `
version: 1
rules:
  - name: everyone
    effect: allow
    subjects: any
    resources: any
    actions: [connect]
notifications:
  - name: team-slack
    type: slack
    url: http://127.0.0.1:9/slack
`;

function tenantEnv(name: string): Env {
  return {
    ...testEnv,
    APPROVALS: new TenantNamespace(testEnv.APPROVALS, name) as unknown as Env["APPROVALS"],
    TENANT: { name, via: "object", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null }, shards: { approvals: 1, hub: 1 } },
  };
}

const shardOf = (e: Env) => e.APPROVALS.get(e.APPROVALS.idFromName("approvals"));
type Sync = { syncTenantSuspension(s: { version: number; suspended: string | null }): Promise<{ applied: boolean; version: number }> };
const SUSPENDED = "gatehouse: the tenant is suspended by the platform";

let n = 0;
async function request(e: Env): Promise<string> {
  const text = "UPDATE orders SET status = 'x' WHERE id = 1";
  const created = await createApprovalRequest(e, {
    sessionId: `00000000-0000-4000-8000-${String(++n).padStart(12, "0")}`,
    resource: "demo-pg",
    identity: { issuer: "https://idp.example", subject: "ci", claims: {} },
    statementText: text,
    statementSha256: await statementSha256(text),
    rule: "writes-need-approval",
    approvals: [{ rule: "writes-need-approval", approvers: [{ role: "approver" }], timeoutMs: 10 * 60_000 }],
  });
  return created.id;
}

type Row = { kind: string; status: string; attempts: number; last_error: string | null };
async function slackRows(e: Env, id: string): Promise<Row[]> {
  return runInDurableObject(shardOf(e), async (_o: unknown, state: DurableObjectState) =>
    state.storage.sql.exec<Row>("SELECT kind, status, attempts, last_error FROM outbox WHERE request_id = ? AND kind = 'slack'", id).toArray(),
  );
}

async function alarmAt(e: Env): Promise<number | null> {
  return runInDurableObject(shardOf(e), async (_o: unknown, state: DurableObjectState) => state.storage.getAlarm());
}

describe("a suspended tenant's notification outbox", () => {
  it("holds outward notifications (Slack here; webhooks are held alike): kept, not attempted, no alarm spinning; sends them after resume", async () => {
    await applyTestPolicy(testEnv.DB, POLICY);
    const e = tenantEnv("outbox-hold");
    const shard = shardOf(e) as unknown as Sync;
    expect(await shard.syncTenantSuspension({ version: 1, suspended: SUSPENDED })).toEqual({ applied: true, version: 1 });

    const id = await request(e);
    // The alarm expands the fan-out into the Slack row — and holds it.
    await vi.waitFor(async () => expect(await slackRows(e, id)).toHaveLength(1), WAIT);
    await runDurableObjectAlarm(shardOf(e));
    await runDurableObjectAlarm(shardOf(e));
    expect(await slackRows(e, id)).toEqual([{ kind: "slack", status: "pending", attempts: 0, last_error: null }]);
    // The next alarm is the request's deadline (ten minutes away), not "now" for the held row.
    expect(await alarmAt(e)).toBeGreaterThan(Date.now() + 5 * 60_000);

    // A late, older "resumed" does not release it.
    expect(await shard.syncTenantSuspension({ version: 0, suspended: null })).toEqual({ applied: false, version: 1 });
    await runDurableObjectAlarm(shardOf(e));
    expect((await slackRows(e, id))[0]).toMatchObject({ status: "pending", attempts: 0 });

    // Resumed: sent at once (the alarm is set for now); nothing listens on the port, so the attempt fails and is counted.
    expect(await shard.syncTenantSuspension({ version: 2, suspended: null })).toEqual({ applied: true, version: 2 });
    await vi.waitFor(async () => {
      const [row] = await slackRows(e, id);
      expect(row!.attempts).toBeGreaterThanOrEqual(1);
      expect(row!.last_error).toEqual(expect.any(String));
    }, WAIT);
  });

  it("holds them on the tenant record's own word when the suspension's tell did not reach this shard (pending): not attempted until the record is active", async () => {
    await applyTestPolicy(testEnv.DB, POLICY);
    const e = tenantEnv("outbox-missed-tell");
    // Never told "suspended"; the object's Env (its tenant's newest record, as the refresh before a send gives it) says suspended.
    const setRecordSuspended = (suspended: boolean) =>
      runInDurableObject(shardOf(e), async (o: unknown) => {
        const object = o as { env: Env };
        Object.defineProperty(object, "env", { value: { ...object.env, TENANT: { ...e.TENANT!, suspended } }, configurable: true, writable: true });
      });
    await setRecordSuspended(true);
    const id = await request(e);
    await vi.waitFor(async () => expect(await slackRows(e, id)).toHaveLength(1), WAIT);
    await runDurableObjectAlarm(shardOf(e));
    await runDurableObjectAlarm(shardOf(e));
    expect(await slackRows(e, id)).toEqual([{ kind: "slack", status: "pending", attempts: 0, last_error: null }]);
    // The record says active again: the next look sends it (nothing listens: the attempt is counted).
    await setRecordSuspended(false);
    await runInDurableObject(shardOf(e), async (_o: unknown, state: DurableObjectState) => void state.storage.sql.exec("UPDATE outbox SET next_at = 0 WHERE request_id = ?", id));
    await runDurableObjectAlarm(shardOf(e));
    await vi.waitFor(async () => expect((await slackRows(e, id))[0]!.attempts).toBeGreaterThanOrEqual(1), WAIT);
  });

  it("is erased with the tenant, its held notifications never sent", async () => {
    const e = tenantEnv("outbox-deleted");
    const shard = shardOf(e) as unknown as Sync & { purgeTenantData(): Promise<void> };
    await shard.syncTenantSuspension({ version: 1, suspended: SUSPENDED });
    const id = await request(e);
    await vi.waitFor(async () => expect(await slackRows(e, id)).toHaveLength(1), WAIT);
    await shard.purgeTenantData();
    expect(await alarmAt(e)).toBeNull();
    // Every row gone (the tables themselves may be gone too).
    const left = await runInDurableObject(shardOf(e), async (_o: unknown, state: DurableObjectState) => {
      const exists = state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'outbox'").toArray().length > 0;
      return exists ? state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n : 0;
    });
    expect(left).toBe(0);
  });
});
