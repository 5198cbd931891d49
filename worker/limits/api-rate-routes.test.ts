/**
 * Where the tenant's API rate is charged (worker/limits/api-rate.ts), through the worker's own
 * routes in workerd: the real app, given a hosted tenant's Env (its limit, its limiter and hub in
 * its namespace) the way the boundary gives it, real tokens verified against an inline JWKS, real
 * console sessions in D1. A bearer token is charged once it passed the tenant's issuers (outsiders
 * spend nothing), a cancel too; the routes that serve
 * anyone draw on their own bucket, charged before any work; console pages once signed in.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { generateKeyPair } from "jose";
import { testIssuer, type TestIssuer } from "./test-issuer.ts";
import type { Env } from "../env.ts";
import worker from "../index.ts";
import { TenantNamespace } from "../tenancy/tenant-env.ts";
import { createConsoleSession } from "../signin/store.ts";
import { sessionCookieValue } from "../signin/session.ts";
import type { HostedEnv } from "../tenancy/tenant-env.ts";
import { registryHub } from "../connectors/hub-shards.ts";
import { hashEnrolmentToken } from "../connectors/registry.ts";

const testEnv = env as unknown as Env;
const ISSUER = "https://issuer.api-rate.test";
let idp: TestIssuer;
let otherKey: CryptoKey;

beforeAll(async () => {
  idp = await testIssuer(ISSUER, "gatehouse-api-rate");
  otherKey = (await generateKeyPair("ES256")).privateKey;
});

const token = (sub: string, groups: string[] = [], signWith?: CryptoKey) => idp.token(sub, groups, signWith);

/** The Env the boundary would build for tenant `name` with `max_api_requests_per_minute: perMinute`. */
function tenantEnv(name: string, perMinute: number): HostedEnv {
  return {
    ...testEnv,
    GATEHOUSE_ISSUERS: idp.issuers,
    GATEHOUSE_POLICY: idp.policy,
    GATEHOUSE_MASKING_KEY: "api-rate-routes-masking-key",
    SESSION_LIMITER: new TenantNamespace(testEnv.SESSION_LIMITER, name) as unknown as Env["SESSION_LIMITER"],
    CONNECTOR_HUB: new TenantNamespace(testEnv.CONNECTOR_HUB, name) as unknown as Env["CONNECTOR_HUB"],
    TENANT: { name, via: "path", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null, maxApiRequestsPerMinute: perMinute } },
  };
}

async function call(e: HostedEnv, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://127.0.0.1${path}`, { method, headers, body }), e, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe("where the tenant's API rate is charged", () => {
  it("a bearer call once its token passed the tenant's issuers: outsiders spend nothing; a cancel is charged, an administrator's served", async () => {
    const e = tenantEnv("routes-a", 2);
    const admin = await token("alice", ["admins"]);
    for (let i = 0; i < 5; i++) {
      expect((await call(e, "GET", "/v1/admin/policy")).status).toBe(401);
      expect((await call(e, "GET", "/v1/admin/policy", bearer(await token("mallory", ["admins"], otherKey)))).status).toBe(401);
    }
    expect((await call(e, "GET", "/v1/admin/policy", bearer(admin))).status).toBe(200);
    expect((await call(e, "GET", "/v1/admin/policy", bearer(admin))).status).toBe(200);
    const refused = await call(e, "GET", "/v1/admin/policy", bearer(admin));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({ error: "api_rate_limited", reason: expect.stringMatching(/max_api_requests_per_minute: 2\); retry in \d+ s$/) });
    // The same budget for every caller and route of the tenant (a pipeline reading a resource: refused before the hub is asked).
    expect((await call(e, "GET", "/v1/resources/orders", bearer(await token("ci")))).status).toBe(429);
    // A cancel reads the tenant's database: charged like any call (charged-reads.test.ts), but an administrator's is served.
    expect((await call(e, "POST", "/v1/cancel", { ...bearer(await token("ci")), "content-type": "application/json" }, JSON.stringify({ pid: 1, secret: 2 }))).status).toBe(429);
    expect((await call(e, "POST", "/v1/cancel", { ...bearer(admin), "content-type": "application/json" }, JSON.stringify({ pid: 1, secret: 2 }))).status).toBe(202);
    // The published audit keys are on the anonymous bucket: served.
    expect((await call(e, "GET", "/.well-known/gatehouse-audit-keys")).status).toBe(200);
  });

  it("the routes that serve anyone are charged up front on a bucket of their own: enrolment floods do not lock the admins out", async () => {
    const e = tenantEnv("routes-b", 2);
    const enrol = () => call(e, "POST", "/v1/connector/enroll", { "content-type": "application/json" }, JSON.stringify({ token: "not-a-token" }));
    expect((await enrol()).status).toBe(400);
    expect((await enrol()).status).toBe(400);
    const refused = await enrol();
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { reason: string }).reason).toMatch(/^gatehouse: unauthenticated API request refused: /);
    expect((await call(e, "GET", "/signin")).status).toBe(429);
    expect((await call(e, "GET", "/v1/admin/policy", bearer(await token("alice", ["admins"])))).status).toBe(200);
  });

  it("console pages once signed in (the sign-in redirect spends nothing)", async () => {
    const e = tenantEnv("routes-c", 1);
    for (let i = 0; i < 3; i++) expect((await call(e, "GET", "/console/approvals")).status).toBe(303);
    const { id } = await createConsoleSession(testEnv.DB, "routes-c", { issuer: ISSUER, subject: "alice", claims: { iss: ISSUER, sub: "alice", groups: ["admins"] } }, "oidc:corp", 3600);
    const cookie = { cookie: `gatehouse_console_routes-c=${await sessionCookieValue(e, "routes-c", id)}` };
    expect((await call(e, "GET", "/console/approvals", cookie)).status).toBe(200);
    const refused = await call(e, "GET", "/console/approvals", cookie);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).not.toBeNull();
  });

  it("single-tenant deployments have no API limit", async () => {
    const single = { ...testEnv, GATEHOUSE_ISSUERS: idp.issuers, GATEHOUSE_POLICY: idp.policy } as HostedEnv;
    const admin = await token("alice", ["admins"]);
    for (let i = 0; i < 30; i++) expect((await call(single, "GET", "/v1/admin/policy", bearer(admin))).status).toBe(200);
  });
});

describe("an administrator's security actions on connectors while the limiter cannot be reached", () => {
  it("revoking and re-binding a connector go on (fail open, as for a role holder over the limit); other calls are refused 503", async () => {
    const e = tenantEnv("routes-limiter-down", 600);
    // The tenant's limiter, unreachable: every call to it fails.
    e.SESSION_LIMITER = {
      idFromName: (n: string) => n,
      get: () => ({ takeApiRequests: () => Promise.reject(new Error("limiter overloaded")) }),
    } as unknown as Env["SESSION_LIMITER"];
    const admin = bearer(await token("alice", ["admins"]));
    const json = { ...admin, "content-type": "application/json" };
    for (const id of ["dc-down-bound", "dc-down-revoked"]) {
      const hub = registryHub(e);
      const hash = await hashEnrolmentToken(`ghenrol_test_${id}`);
      expect(await hub.createEnrolmentToken(hash, id, 600, "admin", [], ["a-*"])).toMatchObject({ ok: true });
      expect(await hub.enrolConnector(hash, { kty: "OKP", crv: "Ed25519", x: "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleS0" }, `thumb-${id}`)).toMatchObject({ ok: true });
    }
    const refused = await call(e, "GET", "/v1/admin/policy", admin);
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: "rate_limiter_unavailable" });
    const bound = await call(e, "POST", "/v1/admin/connectors/dc-down-bound/bind", json, JSON.stringify({ resources: ["a-db"] }));
    expect(bound.status).toBe(200);
    expect(await bound.json()).toMatchObject({ id: "dc-down-bound", resources: ["a-db"] });
    expect((await call(e, "POST", "/v1/admin/connectors/dc-down-revoked/revoke", admin)).status).toBe(200);
  });
});
