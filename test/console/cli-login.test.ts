/**
 * Issue 19: `gatehouse login` signs a person in for the CLI — OIDC code + PKCE with a loopback
 * redirect, completed in a real browser (Debian Chromium) on the development issuer's login page —
 * stores the token 0600, every command then uses it without GATEHOUSE_TOKEN, it is renewed with
 * the refresh token before it expires, and `gatehouse logout` forgets it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt } from "jose";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { gatehouse } from "../e2e/helpers.ts";
import { startBrowser, type TestBrowser } from "./browser.ts";

const POLICY = `
version: 1
roles:
  approver:
    - issuer: http://127.0.0.1:8788
      claims: { groups: approvers }
rules:
  - name: pg-read
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read]
`;

let stack: TestStack;
let browser: TestBrowser;
let dir: string;
let env: Record<string, string>;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startTestStack({ policyYaml: POLICY }), startBrowser()]);
  dir = mkdtempSync(path.join(tmpdir(), "gatehouse-login-"));
  env = { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_CREDENTIALS: path.join(dir, "credentials.json"), GATEHOUSE_TOKEN: "", ACTIONS_ID_TOKEN_REQUEST_URL: "", GATEHOUSE_ID_TOKEN: "" };
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function startLogin(): { url: Promise<string>; done: Promise<{ code: number; stderr: string }> } {
  const child = spawn(process.execPath, ["bin/gatehouse.mjs", "login", "--issuer", stack.issuerUrl, "--no-browser"], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let found: (u: string) => void;
  const url = new Promise<string>((r) => (found = r));
  child.stderr.on("data", (d) => {
    stderr += d;
    const m = /^\s+(http:\/\/\S+\/authorize\?\S+)$/m.exec(stderr);
    if (m) found(m[1]!);
  });
  const done = new Promise<{ code: number; stderr: string }>((r) => child.on("exit", (code) => r({ code: code ?? 1, stderr })));
  return { url, done };
}

describe("gatehouse login", () => {
  it("signs in through the browser, stores the token 0600, and commands use it", async () => {
    const login = startLogin();
    const { page } = await browser.person();
    await page.goto(await login.url);
    await page.getByLabel("Name").fill("lena");
    await page.getByRole("checkbox", { name: "approvers" }).check();
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("body").textContent()).toContain("Signed in to gatehouse");
    const r = await login.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("signed in as lena");
    expect(statSync(env.GATEHOUSE_CREDENTIALS!).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(env.GATEHOUSE_CREDENTIALS!, "utf8")) as { id_token: string; refresh_token?: string };
    expect(decodeJwt(stored.id_token)).toMatchObject({ sub: "lena", groups: ["approvers"], aud: "gatehouse" });
    expect(stored.refresh_token).toBeTruthy();

    const list = await gatehouse(["approvals", "list", "--json"], env);
    expect(list.code, list.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(list.stdout))).toBe(true);
    // The token is presented and the policy decides: lena is no auditor.
    const sessions = await gatehouse(["sessions", "list"], env);
    expect(sessions.code).not.toBe(0);
    expect(sessions.stderr).toContain("auditor");
  });

  it("renews a token about to expire with the refresh token", async () => {
    const stored = JSON.parse(readFileSync(env.GATEHOUSE_CREDENTIALS!, "utf8")) as { id_token: string };
    const shortLived = await stack.mintToken({ sub: "lena", claims: { groups: ["approvers"] }, ttlSeconds: 60 });
    writeFileSync(env.GATEHOUSE_CREDENTIALS!, JSON.stringify({ ...JSON.parse(readFileSync(env.GATEHOUSE_CREDENTIALS!, "utf8")), id_token: shortLived }), { mode: 0o600 });
    const list = await gatehouse(["approvals", "list"], env);
    expect(list.code, list.stderr).toBe(0);
    const renewed = JSON.parse(readFileSync(env.GATEHOUSE_CREDENTIALS!, "utf8")) as { id_token: string };
    expect(renewed.id_token).not.toBe(shortLived);
    expect(renewed.id_token).not.toBe(stored.id_token);
    const claims = decodeJwt(renewed.id_token);
    expect(claims.sub).toBe("lena");
    expect(claims.exp! - Math.floor(Date.now() / 1000)).toBeGreaterThan(600);
    expect(statSync(env.GATEHOUSE_CREDENTIALS!).mode & 0o777).toBe(0o600);
  });

  it("logout forgets the sign-in; commands then ask for one", async () => {
    const out = await gatehouse(["logout"], env);
    expect(out.code).toBe(0);
    expect(existsSync(env.GATEHOUSE_CREDENTIALS!)).toBe(false);
    const list = await gatehouse(["approvals", "list"], env);
    expect(list.code).not.toBe(0);
    expect(list.stderr).toContain("gatehouse login");
  });
});
