/**
 * The destination after sign-in (`return_to`) cannot leave the tenant's console, end to end: one
 * multi-tenant worker (wrangler dev), the victim's tenant `acme` and an attacker's own tenant `evil`
 * on the same platform, both named by path (so one browser origin), `evil` with a sign-in provider
 * whose authorization endpoint is the attacker's site. A sign-in link at acme carrying
 * `return_to=/console/.%2e/.%2e/.%2e/t/evil/signin/oidc/corp` — `..` as the WHATWG URL dot segment a
 * browser resolves — must not send the freshly signed-in person on to evil's provider (an open
 * redirect off the gateway, right after a genuine sign-in: a phishing page that asks for the
 * password "again"). The Location is resolved as a browser resolves it (WHATWG URL).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { gatehouse } from "../e2e/helpers.ts";

const PHISH = "https://phish.example/authorize";
let stack: TestStack;
let dir: string;
let devIssuerEntry: Record<string, unknown>;

const base = (t: string) => `${stack.gatewayUrl}/t/${t}`;

function policy(t: string, issuer: string): string {
  return `version: 1
roles:
  auditor: [{ issuer: "${issuer}", claims: { groups: ${t}-auditors } }]
rules:
  - name: ${t}-read
    effect: allow
    subjects: [{ issuer: "${issuer}", claims: { repository: "${t}/*" } }]
    resources: [orders]
    actions: [connect, sql.read]
`;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "gatehouse-return-to-"));
  stack = await startTestStack({
    connector: false,
    waitForConnector: false,
    issuerId: null,
    workerVars: { GATEHOUSE_TENANCY: "multi", GATEHOUSE_PLATFORM_SECRETS_KEY: randomBytes(32).toString("hex") },
    workerVarsWithIssuer: (issuer) => {
      devIssuerEntry = { ...issuer, dev: false };
      return {
        GATEHOUSE_PLATFORM_ISSUERS: JSON.stringify([{ ...issuer, audiences: ["gatehouse-platform"], dev: false }]),
        GATEHOUSE_PLATFORM_ADMINS: JSON.stringify([{ issuer: issuer.issuer, subject: "platform-root" }]),
      };
    },
  });
  const platformToken = await stack.mintToken({ sub: "platform-root", audience: "gatehouse-platform" });
  for (const t of ["acme", "evil"]) {
    const file = path.join(dir, `${t}.json`);
    await writeFile(
      file,
      JSON.stringify({
        name: t,
        issuers: [{ ...devIssuerEntry, audiences: [`gatehouse-${t}`, `${t}-console`] }],
        policy: policy(t, stack.issuerId),
        policy_source: `${t}.yaml`,
        signin: {
          oidc: [
            {
              id: "corp",
              label: `${t} SSO`,
              issuer: devIssuerEntry.issuer,
              client_id: `${t}-console`,
              // The attacker's tenant sends its sign-ins to the attacker's site.
              authorization_endpoint: t === "evil" ? PHISH : `${stack.issuerUrl}/authorize`,
              token_endpoint: `${stack.issuerUrl}/token`,
            },
          ],
        },
      }),
    );
    const r = await gatehouse(["admin", "tenants", "create", "--file", file, "--gateway", stack.gatewayUrl], { GATEHOUSE_TOKEN: platformToken });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  }
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

/** A full OIDC sign-in at acme as a browser makes it (binding cookie carried), starting with `returnTo`; the final Location. */
async function signInReturningTo(returnTo: string): Promise<string> {
  const start = await fetch(`${base("acme")}/signin/oidc/corp?return_to=${encodeURIComponent(returnTo)}`, { redirect: "manual" });
  expect(start.status).toBe(302);
  const cookie = start.headers
    .getSetCookie()
    .map((l) => l.split(";")[0]!)
    .join("; ");
  const authorize = new URL(start.headers.get("location")!);
  expect(authorize.origin + authorize.pathname).toBe(`${stack.issuerUrl}/authorize`);
  const form = new URLSearchParams(authorize.searchParams);
  form.set("sub", "ann");
  const back = await fetch(`${stack.issuerUrl}/authorize`, { method: "POST", body: form, redirect: "manual" });
  expect(back.status).toBe(302);
  const done = await fetch(back.headers.get("location")!, { headers: { cookie }, redirect: "manual" });
  expect(done.status).toBe(303);
  expect(done.headers.getSetCookie().join("\n")).toMatch(/gatehouse_console_acme=/);
  return done.headers.get("location")!;
}

describe("return_to after a sign-in at a path-named tenant", () => {
  it("does not lead out of the tenant's console to another tenant's sign-in (and on to its provider)", async () => {
    // The premise: evil's sign-in start sends any browser to the attacker's site.
    const premise = await fetch(`${base("evil")}/signin/oidc/corp`, { redirect: "manual" });
    expect(premise.status).toBe(302);
    expect(premise.headers.get("location")).toMatch(/^https:\/\/phish\.example\/authorize\?/);
    const location = await signInReturningTo("/console/.%2e/.%2e/.%2e/t/evil/signin/oidc/corp");
    // Where the browser goes next: the Location resolved as browsers resolve it.
    const next = new URL(location, stack.gatewayUrl);
    expect(next.pathname).toMatch(/^\/t\/acme\/console\//);
    // And following it does not end at the attacker's site.
    const hop = await fetch(next, { redirect: "manual" });
    expect(hop.headers.get("location") ?? "").not.toContain("phish.example");
  }, 60_000);

  it("still returns to the console page asked for", async () => {
    const location = await signInReturningTo("/console/sessions");
    expect(location).toBe("/t/acme/console/sessions");
  }, 60_000);
});
