/**
 * The development issuer's authorization endpoint (people's sign-in, client/dev/issuer-authorize.ts):
 * the flow a relying party runs, and what it refuses — a non-loopback redirect, a missing PKCE
 * challenge, a wrong verifier, a code used twice, a refresh token used twice.
 */
import { afterEach, describe, expect, it } from "vitest";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { startDevIssuer, type DevIssuer } from "./issuer.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function issuer(redirectOrigins?: string[]): Promise<DevIssuer> {
  const dir = await mkdtemp(path.join(tmpdir(), "gh-authorize-"));
  const i = await startDevIssuer({ port: 0, keyFile: path.join(dir, "dev", "issuer-key.json"), redirectOrigins });
  cleanups.push(() => rm(dir, { recursive: true, force: true }), () => i.close());
  return i;
}

const REDIRECT = "http://127.0.0.1:9/callback";

function pkce() {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
}

async function authorize(dev: DevIssuer, over: Record<string, string> = {}, form: Record<string, string | string[]> = { sub: "ana", groups: ["approvers", "auditors"] }) {
  const params = { response_type: "code", client_id: "gatehouse", redirect_uri: REDIRECT, state: "st", nonce: "no", code_challenge_method: "S256", ...over };
  const body = new URLSearchParams(params);
  for (const [k, v] of Object.entries(form)) for (const x of [v].flat()) body.append(k, x);
  return fetch(`${dev.url}/authorize`, { method: "POST", body, redirect: "manual" });
}

const token = (dev: DevIssuer, params: Record<string, string>) => fetch(`${dev.url}/token`, { method: "POST", body: new URLSearchParams(params) });

describe("development issuer: authorization code + PKCE", () => {
  it("shows a login page, issues a one-time code, and exchanges it for an ID token with nonce and groups", async () => {
    const dev = await issuer();
    const { verifier, challenge } = pkce();
    const page = await fetch(`${dev.url}/authorize?${new URLSearchParams({ response_type: "code", client_id: "gatehouse", redirect_uri: REDIRECT, state: "st", code_challenge: challenge, code_challenge_method: "S256" })}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('name="groups" value="approvers"');
    const res = await authorize(dev, { code_challenge: challenge });
    expect(res.status).toBe(302);
    const back = new URL(res.headers.get("location")!);
    expect(`${back.origin}${back.pathname}`).toBe(REDIRECT);
    expect(back.searchParams.get("state")).toBe("st");
    const code = back.searchParams.get("code")!;
    const ok = await token(dev, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: "gatehouse", code_verifier: verifier });
    expect(ok.status).toBe(200);
    const tokens = (await ok.json()) as { id_token: string; refresh_token: string };
    const { payload } = await jwtVerify(tokens.id_token, createRemoteJWKSet(new URL(dev.jwksUri)), { issuer: dev.issuer, audience: "gatehouse" });
    expect(payload).toMatchObject({ sub: "ana", nonce: "no", groups: ["approvers", "auditors"] });
    // The code is single-use.
    const again = await token(dev, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: "gatehouse", code_verifier: verifier });
    expect(again.status).toBe(400);
    // The refresh token renews once.
    const renewed = await token(dev, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: "gatehouse" });
    expect(renewed.status).toBe(200);
    expect((await token(dev, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: "gatehouse" })).status).toBe(400);
  });

  it("refuses a non-loopback redirect, no PKCE, and a wrong verifier", async () => {
    const dev = await issuer();
    const { challenge } = pkce();
    expect((await authorize(dev, { code_challenge: challenge, redirect_uri: "https://evil.example/cb" })).status).toBe(400);
    expect((await authorize(dev, { code_challenge: challenge, code_challenge_method: "plain" })).status).toBe(400);
    const res = await authorize(dev, { code_challenge: challenge });
    const code = new URL(res.headers.get("location")!).searchParams.get("code")!;
    const wrong = await token(dev, { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: "gatehouse", code_verifier: pkce().verifier });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error_description: string }).error_description).toContain("PKCE");
  });

  it("a test's extra redirect origins are exact https origins: nothing near them is accepted", async () => {
    const dev = await issuer(["https://acme.gatehouse.test:8443"]);
    const { challenge } = pkce();
    const ok = await authorize(dev, { code_challenge: challenge, redirect_uri: "https://acme.gatehouse.test:8443/signin/oidc/corp/callback" });
    expect(ok.status).toBe(302);
    expect(new URL(ok.headers.get("location")!).origin).toBe("https://acme.gatehouse.test:8443");
    // The page allows its form to lead there (CSP form-action governs the redirect too), and nowhere else new.
    const page = await fetch(`${dev.url}/authorize?${new URLSearchParams({ response_type: "code", client_id: "c", redirect_uri: "https://acme.gatehouse.test:8443/cb", code_challenge: challenge, code_challenge_method: "S256" })}`);
    expect(page.headers.get("content-security-policy")).toContain("form-action 'self' http://127.0.0.1:* http://localhost:* https://acme.gatehouse.test:8443;");
    for (const redirect of [
      "http://acme.gatehouse.test:8443/cb", // plain http to the same name
      "https://acme.gatehouse.test/cb", // another port
      "https://beta.gatehouse.test:8443/cb", // a sibling
      "https://acme.gatehouse.test.evil.example:8443/cb",
      "https://user@acme.gatehouse.test:8443/cb",
    ]) {
      expect((await authorize(dev, { code_challenge: challenge, redirect_uri: redirect })).status, redirect).toBe(400);
    }
    // Without the option (every real use): loopback only, as before.
    const plain = await issuer();
    expect((await authorize(plain, { code_challenge: challenge, redirect_uri: "https://acme.gatehouse.test:8443/signin/oidc/corp/callback" })).status).toBe(400);
    // Patterns and plain-http origins are refused when the issuer starts.
    await expect(issuer(["https://*.gatehouse.test"])).rejects.toThrow(/exact https origin/);
    await expect(issuer(["http://acme.gatehouse.test"])).rejects.toThrow(/exact https origin/);
    await expect(issuer(["https://acme.gatehouse.test/path"])).rejects.toThrow(/exact https origin/);
  });
});
