/**
 * Tenants reached by their own host names (docs/TENANCY.md "Sign-in and the console"), in a real
 * browser: the self-hosted build under standalone workerd with an HTTPS listener whose test
 * certificate names `*.gatehouse.test`, Debian Chromium resolving those names to loopback
 * (`--host-resolver-rules`) and trusting only that certificate's key (`--ignore-certificate-errors-spki-list`),
 * so `https://acme.gatehouse.test:<port>` is a secure context with its own origin, as in production.
 * The development issuer accepts these tenants' redirect origins through its test-only option.
 *
 * Two host-named tenants in one browser: signing in to A gives a host-only `__Host-` cookie that
 * the browser does not send to B, B refuses A's session under any name, sign-out ends it; the
 * same two tenants by path on the platform's origin share that origin (the note TENANCY.md keeps).
 * Then SAML per tenant: each tenant trusts the same IdP with its own SP (entity id, ACS on its
 * host), and an assertion made for A's SP is refused at B.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { buildWorkerBundle } from "../../scripts/worker-bundle.ts";
import { freePort } from "../../client/dev/ports.ts";
import { DEV_ISSUER_ALG, startDevIssuer, type DevIssuer } from "../../client/dev/issuer.ts";
import { createTestCa, type TestCa } from "../harness/test-ca.ts";
import { startSelfhostWorker, type SelfhostWorker } from "../harness/selfhost-worker.ts";
import { eventually } from "../e2e/helpers.ts";
import { httpsCall } from "../e2e/support/tls-calls.ts";
import { startBrowser, type TestBrowser } from "./browser.ts";
import { IDP_ENTITY_ID, startSamlIdp, type TestSamlIdp } from "./saml-idp.ts";

const BASE_DOMAIN = "gatehouse.test";
const TENANTS = ["acme", "beta"] as const;
type Tenant = (typeof TENANTS)[number];

let dir: string;
let ca: TestCa;
let port: number;
let issuer: DevIssuer;
let idp: TestSamlIdp;
let worker: SelfhostWorker;
let browser: TestBrowser;

/** A tenant's own origin, and the platform's (where tenants are named by path). */
const hostOf = (t: Tenant) => `https://${t}.${BASE_DOMAIN}:${port}`;
const platform = () => `https://${BASE_DOMAIN}:${port}`;
const byPath = (t: Tenant) => `${platform()}/t/${t}`;
const call = (method: string, url: string, opts: Parameters<typeof httpsCall>[3] = {}) => httpsCall(ca.cert, method, url, opts);

function policy(t: Tenant): string {
  return `version: 1
roles:
  auditor:
    - { issuer: "${issuer.issuer}", claims: { groups: ${t}-auditors } }
    - { issuer: "${IDP_ENTITY_ID}", claims: { groups: ${t}-auditors } }
rules:
  - name: ${t}-read
    effect: allow
    subjects: [{ issuer: "${issuer.issuer}", claims: { repository: "${t}/*" } }]
    resources: [orders]
    actions: [connect, sql.read]
`;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gh-tenant-hosts-"));
  ca = createTestCa();
  port = await freePort();
  const tls = ca.issue("gateway", "server", [BASE_DOMAIN, `*.${BASE_DOMAIN}`]);
  // Chromium trusts exactly this key (the base64 SHA-256 of its SubjectPublicKeyInfo), nothing else.
  const spki = createHash("sha256")
    .update(new X509Certificate(tls.cert).publicKey.export({ type: "spki", format: "der" }))
    .digest("base64");
  const bundleDir = path.join(dir, "bundle");
  [issuer, idp, browser] = await Promise.all([
    startDevIssuer({ port: 0, keyFile: path.join(dir, "issuer-key.json"), redirectOrigins: [...TENANTS.map(hostOf), platform()] }),
    startSamlIdp(),
    startBrowser({ args: [`--host-resolver-rules=MAP ${BASE_DOMAIN} 127.0.0.1, MAP *.${BASE_DOMAIN} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${spki}`] }),
    buildWorkerBundle(bundleDir, "worker/selfhost/index.ts"),
  ]);
  const trusted = { issuer: issuer.issuer, jwks_uri: issuer.jwksUri, algorithms: [DEV_ISSUER_ALG] };
  worker = await startSelfhostWorker({
    dir,
    bundleDir,
    port,
    vars: {
      GATEHOUSE_TENANCY: "multi",
      GATEHOUSE_BASE_DOMAIN: BASE_DOMAIN,
      GATEHOUSE_PUBLIC_URL: platform(),
      GATEHOUSE_PLATFORM_ISSUERS: JSON.stringify([{ ...trusted, audiences: ["gatehouse-platform"] }]),
      GATEHOUSE_PLATFORM_ADMINS: JSON.stringify([{ issuer: issuer.issuer, subject: "platform-root" }]),
      GATEHOUSE_PLATFORM_SECRETS_KEY: randomBytes(32).toString("hex"),
    },
    tls,
    trustedCa: ca.cert,
    waitReady: (url) => eventually(async () => (await call("GET", `${url}/healthz`).catch(() => undefined)) !== undefined, "workerd to listen", 600).then(() => undefined),
  });
  const platformToken = await issuer.mint({ sub: "platform-root", audience: "gatehouse-platform" });
  for (const t of TENANTS) {
    const created = await call("POST", `${worker.url}/platform/v1/tenants`, {
      token: platformToken,
      body: {
        name: t,
        issuers: [{ ...trusted, audiences: [`gatehouse-${t}`, `${t}-console`] }],
        policy: policy(t),
        policy_source: `${t}.yaml`,
        signin: {
          // The same provider ids, the same OIDC issuer and the same SAML IdP in both tenants (one
          // company's IdP): only each tenant's client id and SP tell them apart.
          oidc: [{ id: "corp", label: `${t} SSO`, issuer: issuer.issuer, client_id: `${t}-console`, authorization_endpoint: `${issuer.url}/authorize`, token_endpoint: `${issuer.url}/token` }],
          saml: [{ id: "idp", label: `${t} SAML`, idp_entity_id: IDP_ENTITY_ID, sso_url: `${idp.url}/sso`, certificate: idp.certificate }],
        },
      },
    });
    expect(created.status, created.text).toBe(201);
  }
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await Promise.all([issuer?.close(), idp?.close()]);
  ca?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Signs `name` in to the console at `origin` (a tenant's host, or its path on the platform) with the tenant's OIDC provider. */
async function oidcSignIn(page: Page, origin: string, t: Tenant, name: string, groups: string[]): Promise<void> {
  await page.goto(`${origin}/console/`);
  await page.getByRole("link", { name: `Sign in with ${t} SSO` }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Other groups (comma-separated)").fill(groups.join(","));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${origin}/console/approvals`);
}

const consoleCookies = async (context: BrowserContext, url: string) => (await context.cookies(url)).filter((c) => c.name.includes("gatehouse_console"));

describe("tenants on their own host names, in one browser", () => {
  it("A's sign-in gives a host-only __Host- cookie the browser keeps from B; B refuses A's session; sign-out ends it", async () => {
    const { context, page } = await browser.person();
    // Every request the browser sends, with the cookies it chose to send.
    const sent: Array<{ host: string; cookie: string }> = [];
    page.on("request", (r) => void r.allHeaders().then((h) => sent.push({ host: new URL(r.url()).host, cookie: h.cookie ?? "" })));
    await oidcSignIn(page, hostOf("acme"), "acme", "ann", ["acme-auditors"]);
    expect(await page.locator(".me").textContent()).toMatch(/ann.*auditor/);
    // Links stay on the tenant's own host, with no /t/ prefix (the path filter is for path-named tenants).
    const hrefs = await page.locator("a[href^='/'], form[action^='/']").evaluateAll((els) => els.map((e) => e.getAttribute("href") ?? e.getAttribute("action")));
    expect(hrefs.length).toBeGreaterThan(3);
    for (const h of hrefs) expect(h).not.toMatch(/^\/t\//);

    const [session] = await consoleCookies(context, hostOf("acme"));
    // __Host-: Secure, Path=/, no Domain attribute — the browser keeps it for this exact host.
    expect(session).toMatchObject({ name: "__Host-gatehouse_console_acme", domain: `acme.${BASE_DOMAIN}`, path: "/", secure: true, httpOnly: true, sameSite: "Lax" });
    expect(await consoleCookies(context, hostOf("beta"))).toEqual([]);
    expect(await consoleCookies(context, platform())).toEqual([]);

    // At B, ann is not signed in: sent to B's own sign-in, and her cookie was never sent there.
    await page.goto(`${hostOf("beta")}/console/approvals`);
    expect(page.url()).toBe(`${hostOf("beta")}/signin?return_to=${encodeURIComponent("/console/approvals")}`);
    expect(await page.getByRole("link", { name: "Sign in with beta SSO" }).count()).toBe(1);
    const toBeta = sent.filter((s) => s.host === `beta.${BASE_DOMAIN}:${port}`);
    expect(toBeta.length).toBeGreaterThan(0);
    for (const s of toBeta) expect(s.cookie).not.toContain(session!.value);
    expect(sent.some((s) => s.host === `acme.${BASE_DOMAIN}:${port}` && s.cookie.includes(session!.value))).toBe(true);

    // The attacker's way: plant A's session id on B's host, under B's cookie name and under A's. B refuses it.
    for (const name of ["__Host-gatehouse_console_beta", "__Host-gatehouse_console_acme", "gatehouse_console_beta"]) {
      await context.addCookies([{ name, value: session!.value, url: hostOf("beta"), secure: true, httpOnly: true, sameSite: "Lax" }]);
      const r = await page.goto(`${hostOf("beta")}/console/approvals`);
      expect(new URL(r!.url()).pathname, name).toBe("/signin");
      await context.clearCookies({ name, domain: `beta.${BASE_DOMAIN}` });
    }
    // ...and A's session is still good at A.
    await page.goto(`${hostOf("acme")}/console/approvals`);
    expect(await page.locator(".me").textContent()).toMatch(/ann/);

    // Sign-out ends the session itself, not just the cookie: the id planted again is refused.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${hostOf("acme")}/signin`);
    expect(await consoleCookies(context, hostOf("acme"))).toEqual([]);
    await context.addCookies([{ name: session!.name, value: session!.value, url: hostOf("acme"), secure: true, httpOnly: true, sameSite: "Lax" }]);
    const after = await page.goto(`${hostOf("acme")}/console/approvals`);
    expect(new URL(after!.url()).pathname).toBe("/signin");
  }, 240_000);

  it("one browser signed in to both hosts: each sees its own person; a script on one cannot read the other", async () => {
    // bypassCSP: the console's CSP would stop an injected script anyway; here the browser's origin boundary is what is tested.
    const context = await browser.browser.newContext({ bypassCSP: true });
    try {
      const page = await context.newPage();
      await oidcSignIn(page, hostOf("acme"), "acme", "cat", ["acme-auditors"]);
      await oidcSignIn(page, hostOf("beta"), "beta", "dan", ["beta-auditors"]);
      expect(await page.locator(".me").textContent()).toMatch(/dan.*auditor/);
      await page.goto(`${hostOf("acme")}/console/approvals`);
      expect(await page.locator(".me").textContent()).toMatch(/cat.*auditor/);
      // From acme's page, beta's console (where this browser is signed in) is another origin: no CORS, no read.
      const read = await page.evaluate(async (url) => {
        try {
          const r = await fetch(url, { credentials: "include" });
          return `read ${r.status}: ${await r.text()}`;
        } catch (e) {
          return `blocked: ${(e as Error).name}`;
        }
      }, `${hostOf("beta")}/console/approvals`);
      expect(read).toBe("blocked: TypeError");
    } finally {
      await context.close();
    }
  }, 240_000);

  it("by path on the platform's origin, the same two tenants share one origin (the note in TENANCY.md stays true)", async () => {
    const context = await browser.browser.newContext({ bypassCSP: true });
    try {
      const page = await context.newPage();
      await oidcSignIn(page, byPath("acme"), "acme", "eve", ["acme-auditors"]);
      // The path-named tenant's cookie: __Secure-, Path=/t/acme, on the platform's host.
      expect(await consoleCookies(context, byPath("acme"))).toEqual([expect.objectContaining({ name: "__Secure-gatehouse_console_acme", domain: BASE_DOMAIN, path: "/t/acme", secure: true })]);
      await oidcSignIn(page, byPath("beta"), "beta", "fay", ["beta-auditors"]);
      // A script on beta's pages reads acme's console with acme's session: one origin; the cookie path is no boundary.
      const read = await page.evaluate(async (url) => {
        const r = await fetch(url, { credentials: "include" });
        return `${r.status} ${await r.text()}`;
      }, `${byPath("acme")}/console/approvals`);
      expect(read).toMatch(/^200 /);
      expect(read).toMatch(/eve/);
    } finally {
      await context.close();
    }
  }, 240_000);
});

/** SAML sign-in at a tenant's host, through the IdP's login form, up to the IdP's POST to the tenant's ACS. */
async function samlToAcs(page: Page, t: Tenant, user: string, groups: string): Promise<void> {
  await page.goto(`${hostOf(t)}/console/sessions`);
  await page.getByRole("link", { name: `Sign in with ${t} SAML` }).click();
  await page.getByLabel("User").fill(user);
  await page.getByLabel("Groups").fill(groups);
  await page.getByRole("button", { name: "Sign in at IdP" }).click();
  await page.getByRole("button", { name: "Continue to Gatehouse" }).waitFor();
}

/** A form POST to the listener with another Host header (a tenant's host name), trusting the test CA. */
function postForm(url: string, host: string, form: Record<string, string>): Promise<{ status: number; text: string; location: string; setCookie: string }> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const headers = { host: `${host}:${port}`, "content-type": "application/x-www-form-urlencoded", "content-length": String(Buffer.byteLength(body)) };
    const req = httpsRequest(url, { method: "POST", ca: ca.cert, servername: "localhost", headers }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text, location: String(res.headers.location ?? ""), setCookie: (res.headers["set-cookie"] ?? []).join("\n") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const spMetadata = async (t: Tenant) => (await call("GET", `${worker.url}/signin/saml/idp/metadata`, { host: `${t}.${BASE_DOMAIN}`, raw: true })).text;
const acs = (t: Tenant) => `${hostOf(t)}/signin/saml/idp/acs`;
const spEntity = (t: Tenant) => `${hostOf(t)}/signin/saml/idp/metadata`;

describe("SAML per tenant (one IdP, each tenant its own SP)", () => {
  it("each tenant's SP is on its own host, and a person signs in to a tenant with SAML", async () => {
    const metadata = await spMetadata("acme");
    expect(metadata).toContain(`entityID="${spEntity("acme")}"`);
    expect(metadata).toContain(`Location="${acs("acme")}"`);
    expect(await spMetadata("beta")).toContain(`entityID="${spEntity("beta")}"`);
    idp.useSpMetadata(metadata);
    const { context, page } = await browser.person();
    await samlToAcs(page, "acme", "sam", "acme-auditors");
    await page.getByRole("button", { name: "Continue to Gatehouse" }).click();
    await page.waitForLoadState();
    await page.waitForURL(`${hostOf("acme")}/console/sessions`, { timeout: 5000 }).catch(async () => expect.fail(`${page.url()}: ${await page.locator("body").textContent()}`));
    expect(await page.locator("header").textContent()).toContain("sam@example.test (auditor)");
    expect((await consoleCookies(context, hostOf("acme"))).map((c) => c.name)).toEqual(["__Host-gatehouse_console_acme"]);
    expect(await consoleCookies(context, hostOf("beta"))).toEqual([]);
  }, 180_000);

  it("by path, the same tenant is another SP (entity id and ACS under /t/<tenant>/), and signs people in too", async () => {
    const metadata = (await call("GET", `${worker.url}/t/acme/signin/saml/idp/metadata`, { host: BASE_DOMAIN, raw: true })).text;
    expect(metadata).toContain(`entityID="${byPath("acme")}/signin/saml/idp/metadata"`);
    expect(metadata).toContain(`Location="${byPath("acme")}/signin/saml/idp/acs"`);
    idp.useSpMetadata(metadata);
    const { context, page } = await browser.person();
    await page.goto(`${byPath("acme")}/console/sessions`);
    await page.getByRole("link", { name: "Sign in with acme SAML" }).click();
    await page.getByLabel("User").fill("pam");
    await page.getByLabel("Groups").fill("acme-auditors");
    await page.getByRole("button", { name: "Sign in at IdP" }).click();
    await page.getByRole("button", { name: "Continue to Gatehouse" }).click();
    await page.waitForURL(`${byPath("acme")}/console/sessions`);
    expect(await page.locator("header").textContent()).toContain("pam@example.test (auditor)");
    expect(await consoleCookies(context, byPath("acme"))).toEqual([expect.objectContaining({ name: "__Secure-gatehouse_console_acme", path: "/t/acme" })]);
    // Replayed at the same tenant's host-named ACS: its sign-in was used up, nothing signs in.
    const last = idp.lastResponse()!;
    const atHost = await postForm(`${worker.url}/signin/saml/idp/acs`, `acme.${BASE_DOMAIN}`, { SAMLResponse: last.samlResponse, RelayState: last.relayState });
    expect(atHost.status).toBe(400);
    expect(atHost.text).toContain("this sign-in is unknown, expired or already used");
    expect(atHost.setCookie).not.toMatch(/gatehouse_console/);
  }, 180_000);

  it("an assertion made for A's SP is refused at B: with B's sign-in state, and with A's own", async () => {
    idp.useSpMetadata(await spMetadata("acme"));
    const { page } = await browser.person();
    await samlToAcs(page, "acme", "mallory", "beta-auditors");
    const forA = idp.lastResponse()!;
    expect(forA.acs).toBe(acs("acme"));
    // A sign-in started at B in the same browser: B's RelayState (a pending sign-in B knows).
    await page.goto(`${hostOf("beta")}/signin/saml/idp?return_to=%2Fconsole%2Fsessions`, { waitUntil: "commit" });
    const bRelay = new URL(page.url()).searchParams.get("RelayState");
    expect(bRelay).toMatch(/^[A-Za-z0-9_-]{43}$/);
    // The IdP's cross-site form post, as anyone can send it (no cookies go with it).
    const post = (t: Tenant, samlResponse: string, relayState: string) => postForm(`${worker.url}/signin/saml/idp/acs`, `${t}.${BASE_DOMAIN}`, { SAMLResponse: samlResponse, RelayState: relayState });
    // A's assertion with B's state at B's ACS: it names A's ACS as its recipient.
    const withBState = await post("beta", forA.samlResponse, bRelay!);
    expect(withBState.status).toBe(400);
    expect(withBState.text).toContain(`SAML sign-in refused: the assertion is for recipient ${acs("acme")}, not ${acs("beta")}`);
    // A's assertion with A's own state at B's ACS: B does not know A's sign-in (and does not consume it).
    const withAState = await post("beta", forA.samlResponse, forA.relayState);
    expect(withAState.status).toBe(400);
    expect(withAState.text).toContain("this sign-in is unknown, expired or already used");
    for (const r of [withBState, withAState]) expect(r.setCookie).not.toMatch(/gatehouse_console/);
    // It is still good where it was made for.
    const atA = await post("acme", forA.samlResponse, forA.relayState);
    expect(atA.status).toBe(303);
    expect(atA.location).toMatch(/^\/signin\/saml\/idp\/finish\?state=/);
  }, 180_000);

  it("an assertion for B's ACS and B's request but A's audience is refused at B", async () => {
    // The IdP answers B's request as if B were A's SP: B's recipient, A's entity id as audience.
    idp.useSpMetadata(await spMetadata("beta"));
    const { page } = await browser.person();
    await page.goto(`${hostOf("beta")}/console/sessions`);
    await page.getByRole("link", { name: "Sign in with beta SAML" }).click();
    await page.getByLabel("User").fill("mallory");
    await page.getByLabel("Groups").fill("beta-auditors");
    idp.useSpMetadata((await spMetadata("beta")).replace(`entityID="${spEntity("beta")}"`, `entityID="${spEntity("acme")}"`));
    await page.getByRole("button", { name: "Sign in at IdP" }).click();
    await page.getByRole("button", { name: "Continue to Gatehouse" }).click();
    await page.waitForLoadState();
    expect(page.url()).toBe(acs("beta"));
    expect(await page.locator("body").textContent()).toContain(`SAML sign-in refused: the assertion is not for audience ${spEntity("beta")}`);
    expect(await consoleCookies(page.context(), hostOf("beta"))).toEqual([]);
  }, 180_000);
});
