/**
 * Issue 19: an auditor in a real browser (Debian Chromium) finds recorded sessions, reads a
 * PostgreSQL session's timeline (decisions and rules), replays an SSH shell session in the
 * terminal player and verifies trails (chain + signed checkpoints), reads the access review and
 * downloads it as CSV; an approver revokes a grant — through the real worker, connector, OpenSSH
 * sshd and PostgreSQL. Negative: a person without the auditor role gets 403 on every sessions and
 * review page (recording and downloads included); a revoke without the CSRF token is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { screenshotPath } from "./screenshots.ts";
import pg from "pg";
import { sshdResource, startTestSshd, type TestSshd } from "../harness/sshd.ts";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { run, SSH_OPTS } from "../ssh/run.ts";
import { signInWithDevIssuer, startBrowser, type TestBrowser } from "./browser.ts";

const POLICY = `
version: 1
roles:
  auditor:
    - claims: { groups: auditors }
  approver:
    - claims: { groups: approvers }
rules:
  - name: pg-read
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read]
  - name: no-writes-here
    effect: deny
    subjects: any
    resources: [demo-pg]
    actions: [sql.write]
  - name: ssh-ops
    effect: allow
    subjects: any
    resources: { type: ssh }
    actions: [connect, ssh.exec, ssh.shell]
masking:
  rules:
    - name: secret-columns
      resources: [demo-pg]
      columns: [password_hash]
      style: redact
`;

let sshd: TestSshd;
let stack: TestStack;
let browser: TestBrowser;
let ssh: TestConnection;

beforeAll(async () => {
  sshd = await startTestSshd();
  [stack, browser] = await Promise.all([startTestStack({ policyYaml: POLICY, extraResources: [sshdResource(sshd, "ops-ssh")] }), startBrowser()]);
  ssh = await stack.connect("ops-ssh", { sub: "pipeline-ops" });
  const shell = await run("ssh", ["-p", String(ssh.port), ...SSH_OPTS, "pipeline@127.0.0.1", "-tt"], { input: "echo shell-$((6*7))\nexit 5\n" });
  expect(shell.stdout).toContain("shell-42");
  const read = await stack.psql("select count(*) as n from orders", { sub: "pipeline-report" });
  expect(read.code).toBe(0);
  const denied = await stack.psql("delete from orders where id = 1", { sub: "pipeline-report" });
  expect(denied.stderr).toContain("no-writes-here");
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await sshd?.stop();
});

describe("sessions in the browser", () => {
  it("shows result samples masked, as the client saw them", async () => {
    const masked = await stack.psql("select id, password_hash from customers order by id limit 1", { sub: "pipeline-masked", args: ["-A", "-t"] });
    expect(masked.code, masked.stderr).toBe(0);
    const seen = masked.stdout.trim().split("|")[1]!;
    const su = stack.pg.superuser!;
    const admin = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
    await admin.connect();
    const real = (await admin.query("select password_hash from customers order by id limit 1")).rows[0].password_hash as string;
    await admin.end();
    expect(seen).not.toBe(real);
    const { page } = await browser.person();
    await signInWithDevIssuer(page, stack.gatewayUrl, "ivy", ["auditors"], "/console/sessions?identity=pipeline-masked");
    await page.locator("tbody tr").first().getByRole("link").click();
    await page.waitForURL(/\/console\/sessions\/[0-9a-f-]{36}$/);
    const sample = page.locator("table.sample");
    await expect.poll(() => sample.textContent()).toContain(seen);
    expect(await page.locator("main").textContent()).not.toContain(real);
  });

  it("lists sessions with filters and shows a timeline with decisions and rules", async () => {
    const { page } = await browser.person();
    await signInWithDevIssuer(page, stack.gatewayUrl, "ivy", ["auditors"], "/console/sessions");
    await page.getByLabel("Resource").fill("demo-pg");
    await page.getByLabel("Decisions").selectOption("denied");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/decision=denied/);
    const rows = page.locator("tbody tr");
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain("pipeline-report");
    await page.screenshot({ path: screenshotPath("sessions.png"), fullPage: true });
    await rows.first().getByRole("link").click();
    await page.waitForURL(/\/console\/sessions\/[0-9a-f-]{36}$/);
    const timeline = page.locator("ol.timeline");
    await expect.poll(() => timeline.textContent()).toContain("delete from orders where id = 1");
    const text = (await timeline.textContent())!;
    expect(text).toMatch(/decision\s+deny\s+by rule\s+no-writes-here/);
    expect(text).toMatch(/decision\s+allow\s+by rule\s+pg-read/);
    await page.screenshot({ path: screenshotPath("session-timeline.png"), fullPage: true });
  });

  it("replays an SSH shell session in the terminal player and verifies its trail", async () => {
    const { page } = await browser.person();
    await signInWithDevIssuer(page, stack.gatewayUrl, "ivy", ["auditors"], "/console/sessions?resource=ops-ssh");
    // The shell's session is sealed (final checkpoint) shortly after ssh exits.
    await expect.poll(async () => {
      await page.reload();
      return page.locator("tbody tr").first().locator("td").nth(3).textContent();
    }, { timeout: 30_000 }).toBe("ok");
    await page.locator("tbody tr").first().getByRole("link").click();
    await page.getByRole("link", { name: "Replay terminal" }).click();
    await page.waitForURL(/\/replay$/);
    await expect.poll(() => page.locator("#player").getAttribute("data-frames")).toMatch(/^[1-9]\d*$/);
    await page.getByRole("button", { name: "Show all" }).click();
    await expect.poll(() => page.getByRole("log", { name: "Terminal replay" }).textContent()).toContain("shell-42");
    await page.screenshot({ path: screenshotPath("replay.png"), fullPage: true });

    await page.getByRole("link", { name: "Back to the session" }).click();
    await page.getByRole("link", { name: "Verify trail" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Verified: the trail is complete and intact.");
    const detail = (await page.locator("main dl").textContent())!;
    expect(detail).toMatch(/Signed checkpoints\s*[1-9]/);
    expect(detail).toMatch(/Complete\s*yes/);
    await page.screenshot({ path: screenshotPath("verify.png"), fullPage: true });
  });

  it("refuses every sessions page to a person without the auditor role", async () => {
    const { page, context } = await browser.person();
    await signInWithDevIssuer(page, stack.gatewayUrl, "jack", ["approvers"], "/console/approvals");
    const list = await page.goto(`${stack.gatewayUrl}/console/sessions`);
    expect(list!.status()).toBe(403);
    expect(await page.locator("main").textContent()).toContain("auditor role");
    // Even with a real session id in hand (an auditor's link), nothing of it is served.
    const auditor = await browser.person();
    await signInWithDevIssuer(auditor.page, stack.gatewayUrl, "ivy", ["auditors"], "/console/sessions?resource=ops-ssh");
    const href = (await auditor.page.locator("tbody tr a").first().getAttribute("href"))!;
    for (const suffix of ["", "/replay", "/asciicast", "/verify"]) {
      const res = await context.request.get(`${stack.gatewayUrl}${href}${suffix}`, { maxRedirects: 0 });
      expect(res.status(), suffix).toBe(403);
      expect(await res.text()).not.toContain("shell-42");
    }
    const cast = await auditor.context.request.get(`${stack.gatewayUrl}${href}/asciicast`);
    expect(cast.status()).toBe(200);
    expect(await cast.text()).toContain("shell-42");
  });
});

describe("access review and grants in the browser", () => {
  it("shows the review for a period and downloads it as CSV", async () => {
    const { page } = await browser.person();
    await signInWithDevIssuer(page, stack.gatewayUrl, "ivy", ["auditors"], "/console/review");
    const main = page.locator("main");
    await expect.poll(() => main.textContent()).toContain("pipeline-report");
    expect(await main.textContent()).toMatch(/delete from orders where id = 1\s*— rule no-writes-here/);
    await page.screenshot({ path: screenshotPath("review.png"), fullPage: true });
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Download CSV" }).click()]);
    expect(download.suggestedFilename()).toMatch(/^gatehouse-review-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d\.csv$/);
    const csv = await (await download.createReadStream()).toArray().then((chunks) => Buffer.concat(chunks).toString("utf8"));
    const lines = csv.trim().split("\n");
    expect(lines[0]).toMatch(/^identity_kind,identity,issuer,subject,/);
    const report = lines.find((l) => l.includes("pipeline-report") && l.includes("demo-pg"))!;
    expect(report).toBeDefined();
    expect(lines.some((l) => l.includes("pipeline-ops") && l.includes("ops-ssh"))).toBe(true);
    // Markdown too, and a person without the auditor role gets neither.
    const md = await page.context().request.get(`${stack.gatewayUrl}/console/review/report.md`);
    expect(await md.text()).toContain("# Gatehouse access review");
    const other = await browser.person();
    await signInWithDevIssuer(other.page, stack.gatewayUrl, "kim", ["approvers"], "/console/approvals");
    for (const path of ["/console/review", "/console/review/report.csv", "/console/review/report.md"]) {
      const res = await other.context.request.get(`${stack.gatewayUrl}${path}`);
      expect(res.status(), path).toBe(403);
      expect(await res.text()).not.toContain("pipeline-report");
    }
  });

  it("lists active grants and an approver revokes one (CSRF-checked)", async () => {
    const api = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await fetch(`${stack.gatewayUrl}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
      return { status: res.status, json: (await res.json()) as { request: { id: string; status: string } } };
    };
    const holder = await stack.mintToken({ sub: "oncall-lee" });
    const approver = await stack.mintToken({ sub: "approver-mo", claims: { groups: ["approvers"] } });
    const created = await api("POST", "/v1/grants", holder, { resource: "demo-pg", duration: "30m", reason: "incident 77" });
    expect(created.status).toBe(201);
    const id = created.json.request.id;
    expect((await api("POST", `/v1/grants/${id}/approve`, approver)).status).toBe(200);

    const { page, context } = await browser.person();
    await signInWithDevIssuer(page, stack.gatewayUrl, "nia", ["approvers"], "/console/grants");
    const item = page.locator("li.request", { hasText: id });
    expect(await item.textContent()).toContain("incident 77");
    // Without the token the server refuses; the grant stays active.
    const forged = await context.request.post(`${stack.gatewayUrl}/console/grants/${id}/revoke`, { form: { reason: "x" }, headers: { origin: stack.gatewayUrl }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect((await api("GET", `/v1/grants/${id}`, approver)).json.request.status).toBe("approved");
    await page.screenshot({ path: screenshotPath("grants.png"), fullPage: true });
    await item.getByLabel("Reason").fill("incident closed");
    await item.getByRole("button", { name: "Revoke" }).click();
    await page.waitForURL(`${stack.gatewayUrl}/console/grants`);
    expect(await page.locator("main").textContent()).not.toContain(id);
    expect((await api("GET", `/v1/grants/${id}`, approver)).json.request.status).toBe("revoked");
  });
});
