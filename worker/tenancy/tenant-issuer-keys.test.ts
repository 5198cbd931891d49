/**
 * A hosted tenant's issuers fetch their signing keys over https only (plain http on loopback): a
 * creation or update naming a plain-http jwks_uri, or a plain-http issuer to discover, is refused
 * with the reason (inline keys are not fetched, so they stay allowed).
 */
import { describe, expect, it } from "vitest";
import { tenantFromRequest, updatedTenant } from "./tenant-record.ts";

const POLICY = `version: 1
rules:
  - name: everyone
    effect: allow
    subjects: [{ issuer: "https://idp.example" }]
    resources: any
    actions: [connect]
`;
const good = { issuer: "https://idp.example", audiences: ["gatehouse-keys"] };

describe("a tenant's issuer keys", () => {
  it("are refused at creation and update when they would come over plain http", async () => {
    const create = (issuers: unknown[]) => tenantFromRequest({ name: "keys-acme", issuers, policy: POLICY }, "platform");
    await expect(create([{ ...good, jwks_uri: "http://idp.example/jwks" }])).rejects.toThrow(/^issuers: issuer https:\/\/idp\.example: jwks_uri http:\/\/idp\.example\/jwks is not an https URL/);
    await expect(create([{ issuer: "http://idp.example", audiences: ["gatehouse-keys"] }])).rejects.toThrow(/^issuers: issuer http:\/\/idp\.example is not an https URL/);
    const record = await create([good]);
    expect(() => updatedTenant(record, { issuers: [{ ...good, jwks_uri: "http://idp.example/jwks" }] }, "platform")).toThrow(/is not an https URL/);
    // Inline keys are not fetched: any issuer name will do.
    const inline = { issuer: "http://idp.example", audiences: ["gatehouse-keys"], jwks: { keys: [] } };
    expect(updatedTenant(record, { issuers: [inline] }, "platform").issuers).toBe(JSON.stringify([inline]));
  });
});
