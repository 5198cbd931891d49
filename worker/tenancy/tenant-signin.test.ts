/**
 * People's sign-in per tenant (docs/TENANCY.md "Sign-in and the console"): the record's `signin`
 * validated against the tenant's own issuers, its client secrets sealed and put back only into
 * that tenant's GATEHOUSE_SIGNIN, console sessions and sign-ins in flight bound to their tenant
 * even in one shared database, and the path-prefix filter that keeps a tenant's links its own.
 */
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { tenantEnv, type MultiTenantEnv } from "./tenant-env.ts";
import { parseTenantSignin, publicView, signinSecretsOf, updatedTenant, type TenantRecord } from "./tenant-record.ts";
import { changedSecrets, openSecrets, sealSecrets } from "./tenant-secrets.ts";
import { prefixSrcset, withPathPrefix } from "./path-prefix.ts";
import { parseSigninConfig } from "../signin/config.ts";
import type { Context } from "hono";
import { pathBase, sessionCookieScope, tenantOf } from "../signin/session.ts";
import { publicOrigin } from "../signin/finish.ts";
import { createConsoleSession, readConsoleSession, savePendingSignin, takePendingSignin, deleteConsoleSession, randomToken } from "../signin/store.ts";

const raw = env as unknown as Env;
const KEY = "33".repeat(32);
const ISSUER = "https://login.example.com";
const issuers = (...audiences: string[]) => JSON.stringify([{ issuer: ISSUER, audiences, jwks_uri: `${ISSUER}/jwks` }]);
const oidc = (clientId: string, extra: Record<string, unknown> = {}) => ({
  id: "corp",
  label: "Corp",
  issuer: ISSUER,
  client_id: clientId,
  authorization_endpoint: `${ISSUER}/authorize`,
  token_endpoint: `${ISSUER}/token`,
  ...extra,
});

function record(name: string, over: Partial<TenantRecord> = {}): TenantRecord {
  return { name, issuers: issuers(`gatehouse-${name}`, `${name}-console`), connectors: "[]", policy: "", policySource: "p", maskingKey: "k".repeat(16), auditKeys: null, export: null, limits: { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null }, createdAt: 0, createdBy: "t", ...over };
}

describe("a tenant's signin", () => {
  it("is GATEHOUSE_SIGNIN's format, stored without its client secrets", () => {
    const value = { oidc: [oidc("acme-console", { client_secret: "s3cret" })], session_hours: 4 };
    const text = parseTenantSignin(value, issuers("gatehouse-acme", "acme-console"))!;
    expect(text).not.toContain("s3cret");
    expect(parseSigninConfig(text).oidc[0]).toMatchObject({ id: "corp", clientId: "acme-console", clientSecret: undefined });
    expect(signinSecretsOf(value)).toEqual({ "signin:corp": "s3cret" });
    expect(parseTenantSignin(null, issuers("x"))).toBeNull();
  });

  it("refuses providers the tenant does not trust, another audience as client id, and shapes that mean nothing", () => {
    const mine = issuers("gatehouse-beta", "beta-console");
    // A's client id at B: not one of B's audiences.
    expect(() => parseTenantSignin({ oidc: [oidc("acme-console")] }, mine)).toThrow(/does not list client_id acme-console as an audience/);
    // An issuer B does not trust.
    expect(() => parseTenantSignin({ oidc: [oidc("beta-console", { issuer: "https://login.acme.example" })] }, mine)).toThrow(/is not in the tenant's issuers/);
    // A SAML IdP named like one of the tenant's OIDC issuers would let SAML people pass for its tokens.
    const saml = { id: "okta", idp_entity_id: ISSUER, sso_url: "https://idp.example/sso", certificate: "MIIB" };
    expect(() => parseTenantSignin({ saml: [saml] }, mine)).toThrow(/also a trusted OIDC issuer/);
    expect(() => parseTenantSignin({}, mine)).toThrow(/at least one oidc or saml provider/);
    expect(() => parseTenantSignin([oidc("beta-console")], mine)).toThrow(/must be an object/);
    expect(() => parseTenantSignin({ oidc: [oidc("beta-console", { token_endpoint: "http://idp.example/token" })] }, mine)).toThrow(/^signin: oidc\[0\]\.token_endpoint must be https/);
  });

  it("an update cannot leave sign-in with a client the tenant no longer trusts; signin is replaced whole", () => {
    const before = record("upd", { signin: parseTenantSignin({ oidc: [oidc("upd-console")] }, issuers("gatehouse-upd", "upd-console")) });
    expect(() => updatedTenant(before, { issuers: [{ issuer: ISSUER, audiences: ["gatehouse-upd"], jwks_uri: `${ISSUER}/jwks` }] }, "admin")).toThrow(/does not list client_id upd-console/);
    expect(updatedTenant(before, { signin: null }, "admin").signin).toBeNull();
    const saml = { id: "okta", idp_entity_id: "http://www.okta.com/exk1", sso_url: "https://idp.example/sso", certificate: "MIIB" };
    expect(JSON.parse(updatedTenant(before, { signin: { saml: [saml] } }, "admin").signin!)).toEqual({ saml: [saml] });
  });

  it("its client secret reaches only that tenant's GATEHOUSE_SIGNIN, never a variable, never shown", async () => {
    const hosted = { ...raw, GATEHOUSE_PLATFORM_SECRETS_KEY: KEY, GATEHOUSE_SIGNIN: JSON.stringify({ oidc: [oidc("platform-console", { client_secret: "platform-secret" })] }) } as unknown as MultiTenantEnv;
    const make = async (name: string, secret: string) => {
      const value = { oidc: [oidc(`${name}-console`, { client_secret: secret })] };
      const all = { ...changedSecrets({}, { GATEHOUSE_WEBHOOK_OPS: `${name}-hook` }), ...signinSecretsOf(value) };
      return record(name, { signin: parseTenantSignin(value, issuers(`gatehouse-${name}`, `${name}-console`)), secrets: await sealSecrets(KEY, name, all), secretNames: Object.keys(all).sort() });
    };
    const a = await make("sig-acme", "acme-secret");
    const b = await make("sig-beta", "beta-secret");
    const envA = tenantEnv(hosted, a, { name: a.name, via: "path" }, await openSecrets(KEY, a.name, a.secrets));
    const envB = tenantEnv(hosted, b, { name: b.name, via: "host" }, await openSecrets(KEY, b.name, b.secrets));
    expect(parseSigninConfig(envA.GATEHOUSE_SIGNIN).oidc[0]).toMatchObject({ clientId: "sig-acme-console", clientSecret: "acme-secret" });
    expect(parseSigninConfig(envB.GATEHOUSE_SIGNIN).oidc[0]).toMatchObject({ clientId: "sig-beta-console", clientSecret: "beta-secret" });
    // Not under any variable name, and nobody's but its own (not B's, not the platform's).
    expect(Object.keys(envA).filter((k) => k.startsWith("signin:"))).toEqual([]);
    expect(JSON.stringify({ ...envA, DB: null, RECORDINGS: null })).not.toMatch(/beta-secret|platform-secret/);
    // A secret cannot be set by hand under the sign-in names.
    expect(() => changedSecrets({}, { "signin:corp": "x" })).toThrow(/not a secret name/);
    // Shown as sealed; the secrets list stays the named ones.
    const view = publicView(a);
    expect(view.signin?.oidc[0]).toMatchObject({ id: "corp", client_id: "sig-acme-console", client_secret: "sealed" });
    expect(view.secrets).toEqual(["GATEHOUSE_WEBHOOK_OPS"]);
    expect(JSON.stringify(view)).not.toContain("acme-secret");
    // A tenant without signin gets none, whatever the platform's variable says.
    expect(tenantEnv(hosted, record("sig-none"), { name: "sig-none", via: "path" }).GATEHOUSE_SIGNIN).toBeUndefined();
  });
});

describe("console sessions and sign-ins carry their tenant", () => {
  const identity = { issuer: ISSUER, subject: "ann", claims: { groups: ["auditors"] } };

  it("a session made for A is not found for B, even in one database, and B cannot end it", async () => {
    const { id } = await createConsoleSession(raw.DB, "acme", identity, "oidc:corp", 60);
    expect((await readConsoleSession(raw.DB, "acme", id))?.identity.subject).toBe("ann");
    expect(await readConsoleSession(raw.DB, "beta", id)).toBeNull();
    expect(await readConsoleSession(raw.DB, "", id)).toBeNull();
    await deleteConsoleSession(raw.DB, "beta", id);
    expect(await readConsoleSession(raw.DB, "acme", id)).not.toBeNull();
    await deleteConsoleSession(raw.DB, "acme", id);
    expect(await readConsoleSession(raw.DB, "acme", id)).toBeNull();
  });

  it("a state started at A does not complete at B and is not consumed by trying", async () => {
    const state = randomToken();
    await savePendingSignin(raw.DB, state, { tenant: "acme", provider: "corp", verifier: "v", nonce: "n", returnTo: "/console/", binding: "b" });
    expect(await takePendingSignin(raw.DB, "beta", state)).toBeNull();
    expect(await takePendingSignin(raw.DB, "", state)).toBeNull();
    expect(await takePendingSignin(raw.DB, "acme", state)).toMatchObject({ tenant: "acme", provider: "corp", nonce: "n" });
    expect(await takePendingSignin(raw.DB, "acme", state)).toBeNull();
  });
});

describe("the console cookie's scope", () => {
  const ctx = (url: string, tenant?: { name: string; via: string }) => ({ req: { url }, env: { TENANT: tenant, GATEHOUSE_PUBLIC_URL: "https://gate.example.com/t/acme" } }) as unknown as Context;

  it("single-tenant: unchanged; a tenant by path: its name, its path, __Secure-; by host: its name, __Host-, Path=/", () => {
    expect(sessionCookieScope(ctx("https://gate.example.com/console/"))).toEqual({ name: "__Host-gatehouse_console", path: "/", secure: true });
    expect(sessionCookieScope(ctx("http://127.0.0.1:8787/console/"))).toEqual({ name: "gatehouse_console", path: "/", secure: false });
    const byPath = ctx("https://gate.example.com/console/", { name: "acme", via: "path" });
    expect(sessionCookieScope(byPath)).toEqual({ name: "__Secure-gatehouse_console_acme", path: "/t/acme", secure: true });
    expect([tenantOf(byPath), pathBase(byPath)]).toEqual(["acme", "/t/acme"]);
    expect(sessionCookieScope(ctx("http://127.0.0.1:8787/console/", { name: "acme", via: "path" }))).toEqual({ name: "gatehouse_console_acme", path: "/t/acme", secure: false });
    const byHost = ctx("https://acme.gate.example.com/console/", { name: "acme", via: "host" });
    expect(sessionCookieScope(byHost)).toEqual({ name: "__Host-gatehouse_console_acme", path: "/", secure: true });
    expect(pathBase(byHost)).toBe("");
  });

  it("the redirect URI's origin is the tenant's own: its public URL, or the host that named it", () => {
    expect(publicOrigin(ctx("https://gate.example.com/signin", { name: "acme", via: "path" }))).toBe("https://gate.example.com/t/acme");
    expect(publicOrigin(ctx("https://acme.gate.example.com/signin", { name: "acme", via: "host" }))).toBe("https://acme.gate.example.com");
  });
});

describe("the path-prefix filter", () => {
  it("prefixes redirects and the console's root-relative links; leaves other URLs and non-HTML alone", async () => {
    const redirect = withPathPrefix(new Response(null, { status: 303, headers: { location: "/signin?return_to=%2Fconsole%2F" } }), "/t/acme");
    expect(redirect.headers.get("location")).toBe("/t/acme/signin?return_to=%2Fconsole%2F");
    for (const location of ["https://login.example.com/authorize?x=1", "//evil.example/x"]) {
      expect(withPathPrefix(new Response(null, { status: 302, headers: { location } }), "/t/acme").headers.get("location")).toBe(location);
    }
    const html = `<a href="/console/">c</a><form action="/signout"></form><script src="/console/assets/p.js"></script><div data-cast="/console/sessions/s/asciicast"></div><a href="https://x.example/">x</a><a href="//x.example/">y</a><a href="#m">z</a><p>/console/ in text</p>`;
    const page = await withPathPrefix(new Response(html, { headers: { "content-type": "text/html; charset=utf-8" } }), "/t/acme").text();
    expect(page).toBe(
      `<a href="/t/acme/console/">c</a><form action="/t/acme/signout"></form><script src="/t/acme/console/assets/p.js"></script><div data-cast="/t/acme/console/sessions/s/asciicast"></div><a href="https://x.example/">x</a><a href="//x.example/">y</a><a href="#m">z</a><p>/console/ in text</p>`,
    );
    // The other places a browser follows a URL from: a button's formaction, a srcset's every candidate, a poster, a meta refresh.
    const more = `<button formaction="/signout">o</button><img srcset="/a.png 1x, https://x.example/b.png 2x,/c.png 3x"><video poster="/p.png"></video><meta http-equiv="Refresh" content="0; url=/console/"><meta http-equiv="refresh" content="5;URL='/signin'"><meta http-equiv="refresh" content="0; url=https://x.example/">`;
    const rewritten = await withPathPrefix(new Response(more, { headers: { "content-type": "text/html" } }), "/t/acme").text();
    expect(rewritten).toBe(
      `<button formaction="/t/acme/signout">o</button><img srcset="/t/acme/a.png 1x, https://x.example/b.png 2x,/t/acme/c.png 3x"><video poster="/t/acme/p.png"></video><meta http-equiv="Refresh" content="0; url=/t/acme/console/"><meta http-equiv="refresh" content="5;URL='/t/acme/signin'"><meta http-equiv="refresh" content="0; url=https://x.example/">`,
    );
    // A srcset URL may hold commas: a data: URL's payload (a JPEG's base64 starts with /9j/) and a query are not candidates.
    expect(prefixSrcset("data:image/jpeg;base64,/9j/4AAQ 1x, /b.png 2x", "/t/acme")).toBe("data:image/jpeg;base64,/9j/4AAQ 1x, /t/acme/b.png 2x");
    expect(prefixSrcset("/img?a=1,/b 1x,/c.png,,  /d.png 3x", "/t/acme")).toBe("/t/acme/img?a=1,/b 1x,/t/acme/c.png,,  /t/acme/d.png 3x");
    expect(prefixSrcset("/a.png (x, y) 1x, //cdn/b.png", "/t/acme")).toBe("/t/acme/a.png (x, y) 1x, //cdn/b.png");
    const json = withPathPrefix(Response.json({ href: "/console/" }), "/t/acme");
    expect(await json.json()).toEqual({ href: "/console/" });
  });
});
