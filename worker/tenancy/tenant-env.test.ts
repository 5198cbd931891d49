import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { TenantNamespace, TenantR2, RecordingLimitError } from "./tenant-env.ts";
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
