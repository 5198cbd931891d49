/**
 * The boundary's refusal log under a flood (refusal-coalescer.ts): the first refusal of a kind is
 * written at once, the same kind within the window becomes one more row with its count, too many
 * kinds fold into one row per status — and every refusal is in a row or a row's count.
 */
import { describe, expect, it } from "vitest";
import { RefusalCoalescer } from "./refusal-coalescer.ts";
import type { Refusal } from "./tenant-usage.ts";

function refusal(over: Partial<Refusal> = {}): Refusal {
  return { at: 1_000, via: "path", method: "GET", path: "/v1/sessions", status: 401, error: "unauthorized", reason: "bad token", tokenIssuer: "https://idp", tokenAudience: "gatehouse-a", tokenSubject: "x", connector: null, tokenTenant: null, ...over };
}

/** The window's clock, closed by the test. */
function manualWindows(): { wait: () => Promise<void>; close: () => void } {
  const waiting: Array<() => void> = [];
  return {
    wait: () => new Promise<void>((resolve) => waiting.push(resolve)),
    close: () => {
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

/** How many refusals the rows account for: 1 per first row, N per "N more" row. */
function accounted(rows: Refusal[]): number {
  return rows.reduce((n, r) => n + (/^(\d+) more refusals? like/.exec(r.reason) ? Number(/^(\d+)/.exec(r.reason)![1]) : 1), 0);
}

describe("refusal log coalescing", () => {
  it("writes a kind's first refusal at once and the rest of its second as one row with the count", async () => {
    const clock = manualWindows();
    const c = new RefusalCoalescer(clock.wait);
    const rows: Refusal[] = [];
    const write = async (r: Refusal) => void rows.push({ ...r });
    const opened = c.note("acme", refusal(), write);
    expect(opened).not.toBeNull();
    for (let i = 1; i <= 500; i++) expect(c.note("acme", refusal({ at: 1_000 + i, reason: `bad token ${i}` }), write)).toBeNull();
    await Promise.resolve();
    expect(rows).toHaveLength(1);
    clock.close();
    await opened;
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ at: 1_500, path: "/v1/sessions", status: 401, tokenSubject: "x" });
    expect(rows[1]!.reason).toMatch(/^500 more refusals like the previous entry within 1000 ms/);
    expect(accounted(rows)).toBe(501);
    // The window is over: the next refusal of the kind is written at once again.
    const again = c.note("acme", refusal({ at: 9_000 }), write);
    expect(again).not.toBeNull();
    clock.close();
    await again;
    expect(rows).toHaveLength(3);
  });

  it("keeps kinds and tenants apart, and never writes one tenant's refusal with another's writer", async () => {
    const clock = manualWindows();
    const c = new RefusalCoalescer(clock.wait);
    const rows: Record<string, Refusal[]> = { acme: [], beta: [] };
    const writer = (t: string) => async (r: Refusal) => void rows[t]!.push(r);
    const work = [
      c.note("acme", refusal(), writer("acme")),
      c.note("acme", refusal({ tokenSubject: "y" }), writer("acme")),
      c.note("beta", refusal(), writer("beta")),
      c.note("acme", refusal({ status: 403, error: "forbidden" }), writer("acme")),
    ];
    expect(work.every((w) => w !== null)).toBe(true);
    expect(c.note("beta", refusal(), writer("beta"))).toBeNull();
    clock.close();
    await Promise.all(work);
    expect(rows.acme!.map((r) => [r.status, r.tokenSubject])).toEqual([
      [401, "x"],
      [401, "y"],
      [403, "x"],
    ]);
    expect(rows.beta).toHaveLength(2);
    expect(accounted(rows.beta!)).toBe(2);
  });

  it("folds more kinds than the cap in one second into one row per status, losing no count", async () => {
    const clock = manualWindows();
    const c = new RefusalCoalescer(clock.wait, undefined, 3);
    const rows: Refusal[] = [];
    const write = async (r: Refusal) => void rows.push({ ...r });
    const work: Array<Promise<void> | null> = [];
    for (let i = 0; i < 100; i++) work.push(c.note("acme", refusal({ tokenSubject: `s${i}` }), write));
    for (let i = 0; i < 10; i++) work.push(c.note("acme", refusal({ tokenSubject: `t${i}`, status: 404, error: "not_found" }), write));
    clock.close();
    await Promise.all(work);
    // 3 kinds, then one overflow row per status (401, 404), each with its own count row.
    expect(rows.filter((r) => r.error !== "many_kinds_of_refusal").map((r) => r.tokenSubject)).toEqual(["s0", "s1", "s2"]);
    const folded = rows.filter((r) => r.error === "many_kinds_of_refusal");
    expect(folded.map((r) => [r.status, r.path, r.tokenSubject])).toEqual([
      [401, "*", null],
      [404, "*", null],
      [401, "*", null],
      [404, "*", null],
    ]);
    expect(accounted(rows)).toBe(110);
    expect(rows.length).toBeLessThanOrEqual(7);
  });

  it("closes a window whose timer never fired at the next refusal that finds it: its count is written, the new refusal gets its own row", async () => {
    const never = () => new Promise<void>(() => {});
    const c = new RefusalCoalescer(never, undefined, 2);
    const rows: Refusal[] = [];
    const write = async (r: Refusal) => void rows.push({ ...r });
    void c.note("acme", refusal({ at: 1_000 }), write);
    for (let i = 1; i <= 9; i++) expect(c.note("acme", refusal({ at: 1_000 + i }), write)).toBeNull();
    // Two more kinds fill the cap; their timers never fire either.
    void c.note("acme", refusal({ at: 1_010, tokenSubject: "k2" }), write);
    // Well after the window: the stuck windows are closed and written, and this refusal is written at once.
    const later = c.note("acme", refusal({ at: 5_000, tokenSubject: "k3" }), write);
    expect(later).not.toBeNull();
    await Promise.race([later, new Promise((r) => setTimeout(r, 50))]);
    expect(rows.map((r) => [r.tokenSubject, r.error])).toContainEqual(["k3", "unauthorized"]);
    expect(rows.some((r) => /^9 more refusals like/.test(r.reason))).toBe(true);
    expect(accounted(rows)).toBe(12);
  });

  it("an overflow row keeps a few samples of what it folded", async () => {
    const clock = manualWindows();
    const c = new RefusalCoalescer(clock.wait, undefined, 1);
    const rows: Refusal[] = [];
    const write = async (r: Refusal) => void rows.push({ ...r });
    const work = [c.note("acme", refusal({ tokenSubject: "junk-0" }), write)];
    for (let i = 1; i <= 30; i++) work.push(c.note("acme", refusal({ tokenSubject: `junk-${i}`, path: `/v1/x${i}` }), write));
    work.push(c.note("acme", refusal({ tokenSubject: "real-admin", path: "/v1/admin/policy" }), write));
    clock.close();
    await Promise.all(work);
    const folded = rows.filter((r) => r.error === "many_kinds_of_refusal");
    expect(folded[0]!.reason).toContain("first: junk-1 GET /v1/x1");
    expect(folded[1]!.reason).toMatch(/^30 more refusals like the previous entry .*; among them: junk-2 GET \/v1\/x2 \| /);
    expect(accounted(rows)).toBe(32);
  });
});
