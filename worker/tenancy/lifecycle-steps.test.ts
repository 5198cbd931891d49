/**
 * Lifecycle steps racing each other (docs/TENANCY.md "Lifecycle: serialised by the record's
 * version"), in workerd with the real platform registry, the tenant's own database, its limiter,
 * two hub shards and two approvals shards. Each test records the steps' intents the way the
 * platform routes do (recordIntent), then delivers their tells in a chosen order (converge), and
 * checks that the record and every piece end in agreement:
 *
 *  - a resume recorded before a suspend but told after it (a late resume) does not undo it;
 *  - a suspend told after a newer resume does not undo that, nor end the resumed tenant's sessions;
 *  - both orders of delivery end in the newer step's state, and so do steps run at once;
 *  - a piece that cannot be reached is left pending on the record (shown by `admin tenants show`),
 *    keeps its old state meanwhile, and is told by the registry's alarm once it is back; a resume
 *    with a piece pending leaves the tenant suspended until the alarm has told it.
 *
 * The outage is the only thing played: a namespace whose stubs of one object refuse calls (the
 * object itself is real and keeps its state).
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import type { Env } from "../env.ts";
import { tenantEnv, type MultiTenantEnv } from "./tenant-env.ts";
import { PLATFORM_STORE, platformDatabase, schedulePendingRetry, tenantDatabase, type TenantStoreNamespace } from "./tenant-store.ts";
import { insertTenant, readTenant } from "./tenant-registry.ts";
import { publicView, type LifecycleIntent, type TenantRecord } from "./tenant-record.ts";
import { converge, recordIntent } from "./lifecycle-steps.ts";
import { tenantSuspension } from "./tenant-suspension.ts";
import { tenantObjectName } from "./object-names.ts";
import { hubShard } from "../connectors/hub-shards.ts";
import { approvalShards } from "../approvals/shards.ts";
import { APPROVALS_OBJECT_NAME } from "../approvals/client.ts";
import { CONNECTOR_HEADER } from "../session/session-object.ts";
import { HUB_SHARD_HEADER } from "../connectors/hub-shards.ts";
import { TUNNEL_SUBPROTOCOL } from "../../parsers/tunnel/frames.ts";
import { testTenantRecord } from "./test-records.ts";

const raw = env as unknown as MultiTenantEnv & { TENANT_STORE: TenantStoreNamespace };
const registry = () => platformDatabase(raw.TENANT_STORE);
const ADMIN = "https://platform.example platform-admin";

async function newTenant(name: string): Promise<TenantRecord> {
  const record = testTenantRecord(name, ADMIN, { shards: { approvals: 2, hub: 2 } });
  expect(await insertTenant(registry(), record)).toBe(true);
  return record;
}

/** The objects of `names` (object names inside the tenant) refuse every call while listed in `down`. */
function withOutage(hosted: MultiTenantEnv, down: Set<string>): MultiTenantEnv {
  const flaky = <T extends Rpc.DurableObjectBranded | undefined>(ns: DurableObjectNamespace<T>): DurableObjectNamespace<T> =>
    ({
      idFromName: (n: string) => ns.idFromName(n),
      get: (id: DurableObjectId) => {
        const stub = ns.get(id);
        return new Proxy(stub, {
          get: (target, prop) => (...args: unknown[]) => {
            if (down.has(id.name ?? "")) return Promise.reject(new Error(`${id.name} is unreachable (outage)`));
            return (target as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[prop]!(...args);
          },
        });
      },
    }) as unknown as DurableObjectNamespace<T>;
  return { ...hosted, CONNECTOR_HUB: flaky(hosted.CONNECTOR_HUB), APPROVALS: flaky(hosted.APPROVALS) };
}

function envOf(record: TenantRecord): Env {
  return tenantEnv(raw, record, { name: record.name, via: "object" });
}

/** Does hub shard k give the tenant's connector a control channel (true) or refuse it as suspended (false)? */
async function hubAdmits(e: Env, k: number): Promise<boolean> {
  const res = await hubShard(e, k).fetch("https://hub/control", { headers: { upgrade: "websocket", "sec-websocket-protocol": TUNNEL_SUBPROTOCOL, [CONNECTOR_HEADER]: "dc1", [HUB_SHARD_HEADER]: String(k) } });
  if (res.status === 101) {
    res.webSocket!.accept();
    res.webSocket!.close(1000, "probe");
    return true;
  }
  expect(res.status).toBe(403);
  return false;
}

type Seen = "suspended" | "active";
const as = (suspended: boolean): Seen => (suspended ? "suspended" : "active");

/** What each piece holds now, asked of the piece itself. */
async function pieces(record: TenantRecord): Promise<Record<string, Seen>> {
  const e = envOf(record);
  const limiter = e.SESSION_LIMITER.get(e.SESSION_LIMITER.idFromName("limits"));
  const api = await limiter.takeApiRequests("callers", 1, { ratePerSecond: 1000, burst: 1000 });
  const approvals = await Promise.all(
    approvalShards(e, APPROVALS_OBJECT_NAME).map((shard) =>
      runInDurableObject(shard as unknown as DurableObjectStub, async (_o: unknown, state: DurableObjectState) => state.storage.sql.exec<{ suspended: string | null }>("SELECT suspended FROM tenant_lifecycle").toArray()[0]?.suspended ?? null),
    ),
  );
  return {
    store: as((await tenantSuspension(tenantDatabase(raw.TENANT_STORE, record.name))) !== null),
    limiter: as(api.suspended !== undefined),
    "hub-0": as(!(await hubAdmits(e, 0))),
    "hub-1": as(!(await hubAdmits(e, 1))),
    "approvals-0": as(approvals[0] !== null),
    "approvals-1": as(approvals[1] !== null),
  };
}

const everywhere = (s: Seen) => ({ store: s, limiter: s, "hub-0": s, "hub-1": s, "approvals-0": s, "approvals-1": s });

async function current(name: string): Promise<TenantRecord> {
  return (await readTenant(registry(), name))!;
}

/** One whole step as the platform route runs it. */
async function step(name: string, intent: LifecycleIntent, hosted: MultiTenantEnv = raw) {
  const recorded = await recordIntent(registry(), name, intent, ADMIN, `${intent} by a test`);
  return converge(hosted, registry(), recorded);
}

describe("a resume settling", () => {
  it("raises the record's version when it marks the tenant active: an object that loaded the record while it said suspended sees a newer one and reloads", async () => {
    const t = await newTenant("resume-settles");
    await step(t.name, "suspend");
    const resume = await recordIntent(registry(), t.name, "resume", ADMIN, "");
    // What the pieces are told (and objects reloading on that tell load): the resume's version, still "suspended".
    expect(resume).toMatchObject({ status: "suspended", lifecycle: { intent: "resume" } });
    const settled = await converge(raw, registry(), resume);
    expect(settled.record).toMatchObject({ status: "active", version: resume.version! + 1 });
    expect(await pieces(t)).toEqual(everywhere("active"));
  });
});

describe("suspend and resume racing: the newer step wins everywhere, whichever tell arrives last", () => {
  it("a resume recorded before a suspend but told after it does not undo the suspension", async () => {
    const t = await newTenant("race-late-resume");
    await step(t.name, "suspend");
    const resume = await recordIntent(registry(), t.name, "resume", ADMIN, "");
    const suspend = await recordIntent(registry(), t.name, "suspend", ADMIN, "again");
    expect(suspend.version).toBe(resume.version! + 1);
    expect((await converge(raw, registry(), suspend)).superseded).toBe(false);
    const late = await converge(raw, registry(), resume);
    expect(late.superseded).toBe(true);
    expect(await pieces(t)).toEqual(everywhere("suspended"));
    const after = await current(t.name);
    expect(after).toMatchObject({ status: "suspended", lifecycle: { intent: "suspend" } });
    expect(after.pending).toBeUndefined();
  });

  it("the other order of delivery ends in the same state", async () => {
    const t = await newTenant("race-early-resume");
    await step(t.name, "suspend");
    const resume = await recordIntent(registry(), t.name, "resume", ADMIN, "");
    const suspend = await recordIntent(registry(), t.name, "suspend", ADMIN, "again");
    expect((await converge(raw, registry(), resume)).superseded).toBe(true);
    expect(await pieces(t)).toMatchObject({ store: "active", "hub-1": "active" }); // told, for a moment
    expect((await current(t.name)).status).toBe("suspended"); // but the record never said active
    await converge(raw, registry(), suspend);
    expect(await pieces(t)).toEqual(everywhere("suspended"));
    expect(await current(t.name)).toMatchObject({ status: "suspended", lifecycle: { intent: "suspend" } });
  });

  it("a suspend told after a newer resume neither suspends the pieces again nor ends the resumed tenant's sessions", async () => {
    const t = await newTenant("race-late-suspend");
    const suspend = await recordIntent(registry(), t.name, "suspend", ADMIN, "unpaid");
    const resume = await recordIntent(registry(), t.name, "resume", ADMIN, "paid");
    const resumed = await converge(raw, registry(), resume);
    expect(resumed).toMatchObject({ superseded: false, record: { status: "active" } });
    const late = await converge(raw, registry(), suspend);
    expect(late.superseded).toBe(true);
    expect(late.told.endedSessions).toBe(0);
    expect(await pieces(t)).toEqual(everywhere("active"));
    const after = await current(t.name);
    expect(after).toMatchObject({ status: "active", lifecycle: { intent: "resume" } });
    expect(after.pending).toBeUndefined();
  });

  it("steps run at once, again and again, always end with the record and every piece agreeing", async () => {
    const t = await newTenant("race-at-once");
    for (let round = 0; round < 4; round++) {
      const order: LifecycleIntent[] = round % 2 === 0 ? ["suspend", "resume"] : ["resume", "suspend"];
      await Promise.allSettled(order.map((intent) => step(t.name, intent)));
      const after = await current(t.name);
      expect(after.pending, `round ${round}`).toBeUndefined();
      expect(await pieces(t), `round ${round}: record ${after.status}`).toEqual(everywhere(after.status === "suspended" ? "suspended" : "active"));
    }
  });
});

describe("a piece that cannot be reached", () => {
  it("is left pending on the record and keeps its old state; the registry's alarm tells it once it is back", async () => {
    const t = await newTenant("outage-suspend");
    const down = new Set([tenantObjectName(t.name, "hub-1")]);
    const done = await step(t.name, "suspend", withOutage(raw, down));
    expect(done.told.unreached).toEqual(["hub-1"]);
    expect(done.told.problems.join()).toMatch(/hub shard 1 .*unreachable/);
    const pending = await current(t.name);
    expect(pending.status).toBe("suspended");
    expect(publicView(pending)).toMatchObject({ status: "suspended", pending: { pieces: ["hub-1"], error: expect.stringMatching(/hub shard 1/) } });
    expect(await pieces(t)).toEqual({ ...everywhere("suspended"), "hub-1": "active" });

    // Back again: the registry's alarm (as the route schedules it) tells the pending piece.
    const platform = raw.TENANT_STORE.get(raw.TENANT_STORE.idFromName(PLATFORM_STORE));
    await schedulePendingRetry(raw.TENANT_STORE); // due in 30 s: run now
    expect(await runDurableObjectAlarm(platform)).toBe(true);
    expect(await pieces(t)).toEqual(everywhere("suspended"));
    const after = await current(t.name);
    expect(after.pending).toBeUndefined();
    expect(publicView(after)).not.toHaveProperty("pending");
  });

  it("a resume with a piece pending keeps the tenant suspended until the alarm has told it, then makes it active", async () => {
    const t = await newTenant("outage-resume");
    await step(t.name, "suspend");
    const down = new Set([tenantObjectName(t.name, "approvals-1")]);
    const done = await step(t.name, "resume", withOutage(raw, down));
    expect(done.told.unreached).toEqual(["approvals-1"]);
    expect(await current(t.name)).toMatchObject({ status: "suspended", lifecycle: { intent: "resume" }, pending: { pieces: ["approvals-1"] } });
    expect(await pieces(t)).toEqual({ ...everywhere("active"), "approvals-1": "suspended" });
    // A second resume while it is pending is the same step: it tells everything again (still down: still pending).
    expect((await step(t.name, "resume", withOutage(raw, down))).told.unreached).toEqual(["approvals-1"]);

    const platform = raw.TENANT_STORE.get(raw.TENANT_STORE.idFromName(PLATFORM_STORE));
    await schedulePendingRetry(raw.TENANT_STORE); // due in 30 s: run now
    expect(await runDurableObjectAlarm(platform)).toBe(true);
    expect(await pieces(t)).toEqual(everywhere("active"));
    const after = await current(t.name);
    expect(after.status).toBe("active");
    expect(after.pending).toBeUndefined();
  });

  it("a suspend recorded while a resume is pending wins, and the alarm's late tell of the resume cannot undo it", async () => {
    const t = await newTenant("outage-overtaken");
    await step(t.name, "suspend");
    const down = new Set([tenantObjectName(t.name, "hub-1")]);
    await step(t.name, "resume", withOutage(raw, down));
    expect((await current(t.name)).pending?.pieces).toEqual(["hub-1"]);
    // hub-1 is still down when another administrator suspends again: hub-1 is pending for the suspension now.
    const suspended = await step(t.name, "suspend", withOutage(raw, down));
    expect(suspended.told.unreached).toEqual(["hub-1"]);
    const platform = raw.TENANT_STORE.get(raw.TENANT_STORE.idFromName(PLATFORM_STORE));
    await schedulePendingRetry(raw.TENANT_STORE); // due in 30 s: run now
    expect(await runDurableObjectAlarm(platform)).toBe(true);
    expect(await pieces(t)).toEqual(everywhere("suspended"));
    expect(await current(t.name)).toMatchObject({ status: "suspended", lifecycle: { intent: "suspend" } });
  });
});

describe("each piece, told two versions in either order, holds the newer one", () => {
  it("store, limiter, hub shard and approvals shard alike", async () => {
    const t = await newTenant("piece-orders");
    const e = envOf(t);
    const newer = { version: 8, suspended: "gatehouse: the tenant piece-orders is suspended by the platform" };
    const older = { version: 7, suspended: null };
    const limiter = e.SESSION_LIMITER.get(e.SESSION_LIMITER.idFromName("limits"));
    const approvals = approvalShards(e, APPROVALS_OBJECT_NAME)[0] as unknown as { syncTenantSuspension(s: typeof newer | typeof older): Promise<{ applied: boolean; version: number }> };
    const { applyTenantSuspension } = await import("./tenant-suspension.ts");
    const db = tenantDatabase(raw.TENANT_STORE, t.name);
    // Newer first, then the older one late: ignored.
    expect(await applyTenantSuspension(db, { version: 8, suspended: "session message" })).toEqual({ applied: true, version: 8 });
    expect(await applyTenantSuspension(db, { version: 7, suspended: null })).toEqual({ applied: false, version: 8 });
    expect(await tenantSuspension(db)).toBe("session message");
    expect(await limiter.syncApiSuspension(newer)).toEqual({ applied: true, version: 8 });
    expect(await limiter.syncApiSuspension(older)).toEqual({ applied: false, version: 8 });
    expect((await limiter.takeApiRequests("callers", 1, { ratePerSecond: 10, burst: 10 })).suspended).toBe(newer.suspended);
    expect(await hubShard(e, 1).syncTenantSuspension(newer)).toMatchObject({ applied: true, version: 8 });
    expect(await hubShard(e, 1).syncTenantSuspension(older)).toMatchObject({ applied: false, version: 8 });
    expect(await hubAdmits(e, 1)).toBe(false);
    expect(await approvals.syncTenantSuspension(newer)).toEqual({ applied: true, version: 8 });
    expect(await approvals.syncTenantSuspension(older)).toEqual({ applied: false, version: 8 });
    // Older first, then newer: applied (a repeat of the same version is applied again: idempotent).
    expect(await hubShard(e, 0).syncTenantSuspension(older)).toMatchObject({ applied: true });
    expect(await hubShard(e, 0).syncTenantSuspension(newer)).toMatchObject({ applied: true, version: 8 });
    expect(await hubShard(e, 0).syncTenantSuspension(newer)).toMatchObject({ applied: true, version: 8 });
    expect(await hubAdmits(e, 0)).toBe(false);
  });
});
