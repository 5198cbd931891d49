/**
 * Per-address shares of the tenant's anonymous API bucket (api-rate.ts, address-group.ts), through
 * the worker's own routes in workerd with a hosted tenant's Env and its real SessionLimiter: a flood
 * of sign-in pages from one address is refused while another address still signs in; IPv6
 * neighbours (one /48: a party's many /64s) share one share; requests without a trusted address share one; headers the client
 * chose (X-Forwarded-For, CF-Connecting-IP off Cloudflare) buy no new share; and the tenant-wide
 * cap still holds however many addresses send.
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import type { Env } from "../env.ts";
import worker from "../index.ts";
import { TenantNamespace, type HostedEnv } from "../tenancy/tenant-env.ts";
import { addressShare } from "./api-rate.ts";

const testEnv = env as unknown as Env;
const ISSUER = "https://login.shares.test";
const SIGNIN = JSON.stringify({ oidc: [{ id: "corp", label: "Corp", issuer: ISSUER, client_id: "shares-console", authorization_endpoint: `${ISSUER}/authorize`, token_endpoint: `${ISSUER}/token` }] });

function tenantEnv(name: string, perMinute: number, behindCloudflare = true): HostedEnv {
  return {
    ...testEnv,
    GATEHOUSE_ISSUERS: JSON.stringify([{ issuer: ISSUER, audiences: ["shares-console"], jwks_uri: `${ISSUER}/jwks` }]),
    GATEHOUSE_SIGNIN: SIGNIN,
    GATEHOUSE_BEHIND_CLOUDFLARE: behindCloudflare ? "true" : undefined,
    SESSION_LIMITER: new TenantNamespace(testEnv.SESSION_LIMITER, name) as unknown as Env["SESSION_LIMITER"],
    TENANT: { name, via: "path", limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null, maxApiRequestsPerMinute: perMinute } },
  };
}

async function call(e: HostedEnv, path: string, headers: Record<string, string> = {}, cf?: Record<string, unknown>): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://127.0.0.1${path}`, { headers, ...(cf ? { cf } : {}) }), e, ctx);
  await waitOnExecutionContext(ctx);
  await res.arrayBuffer();
  return res;
}

const from = (ip: string, extra: Record<string, string> = {}) => ({ "cf-connecting-ip": ip, ...extra });

/** Statuses of `n` sign-in page loads. */
async function flood(e: HostedEnv, n: number, headers: (i: number) => Record<string, string>, cf?: (i: number) => Record<string, unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await call(e, "/signin", headers(i), cf?.(i))).status);
  return out;
}

const served = (statuses: number[]) => statuses.filter((s) => s !== 429).length;

describe("per-address shares of the anonymous API bucket", () => {
  it("a flood of /signin from one address is refused past its share while another address still signs in", async () => {
    // 100 a minute: one address may use 10 of them.
    const e = tenantEnv("shares-a", 100);
    expect(addressShare(100)).toBe(10);
    const statuses = await flood(e, 120, () => from("203.0.113.7"));
    expect(statuses.slice(0, 10)).toEqual(Array(10).fill(200));
    expect(statuses.slice(10)).toEqual(Array(110).fill(429));
    const refused = await call(e, "/signin", from("203.0.113.7"));
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another address starts a sign-in (the redirect to its identity provider) and finishes the page loads it needs.
    const start = await call(e, "/signin/oidc/corp?return_to=%2Fconsole%2F", from("198.51.100.9"));
    expect(start.status).toBe(302);
    expect(start.headers.get("location")).toMatch(/^https:\/\/login\.shares\.test\/authorize\?/);
    expect((await call(e, "/signin", from("198.51.100.9"))).status).toBe(200);
    // Headers the client chose buy no new share: X-Forwarded-For is never read.
    expect(await flood(e, 5, (i) => from("203.0.113.7", { "x-forwarded-for": `192.0.2.${i}`, "x-real-ip": `192.0.2.${i}` }))).toEqual(Array(5).fill(429));
  });

  it("the refusal says it is this address's share, and is JSON with Retry-After", async () => {
    const e = tenantEnv("shares-msg", 100);
    await flood(e, 10, () => from("203.0.113.70"));
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request("http://127.0.0.1/signin", { headers: from("203.0.113.70") }), e, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(429);
    const json = (await res.json()) as { error: string; reason: string; retry_after_seconds: number };
    expect(json.error).toBe("api_rate_limited");
    expect(json.reason).toMatch(/^gatehouse: unauthenticated API request refused: this client address's share of the tenant's unauthenticated API budget is used up \(10 a minute per address; max_api_requests_per_minute: 100\); retry in \d+ s$/);
    expect(json.retry_after_seconds).toBe(Number(res.headers.get("retry-after")));
  });

  it("IPv6 neighbours (one /64) share one share; the next /48 has its own", async () => {
    const e = tenantEnv("shares-v6", 100);
    const statuses = await flood(e, 12, (i) => from(`2001:db8:7:1::${(i + 1).toString(16)}`));
    expect(served(statuses)).toBe(10);
    expect((await call(e, "/signin", from("2001:db8:7:1:ffff:ffff:ffff:ffff"))).status).toBe(429);
    expect((await call(e, "/signin", from("::ffff:198.51.100.20"))).status).toBe(200);
    expect((await call(e, "/signin", from("2001:db8:8:1::1"))).status).toBe(200);
  });

  it("one party's IPv6 prefix is one share: a residential /56 or a free /48 has 256 or 65536 /64s, which must not be as many shares", async () => {
    // Attack: each call from another /64 of one delegated /56 (2001:db8:7:100::/56 … :1ff::).
    const e = tenantEnv("shares-v6-prefix", 100);
    const statuses = await flood(e, 30, (i) => from(`2001:db8:7:${(0x100 + i).toString(16)}::1`));
    expect(served(statuses)).toBe(10);
    // The whole /48 likewise (another /56 of it).
    expect((await call(e, "/signin", from("2001:db8:7:ff00::1"))).status).toBe(429);
    // Another party's /48 still signs in.
    expect((await call(e, "/signin", from("2001:db8:8::1"))).status).toBe(200);
  });

  it("a zone with Pseudo IPv4 'Overwrite Headers' (a Class E stand-in per IPv6 address in CF-Connecting-IP): the real IPv6 address's share", async () => {
    const e = tenantEnv("shares-pseudo-v4", 100);
    const statuses = await flood(e, 30, (i) => from(`240.16.${i >> 8}.${i & 255}`, { "cf-connecting-ipv6": `2001:db8:7:${i.toString(16)}::1` }));
    expect(served(statuses)).toBe(10);
    expect((await call(e, "/signin", from("240.17.0.1", { "cf-connecting-ipv6": "2001:db8:9::1" }))).status).toBe(200);
  });

  it("requests without a trusted address share one small bucket (fail closed), which leaves addressed clients theirs", async () => {
    const e = tenantEnv("shares-unknown", 100);
    // On Cloudflare without CF-Connecting-IP (or with junk in it): the unknown group.
    const statuses = await flood(e, 15, (i) => (i % 2 ? {} : { "cf-connecting-ip": "not-an-address" }));
    expect(served(statuses)).toBe(10);
    expect((await call(e, "/signin", {})).status).toBe(429);
    expect((await call(e, "/signin", from("198.51.100.30"))).status).toBe(200);
    // Off Cloudflare, CF-Connecting-IP is the client's own text: a new value each time buys nothing.
    const off = tenantEnv("shares-off-cf", 100, false);
    expect(served(await flood(off, 15, (i) => from(`192.0.2.${i}`)))).toBe(10);
    // Standalone workerd's socket peer (request.cf.clientIp, which no header can set) is trusted there.
    expect((await call(off, "/signin", {}, { clientIp: "[2001:db8:9::1]:4242" })).status).toBe(200);
    expect(served(await flood(off, 12, () => ({}), (i) => ({ clientIp: `198.51.100.40:${1000 + i}` })))).toBe(10);
  });

  it("the tenant-wide cap still holds with many addresses", async () => {
    // 30 a minute, 10 per address: 60 addresses sending one each get 30 served, then all are refused.
    const e = tenantEnv("shares-many", 30);
    const statuses = await flood(e, 60, (i) => from(`198.51.${100 + Math.floor(i / 200)}.${i % 200}`));
    expect(served(statuses)).toBe(30);
    expect(statuses.slice(30)).toEqual(Array(30).fill(429));
    expect((await call(e, "/signin", from("203.0.113.99"))).status).toBe(429);
  });

  it("the tenant prefix the boundary strips keeps the socket peer (request.cf) the share is keyed by", () => {
    const outer = new Request("http://gate.test/t/acme/signin", { cf: { clientIp: "192.0.2.1:5000" } });
    const inner = new Request(new URL("http://gate.test/signin"), outer);
    expect((inner.cf as { clientIp?: string } | undefined)?.clientIp).toBe("192.0.2.1:5000");
  });
});
