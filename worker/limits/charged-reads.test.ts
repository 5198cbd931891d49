/**
 * Requests that cost a storage read before their caller is known must not be free (docs/TENANCY.md
 * "API rate limit"), through the worker's own routes in workerd with a hosted tenant's Env, its
 * real SessionLimiter, ConnectorHub and D1 — the hub and the database wrapped only to count the
 * reads in question:
 *  - a connector assertion naming a made-up `kid`: the registry lookup on hub shard 0 is charged
 *    to the anonymous bucket (and the address's share) first; an enrolled connector's key is cached
 *    per isolate, so its own admissions are not;
 *  - a console request with a junk cookie: the cookie's MAC is checked before any read;
 *  - POST /v1/cancel: charged once its token is verified, before the cancel keys are read.
 */
import { beforeAll, describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";
import { testIssuer, type TestIssuer } from "./test-issuer.ts";
import type { Env } from "../env.ts";
import worker from "../index.ts";
import { TenantNamespace, type HostedEnv } from "../tenancy/tenant-env.ts";
import { createConsoleSession } from "../signin/store.ts";
import { sessionCookieValue } from "../signin/session.ts";
import { registryHub } from "../connectors/hub-shards.ts";
import { hashEnrolmentToken } from "../connectors/registry.ts";
import { KEY_TTL_MS } from "../connectors/connector-keys.ts";
import { TUNNEL_PROTOCOL_VERSION } from "../../parsers/tunnel/version.ts";

const testEnv = env as unknown as Env;
const ISSUER = "https://issuer.charged-reads.test";
let idp: TestIssuer;

beforeAll(async () => {
  idp = await testIssuer(ISSUER, "gatehouse-charged");
});

const token = (sub: string, groups: string[] = []) => idp.token(sub, groups);

/** Counts the reads of interest: the hub's registry lookups, and D1 statements naming `table`. */
interface Counted {
  env: HostedEnv;
  lookups: () => number;
  reads: () => number;
}

function tenantEnv(name: string, perMinute: number, table: string): Counted {
  let lookups = 0;
  let reads = 0;
  const hubs = new TenantNamespace(testEnv.CONNECTOR_HUB, name) as unknown as Env["CONNECTOR_HUB"];
  const countingHubs = {
    idFromName: (n: string) => hubs.idFromName(n),
    get: (id: DurableObjectId) => {
      const stub = hubs.get(id);
      return new Proxy(stub, {
        get: (t, p) =>
          p === "connectorRecord"
            ? (kid: string) => {
                lookups++;
                return t.connectorRecord(kid);
              }
            : Reflect.get(t, p),
      });
    },
  } as unknown as Env["CONNECTOR_HUB"];
  const db = testEnv.DB;
  const countingDb = new Proxy(db, {
    get: (t, p) => {
      if (p === "prepare")
        return (sql: string) => {
          if (sql.includes(table)) reads++;
          return t.prepare(sql);
        };
      const v = Reflect.get(t, p) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
  const e: HostedEnv = {
    ...testEnv,
    DB: countingDb,
    GATEHOUSE_ISSUERS: idp.issuers,
    GATEHOUSE_POLICY: idp.policy,
    GATEHOUSE_MASKING_KEY: "charged-reads-masking-key",
    GATEHOUSE_BEHIND_CLOUDFLARE: "true",
    SESSION_LIMITER: new TenantNamespace(testEnv.SESSION_LIMITER, name) as unknown as Env["SESSION_LIMITER"],
    CONNECTOR_HUB: countingHubs,
    TENANT: { name, via: "path", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null, maxApiRequestsPerMinute: perMinute } },
  };
  return { env: e, lookups: () => lookups, reads: () => reads };
}

async function call(e: HostedEnv, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://127.0.0.1${path}`, { method, headers, body }), e, ctx);
  await waitOnExecutionContext(ctx);
  await res.arrayBuffer();
  return res;
}

async function connectorKey(): Promise<{ privateKey: CryptoKey; publicJwk: JWK }> {
  const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(pair.publicKey);
  return { privateKey: pair.privateKey, publicJwk: { kty: "OKP", crv: "Ed25519", x: jwk.x } };
}

function assertion(key: CryptoKey, kid: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({}).setProtectedHeader({ alg: "EdDSA", kid, typ: "gatehouse-connector+jwt" }).setIssuer(kid).setSubject(kid).setAudience("gatehouse-connector").setIssuedAt(now).setExpirationTime(now + 60).setJti(crypto.randomUUID()).sign(key);
}

/** A control-channel dial, as a connector sends it (no WebSocket: an admitted dial answers 426 once past admission). */
const dial = async (e: HostedEnv, jwt: string, ip: string) =>
  (await call(e, "GET", "/v1/connector/control", { authorization: `Bearer ${jwt}`, "cf-connecting-ip": ip, "sec-websocket-protocol": `gatehouse.v${TUNNEL_PROTOCOL_VERSION}` })).status;

describe("reads before the caller is known are charged, or not made", () => {
  it("a made-up connector kid: the registry lookup is charged to the address's anonymous share first; an enrolled connector's own admissions are not", async () => {
    // 100 a minute: 10 per address.
    const t = tenantEnv("reads-kid", 100, "-");
    const forger = await connectorKey();
    const statuses: number[] = [];
    for (let i = 0; i < 15; i++) statuses.push(await dial(t.env, await assertion(forger.privateKey, `made-up-${i}`), "203.0.113.7"));
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(401));
    expect(statuses.slice(10)).toEqual(Array(5).fill(429));
    expect(t.lookups()).toBe(10);
    // A real connector's id with a forged signature is no cheaper: each try is a charged lookup (the cached key did not verify).
    const real = await connectorKey();
    const hub = registryHub(t.env);
    const enrolToken = "enrol-token-charged-reads-0001";
    const tokenHash = await hashEnrolmentToken(enrolToken);
    expect((await hub.createEnrolmentToken(tokenHash, "dc-real", 600, "test", [])).ok).toBe(true);
    expect((await hub.enrolConnector(tokenHash, real.publicJwk, await calculateJwkThumbprint(real.publicJwk))).ok).toBe(true);
    // The enrolled connector, from its own address: its first admission looks its key up (charged), the next ones use the cached key.
    const before = t.lookups();
    const admitted: number[] = [];
    for (let i = 0; i < 15; i++) admitted.push(await dial(t.env, await assertion(real.privateKey, "dc-real"), "198.51.100.9"));
    expect(admitted).toEqual(Array(15).fill(426)); // past admission (no WebSocket in this test), 15 > the address's share of 10
    expect(t.lookups()).toBe(before + 1);
    // Forged signatures under the real id, from the flooded address: refused before any lookup.
    expect(await dial(t.env, await assertion(forger.privateKey, "dc-real"), "203.0.113.7")).toBe(429);
    expect(t.lookups()).toBe(before + 1);
    // ...and from a fresh address: one charged lookup each (10, its share), then refused.
    const forged: number[] = [];
    for (let i = 0; i < 12; i++) forged.push(await dial(t.env, await assertion(forger.privateKey, "dc-real"), "192.0.2.44"));
    expect(forged.filter((s) => s === 401).length).toBe(10);
    expect(forged.slice(10)).toEqual([429, 429]);
    expect(t.lookups()).toBe(before + 11);
    // The forgeries did not evict the real connector's key: its admissions still need no lookup.
    for (let i = 0; i < 5; i++) expect(await dial(t.env, await assertion(real.privateKey, "dc-real"), "198.51.100.9")).toBe(426);
    expect(t.lookups()).toBe(before + 11);
    // A rotated key: the old one, still cached here, verifies the signature, but the registry refuses it when the assertion
    // is claimed; the new one does not verify against the cache, and one charged lookup finds it.
    const next = await connectorKey();
    expect((await hub.rotateConnectorKey("dc-real", await calculateJwkThumbprint(real.publicJwk), next.publicJwk, await calculateJwkThumbprint(next.publicJwk))).ok).toBe(true);
    expect(await dial(t.env, await assertion(real.privateKey, "dc-real"), "198.51.100.9")).toBe(401);
    expect(await dial(t.env, await assertion(next.privateKey, "dc-real"), "198.51.100.9")).toBe(426);
    expect(await dial(t.env, await assertion(next.privateKey, "dc-real"), "198.51.100.9")).toBe(426);
    expect(t.lookups()).toBe(before + 12);
    // Revoked: refused whatever this isolate cached (the claim on shard 0 decides).
    await hub.revokeConnector("dc-real", "test", []);
    expect(await dial(t.env, await assertion(next.privateKey, "dc-real"), "198.51.100.9")).toBe(401);
  });

  it("a flood of the anonymous bucket does not shut the tenant's enrolled connectors out when their cached key ages: the key they sign with proves who they are", async () => {
    // 30 a minute, 10 per address: three senders use the whole anonymous bucket up.
    const t = tenantEnv("reads-kid-aged", 30, "-");
    const real = await connectorKey();
    const hub = registryHub(t.env);
    const tokenHash = await hashEnrolmentToken("enrol-token-charged-reads-aged");
    expect((await hub.createEnrolmentToken(tokenHash, "dc-aged", 600, "test", [])).ok).toBe(true);
    expect((await hub.enrolConnector(tokenHash, real.publicJwk, await calculateJwkThumbprint(real.publicJwk))).ok).toBe(true);
    expect(await dial(t.env, await assertion(real.privateKey, "dc-aged"), "198.51.100.9")).toBe(426);
    const before = t.lookups();
    // A minute later (the cached key past KEY_TTL_MS), while outsiders flood the sign-in page from a few addresses.
    const realNow = Date.now.bind(Date);
    const clock = vi.spyOn(Date, "now").mockImplementation(() => realNow() + KEY_TTL_MS + 5_000);
    try {
      for (const ip of ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]) {
        for (let i = 0; i < 12; i++) await call(t.env, "GET", "/signin", { "cf-connecting-ip": ip });
      }
      expect((await call(t.env, "GET", "/signin", { "cf-connecting-ip": "203.0.113.5" })).status).toBe(429);
      // The connector's sockets and streams are still admitted: its key is refreshed from the registry, not charged.
      for (let i = 0; i < 3; i++) expect(await dial(t.env, await assertion(real.privateKey, "dc-aged"), "198.51.100.9")).toBe(426);
      expect(t.lookups()).toBe(before + 1);
      // A forgery under its id is still a charged lookup: refused with the bucket empty, before the hub.
      const forger = await connectorKey();
      expect(await dial(t.env, await assertion(forger.privateKey, "dc-aged"), "192.0.2.50")).toBe(429);
      expect(t.lookups()).toBe(before + 1);
    } finally {
      clock.mockRestore();
    }
    // Revoked, and its key aged in the cache again: the refresh finds the revocation, and the key is forgotten —
    // so its holder's next tries are charged lookups, not free ones.
    await hub.revokeConnector("dc-aged", "test", []);
    const later = vi.spyOn(Date, "now").mockImplementation(() => realNow() + 3 * KEY_TTL_MS);
    try {
      expect(await dial(t.env, await assertion(real.privateKey, "dc-aged"), "198.51.100.9")).toBe(401);
      expect(t.lookups()).toBe(before + 2);
      const after: number[] = [];
      for (let i = 0; i < 12; i++) after.push(await dial(t.env, await assertion(real.privateKey, "dc-aged"), "198.51.100.77"));
      expect(after.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(t.lookups()).toBeLessThanOrEqual(before + 2 + 10);
    } finally {
      later.mockRestore();
    }
  });

  it("a console cookie that is not the gateway's costs no database read; a real one still signs in", async () => {
    const t = tenantEnv("reads-cookie", 1000, "console_tenant_sessions");
    const name = "gatehouse_console_reads-cookie";
    const junk = ["A".repeat(43), `${"A".repeat(43)}.${"B".repeat(22)}`, `${"x".repeat(43)}.`, "x"];
    for (let i = 0; i < 40; i++) {
      const res = await call(t.env, "GET", "/console/approvals", { cookie: `${name}=${junk[i % junk.length]}` });
      expect(res.status).toBe(303);
    }
    expect((await call(t.env, "POST", "/console/approvals/apr_b234567892345678/deny", { cookie: `${name}=${"A".repeat(43)}` })).status).toBe(403);
    expect((await call(t.env, "POST", "/signout", { cookie: `${name}=${"A".repeat(43)}`, "content-type": "application/x-www-form-urlencoded" }, "csrf=x")).status).toBe(303);
    expect(t.reads()).toBe(0);
    // A session's own cookie: read once, served.
    const { id } = await createConsoleSession(testEnv.DB, "reads-cookie", { issuer: ISSUER, subject: "alice", claims: { iss: ISSUER, sub: "alice", groups: ["admins"] } }, "oidc:corp", 3600);
    expect((await call(t.env, "GET", "/console/approvals", { cookie: `${name}=${await sessionCookieValue(t.env, "reads-cookie", id)}` })).status).toBe(200);
    expect(t.reads()).toBe(1);
    // Its id under another tenant's tag, or with no tag at all (the single-tenant format): not read.
    expect((await call(t.env, "GET", "/console/approvals", { cookie: `${name}=${await sessionCookieValue(t.env, "another", id)}` })).status).toBe(303);
    expect((await call(t.env, "GET", "/console/approvals", { cookie: `${name}=${id}` })).status).toBe(303);
    expect(t.reads()).toBe(1);
    // The right tag cut short, padded, doubled, or on a neighbouring id; the cookie under another tenant's masking key.
    const good = await sessionCookieValue(t.env, "reads-cookie", id);
    const [, tag] = good.split(".") as [string, string];
    const otherKey = await sessionCookieValue({ ...t.env, GATEHOUSE_MASKING_KEY: "another-tenants-masking-key" }, "reads-cookie", id);
    for (const bent of [good.slice(0, -1), `${good}=`, `${good}.${tag}`, `${id.slice(0, -1)}${id.endsWith("A") ? "B" : "A"}.${tag}`, `.${tag}`, otherKey]) {
      expect((await call(t.env, "GET", "/console/approvals", { cookie: `${name}=${bent}` })).status, bent).toBe(303);
    }
    expect(t.reads()).toBe(1);
  });

  it("POST /v1/cancel is charged once its token is verified, before the cancel keys are read; a role holder's is never refused", async () => {
    const t = tenantEnv("reads-cancel", 2, "cancel_keys");
    const ci = await token("ci");
    const cancel = async (jwt: string) => (await call(t.env, "POST", "/v1/cancel", { authorization: `Bearer ${jwt}`, "content-type": "application/json" }, JSON.stringify({ pid: 1, secret: 2 }))).status;
    expect([await cancel(ci), await cancel(ci)]).toEqual([202, 202]);
    expect(t.reads()).toBe(2);
    const refused = await call(t.env, "POST", "/v1/cancel", { authorization: `Bearer ${ci}`, "content-type": "application/json" }, JSON.stringify({ pid: 1, secret: 2 }));
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).not.toBeNull();
    expect(t.reads()).toBe(2);
    // An administrator stopping a statement during the flood: served (protective, like revoking).
    expect(await cancel(await token("alice", ["admins"]))).toBe(202);
    // Without a valid token: 401, no read, nothing spent.
    expect((await call(t.env, "POST", "/v1/cancel", { authorization: "Bearer junk" })).status).toBe(401);
    expect(t.reads()).toBe(3);
  });
});
