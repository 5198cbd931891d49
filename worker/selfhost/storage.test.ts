/**
 * The self-hosted build's storage in both modes (storage.ts) and its Durable Object classes in
 * multi-tenant mode (index.ts), attacked as a tenant would: an object named outside any tenant,
 * tenant names that escape an object or key prefix, recording keys that climb out of the
 * tenant's prefix, and the shared single-tenant D1/R2 stand-in reached from hosted mode.
 * SELFHOST_STORE is played by the TENANT_STORE namespace of wrangler.toml (the same store class).
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { TenantR2 } from "../tenancy/tenant-env.ts";
import { tenantDatabase, type TenantStoreNamespace } from "../tenancy/tenant-store.ts";
import { SHARED_STORE, withStorage, type HostEnv } from "./storage.ts";
import { firstSightOfAssertion } from "../signin/store.ts";
import { ApprovalsObject, ConnectorHub, ExportObject, SessionLimiter, SessionObject } from "./index.ts";

const raw = env as unknown as Env & { TENANT_STORE: TenantStoreNamespace };

function hostEnv(tenancy: "single" | "multi"): HostEnv {
  const { DB: _db, RECORDINGS: _r2, ...rest } = raw;
  return { ...rest, GATEHOUSE_TENANCY: tenancy, SELFHOST_STORE: raw.TENANT_STORE } as unknown as HostEnv;
}

describe("single-tenant self-hosting (the default): unchanged", () => {
  it("DB and RECORDINGS are the one shared store, and no tenant bucket is offered", async () => {
    const e = withStorage(hostEnv("single"));
    await e.DB.exec("CREATE TABLE IF NOT EXISTS selfhost_probe (v TEXT)");
    await e.DB.prepare("INSERT INTO selfhost_probe VALUES (?)").bind("single").run();
    expect(await e.DB.prepare("SELECT v FROM selfhost_probe").first("v")).toBe("single");
    await e.RECORDINGS.put("sessions/s1/0.jsonl", "trail");
    expect(await (await e.RECORDINGS.get("sessions/s1/0.jsonl"))?.text()).toBe("trail");
    expect(e.TENANT_RECORDINGS).toBeUndefined();
    // Both live in the store object named "store", as before hosted mode existed.
    const store = raw.TENANT_STORE.get(raw.TENANT_STORE.idFromName(SHARED_STORE));
    expect((await store.query("SELECT v FROM selfhost_probe", [])).rows).toEqual([{ v: "single" }]);
    expect((await store.getObject("sessions/s1/0.jsonl"))?.size).toBe(5);
    // One wrapper per env object: the worker's per-database caches keep working.
    const h = hostEnv("single");
    expect(withStorage(h)).toBe(withStorage(h));
  });
});

describe("multi-tenant self-hosting", () => {
  it("refuses every use of the shared D1/R2 stand-in: no tenant's rows can land in one database", async () => {
    const e = withStorage(hostEnv("multi"));
    expect(() => e.DB.prepare("SELECT 1")).toThrow(/shared D1 \(DB\) is not used/);
    expect(() => e.DB.exec("CREATE TABLE t (x)")).toThrow(/shared D1/);
    expect(() => e.RECORDINGS.put("k", "v")).toThrow(/shared recordings bucket/);
    expect(() => e.RECORDINGS.list()).toThrow(/shared recordings bucket/);
  });

  it("gives each tenant its own recording store, and names that escape the tenant prefix are refused", () => {
    const e = withStorage(hostEnv("multi"));
    expect(e.TENANT_RECORDINGS!("acme")).toBe(e.TENANT_RECORDINGS!("acme"));
    expect(e.TENANT_RECORDINGS!("acme")).not.toBe(e.TENANT_RECORDINGS!("beta"));
    for (const name of ["acme:hub", "a/b", "../beta", "platform", "", "Acme", "tenant:acme"]) {
      expect(() => e.TENANT_RECORDINGS!(name), name).toThrow(/not a tenant name/);
    }
  });

  it("recording keys cannot climb out of the tenant's prefix or store: another tenant sees none of them", async () => {
    const e = withStorage(hostEnv("multi"));
    const bucket = (t: string) => new TenantR2(e.TENANT_RECORDINGS!(t), t, tenantDatabase(raw.TENANT_STORE, t), null);
    const acme = bucket("sh-acme");
    const beta = bucket("sh-beta");
    await beta.put("sessions/b1/0.jsonl", "beta's trail");
    const climbing = ["../sh-beta/sessions/b1/0.jsonl", "../../tenants/sh-beta/sessions/b1/0.jsonl", "/tenants/sh-beta/sessions/b1/0.jsonl", "%2e%2e/sh-beta/sessions/b1/0.jsonl"];
    for (const key of climbing) {
      // Reading: nothing of beta's, by any spelling.
      expect(await acme.get(key), key).toBeNull();
      expect(await acme.head(key), key).toBeNull();
      // Writing: stored as acme's literal key, beta's object untouched.
      await acme.put(key, "acme's overwrite");
    }
    expect(await (await beta.get("sessions/b1/0.jsonl"))?.text()).toBe("beta's trail");
    expect((await beta.list()).objects.map((o) => o.key)).toEqual(["sessions/b1/0.jsonl"]);
    expect((await beta.list({ prefix: "../" })).objects).toEqual([]);
    expect((await acme.list()).objects.map((o) => o.key).sort()).toEqual([...climbing].sort());
    // Deleting by a climbing key deletes acme's literal key only.
    await acme.delete("../sh-beta/sessions/b1/0.jsonl");
    expect(await (await beta.get("sessions/b1/0.jsonl"))?.text()).toBe("beta's trail");
    // And beta's data is not even in acme's store object: the raw per-tenant stores differ.
    expect((await e.TENANT_RECORDINGS!("sh-acme").list({ prefix: "tenants/sh-beta/" })).objects).toEqual([]);
    expect((await e.TENANT_RECORDINGS!("sh-beta").list({ prefix: "tenants/sh-beta/" })).objects.map((o) => o.key)).toEqual(["tenants/sh-beta/sessions/b1/0.jsonl"]);
  });

  it("a Durable Object whose name carries no tenant refuses to start, whichever class", () => {
    const classes = { SessionObject, ConnectorHub, ApprovalsObject, SessionLimiter, ExportObject };
    const names = ["hub", "store", "approvals", "tenant::hub", "tenant:platform:hub", "tenant:a/b:hub", "tenant:Acme:hub", "tenant:acme", undefined];
    for (const [className, Class] of Object.entries(classes)) {
      for (const name of names) {
        // Refused while choosing the Env, before the object's constructor touches its state.
        const state = { id: { name, toString: () => "0".repeat(64) } } as unknown as DurableObjectState;
        expect(() => new Class(state, hostEnv("multi")), `${className} ${name}`).toThrow(/belongs to no tenant/);
      }
    }
  });

  it("placed across processes: an object of a tenant this process does not serve refuses to start, whichever class", () => {
    const classes = { SessionObject, ConnectorHub, ApprovalsObject, SessionLimiter, ExportObject };
    const placement = JSON.stringify({ process: "p1", tenants: { "sh-acme": { process: "p0", audiences: ["gatehouse-sh-acme"] }, "sh-beta": { process: "p1", audiences: ["gatehouse-sh-beta"] } } });
    const placed = { ...hostEnv("multi"), GATEHOUSE_PLACEMENT: placement } as HostEnv;
    for (const [className, Class] of Object.entries(classes)) {
      for (const [name, why] of [
        ["tenant:sh-acme:hub", /tenant sh-acme is served by process p0, not by this one \(p1\)/],
        ["tenant:sh-acme:limits", /tenant sh-acme is served by process p0/],
        ["tenant:sh-gamma:hub", /no tenant sh-gamma is placed/],
      ] as const) {
        const state = { id: { name, toString: () => "0".repeat(64) } } as unknown as DurableObjectState;
        // Refused while choosing the Env: nothing of this process's storage is read for it.
        expect(() => new Class(state, placed), `${className} ${name}`).toThrow(why);
      }
    }
  });
});

describe("the D1 stand-in's meta.changes is D1's (rows changed, not rows written)", () => {
  it("an insert into a table with a text primary key is 1 change, then 0 when ignored; selects are 0", async () => {
    const db = tenantDatabase(raw.TENANT_STORE, "changes-probe");
    await db.exec("CREATE TABLE IF NOT EXISTS probe_seen (id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
    const insert = () => db.prepare("INSERT OR IGNORE INTO probe_seen (id, at) VALUES (?, ?)").bind("a1", 1).run();
    expect((await insert()).meta.changes).toBe(1);
    expect((await insert()).meta.changes).toBe(0);
    await db.prepare("INSERT INTO probe_seen (id, at) VALUES (?, ?), (?, ?)").bind("a2", 1, "a3", 5).run();
    expect((await db.prepare("UPDATE probe_seen SET at = at + 1 WHERE at < 5").run()).meta.changes).toBe(2);
    expect((await db.prepare("SELECT * FROM probe_seen").run()).meta.changes).toBe(0);
    expect((await db.prepare("DELETE FROM probe_seen").run()).meta.changes).toBe(3);
    const [a, b] = await db.batch([db.prepare("INSERT INTO probe_seen (id, at) VALUES ('b', 1)"), db.prepare("INSERT OR IGNORE INTO probe_seen (id, at) VALUES ('b', 2)")]);
    expect([a!.meta.changes, b!.meta.changes]).toEqual([1, 0]);
    // Upserts: a conflict left alone is no change (what a "was it new?" check relies on), one resolved by an update is one.
    const upsert = (tail: string) => db.prepare(`INSERT INTO probe_seen (id, at) VALUES ('b', 3) ON CONFLICT (id) ${tail}`).run();
    expect((await upsert("DO NOTHING")).meta.changes).toBe(0);
    expect((await upsert("DO UPDATE SET at = excluded.at")).meta.changes).toBe(1);
    expect((await upsert("DO UPDATE SET at = excluded.at WHERE probe_seen.at <> excluded.at")).meta.changes).toBe(0);
    // A DELETE … RETURNING of nothing (a single-use token already spent) is 0, of one row 1.
    expect((await db.prepare("DELETE FROM probe_seen WHERE id = 'nope' RETURNING id").run()).meta.changes).toBe(0);
    expect((await db.prepare("DELETE FROM probe_seen WHERE id = 'b' RETURNING id").run()).meta.changes).toBe(1);
  });

  it("so a SAML assertion is new once, then a replay (the cache hosted tenants' sign-in uses)", async () => {
    const db = tenantDatabase(raw.TENANT_STORE, "changes-saml");
    const later = Date.now() + 60_000;
    expect(await firstSightOfAssertion(db, "idp _a1", later)).toBe(true);
    expect(await firstSightOfAssertion(db, "idp _a1", later)).toBe(false);
    expect(await firstSightOfAssertion(db, "idp _a2", later)).toBe(true);
  });
});
