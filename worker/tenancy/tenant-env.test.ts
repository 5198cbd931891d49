import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { TenantNamespace, TenantR2, RecordingLimitError, tenantEnv, type MultiTenantEnv } from "./tenant-env.ts";
import type { TenantRecord } from "./tenant-record.ts";
import { changedSecrets, openSecrets, sealSecrets } from "./tenant-secrets.ts";
import { resolveRef } from "../approvals/notifications.ts";
import { readUsage } from "./tenant-usage.ts";
import { tenantDatabase, type TenantStoreNamespace } from "./tenant-store.ts";

const raw = env as unknown as Env & { TENANT_STORE: TenantStoreNamespace };

describe("TenantNamespace", () => {
  it("names objects inside the tenant only and offers no other way to make an id", () => {
    const acme = new TenantNamespace(raw.CONNECTOR_HUB, "acme");
    const beta = new TenantNamespace(raw.CONNECTOR_HUB, "beta");
    expect(acme.idFromName("hub").equals(raw.CONNECTOR_HUB.idFromName("tenant:acme:hub"))).toBe(true);
    expect(acme.idFromName("hub").equals(beta.idFromName("hub"))).toBe(false);
    // A name that looks like another tenant's stays inside this one.
    expect(acme.idFromName("tenant:beta:hub").equals(beta.idFromName("hub"))).toBe(false);
    expect(() => acme.idFromString()).toThrow(/only name objects/);
    expect(() => acme.newUniqueId()).toThrow(/only name objects/);
  });
});

describe("TenantR2", () => {
  it("keeps each tenant under its prefix, returns its own keys, and counts bytes against the limit", async () => {
    const dbA = tenantDatabase(raw.TENANT_STORE, "r2-acme");
    const a = new TenantR2(raw.RECORDINGS, "r2-acme", dbA, 10);
    const b = new TenantR2(raw.RECORDINGS, "r2-beta", tenantDatabase(raw.TENANT_STORE, "r2-beta"), null);
    await a.put("sessions/s1/0001.jsonl", "12345");
    await b.put("sessions/s1/0001.jsonl", "other tenant");
    expect(await (await a.get("sessions/s1/0001.jsonl"))!.text()).toBe("12345");
    expect(await (await b.get("sessions/s1/0001.jsonl"))!.text()).toBe("other tenant");
    expect(await raw.RECORDINGS.get("sessions/s1/0001.jsonl")).toBeNull();
    expect((await raw.RECORDINGS.get("tenants/r2-acme/sessions/s1/0001.jsonl"))?.key).toBe("tenants/r2-acme/sessions/s1/0001.jsonl");
    const listed = await a.list({ prefix: "sessions/s1/" });
    expect(listed.objects.map((o) => o.key)).toEqual(["sessions/s1/0001.jsonl"]);
    // 5 + 5 = 10 fits; one more byte does not, and is not stored.
    await a.put("sessions/s1/0002.jsonl", "67890");
    await expect(a.put("sessions/s1/0003.jsonl", "x")).rejects.toBeInstanceOf(RecordingLimitError);
    expect(await a.get("sessions/s1/0003.jsonl")).toBeNull();
    expect((await readUsage(dbA)).recording_bytes).toBe(10);
  });
});

describe("tenant secrets", () => {
  const KEY = "11".repeat(32);
  const record = (name: string, secrets: string | null) =>
    ({ name, issuers: "[]", connectors: "[]", policy: "", policySource: "p", maskingKey: "k".repeat(16), auditKeys: null, export: null, secrets, limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null }, createdAt: 0, createdBy: "t" }) as TenantRecord;

  it("each tenant's Env holds its own secrets only: naming another tenant's secret finds nothing", async () => {
    const a = record("sec-acme", await sealSecrets(KEY, "sec-acme", changedSecrets({}, { GATEHOUSE_WEBHOOK_OPS: "acme-hook-secret" })));
    const b = record("sec-beta", await sealSecrets(KEY, "sec-beta", changedSecrets({}, { GATEHOUSE_WEBHOOK_BETA: "beta-hook-secret" })));
    const hosted = { ...raw, GATEHOUSE_PLATFORM_SECRETS_KEY: KEY, GATEHOUSE_WEBHOOK_PLATFORM: "platform-only" } as unknown as MultiTenantEnv;
    const envA = tenantEnv(hosted, a, { name: a.name, via: "path" }, await openSecrets(KEY, a.name, a.secrets)) as unknown as Record<string, unknown>;
    const envB = tenantEnv(hosted, b, { name: b.name, via: "path" }, await openSecrets(KEY, b.name, b.secrets)) as unknown as Record<string, unknown>;
    expect(resolveRef("env:GATEHOUSE_WEBHOOK_OPS", envA, "a")).toBe("acme-hook-secret");
    expect(() => resolveRef("env:GATEHOUSE_WEBHOOK_BETA", envA, "a")).toThrow(/not set/);
    expect(resolveRef("env:GATEHOUSE_WEBHOOK_BETA", envB, "b")).toBe("beta-hook-secret");
    // A platform variable with a secret's name is not a tenant's secret either.
    expect(() => resolveRef("env:GATEHOUSE_WEBHOOK_PLATFORM", envA, "a")).toThrow(/not set/);
    // Stored sealed: the value is not in the record, and B's sealed blob on A's record does not open.
    expect(b.secrets).not.toContain("beta-hook-secret");
    await expect(openSecrets(KEY, "sec-acme", b.secrets)).rejects.toThrow();
    await expect(openSecrets("22".repeat(32), "sec-beta", b.secrets)).rejects.toThrow();
  });

  it("names and values are validated; without the platform key nothing is stored", async () => {
    expect(() => changedSecrets({}, { GATEHOUSE_MASKING_KEY: "x" })).toThrow(/not a secret name/);
    expect(() => changedSecrets({}, { DB: "x" })).toThrow(/not a secret name/);
    expect(() => changedSecrets({}, { gatehouse_webhook_ops: "x" })).toThrow(/not a secret name/);
    expect(() => changedSecrets({}, { GATEHOUSE_WEBHOOK_OPS: "" })).toThrow(/non-empty/);
    expect(changedSecrets({ GATEHOUSE_WEBHOOK_OPS: "a", GATEHOUSE_EXPORT_S: "b" }, { GATEHOUSE_WEBHOOK_OPS: null })).toEqual({ GATEHOUSE_EXPORT_S: "b" });
    await expect(sealSecrets(undefined, "t", { GATEHOUSE_WEBHOOK_OPS: "a" })).rejects.toThrow(/GATEHOUSE_PLATFORM_SECRETS_KEY/);
    expect(await sealSecrets(undefined, "t", {})).toBeNull();
  });
});
