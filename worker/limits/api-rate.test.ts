/**
 * The tenant's API rate (worker/limits/api-rate.ts) in workerd, against real SessionLimiter
 * objects reached through tenant namespaces as in hosted mode: the 429 answer, two tenants side by
 * side (A's flood never spends B's budget), the two buckets, leases and refusals that do not ask
 * the limiter again, the limiter unreachable (fail closed, except the protective routes), and
 * single-tenant mode (no tenant, no limit). The boundary and the routes are run end to end by
 * test/e2e/tenancy.test.ts.
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { TenantNamespace } from "../tenancy/tenant-env.ts";
import { retuned } from "./session-limiter.ts";
import { TokenBucket } from "./token-bucket.ts";
import { ApiRateGate, DEFAULT_API_REQUESTS_PER_MINUTE, addressShare, apiBucketLimits, apiRequestsPerMinute, chargeApiRequest, chargeAuthenticatedCall, failsOpen, isAnonymousApiRoute, type ApiRateLimiter } from "./api-rate.ts";

const testEnv = env as unknown as Env;

function tenantEnv(name: string, maxApiRequestsPerMinute?: number): Pick<Env, "TENANT" | "SESSION_LIMITER"> {
  return {
    SESSION_LIMITER: new TenantNamespace(testEnv.SESSION_LIMITER, name) as unknown as Env["SESSION_LIMITER"],
    TENANT: { name, via: "path", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null, ...(maxApiRequestsPerMinute === undefined ? {} : { maxApiRequestsPerMinute }) } },
  };
}

/** The tenant's real limiter, with its calls counted (to see which refusals asked it). */
function counted(e: Pick<Env, "SESSION_LIMITER">): { limiter: () => ApiRateLimiter; calls: () => number } {
  let calls = 0;
  const stub = e.SESSION_LIMITER.get(e.SESSION_LIMITER.idFromName("limits"));
  return {
    limiter: () => ({
      takeApiRequests: (bucket, wanted, limits, share) => {
        calls++;
        return stub.takeApiRequests(bucket, wanted, limits, share);
      },
    }),
    calls: () => calls,
  };
}

describe("the tenant's API rate", () => {
  it("refuses past the budget with 429, a JSON body and Retry-After; another tenant's calls go on", async () => {
    const gate = new ApiRateGate();
    const a = tenantEnv("api-a", 3);
    const b = tenantEnv("api-b", 3);
    // A minute's worth back to back, then refused (one token comes back every 20 s).
    for (let i = 0; i < 3; i++) expect(await chargeApiRequest(a, "callers", "GET", "/v1/approvals", gate)).toBeNull();
    const refused = await chargeApiRequest(a, "callers", "GET", "/v1/approvals", gate);
    expect(refused?.status).toBe(429);
    const seconds = Number(refused!.headers.get("retry-after"));
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(20);
    expect(await refused!.json()).toEqual({
      error: "api_rate_limited",
      reason: `gatehouse: API request refused: the tenant's API rate limit is reached (max_api_requests_per_minute: 3); retry in ${seconds} s`,
      retry_after_seconds: seconds,
    });
    // Tenant B, served by the same isolate (the same gate) at the same moment: its own budget, whole.
    for (let i = 0; i < 3; i++) expect(await chargeApiRequest(b, "callers", "POST", "/v1/grants", gate)).toBeNull();
    expect((await chargeApiRequest(b, "callers", "POST", "/v1/grants", gate))?.status).toBe(429);
    // A is still refused: B's calls gave it nothing back.
    expect((await chargeApiRequest(a, "callers", "GET", "/v1/approvals", gate))?.status).toBe(429);
  });

  it("B's limiter is another object: A's flood leaves its bucket full", async () => {
    const a = counted(tenantEnv("api-c"));
    const b = tenantEnv("api-d");
    const limits = apiBucketLimits(4);
    expect(await a.limiter().takeApiRequests("callers", 4, limits)).toEqual({ granted: 4, retryAfterMs: 0 });
    expect((await a.limiter().takeApiRequests("callers", 1, limits)).granted).toBe(0);
    expect(await b.SESSION_LIMITER.get(b.SESSION_LIMITER.idFromName("limits")).takeApiRequests("callers", 4, limits)).toEqual({ granted: 4, retryAfterMs: 0 });
  });

  it("the anonymous bucket is apart: a flood of unauthenticated calls does not lock the tenant's callers out", async () => {
    const gate = new ApiRateGate();
    const e = tenantEnv("api-anon", 2);
    expect(await chargeApiRequest(e, "anonymous", "GET", "/signin", gate)).toBeNull();
    expect(await chargeApiRequest(e, "anonymous", "GET", "/signin", gate)).toBeNull();
    const refused = await chargeApiRequest(e, "anonymous", "POST", "/v1/connector/enroll", gate);
    expect(refused?.status).toBe(429);
    expect(((await refused!.json()) as { reason: string }).reason).toMatch(/^gatehouse: unauthenticated API request refused: /);
    expect(await chargeApiRequest(e, "callers", "GET", "/v1/admin/policy", gate)).toBeNull();
  });

  it("leases a tenth of a second's worth per limiter call, and refuses without asking again until the Retry-After", async () => {
    const gate = new ApiRateGate();
    // 1200 a minute = 20 a second: a lease is 2 tokens.
    const e = counted(tenantEnv("api-lease"));
    for (let i = 0; i < 10; i++) expect(await gate.admit("api-lease", "callers", 1200, e.limiter, false)).toEqual({ ok: true });
    expect(e.calls()).toBe(5);
    // A slow tenant: one token a minute, a burst of 1.
    const slow = counted(tenantEnv("api-slow"));
    expect(await gate.admit("api-slow", "callers", 1, slow.limiter, false)).toEqual({ ok: true });
    const first = await gate.admit("api-slow", "callers", 1, slow.limiter, false);
    expect(first).toMatchObject({ ok: false, status: 429, error: "api_rate_limited" });
    expect(slow.calls()).toBe(2);
    // The limiter said when the next token comes: until then this isolate refuses on its own.
    for (let i = 0; i < 50; i++) expect(await gate.admit("api-slow", "callers", 1, slow.limiter, false)).toMatchObject({ ok: false, status: 429 });
    expect(slow.calls()).toBe(2);
    // A new limit (a tenant update) is asked about at once, not after the old Retry-After.
    await gate.admit("api-slow", "callers", 600, slow.limiter, false);
    expect(slow.calls()).toBe(3);
  });

  it("an unreachable limiter refuses (503) except on the routes that only protect, which go on", async () => {
    const gate = new ApiRateGate();
    const down: () => ApiRateLimiter = () => ({ takeApiRequests: () => Promise.reject(new Error("limiter overloaded")) });
    const closed = await gate.admit("api-down", "callers", 60, down, failsOpen("POST", "/v1/grants"));
    expect(closed).toEqual({ ok: false, status: 503, retryAfterSeconds: 1, error: "rate_limiter_unavailable", reason: "gatehouse: the tenant's API rate limiter cannot be reached (limiter overloaded); retry shortly" });
    expect(await gate.admit("api-down", "callers", 60, down, failsOpen("POST", "/v1/grants/grt_b234567892345678/revoke"))).toEqual({ ok: true });
    expect(await gate.admit("api-down", "anonymous", 60, down, failsOpen("GET", "/.well-known/gatehouse-audit-keys"))).toEqual({ ok: true });
  });

  it("classes routes: protective ones fail open, the rest closed; anonymous routes are the ones that serve anyone", () => {
    for (const [method, path] of [
      ["POST", "/v1/approvals/apr_b234567892345678/deny"],
      ["POST", "/v1/grants/grt_b234567892345678/deny"],
      ["POST", "/v1/grants/grt_b234567892345678/revoke"],
      ["POST", "/v1/admin/connectors/dc1/revoke"],
      ["POST", "/v1/admin/connectors/dc1/bind"],
      ["POST", "/console/approvals/apr_b234567892345678/deny"],
      ["POST", "/console/grants/grt_b234567892345678/revoke"],
      ["POST", "/signout"],
      ["POST", "/v1/cancel"],
      ["GET", "/.well-known/gatehouse-audit-keys"],
    ] as const) expect(failsOpen(method, path), `${method} ${path}`).toBe(true);
    for (const [method, path] of [
      ["POST", "/v1/approvals/apr_b234567892345678/approve"],
      ["POST", "/v1/grants"],
      ["PUT", "/v1/admin/policy"],
      ["POST", "/v1/admin/connectors/enroll-tokens"],
      ["POST", "/v1/connector/enroll"],
      ["POST", "/v1/connector/rotate-key"],
      ["GET", "/v1/sessions"],
      ["GET", "/v1/sessions/x/export"],
      ["GET", "/signin/oidc/corp"],
      ["GET", "/v1/grants/grt_b234567892345678/revoke"],
      ["GET", "/v1/admin/connectors/dc1/bind"],
      ["POST", "/v1/admin/connectors/dc1/bind/x"],
    ] as const) expect(failsOpen(method, path), `${method} ${path}`).toBe(false);
    expect(isAnonymousApiRoute("GET", "/.well-known/gatehouse-audit-keys")).toBe(true);
    expect(isAnonymousApiRoute("GET", "/signin/oidc/corp/callback")).toBe(true);
    expect(isAnonymousApiRoute("POST", "/signin/saml/corp/acs")).toBe(true);
    expect(isAnonymousApiRoute("POST", "/v1/connector/enroll")).toBe(true);
    expect(isAnonymousApiRoute("GET", "/v1/approvals")).toBe(false);
    expect(isAnonymousApiRoute("GET", "/v1/connector/control")).toBe(false);
    expect(isAnonymousApiRoute("GET", "/signinx")).toBe(false);
  });

  it("defaults to 1200 a minute; single-tenant deployments have no API limit and never ask a limiter", async () => {
    expect(DEFAULT_API_REQUESTS_PER_MINUTE).toBe(1200);
    expect(apiRequestsPerMinute({ maxApiRequestsPerMinute: null })).toBe(1200);
    expect(apiRequestsPerMinute(undefined)).toBe(1200);
    expect(apiRequestsPerMinute({ maxApiRequestsPerMinute: 5 })).toBe(5);
    expect(apiBucketLimits(120)).toEqual({ ratePerSecond: 2, burst: 120 });
    const single = { SESSION_LIMITER: { idFromName: () => { throw new Error("asked a limiter"); } } as unknown as Env["SESSION_LIMITER"] };
    for (let i = 0; i < 5; i++) expect(await chargeApiRequest(single, "callers", "GET", "/v1/approvals", new ApiRateGate())).toBeNull();
  });
});

describe("SessionLimiter API buckets", () => {
  it("keeps callers and anonymous apart from each other and from the request bucket", async () => {
    const l = testEnv.SESSION_LIMITER.get(testEnv.SESSION_LIMITER.idFromName("api-buckets"));
    const limits = { ratePerSecond: 0.05, burst: 3 };
    expect(await l.takeApiRequests("callers", 3, limits)).toEqual({ granted: 3, retryAfterMs: 0 });
    expect((await l.takeApiRequests("callers", 1, limits)).granted).toBe(0);
    expect(await l.takeApiRequests("anonymous", 3, limits)).toEqual({ granted: 3, retryAfterMs: 0 });
    expect(await l.takeRequests(2, { ratePerSecond: 1, burst: 2 })).toEqual({ granted: 2, retryAfterMs: 0 });
  });
});

describe("suspension through the limiter (an isolate whose cached record still says active)", () => {
  it("refuses the tenant's API with 403 tenant_suspended once its limiter is told, whatever the lease; resumes when told", async () => {
    let now = 1_000_000;
    const gate = new ApiRateGate(() => now);
    const e = counted(tenantEnv("api-suspended"));
    const limiter = testEnv.SESSION_LIMITER.get(new TenantNamespace(testEnv.SESSION_LIMITER, "api-suspended").idFromName("limits"));
    expect(await gate.admit("api-suspended", "callers", 1200, e.limiter, false)).toEqual({ ok: true });
    await limiter.syncApiSuspension({ version: 1, suspended: "gatehouse: the tenant api-suspended is suspended by the platform" });
    // The lease taken before (at most a second's worth) may still be spent; the next ask is refused.
    now += 1_001;
    const refused = await gate.admit("api-suspended", "callers", 1200, e.limiter, false);
    expect(refused).toEqual({ ok: false, status: 403, retryAfterSeconds: 1, error: "tenant_suspended", reason: "gatehouse: the tenant api-suspended is suspended by the platform" });
    // Fail-open routes too: the limiter answered (it was reachable), and it said suspended.
    expect(await gate.admit("api-suspended", "anonymous", 1200, e.limiter, true)).toMatchObject({ ok: false, status: 403 });
    const asked = e.calls();
    expect(await gate.admit("api-suspended", "callers", 1200, e.limiter, false)).toMatchObject({ ok: false, status: 403 });
    expect(e.calls()).toBe(asked); // within the second: refused without asking again
    await limiter.syncApiSuspension({ version: 2, suspended: null });
    now += 1_001;
    expect(await gate.admit("api-suspended", "callers", 1200, e.limiter, false)).toEqual({ ok: true });
  });
});

describe("an update the isolate's cached record does not know yet (an issuer removed, a secret rotated)", () => {
  it("is refused (503 tenant_record_changed) and the record dropped when the limiter was told a newer version; the retry spends the lease", async () => {
    let now = 2_000_000;
    const gate = new ApiRateGate(() => now);
    const e = counted(tenantEnv("api-record-changed"));
    const limiter = testEnv.SESSION_LIMITER.get(new TenantNamespace(testEnv.SESSION_LIMITER, "api-record-changed").idFromName("limits"));
    let forgotten = 0;
    const record = (version: number) => ({ version, forget: () => void forgotten++ });
    // Never told (a tenant no update reached yet): served.
    expect(await gate.admit("api-record-changed", "callers", 1200, e.limiter, false, undefined, record(0))).toEqual({ ok: true });
    // The platform updates the tenant: its pieces, the limiter among them, are told version 3.
    expect(await limiter.syncApiSuspension({ version: 3, suspended: null })).toEqual({ applied: true, version: 3 });
    now += 1_001; // this isolate's lease ran out: it asks the limiter again
    expect(await gate.admit("api-record-changed", "callers", 1200, e.limiter, false, undefined, record(2))).toEqual({
      ok: false,
      status: 503,
      retryAfterSeconds: 1,
      error: "tenant_record_changed",
      reason: "gatehouse: the tenant api-record-changed's configuration was changed by the platform a moment ago; retry",
    });
    expect(forgotten).toBe(1);
    // The retry, judged with the record read again (version 3), is served from the lease just taken.
    const asked = e.calls();
    expect(await gate.admit("api-record-changed", "callers", 1200, e.limiter, false, undefined, record(3))).toEqual({ ok: true });
    expect(e.calls()).toBe(asked);
    now += 1_001;
    expect(await gate.admit("api-record-changed", "callers", 1200, e.limiter, false, undefined, record(3))).toEqual({ ok: true });
    expect(forgotten).toBe(1);
  });
});

describe("identities the tenant's policy does not name (a shared issuer mints tokens for the tenant's audience to anyone)", () => {
  const POLICY = `
version: 1
roles:
  admin: [{ issuer: "https://token.actions.example", subject: "boss" }]
rules:
  - name: ci
    effect: allow
    subjects: [{ issuer: "https://token.actions.example", subject: "repo:acme/*" }]
    resources: any
    actions: [connect, sql.read]
`;
  const who = (sub: string) => ({ issuer: "https://token.actions.example", subject: sub, claims: { iss: "https://token.actions.example", sub } });

  function policyEnv(name: string): Env {
    return { ...testEnv, ...tenantEnv(name, 2), GATEHOUSE_POLICY: POLICY } as Env;
  }

  it("spend their own bucket: a stranger's flood leaves the tenant's pipelines and admins served, and protective calls of role holders are never refused", async () => {
    await testEnv.DB.prepare("DELETE FROM policy_versions").run().catch(() => {});
    const e = policyEnv("api-strangers");
    const gate = new ApiRateGate();
    // The stranger's valid token: two calls, then refused — in the `unmatched` bucket only.
    for (let i = 0; i < 2; i++) expect(await chargeAuthenticatedCall(e, who("repo:evil/x"), "GET", "/v1/admin/policy", gate)).toBeNull();
    const refused = await chargeAuthenticatedCall(e, who("repo:evil/x"), "GET", "/v1/resources/db", gate);
    expect(refused?.status).toBe(429);
    expect(((await refused!.json()) as { reason: string }).reason).toMatch(/identity the tenant's policy does not name/);
    // The tenant's own pipeline (a rule's subject) and admin (a role) still have the whole budget.
    expect(await chargeAuthenticatedCall(e, who("repo:acme/app"), "GET", "/v1/resources/db", gate)).toBeNull();
    expect(await chargeAuthenticatedCall(e, who("boss"), "GET", "/v1/admin/policy", gate)).toBeNull();
    // Now the callers' bucket is used up too (2 a minute): the admin's reads wait, its revokes do not.
    expect((await chargeAuthenticatedCall(e, who("boss"), "GET", "/v1/admin/policy", gate))?.status).toBe(429);
    expect(await chargeAuthenticatedCall(e, who("boss"), "POST", "/v1/admin/connectors/dc1/revoke", gate)).toBeNull();
    expect(await chargeAuthenticatedCall(e, who("boss"), "POST", "/v1/admin/connectors/dc1/bind", gate)).toBeNull();
    expect(await chargeAuthenticatedCall(e, who("boss"), "POST", "/v1/grants/grt_b234567892345678/revoke", gate)).toBeNull();
    // A stranger's "protective" call is charged like any other (no role: no exemption).
    expect((await chargeAuthenticatedCall(e, who("repo:evil/x"), "POST", "/v1/grants/grt_b234567892345678/revoke", gate))?.status).toBe(429);
  });
});

describe("per-address shares: what the isolate and the limiter keep", () => {
  it("a share's size: a tenth of the bucket, at least 10, at most the bucket", () => {
    expect([addressShare(1200), addressShare(100), addressShare(60), addressShare(5), addressShare(20_000)]).toEqual([120, 10, 10, 5, 2000]);
  });

  it("the limiter takes from the address's share and the tenant's bucket together, and says which was empty", async () => {
    const l = testEnv.SESSION_LIMITER.get(testEnv.SESSION_LIMITER.idFromName("api-shares-limiter"));
    const limits = { ratePerSecond: 0.05, burst: 3 };
    const share = (group: string) => ({ group, limits: { ratePerSecond: 0.05, burst: 2 } });
    expect(await l.takeApiRequests("anonymous", 5, limits, share("v4:192.0.2.1"))).toEqual({ granted: 2, retryAfterMs: 0 });
    expect(await l.takeApiRequests("anonymous", 1, limits, share("v4:192.0.2.1"))).toMatchObject({ granted: 0, scope: "address" });
    expect(await l.takeApiRequests("anonymous", 5, limits, share("v4:192.0.2.2"))).toEqual({ granted: 1, retryAfterMs: 0 });
    expect(await l.takeApiRequests("anonymous", 1, limits, share("v4:192.0.2.3"))).toMatchObject({ granted: 0, scope: "tenant" });
    // The address's refusal spent nothing of the tenant's bucket, nor the tenant's refusal of the address's share.
    const again = testEnv.SESSION_LIMITER.get(testEnv.SESSION_LIMITER.idFromName("api-shares-limiter-2"));
    expect(await again.takeApiRequests("anonymous", 2, limits, share("a"))).toEqual({ granted: 2, retryAfterMs: 0 });
    expect((await again.takeApiRequests("anonymous", 1, limits, share("a"))).granted).toBe(0);
    expect(await again.takeApiRequests("anonymous", 1, limits, share("b"))).toEqual({ granted: 1, retryAfterMs: 0 });
  });

  it("the limiter keeps a bounded number of shares, the least recently used dropped first", () => {
    const buckets = new Map<string, { bucket: TokenBucket; key: string }>();
    const limits = { ratePerSecond: 1, burst: 1 };
    for (const g of ["a", "b", "c"]) retuned(buckets, g, limits, 0, 3).take(1, 0);
    retuned(buckets, "a", limits, 0, 3); // used again: now the most recent
    retuned(buckets, "d", limits, 0, 3);
    expect([...buckets.keys()]).toEqual(["c", "a", "d"]);
    expect(retuned(buckets, "a", limits, 0, 3).available(0)).toBe(0); // kept, still empty
  });

  it("many isolates together never pass an address's share nor the tenant's bucket (tokens are taken from the limiter before they are spent)", async () => {
    // 600 a minute (10 a second), 60 per address (1 a second): 40 isolates, each with its own leases, against the one real limiter.
    const e = tenantEnv("api-many-isolates", 600);
    const c = counted(e);
    const gates = Array.from({ length: 40 }, () => new ApiRateGate());
    const started = Date.now();
    let one = 0;
    for (let round = 0; round < 3; round++) for (const g of gates) if ((await g.admit("api-many-isolates", "anonymous", 600, c.limiter, false, "v4:203.0.113.9")).ok) one++;
    let elapsed = (Date.now() - started) / 1000;
    expect(one).toBeGreaterThanOrEqual(60);
    expect(one).toBeLessThanOrEqual(60 + Math.ceil(elapsed * 1) + 1);
    // Many addresses spread over the isolates: the tenant's bucket (600, of which one address took its share) bounds them all.
    let all = 0;
    for (let a = 0; a < 20; a++) for (const g of gates) if ((await g.admit("api-many-isolates", "anonymous", 600, c.limiter, false, `v4:198.51.100.${a}`)).ok) all++;
    elapsed = (Date.now() - started) / 1000;
    expect(one + all).toBeGreaterThanOrEqual(600);
    expect(one + all).toBeLessThanOrEqual(600 + Math.ceil(elapsed * 10) + 1);
  });

  it("an isolate learns the tenant's bucket is empty from one address and refuses the others without asking; its leases are bounded", async () => {
    let asked = 0;
    const tenantEmpty: () => ApiRateLimiter = () => ({
      takeApiRequests: async () => {
        asked++;
        return { granted: 0, retryAfterMs: 5_000, scope: "tenant" };
      },
    });
    const gate = new ApiRateGate(() => 1_000_000, 3);
    expect(await gate.admit("api-iso", "anonymous", 100, tenantEmpty, false, "v4:192.0.2.1")).toMatchObject({ ok: false, status: 429, reason: expect.stringMatching(/the tenant's API rate limit is reached/) });
    for (let i = 2; i < 50; i++) expect(await gate.admit("api-iso", "anonymous", 100, tenantEmpty, false, `v4:192.0.2.${i}`)).toMatchObject({ ok: false, status: 429 });
    expect(asked).toBe(1);
    // An address's own share empty: only that address is refused without asking.
    let calls = 0;
    const shareEmpty: () => ApiRateLimiter = () => ({
      takeApiRequests: async (_b, _w, _l, share) => {
        calls++;
        return share?.group === "v4:198.51.100.1" ? { granted: 0, retryAfterMs: 5_000, scope: "address" } : { granted: 1, retryAfterMs: 0 };
      },
    });
    const gate2 = new ApiRateGate(() => 1_000_000, 3);
    expect(await gate2.admit("api-iso2", "anonymous", 100, shareEmpty, false, "v4:198.51.100.1")).toMatchObject({ ok: false, reason: expect.stringMatching(/this client address's share/) });
    expect(await gate2.admit("api-iso2", "anonymous", 100, shareEmpty, false, "v4:198.51.100.1")).toMatchObject({ ok: false });
    expect(calls).toBe(1);
    expect(await gate2.admit("api-iso2", "anonymous", 100, shareEmpty, false, "v4:198.51.100.2")).toEqual({ ok: true });
    // Past the bound (3 leases), the oldest is dropped: the address is asked about again, and the limiter still refuses it.
    for (const g of ["v4:198.51.100.3", "v4:198.51.100.4", "v4:198.51.100.5"]) await gate2.admit("api-iso2", "anonymous", 100, shareEmpty, false, g);
    const before = calls;
    expect(await gate2.admit("api-iso2", "anonymous", 100, shareEmpty, false, "v4:198.51.100.1")).toMatchObject({ ok: false, status: 429 });
    expect(calls).toBe(before + 1);
  });
});
