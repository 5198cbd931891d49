/**
 * People's sign-in and the web console per tenant (hosted mode, docs/TENANCY.md "Sign-in and the
 * console"), end to end: one multi-tenant worker (wrangler dev), two tenants created through
 * `gatehouse admin tenants create` with their own OIDC sign-in (the same provider id and the same
 * issuer — the development issuer, as one company IdP would be — with each tenant's own client id
 * and a sealed client secret), people signing in to both in a real browser (Debian Chromium via
 * playwright-core) side by side under `/t/<tenant>/…`; then the ways across: A's console cookie
 * replayed at B (under B's cookie name too), A's state completed at B's callback, a code for A's
 * client delivered to B, A's client id configured at B, the platform administrator signing in to
 * a tenant (no role), and a tenant without sign-in not falling back to the platform's. And
 * `gatehouse login --gateway <tenant URL>` (the real CLI) finding the tenant's provider and client
 * id at `/signin/providers` by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt } from "jose";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { gatehouse } from "../e2e/helpers.ts";
import { startBrowser, type TestBrowser } from "./browser.ts";

const TENANTS = ["acme", "beta"] as const;
type Tenant = (typeof TENANTS)[number];

let stack: TestStack;
let browser: TestBrowser;
let dir: string;
let platformToken: string;
let devIssuerEntry: Record<string, unknown>;

const base = (t: string) => `${stack.gatewayUrl}/t/${t}`;
const clientId = (t: string) => `${t}-console`;

function policy(t: string, issuer: string): string {
  return `version: 1
roles:
  admin: [{ issuer: "${issuer}", claims: { groups: ${t}-admins } }]
  approver: [{ issuer: "${issuer}", claims: { groups: ${t}-approvers } }]
  auditor: [{ issuer: "${issuer}", claims: { groups: ${t}-auditors } }]
rules:
  - name: ${t}-read
    effect: allow
    subjects: [{ issuer: "${issuer}", claims: { repository: "${t}/*" } }]
    resources: [orders]
    actions: [connect, sql.read]
`;
}

function signin(t: string) {
  return {
    oidc: [
      {
        // The same provider id in both tenants: nothing may be told apart by it alone.
        id: "corp",
        label: `${t} SSO`,
        issuer: devIssuerEntry.issuer,
        client_id: clientId(t),
        client_secret: `${t}-client-secret-${randomBytes(8).toString("hex")}`,
        authorization_endpoint: `${stack.issuerUrl}/authorize`,
        token_endpoint: `${stack.issuerUrl}/token`,
      },
    ],
    session_hours: 2,
  };
}

async function api(method: string, url: string, token: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method, headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const secrets: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gatehouse-tenant-console-"));
  [stack, browser] = await Promise.all([
    startTestStack({
      connector: false,
      waitForConnector: false,
      // The issuer served at its own identifier, as a real IdP is: `gatehouse login --gateway` reads
      // the endpoints from `<issuer>/.well-known/openid-configuration` (not the harness's pinned
      // http://127.0.0.1:8788, which is not where this stack's issuer listens).
      issuerId: null,
      workerVars: { GATEHOUSE_TENANCY: "multi", GATEHOUSE_PLATFORM_SECRETS_KEY: randomBytes(32).toString("hex") },
      workerVarsWithIssuer: (issuer) => {
        devIssuerEntry = { ...issuer, dev: false };
        return {
          GATEHOUSE_PLATFORM_ISSUERS: JSON.stringify([{ ...issuer, audiences: ["gatehouse-platform"], dev: false }]),
          GATEHOUSE_PLATFORM_ADMINS: JSON.stringify([{ issuer: issuer.issuer, subject: "platform-root" }]),
        };
      },
    }),
    startBrowser(),
  ]);
  platformToken = await stack.mintToken({ sub: "platform-root", audience: "gatehouse-platform" });
  for (const t of [...TENANTS, "plain"]) {
    const config = signin(t);
    secrets[t] = config.oidc[0]!.client_secret;
    const file = path.join(dir, `${t}.json`);
    await writeFile(
      file,
      JSON.stringify({
        name: t,
        // The console's client id is one of the tenant's own audiences (unique across tenants).
        issuers: [{ ...devIssuerEntry, audiences: [`gatehouse-${t}`, ...(t === "plain" ? [] : [clientId(t)])] }],
        policy: policy(t, stack.issuerId),
        policy_source: `${t}.yaml`,
        ...(t === "plain" ? {} : { signin: config }),
      }),
    );
    const r = await gatehouse(["admin", "tenants", "create", "--file", file, "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: platformToken });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  }
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Signs a person in to tenant `t`'s console through its provider's login page, in a browser. */
async function browserSignIn(t: Tenant, name: string, groups: string[]) {
  const person = await browser.person();
  const { page } = person;
  await page.goto(`${base(t)}/console/`);
  expect(new URL(page.url()).pathname).toBe(`/t/${t}/signin`);
  await page.getByRole("link", { name: `Sign in with ${t} SSO` }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Other groups (comma-separated)").fill(groups.join(","));
  await page.getByRole("button", { name: "Sign in" }).click();
  // (The console's root redirects on to its approvals page: wait for the end of the chain.)
  await page.waitForURL(`${base(t)}/console/approvals`);
  return person;
}

/** A minimal cookie jar for the HTTP-level attacks. */
function setCookies(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of res.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const eq = pair!.indexOf("=");
    out[pair!.slice(0, eq)] = pair!.slice(eq + 1);
  }
  return out;
}

/** Starts a sign-in at tenant `t` and gets the provider's code for it (as the browser would carry it). */
async function codeFor(t: Tenant, sub: string, overrides: Record<string, string> = {}) {
  const start = await fetch(`${base(t)}/signin/oidc/corp?return_to=${encodeURIComponent("/console/approvals")}`, { redirect: "manual" });
  expect(start.status).toBe(302);
  const cookies = setCookies(start);
  const authorize = new URL(start.headers.get("location")!);
  const form = new URLSearchParams(authorize.searchParams);
  for (const [k, v] of Object.entries(overrides)) form.set(k, v);
  form.set("sub", sub);
  const back = await fetch(`${stack.issuerUrl}/authorize`, { method: "POST", body: form, redirect: "manual" });
  expect(back.status).toBe(302);
  const callback = new URL(back.headers.get("location")!);
  return { authorize, callback, cookies, code: callback.searchParams.get("code")!, state: callback.searchParams.get("state")! };
}

const cookieHeader = (jar: Record<string, string>) =>
  Object.entries(jar)
    .map(([k, v]) => `${k}=${v}`)
    .join("; ");

describe("each tenant's own sign-in", () => {
  it("shows the tenant's sign-in with its client secret sealed, never the value", async () => {
    const show = await gatehouse(["admin", "tenants", "show", "acme", "--json", "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: platformToken });
    expect(show.code).toBe(0);
    const view = JSON.parse(show.stdout) as { tenant: { signin: { oidc: Array<Record<string, unknown>> }; secrets: string[] } };
    expect(view.tenant.signin.oidc).toEqual([expect.objectContaining({ id: "corp", client_id: "acme-console", client_secret: "sealed" })]);
    expect(view.tenant.secrets).toEqual([]);
    expect(show.stdout).not.toContain(secrets.acme);
    const text = await gatehouse(["admin", "tenants", "show", "acme", "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: platformToken });
    expect(text.stdout).toMatch(/signin\s+oidc corp \(.*acme-console.*client secret sealed\)/);
  }, 120_000);

  it("signs people in to two tenants side by side, each under its own prefix, cookie and roles", async () => {
    const ann = await browserSignIn("acme", "ann", ["acme-auditors"]);
    const bob = await browserSignIn("beta", "bob", ["beta-auditors"]);
    for (const [t, { page }] of [["acme", ann], ["beta", bob]] as const) {
      // The console's links keep the tenant's prefix.
      const hrefs = await page.locator("a[href^='/'], form[action^='/']").evaluateAll((els) => els.map((e) => e.getAttribute("href") ?? e.getAttribute("action")));
      expect(hrefs.length).toBeGreaterThan(3);
      for (const h of hrefs) expect(h).toMatch(new RegExp(`^/t/${t}/`));
      await page.getByRole("link", { name: "Sessions" }).click();
      await page.waitForURL(`${base(t)}/console/sessions`);
      expect(await page.locator("h1").textContent()).toMatch(/Sessions/);
      const cookies = await page.context().cookies();
      const session = cookies.find((c) => c.name === `gatehouse_console_${t}`)!;
      expect(session).toMatchObject({ path: `/t/${t}`, httpOnly: true, sameSite: "Lax" });
      expect(cookies.filter((c) => c.name.startsWith("gatehouse_console"))).toHaveLength(1);
    }
    // Ann (acme's auditor) at beta: not signed in there — her cookie is not even sent.
    const annAtBeta = await ann.page.goto(`${base("beta")}/console/sessions`);
    expect(new URL(annAtBeta!.url()).pathname).toBe("/t/beta/signin");
    // One browser signed in to both: each tenant still sees its own person.
    const both = await browserSignIn("acme", "cat", ["acme-approvers"]);
    await both.page.goto(`${base("beta")}/console/`);
    await both.page.getByRole("link", { name: "Sign in with beta SSO" }).click();
    await both.page.getByLabel("Name").fill("dan");
    await both.page.getByLabel("Other groups (comma-separated)").fill("beta-auditors");
    await both.page.getByRole("button", { name: "Sign in" }).click();
    await both.page.waitForURL(`${base("beta")}/console/approvals`);
    await both.page.goto(`${base("acme")}/console/approvals`);
    expect(await both.page.locator(".me").textContent()).toMatch(/cat.*approver/);
    await both.page.goto(`${base("beta")}/console/approvals`);
    expect(await both.page.locator(".me").textContent()).toMatch(/dan.*auditor/);
    // Signing out of beta leaves the acme session alone.
    await both.page.getByRole("button", { name: "Sign out" }).click();
    await both.page.waitForURL(`${base("beta")}/signin`);
    await both.page.goto(`${base("acme")}/console/approvals`);
    expect(await both.page.locator(".me").textContent()).toMatch(/cat/);
  }, 300_000);

  it("the whole HTTP flow: redirect URI, state and cookie are the tenant's own", async () => {
    const flow = await codeFor("acme", "erin");
    expect(flow.authorize.searchParams.get("redirect_uri")).toBe(`${base("acme")}/signin/oidc/corp/callback`);
    expect(flow.authorize.searchParams.get("client_id")).toBe("acme-console");
    expect(Object.keys(flow.cookies)).toEqual(["gatehouse_signin_acme"]);
    const done = await fetch(flow.callback, { headers: { cookie: cookieHeader(flow.cookies) }, redirect: "manual" });
    expect(done.status).toBe(303);
    expect(done.headers.get("location")).toBe("/t/acme/console/approvals");
    const set = done.headers.getSetCookie().join("\n");
    expect(set).toMatch(/gatehouse_console_acme=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}; Max-Age=7200; Path=\/t\/acme; HttpOnly; SameSite=Lax/);
  });
});

/** `gatehouse login` (the real CLI, no --issuer) as a child process; `url` is the sign-in URL it prints. */
function startLogin(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ["bin/gatehouse.mjs", "login", "--no-browser", ...args], { env: { ...process.env, GATEHOUSE_LOGIN_ISSUER: "", GATEHOUSE_LOGIN_CLIENT_ID: "", GATEHOUSE_URL: "", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let found: (u: string) => void;
  let failed: (e: Error) => void;
  const url = new Promise<string>((resolve, reject) => ((found = resolve), (failed = reject)));
  child.stderr.on("data", (d) => {
    stderr += d;
    const m = /^\s+(http:\/\/\S+\/authorize\?\S+)$/m.exec(stderr);
    if (m) found(m[1]!);
  });
  const done = new Promise<{ code: number; stderr: string }>((r) =>
    child.on("exit", (code) => {
      failed(new Error(`gatehouse login exited ${code} before printing a sign-in URL: ${stderr}`));
      r({ code: code ?? 1, stderr });
    }),
  );
  return { url, done };
}

describe("gatehouse login finds the tenant's provider (docs/CONSOLE.md)", () => {
  it("publishes each tenant's providers without secrets, and the CLI signs in with the tenant's client", async () => {
    const published = await fetch(`${base("acme")}/signin/providers`);
    expect(published.status).toBe(200);
    const text = await published.text();
    expect(JSON.parse(text)).toEqual({
      oidc: [{ id: "corp", label: "acme SSO", issuer: devIssuerEntry.issuer, client_id: "acme-console", authorization_endpoint: `${stack.issuerUrl}/authorize`, token_endpoint: `${stack.issuerUrl}/token` }],
      saml: [],
    });
    expect(text).not.toContain(secrets.acme);
    expect(((await (await fetch(`${base("beta")}/signin/providers`)).json()) as { oidc: Array<{ client_id: string }> }).oidc[0]!.client_id).toBe("beta-console");

    const credentials = path.join(dir, "login-acme.json");
    // The tenant's URL in GATEHOUSE_URL, as a person's shell would have it: no --issuer, no --client-id.
    const login = startLogin([], { GATEHOUSE_URL: base("acme"), GATEHOUSE_CREDENTIALS: credentials });
    const signinUrl = new URL(await login.url);
    expect(signinUrl.searchParams.get("client_id")).toBe("acme-console");
    expect(signinUrl.origin + signinUrl.pathname).toBe(`${stack.issuerUrl}/authorize`);
    const { page } = await browser.person();
    await page.goto(signinUrl.toString());
    await page.getByLabel("Name").fill("lena");
    await page.getByLabel("Other groups (comma-separated)").fill("acme-admins");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("body").textContent()).toContain("Signed in to gatehouse");
    const r = await login.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`signing in with acme SSO (issuer ${devIssuerEntry.issuer} at host ${new URL(String(devIssuerEntry.issuer)).host}, client acme-console)`);
    const stored = JSON.parse(await readFile(credentials, "utf8")) as { id_token: string; client_id: string; token_endpoint: string };
    expect(stored).toMatchObject({ client_id: "acme-console", token_endpoint: `${stack.issuerUrl}/token` });
    expect(decodeJwt(stored.id_token)).toMatchObject({ sub: "lena", aud: "acme-console", iss: devIssuerEntry.issuer });
    // The stored sign-in is acme's: its admin API takes it, beta's does not (another tenant's audience).
    const noToken = { GATEHOUSE_CREDENTIALS: credentials, GATEHOUSE_TOKEN: "", ACTIONS_ID_TOKEN_REQUEST_URL: "", GATEHOUSE_ID_TOKEN: "" };
    const own = await gatehouse(["admin", "usage", "--json", "--gateway", base("acme")], noToken);
    expect(own.stderr).toBe("");
    expect(JSON.parse(own.stdout)).toMatchObject({ tenant: "acme" });
    const atBeta = await gatehouse(["admin", "usage", "--gateway", base("beta")], noToken);
    expect(atBeta.code).toBe(1);
    expect(atBeta.stderr).toMatch(/401/);
  }, 180_000);

  it("a tenant without an OIDC provider, an unknown --provider and a gateway that cannot say are clear errors", async () => {
    const none = await gatehouse(["login", "--no-browser", "--gateway", base("plain")], { GATEHOUSE_LOGIN_ISSUER: "", GATEHOUSE_CREDENTIALS: path.join(dir, "none.json") });
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`the gateway at ${base("plain")}/ offers no OIDC sign-in: it has no sign-in provider for people`);
    expect(none.stderr).toContain("pass --issuer and --client-id");
    const unknown = await gatehouse(["login", "--no-browser", "--gateway", base("acme"), "--provider", "okta"], { GATEHOUSE_LOGIN_ISSUER: "" });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no OIDC sign-in provider "okta" (it has: corp)');
    // No tenant named: the platform serves no sign-in (404), which the CLI reports as such.
    const platform = await gatehouse(["login", "--no-browser", "--gateway", stack.gatewayUrl], { GATEHOUSE_LOGIN_ISSUER: "" });
    expect(platform.code).toBe(1);
    expect(platform.stderr).toContain("does not publish its sign-in providers");
    expect(platform.stderr).not.toMatch(/authorize\?/);
  });

  it("refuses a tenant whose provider names a token endpoint its issuer does not publish; that endpoint gets nothing", async () => {
    const received: string[] = [];
    const collector = http.createServer((req, res) => {
      received.push(`${req.method} ${req.url}`);
      res.writeHead(400, { "content-type": "application/json" }).end('{"error":"invalid_grant"}');
    });
    await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
    const collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    try {
      const created = await api("POST", `${stack.gatewayUrl}/platform/v1/tenants`, platformToken, {
        name: "rogue",
        issuers: [{ ...devIssuerEntry, audiences: ["gatehouse-rogue", "rogue-console"] }],
        policy: policy("rogue", stack.issuerId),
        policy_source: "rogue.yaml",
        signin: { oidc: [{ ...signin("rogue").oidc[0]!, token_endpoint: `${collectorUrl}/token` }] },
      });
      expect(created.status, JSON.stringify(created.json)).toBe(201);
      const login = await gatehouse(["login", "--no-browser", "--gateway", base("rogue")], { GATEHOUSE_LOGIN_ISSUER: "", GATEHOUSE_CREDENTIALS: path.join(dir, "rogue.json") });
      expect(login.code).toBe(1);
      expect(login.stderr).toContain(`refusing to sign in with the gateway's sign-in provider corp (issuer ${devIssuerEntry.issuer}): the gateway names token_endpoint ${collectorUrl}/token, but the issuer publishes ${stack.issuerUrl}/token`);
      expect(login.stderr).not.toMatch(/authorize\?/);
      expect(received).toEqual([]);
    } finally {
      await new Promise<void>((r) => collector.close(() => r()));
    }
  });

  it("is anonymous and charged to the tenant's anonymous API bucket", async () => {
    const created = await api("POST", `${stack.gatewayUrl}/platform/v1/tenants`, platformToken, {
      name: "rated",
      issuers: [{ ...devIssuerEntry, audiences: ["gatehouse-rated", "rated-console"] }],
      policy: policy("rated", stack.issuerId),
      policy_source: "rated.yaml",
      signin: { oidc: [{ ...signin("beta").oidc[0]!, client_id: "rated-console", label: "rated SSO" }] },
      limits: { max_api_requests_per_minute: 2 },
    });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${base("rated")}/signin/providers`)).status);
    expect(statuses).toEqual([200, 200, 429]);
    const login = await gatehouse(["login", "--no-browser", "--gateway", base("rated")], { GATEHOUSE_LOGIN_ISSUER: "" });
    expect(login.code).toBe(1);
    // The gateway's own refusal, passed on (the anonymous bucket's wording is worker/limits/'s).
    expect(login.stderr).toMatch(/^gatehouse: gateway answered HTTP 429: api_rate_limited \(gatehouse: (unauthenticated )?API request refused: the tenant's API rate limit is reached \(max_api_requests_per_minute: 2\); retry in \d+ s\)$/m);
    expect(login.stderr).not.toMatch(/authorize\?/);
  });
});

describe("across tenants (attacks)", () => {
  it("a console cookie of A is refused at B, under A's name and under B's", async () => {
    const flow = await codeFor("acme", "mallory");
    const done = await fetch(flow.callback, { headers: { cookie: cookieHeader(flow.cookies) }, redirect: "manual" });
    const acmeSession = setCookies(done).gatehouse_console_acme!;
    const at = (t: Tenant, cookie: string) => fetch(`${base(t)}/console/approvals`, { headers: { cookie }, redirect: "manual" });
    // Good at A.
    expect((await at("acme", `gatehouse_console_acme=${acmeSession}`)).status).toBe(200);
    for (const cookie of [`gatehouse_console_acme=${acmeSession}`, `gatehouse_console_beta=${acmeSession}`, `gatehouse_console=${acmeSession}`]) {
      const r = await at("beta", cookie);
      expect(r.status).toBe(303);
      expect(r.headers.get("location")).toBe(`/t/beta/signin?return_to=${encodeURIComponent("/console/approvals")}`);
    }
    // A state-changing request with A's session at B: refused outright.
    const post = await fetch(`${base("beta")}/signout`, { method: "POST", headers: { cookie: `gatehouse_console_beta=${acmeSession}`, "content-type": "application/x-www-form-urlencoded" }, body: "csrf=x", redirect: "manual" });
    expect(post.status).toBe(303);
    // ...and it left A's session alive.
    expect((await at("acme", `gatehouse_console_acme=${acmeSession}`)).status).toBe(200);
  });

  it("a state (and code) from A cannot complete at B, and is still good at A", async () => {
    const flow = await codeFor("acme", "mallory");
    // The attacker carries A's binding cookie under both names to B's callback with A's state and code.
    const binding = flow.cookies.gatehouse_signin_acme!;
    const atBeta = await fetch(`${base("beta")}/signin/oidc/corp/callback?${flow.callback.searchParams}`, {
      headers: { cookie: `gatehouse_signin_beta=${binding}; gatehouse_signin_acme=${binding}` },
      redirect: "manual",
    });
    expect(atBeta.status).toBe(400);
    expect(await atBeta.text()).toContain("this sign-in link is unknown, expired or already used");
    expect(atBeta.headers.getSetCookie().join("\n")).not.toMatch(/gatehouse_console/);
    // B did not consume it: the real browser at A still finishes.
    const atAcme = await fetch(flow.callback, { headers: { cookie: cookieHeader(flow.cookies) }, redirect: "manual" });
    expect(atAcme.status).toBe(303);
    expect(setCookies(atAcme).gatehouse_console_acme).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/);
  });

  it("a code issued to A's client is refused at B's callback", async () => {
    // B's sign-in started, but the provider was asked for A's client id (as an attacker holding A's client could).
    const flow = await codeFor("beta", "mallory", { client_id: "acme-console" });
    const r = await fetch(flow.callback, { headers: { cookie: cookieHeader(flow.cookies) }, redirect: "manual" });
    expect(r.status).toBe(400);
    expect(await r.text()).toMatch(/token endpoint refused the code: invalid_client/);
    expect(r.headers.getSetCookie().join("\n")).not.toMatch(/gatehouse_console/);
  });

  it("A's sign-in client or issuer cannot be configured at B", async () => {
    const aClient = { ...signin("beta"), oidc: [{ ...signin("beta").oidc[0]!, client_id: "acme-console" }] };
    const r = await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/beta`, platformToken, { signin: aClient });
    expect(r.status).toBe(422);
    expect(r.json.reason).toMatch(/does not list client_id acme-console as an audience/);
    // ...nor by trusting A's client id as one of B's audiences (the clash check of creation).
    const clash = await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/beta`, platformToken, { issuers: [{ ...devIssuerEntry, audiences: ["gatehouse-beta", "beta-console", "acme-console"] }] });
    expect(clash.status).toBe(422);
    expect(clash.json.reason).toMatch(/already trusted by tenant acme/);
    // An issuer B does not trust at all.
    const foreign = { oidc: [{ ...signin("beta").oidc[0]!, issuer: "https://login.acme.example" }] };
    const f = await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/beta`, platformToken, { signin: foreign });
    expect(f.status).toBe(422);
    expect(f.json.reason).toMatch(/issuer https:\/\/login\.acme\.example is not in the tenant's issuers/);
    // Dropping the client id from B's audiences while its sign-in uses it: refused too.
    const drop = await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/beta`, platformToken, { issuers: [{ ...devIssuerEntry, audiences: ["gatehouse-beta"] }] });
    expect(drop.status).toBe(422);
  });

  it("the platform administrator signs in to a tenant with no role there", async () => {
    const { page } = await browserSignIn("acme", "platform-root", []);
    expect(await page.locator(".me").textContent()).not.toMatch(/\(/);
    const sessions = await page.goto(`${base("acme")}/console/sessions`);
    expect(sessions!.status()).toBe(403);
    const review = await page.goto(`${base("acme")}/console/review`);
    expect(review!.status()).toBe(403);
  }, 180_000);

  it("a tenant without sign-in has none (the platform's GATEHOUSE_SIGNIN is not its)", async () => {
    const r = await fetch(`${base("plain")}/signin`);
    expect(await r.text()).toContain("No sign-in provider is configured");
    expect((await fetch(`${base("plain")}/signin/oidc/dev`, { redirect: "manual" })).status).toBe(400);
    // Configured later through update, it works at once (records are re-read per request).
    const added = await api("PATCH", `${stack.gatewayUrl}/platform/v1/tenants/plain`, platformToken, {
      issuers: [{ ...devIssuerEntry, audiences: ["gatehouse-plain", "plain-console"] }],
      signin: signin("plain"),
    });
    expect(added.status).toBe(200);
    const flow = await codeFor("plain" as Tenant, "pat");
    const done = await fetch(flow.callback, { headers: { cookie: cookieHeader(flow.cookies) }, redirect: "manual" });
    expect(done.status).toBe(303);
    expect(setCookies(done).gatehouse_console_plain).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{22}$/);
  });
});

describe("usage per billing period (docs/TENANCY.md)", () => {
  it("a tenant admin reads its own usage only; the platform administrator reads any tenant's", async () => {
    const month = new Date().toISOString().slice(0, 7);
    const acmeAdmin = await stack.mintToken({ sub: "acme-root", audience: "gatehouse-acme", claims: { groups: ["acme-admins"] } });
    const own = await gatehouse(["admin", "usage", "--json", "--gateway", base("acme")], { GATEHOUSE_TOKEN: acmeAdmin });
    expect(own.stderr).toBe("");
    expect(own.code).toBe(0);
    const report = JSON.parse(own.stdout) as { tenant: string; period_kind: string; current_period: string; totals: Record<string, number> };
    expect(report).toMatchObject({ tenant: "acme", period_kind: "calendar month, UTC", current_period: month });
    expect(Object.keys(report.totals)).toContain("recording_bytes");
    const text = await gatehouse(["admin", "usage", "--period", month, "--gateway", base("acme")], { GATEHOUSE_TOKEN: acmeAdmin });
    expect(text.stdout).toMatch(new RegExp(`^usage of tenant acme \\(periods: calendar month, UTC; current ${month}\\)\n(.|\n)*^${month}\tsessions_started=0`, "m"));
    // A's admin at B (its token's audience is A's: not trusted there), and at the platform.
    const atBeta = await gatehouse(["admin", "usage", "--gateway", base("beta")], { GATEHOUSE_TOKEN: acmeAdmin });
    expect(atBeta.code).toBe(1);
    expect(atBeta.stderr).toMatch(/401|aud/);
    expect((await api("GET", `${base("beta")}/v1/admin/usage`, acmeAdmin)).status).toBe(401);
    expect((await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/beta/usage`, acmeAdmin)).status).toBe(401);
    // B's people without B's admin role: refused at B.
    const betaAuditor = await stack.mintToken({ sub: "bob", audience: "gatehouse-beta", claims: { groups: ["beta-auditors"] } });
    expect((await api("GET", `${base("beta")}/v1/admin/usage`, betaAuditor)).status).toBe(403);
    // The platform administrator: any tenant, through the platform; no role inside a tenant.
    for (const t of TENANTS) {
      const r = await gatehouse(["admin", "tenants", "usage", t, "--period", month, "--json", "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: platformToken });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ tenant: t, periods: [{ period: month, counters: { sessions_started: 0 } }] });
    }
    expect((await api("GET", `${base("acme")}/v1/admin/usage`, platformToken)).status).toBe(401);
    // A malformed period is a usage error before any request, and a 400 from the API.
    const bad = await gatehouse(["admin", "tenants", "usage", "acme", "--period", "2026-13", "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: platformToken });
    expect(bad.code).toBe(2);
    expect((await api("GET", `${stack.gatewayUrl}/platform/v1/tenants/acme/usage?period=2026-1`, platformToken)).status).toBe(400);
    // show: totals and this period.
    const show = await gatehouse(["admin", "tenants", "show", "acme", "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: platformToken });
    expect(show.stdout).toMatch(new RegExp(`usage +sessions_started=0 .*\\(totals\\)\n +${month} +sessions_started=0 .*\\(this period: calendar month, UTC\\)`));
  }, 300_000);
});
