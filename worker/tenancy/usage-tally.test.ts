/**
 * The API rate limit's refusals in the tenant's usage (`api_requests_refused`): counted by the
 * boundary, coalesced per isolate and tenant (usage-tally.ts) so a flood is about one store write
 * a second, not one per refusal — and every refusal is in the count. Unit tests of the tally with
 * a controlled clock, then the real boundary (serveHosted) in workerd in front of a worker that
 * answers 429 like the API limit, with the tenant's real store.
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import type { Env } from "../env.ts";
import { serveHosted } from "./boundary.ts";
import type { HostedEnv } from "./tenant-env.ts";
import { platformDatabase, tenantDatabase, type TenantStoreNamespace } from "./tenant-store.ts";
import { insertTenant } from "./tenant-registry.ts";
import type { TenantRecord } from "./tenant-record.ts";
import { listRefusals, readUsage, readUsagePeriods, USAGE_COUNTERS } from "./tenant-usage.ts";
import { UsageTally } from "./usage-tally.ts";

/** A tally whose windows close when the test says so. */
function manual() {
  const timers: Array<() => void> = [];
  const tally = new UsageTally(() => new Promise<void>((r) => timers.push(r)), 1000);
  const fire = async () => {
    for (const r of timers.splice(0)) r();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { tally, fire };
}

describe("UsageTally", () => {
  it("writes the first event at once and the rest of its window as one write; keys apart", async () => {
    const { tally, fire } = manual();
    const writes: Array<[string, number]> = [];
    const add = (key: string) => (n: number) => (writes.push([key, n]), Promise.resolve());
    const work: Array<Promise<void> | null> = [];
    for (let i = 0; i < 500; i++) work.push(tally.note("acme", 1_000 + i, add("acme")));
    work.push(tally.note("beta", 1_100, add("beta")));
    expect(work.filter((w) => w !== null)).toHaveLength(2);
    expect(writes).toEqual([["acme", 1], ["beta", 1]]);
    await fire();
    await Promise.all(work);
    expect(writes).toEqual([["acme", 1], ["beta", 1], ["acme", 499]]);
    // The next window starts afresh.
    expect(tally.note("acme", 2_600, add("acme"))).not.toBeNull();
    expect(writes.at(-1)).toEqual(["acme", 1]);
  });

  it("a window whose timer never fired is closed by the next event that finds it: nothing is left unwritten", async () => {
    const writes: number[] = [];
    const tally = new UsageTally(() => new Promise<void>(() => {}), 1000);
    void tally.note("acme", 0, (n) => (writes.push(n), Promise.resolve()));
    for (let i = 1; i <= 9; i++) void tally.note("acme", i, (n) => (writes.push(n), Promise.resolve()));
    const late = tally.note("acme", 5_000, (n) => (writes.push(n), Promise.resolve()));
    expect(late).not.toBeNull();
    expect(writes).toEqual([1, 9, 1]);
  });
});

describe("api_requests_refused through the boundary", () => {
  const stores = (env as unknown as { TENANT_STORE: TenantStoreNamespace }).TENANT_STORE;
  const record = (name: string): TenantRecord => ({
    name,
    issuers: "[]",
    connectors: "[]",
    policy: "",
    policySource: "p",
    maskingKey: "k".repeat(16),
    auditKeys: null,
    export: null,
    limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null, maxApiRequestsPerMinute: 2 },
    createdAt: 0,
    createdBy: "t",
  });
  /** The worker behind the boundary, answering as the API limit does. */
  const limited = {
    fetch: () =>
      Response.json(
        { error: "api_rate_limited", reason: "gatehouse: API request refused: the tenant's API rate limit is reached (max_api_requests_per_minute: 2); retry in 30 s", retry_after_seconds: 30 },
        { status: 429, headers: { "retry-after": "30" } },
      ),
  };
  const other = { fetch: () => Response.json({ error: "unauthorized", reason: "no token" }, { status: 401 }) };

  it("counts every API-limit refusal in the tenant's usage (total and period), coalesced; other refusals are not counted there", async () => {
    const name = "tally-acme";
    expect(await insertTenant(platformDatabase(stores), record(name))).toBe(true);
    const raw = { ...(env as unknown as HostedEnv), GATEHOUSE_TENANCY: "multi" } as HostedEnv;
    const serve = async (app: { fetch(): Response }) => {
      const ctx = createExecutionContext();
      const res = await serveHosted(app as unknown as { fetch(r: Request, e: Env, c: ExecutionContext): Response }, new Request(`https://gate.test/t/${name}/v1/admin/policy`), raw, ctx);
      return { res, done: waitOnExecutionContext(ctx) };
    };
    const pending: Array<Promise<void>> = [];
    for (let i = 0; i < 40; i++) {
      const { res, done } = await serve(limited);
      expect(res.status).toBe(429);
      pending.push(done);
    }
    for (let i = 0; i < 3; i++) pending.push((await serve(other)).done);
    await Promise.all(pending);
    const db = tenantDatabase(stores, name);
    const usage = await readUsage(db);
    expect(usage.api_requests_refused).toBe(40);
    expect(usage.requests_rate_limited).toBe(0);
    expect((await readUsagePeriods(db))[0]!.counters.api_requests_refused).toBe(40);
    // The refusal log, coalesced the same way: a row and a "39 more" row, not 40 rows.
    const rows = (await listRefusals(db)).filter((r) => r.error === "api_rate_limited");
    expect(rows).toHaveLength(2);
    expect(USAGE_COUNTERS).toContain("api_requests_refused");
  });
});
