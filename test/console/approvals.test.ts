/**
 * Issue 19, end to end in a real browser (Debian Chromium via playwright-core): a person signs in
 * through OIDC (the development issuer's login page, code + PKCE), follows the approval link from
 * the hold NOTICE, and approves or denies a statement while psql waits on the other side of the
 * real worker, connector and PostgreSQL. Negative: the requester gets no button and the server
 * refuses a forged vote; a vote without the CSRF token, or from another origin, is refused; a
 * person without the approver role sees nothing.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { screenshotPath } from "./screenshots.ts";
import pg from "pg";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { heldPsql } from "./held-psql.ts";
import { signInWithDevIssuer, startBrowser, type TestBrowser } from "./browser.ts";

const POLICY = `
version: 1
roles:
  approver:
    - issuer: http://127.0.0.1:8788
      claims: { groups: approvers }
rules:
  - name: dev-read
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.transaction, sql.session]
  - name: writes-need-approval
    effect: approve
    subjects: { issuer: http://127.0.0.1:8788, subject: "pipeline-*" }
    resources: [demo-pg]
    actions: [sql.write]
    timeout: 5m
`;

let stack: TestStack;
let browser: TestBrowser;
let pipeline: TestConnection;
let admin: pg.Client;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startTestStack({ policyYaml: POLICY, verbose: !!process.env.GATEHOUSE_TEST_VERBOSE }), startBrowser()]);
  pipeline = await stack.connect("demo-pg", { sub: "pipeline-deploy", claims: { repository: "octo/app", run_id: "4242", ref: "refs/heads/main", sha: "0123456789abcdef0123456789abcdef01234567", workflow: "deploy" } });
  const su = stack.pg.superuser!;
  admin = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
  await admin.connect();
}, 240_000);

afterAll(async () => {
  await admin?.end();
  await browser?.close();
  await stack?.stop();
});

const count = async (where: string) => (await admin.query(`select count(*)::int as n from orders where ${where}`)).rows[0].n as number;

describe("approvals in the browser", () => {
  it("signs in with OIDC from the notification link and approves while psql waits", async () => {
    const run = heldPsql(pipeline.url, "insert into orders (customer_id, amount, status) values (1, 7171.71, 'pending')");
    const id = await run.id;
    const { page } = await browser.person();
    // The link in the NOTICE / notification, opened in a browser: sign-in first, then the request.
    await page.goto(`${stack.gatewayUrl}/v1/approvals/${id}`);
    expect(new URL(page.url()).pathname).toBe("/signin");
    await page.getByRole("link", { name: /Sign in with the development issuer/ }).click();
    await page.getByLabel("Name").fill("carol");
    await page.getByRole("checkbox", { name: "approvers" }).check();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${stack.gatewayUrl}/console/approvals/${id}`);

    // The request in full, with the requester's CI context and progress.
    await expect.poll(() => page.getByLabel("Statement").textContent()).toContain("insert into orders");
    const detail = await page.locator("main").textContent();
    expect(detail).toContain("writes-need-approval");
    expect(detail).toContain("0 of 1");
    expect(detail).toContain("octo/app");
    expect(detail).toContain("https://github.com/octo/app/actions/runs/4242");
    expect(detail).toMatch(/Time left\s*\d+m/);
    // The cookie is what the issue asks for.
    const cookie = (await page.context().cookies()).find((c) => c.name === "gatehouse_console")!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe("Lax");
    expect(await count("amount = 7171.71")).toBe(0);
    expect(run.waiting()).toBe(true);
    await page.screenshot({ path: screenshotPath("approval-request.png"), fullPage: true });

    await page.getByLabel("Reason (optional)").fill("ticket OPS-12");
    await page.getByRole("button", { name: "Approve" }).click();
    await page.waitForURL(`${stack.gatewayUrl}/console/approvals/${id}`);
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("INSERT 0 1");
    expect(await count("amount = 7171.71")).toBe(1);
    await expect.poll(() => page.locator("main").textContent()).toContain("Approved by carol");
    expect(await page.getByRole("button", { name: "Approve" }).count()).toBe(0);
  });

  it("denies with a reason; psql gets the reason", async () => {
    const run = heldPsql(pipeline.url, "update orders set amount = 8181.81 where id = 1");
    const id = await run.id;
    const { page } = await browser.person();
    await signInWithDevIssuer(page, stack.gatewayUrl, "dan", ["approvers"], "/console/approvals");
    await page.getByRole("link", { name: new RegExp(id) }).click();
    await page.getByLabel("Reason (required)").fill("change freeze until Monday");
    await page.getByRole("button", { name: "Deny" }).click();
    const r = await run.done;
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("change freeze until Monday");
    expect(await count("amount = 8181.81")).toBe(0);
    await expect.poll(() => page.locator("main").textContent()).toContain("Denied by dan");
  });

  it("the requester sees no button and the server refuses a forged vote", async () => {
    const run = heldPsql(pipeline.url, "update orders set amount = 9191.91 where id = 2");
    const id = await run.id;
    const { page, context } = await browser.person();
    // Same issuer and subject as the pipeline: the same principal, whatever groups it picks.
    await signInWithDevIssuer(page, stack.gatewayUrl, "pipeline-deploy", ["approvers"], `/console/approvals/${id}`);
    await expect.poll(() => page.locator("main").textContent()).toContain("You made this request");
    expect(await page.getByRole("button", { name: "Approve" }).count()).toBe(0);
    const csrf = await page.locator('form.signout input[name="csrf"]').getAttribute("value");
    const forged = await context.request.post(`${stack.gatewayUrl}/console/approvals/${id}/approve`, { form: { csrf: csrf!, reason: "me" }, headers: { origin: stack.gatewayUrl }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect(await forged.text()).toMatch(/own|requester|self/i);
    expect(run.waiting()).toBe(true);
    run.kill();
    await run.done;
  });

  it("refuses votes without the CSRF token or from another origin, and hides requests from non-approvers", async () => {
    const run = heldPsql(pipeline.url, "update orders set amount = 6161.61 where id = 3");
    const id = await run.id;
    const { page, context } = await browser.person();
    await signInWithDevIssuer(page, stack.gatewayUrl, "erin", ["approvers"], `/console/approvals/${id}`);
    const csrf = (await page.locator('form.signout input[name="csrf"]').getAttribute("value"))!;
    const url = `${stack.gatewayUrl}/console/approvals/${id}/approve`;
    const noToken = await context.request.post(url, { form: { reason: "x" }, headers: { origin: stack.gatewayUrl }, maxRedirects: 0 });
    expect(noToken.status()).toBe(403);
    expect(await noToken.text()).toContain("CSRF");
    const wrongToken = await context.request.post(url, { form: { csrf: csrf.replace(/^./, (ch) => (ch === "A" ? "B" : "A")) }, headers: { origin: stack.gatewayUrl }, maxRedirects: 0 });
    expect(wrongToken.status()).toBe(403);
    const crossOrigin = await context.request.post(url, { form: { csrf }, headers: { origin: "https://evil.example" }, maxRedirects: 0 });
    expect(crossOrigin.status()).toBe(403);
    const crossSite = await context.request.post(url, { form: { csrf }, headers: { "sec-fetch-site": "cross-site" }, maxRedirects: 0 });
    expect(crossSite.status()).toBe(403);
    // None of them counted: still pending, psql still waiting.
    await page.reload();
    expect(await page.locator("main").textContent()).toContain("0 of 1");
    expect(run.waiting()).toBe(true);

    // A signed-in person without the approver role: the request does not exist for them.
    const other = await browser.person();
    await signInWithDevIssuer(other.page, stack.gatewayUrl, "frank", ["developers"], "/console/approvals");
    expect(await other.page.locator("main").textContent()).toContain("No pending requests");
    const hidden = await other.page.goto(`${stack.gatewayUrl}/console/approvals/${id}`);
    expect(hidden!.status()).toBe(404);
    const otherCsrf = (await other.page.locator('form.signout input[name="csrf"]').getAttribute("value"))!;
    const forged = await other.context.request.post(url, { form: { csrf: otherCsrf }, headers: { origin: stack.gatewayUrl }, maxRedirects: 0 });
    expect(forged.status()).toBe(404);
    // Not signed in at all: refused before anything else.
    const anonymous = await fetch(url, { method: "POST", body: new URLSearchParams({ csrf }), redirect: "manual" });
    expect(anonymous.status).toBe(403);
    expect(run.waiting()).toBe(true);
    run.kill();
    await run.done;
  });

  it("serves every console page with a strict CSP and signs out with the token", async () => {
    const { page, context } = await browser.person();
    await signInWithDevIssuer(page, stack.gatewayUrl, "gina", ["approvers"], "/console/approvals");
    const res = await context.request.get(`${stack.gatewayUrl}/console/approvals`);
    const csp = res.headers()["content-security-policy"]!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: screenshotPath("approvals-phone.png"), fullPage: true });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL((u) => u.pathname === "/signin");
    await page.goto(`${stack.gatewayUrl}/console/approvals`);
    expect(new URL(page.url()).pathname).toBe("/signin");
  });
});
