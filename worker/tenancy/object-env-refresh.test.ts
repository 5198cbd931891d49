/**
 * Updates reach long-lived objects (docs/TENANCY.md "Updates"): a tenant object's Env, loaded from
 * the platform registry when the object starts (objectEnv), is reloaded in place — the same object
 * the object's code holds — when the platform tells it a newer record version, and before it uses
 * the tenant's secrets to send something out (refreshTenantEnv). A rotated secret is used at once,
 * a removed one is gone at once, and a registry that cannot be read refuses the send (fail closed)
 * instead of letting the old secret go out. Real registry (TenantStore) and sealed secrets; the
 * object's state is played by its two fields objectEnv reads (its name and blockConcurrencyWhile).
 */
import { describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { objectEnv, reloadIfOlder } from "./tenant-objects.ts";
import { refreshTenantEnv } from "./env-refresh.ts";
import type { HostedEnv } from "./tenant-env.ts";
import { platformDatabase, type TenantStoreNamespace } from "./tenant-store.ts";
import { insertTenant, readTenant, replaceTenant } from "./tenant-registry.ts";
import { updatedTenant, type TenantRecord } from "./tenant-record.ts";
import { changedSecrets, openSecrets, sealSecrets } from "./tenant-secrets.ts";
import { testTenantRecord } from "./test-records.ts";

const KEY = "22".repeat(32);
const raw = env as unknown as Env & { TENANT_STORE: TenantStoreNamespace };

function hosted(store: TenantStoreNamespace = raw.TENANT_STORE): HostedEnv {
  return { ...raw, TENANT_STORE: store, GATEHOUSE_TENANCY: "multi", GATEHOUSE_PLATFORM_SECRETS_KEY: KEY } as unknown as HostedEnv;
}

function objectState(name: string): DurableObjectState {
  return { id: { name, toString: () => "0".repeat(64) }, blockConcurrencyWhile: async <T>(fn: () => Promise<T>) => fn() } as unknown as DurableObjectState;
}

async function newTenant(name: string, secrets: Record<string, string>): Promise<TenantRecord> {
  const record = testTenantRecord(name, "test", { secrets: await sealSecrets(KEY, name, secrets), secretNames: Object.keys(secrets) });
  expect(await insertTenant(platformDatabase(raw.TENANT_STORE), record)).toBe(true);
  return record;
}

/** What `admin tenants update … {"secrets": change}` stores (platform-routes.ts): a new version, sealed secrets. */
async function updateSecrets(name: string, change: Record<string, string | null>): Promise<TenantRecord> {
  const db = platformDatabase(raw.TENANT_STORE);
  const before = (await readTenant(db, name))!;
  const after = updatedTenant(before, { secrets: change }, "test");
  const next = changedSecrets(await openSecrets(KEY, name, before.secrets), change);
  const sealed = { ...after, secrets: await sealSecrets(KEY, name, next), secretNames: Object.keys(next) };
  expect(await replaceTenant(db, before, sealed)).toBe(true);
  return sealed;
}

const secretOf = (e: Env) => (e as unknown as Record<string, string | undefined>).GATEHOUSE_WEBHOOK_OPS;

describe("a long-lived tenant object's Env after an update", () => {
  it("takes a rotated secret before its next send, and loses a removed one", async () => {
    await newTenant("refresh-rotate", { GATEHOUSE_WEBHOOK_OPS: "first" });
    const e = objectEnv(objectState("tenant:refresh-rotate:approvals"), hosted());
    await vi.waitFor(() => expect(secretOf(e)).toBe("first"));

    await updateSecrets("refresh-rotate", { GATEHOUSE_WEBHOOK_OPS: "second" });
    expect(secretOf(e)).toBe("first"); // what the object held until now, until it was evicted
    await refreshTenantEnv(e);
    expect(secretOf(e)).toBe("second");

    await updateSecrets("refresh-rotate", { GATEHOUSE_WEBHOOK_OPS: null });
    await refreshTenantEnv(e);
    expect(secretOf(e)).toBeUndefined();
  });

  it("is reloaded when the platform tells it a newer version, and not for an older or equal one", async () => {
    await newTenant("refresh-told", { GATEHOUSE_WEBHOOK_OPS: "first" });
    const state = objectState("tenant:refresh-told:hub");
    const e = objectEnv(state, hosted());
    await vi.waitFor(() => expect(secretOf(e)).toBe("first"));
    const updated = await updateSecrets("refresh-told", { GATEHOUSE_WEBHOOK_OPS: "second" });
    await reloadIfOlder(state, updated.version! - 1);
    expect(secretOf(e)).toBe("first");
    await reloadIfOlder(state, updated.version!);
    expect(secretOf(e)).toBe("second");
  });

  it("refuses to send when the registry cannot be read: the old secret is not used (fail closed)", async () => {
    await newTenant("refresh-outage", { GATEHOUSE_WEBHOOK_OPS: "first" });
    let down = false;
    const store = {
      idFromName: (n: string) => raw.TENANT_STORE.idFromName(n),
      get: (id: DurableObjectId) => {
        const stub = raw.TENANT_STORE.get(id);
        return new Proxy(stub, {
          get: (target, prop) => (...args: unknown[]) => (down ? Promise.reject(new Error("the registry is unreachable (outage)")) : (target as unknown as Record<string | symbol, (...a: unknown[]) => unknown>)[prop]!(...args)),
        });
      },
    } as unknown as TenantStoreNamespace;
    const e = objectEnv(objectState("tenant:refresh-outage:exporter"), hosted(store));
    await vi.waitFor(() => expect(secretOf(e)).toBe("first"));
    down = true;
    await expect(refreshTenantEnv(e)).rejects.toThrow(/unreachable/);
    down = false;
    await refreshTenantEnv(e);
    expect(secretOf(e)).toBe("first");
  });

  it("a deleted tenant's object refuses to send", async () => {
    const t = await newTenant("refresh-deleted", { GATEHOUSE_WEBHOOK_OPS: "first" });
    const e = objectEnv(objectState("tenant:refresh-deleted:approvals"), hosted());
    await vi.waitFor(() => expect(secretOf(e)).toBe("first"));
    const { tombstone } = await import("./tenant-record.ts");
    const db = platformDatabase(raw.TENANT_STORE);
    expect(await replaceTenant(db, (await readTenant(db, t.name))!, tombstone(t, "test", "gone"))).toBe(true);
    await expect(refreshTenantEnv(e)).rejects.toThrow(/was deleted/);
  });
});
