/**
 * Usage counters per billing period (docs/TENANCY.md "Limits and usage counters"): the period is
 * the calendar month in UTC of the increment's clock (injected here: no sleeping), totals keep
 * counting across periods and are what limits count, and concurrent increments lose nothing and
 * never pass a limit — each in the tenant's own store (the TenantStore object, as in hosted mode).
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { tenantDatabase, type TenantStoreNamespace } from "./tenant-store.ts";
import { addUsage, listRefusals, periodOf, periodQuery, readUsage, readUsagePeriods, recordRefusal, usageReport } from "./tenant-usage.ts";

const stores = (env as unknown as { TENANT_STORE: TenantStoreNamespace }).TENANT_STORE;
const at = (iso: string) => Date.parse(iso);

describe("billing periods", () => {
  it("a period is the calendar month in UTC, whatever the local offset of the instant's writer", () => {
    expect(periodOf(at("2026-11-30T23:59:59.999Z"))).toBe("2026-11");
    expect(periodOf(at("2026-12-01T00:00:00.000Z"))).toBe("2026-12");
    // 00:30 on 1 December in UTC+1 is still November in UTC.
    expect(periodOf(at("2026-12-01T00:30:00+01:00"))).toBe("2026-11");
    expect(periodOf(at("2027-01-01T00:00:00Z"))).toBe("2027-01");
    for (const bad of ["2026-13", "2026-00", "2026-1", "26-12", "2026-12-01", "2026/12", " 2026-12"]) expect(() => periodQuery(bad)).toThrow(/YYYY-MM/);
    expect(periodQuery("2026-12")).toBe("2026-12");
    expect(periodQuery(undefined)).toBeUndefined();
  });

  it("rolls over at midnight UTC on the first of the month; totals keep counting", async () => {
    const db = tenantDatabase(stores, "usage-roll");
    await addUsage(db, "sessions_started", 1, null, at("2026-11-30T23:59:59.999Z"));
    await addUsage(db, "sessions_started", 1, null, at("2026-11-15T12:00:00Z"));
    await addUsage(db, "sessions_started", 1, null, at("2026-12-01T00:00:00Z"));
    await addUsage(db, "recording_bytes", 500, null, at("2026-12-31T23:59:59Z"));
    await addUsage(db, "recording_bytes", 7, null, at("2027-01-01T00:00:00Z"));
    const periods = await readUsagePeriods(db);
    expect(periods.map((p) => [p.period, p.counters.sessions_started, p.counters.recording_bytes])).toEqual([
      ["2027-01", 0, 7],
      ["2026-12", 1, 500],
      ["2026-11", 2, 0],
    ]);
    expect(periods[1]).toMatchObject({ from: "2026-12-01T00:00:00.000Z", to: "2027-01-01T00:00:00.000Z" });
    expect(await readUsage(db)).toMatchObject({ sessions_started: 3, recording_bytes: 507 });
    // One period asked for: that one only; a period with nothing counted answers zeroes.
    expect((await readUsagePeriods(db, "2026-12")).map((p) => p.period)).toEqual(["2026-12"]);
    expect((await readUsagePeriods(db, "2025-06"))[0]!.counters).toMatchObject({ sessions_started: 0, recording_bytes: 0 });
    const report = await usageReport(db, undefined, at("2027-01-05T00:00:00Z"));
    expect(report).toMatchObject({ period_kind: "calendar month, UTC", current_period: "2027-01", totals: { sessions_started: 3 } });
  });

  it("limits count the total, not the period: a new month does not give the allowance back", async () => {
    const db = tenantDatabase(stores, "usage-limit");
    expect((await addUsage(db, "approval_requests", 2, 3, at("2026-11-20T00:00:00Z"))).ok).toBe(true);
    const refused = await addUsage(db, "approval_requests", 2, 3, at("2026-12-02T00:00:00Z"));
    expect(refused).toEqual({ ok: false, value: 2 });
    // The refused increment counted nowhere, in no period.
    expect((await readUsagePeriods(db, "2026-12"))[0]!.counters.approval_requests).toBe(0);
    expect((await addUsage(db, "approval_requests", 1, 3, at("2026-12-02T00:00:01Z"))).ok).toBe(true);
    expect((await readUsagePeriods(db)).map((p) => [p.period, p.counters.approval_requests])).toEqual([
      ["2026-12", 1],
      ["2026-11", 2],
    ]);
  });

  it("concurrent increments lose no update and never pass a limit, in the total and in the period", async () => {
    const db = tenantDatabase(stores, "usage-race");
    const now = at("2026-12-10T10:00:00Z");
    const free = await Promise.all(Array.from({ length: 60 }, () => addUsage(db, "sessions_started", 1, null, now)));
    expect(free.every((r) => r.ok)).toBe(true);
    // Every increment saw a distinct total: none was lost or applied twice.
    expect(new Set(free.map((r) => r.value)).size).toBe(60);
    expect((await readUsage(db)).sessions_started).toBe(60);
    expect((await readUsagePeriods(db, "2026-12"))[0]!.counters.sessions_started).toBe(60);
    const capped = await Promise.all(Array.from({ length: 60 }, () => addUsage(db, "approval_requests", 1, 25, now)));
    expect(capped.filter((r) => r.ok)).toHaveLength(25);
    expect((await readUsage(db)).approval_requests).toBe(25);
    expect((await readUsagePeriods(db, "2026-12"))[0]!.counters.approval_requests).toBe(25);
  });
});

describe("the refusal log", () => {
  it("keeps the newest rows only: a flood cannot grow the tenant's store without bound", async () => {
    const db = tenantDatabase(stores, "refusal-bound");
    for (let i = 0; i < 7; i++) {
      await recordRefusal(db, { at: i, via: "path", method: "GET", path: `/v1/x${i}`, status: 401, error: "unauthorized", reason: "r", tokenIssuer: null, tokenAudience: null, tokenSubject: null, connector: null, tokenTenant: null }, 3);
    }
    expect((await listRefusals(db)).map((r) => r.path)).toEqual(["/v1/x6", "/v1/x5", "/v1/x4"]);
  });
});
