import { describe, expect, it } from "vitest";
import { isTenantName, parseTenancySettings, resolveTenant } from "./resolve.ts";
import { tenantObjectName, tenantOfObjectName } from "./object-names.ts";

const multi = parseTenancySettings({ GATEHOUSE_TENANCY: "multi", GATEHOUSE_BASE_DOMAIN: "Gate.Example.com." });
const at = (u: string) => resolveTenant(new URL(u), multi);

describe("tenant resolution (host or path, never a claim)", () => {
  it("single-tenant is the default", () => {
    expect(parseTenancySettings({}).mode).toBe("single");
    expect(() => parseTenancySettings({ GATEHOUSE_TENANCY: "many" })).toThrow(/single.*multi/);
  });

  it("a host under the base domain names the tenant; the path is kept", () => {
    const r = at("https://acme.gate.example.com/v1/tunnel/db");
    expect(r).toMatchObject({ kind: "tenant", tenant: { name: "acme", via: "host" } });
    expect(r.kind === "tenant" && r.inner.pathname).toBe("/v1/tunnel/db");
  });

  it("/t/<tenant>/ names the tenant and is stripped", () => {
    const r = at("http://127.0.0.1:8787/t/beta-co/v1/resources/db?x=1");
    expect(r).toMatchObject({ kind: "tenant", tenant: { name: "beta-co", via: "path" } });
    expect(r.kind === "tenant" && `${r.inner.pathname}${r.inner.search}`).toBe("/v1/resources/db?x=1");
  });

  it("host and path naming different tenants is refused, not guessed", () => {
    expect(at("https://acme.gate.example.com/t/beta/v1/x")).toMatchObject({ kind: "invalid", reason: expect.stringMatching(/acme.*beta/) });
    expect(at("https://acme.gate.example.com/t/acme/v1/x")).toMatchObject({ kind: "tenant", tenant: { name: "acme" } });
  });

  it("the five ways around the name: encoding, case, nesting, reserved, separators", () => {
    expect(at("http://h/t/ac%3Ame/v1/x").kind).toBe("invalid"); // ':' would break object names
    expect(at("http://h/t/ACME/v1/x").kind).toBe("invalid");
    expect(at("https://a.b.gate.example.com/").kind).toBe("invalid");
    expect(at("https://www.gate.example.com/").kind).toBe("invalid");
    expect(at("http://h/t/a--b/v1/x").kind).toBe("invalid");
    expect(at("http://h/t//v1/x").kind).toBe("invalid");
    expect(at("http://h/t/%ZZ/v1").kind).toBe("invalid");
  });

  it("case and Unicode in host vs path: a host is case-insensitive (DNS), a path prefix is exact; neither reaches another name", () => {
    // Upper case in the host is the same tenant (so a suspended or deleted tenant stays that, however the host is written).
    expect(at("https://DOOMED.Gate.Example.COM/v1/x")).toMatchObject({ kind: "tenant", tenant: { name: "doomed", via: "host" } });
    expect(at("https://DOOMED.gate.example.com/t/doomed/v1/x")).toMatchObject({ kind: "tenant", tenant: { name: "doomed" } });
    // In a path the spelling is the name: upper case is not a tenant name, so it can never alias one.
    expect(at("https://doomed.gate.example.com/t/Doomed/v1/x").kind).toBe("invalid");
    // Unicode look-alikes arrive as punycode (xn--…: '--' is refused) or percent-encoded non-ASCII.
    expect(at("https://dööméd.gate.example.com/v1/x").kind).toBe("invalid");
    expect(at("http://h/t/d%C3%B6omed/v1/x").kind).toBe("invalid");
    expect(at("http://h/t/doomed%E2%80%8B/v1/x").kind).toBe("invalid");
    expect(at("http://h/t/%64oomed/v1/x")).toMatchObject({ kind: "tenant", tenant: { name: "doomed" } });
  });

  it("the base host and other hosts without a prefix are the platform", () => {
    expect(at("https://gate.example.com/platform/v1/tenants").kind).toBe("platform");
    expect(at("http://127.0.0.1:8787/v1/resources/db").kind).toBe("platform");
    expect(at("https://evilgate.example.com/").kind).toBe("platform");
  });

  it("object names carry the tenant and give it back", () => {
    expect(tenantOfObjectName(tenantObjectName("acme", "hub"))).toBe("acme");
    expect(tenantOfObjectName(tenantObjectName("acme", "tenant:beta:hub"))).toBe("acme");
    expect(tenantOfObjectName("hub")).toBeNull();
    expect(tenantOfObjectName(undefined)).toBeNull();
    expect(() => tenantObjectName("a:b", "hub")).toThrow();
    expect(isTenantName("platform")).toBe(false);
  });
});
