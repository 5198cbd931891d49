/**
 * Issue 19: an auditor in a real browser (Debian Chromium) finds recorded sessions, reads a
 * PostgreSQL session's timeline (decisions and rules), replays an SSH shell session in the
 * terminal player and verifies trails (chain + signed checkpoints) — through the real worker,
 * connector, OpenSSH sshd and PostgreSQL. Negative: a person without the auditor role gets 403
 * on every sessions page, the recording included.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
    await page.screenshot({ path: "docs/console/sessions.png", fullPage: true });
    await rows.first().getByRole("link").click();
    await page.waitForURL(/\/console\/sessions\/[0-9a-f-]{36}$/);
    const timeline = page.locator("ol.timeline");
    await expect.poll(() => timeline.textContent()).toContain("delete from orders where id = 1");
    const text = (await timeline.textContent())!;
    expect(text).toMatch(/decision\s+deny\s+by rule\s+no-writes-here/);
    expect(text).toMatch(/decision\s+allow\s+by rule\s+pg-read/);
    await page.screenshot({ path: "docs/console/session-timeline.png", fullPage: true });
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
    await page.screenshot({ path: "docs/console/replay.png", fullPage: true });

    await page.getByRole("link", { name: "Back to the session" }).click();
    await page.getByRole("link", { name: "Verify trail" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Verified: the trail is complete and intact.");
    const detail = (await page.locator("main dl").textContent())!;
    expect(detail).toMatch(/Signed checkpoints\s*[1-9]/);
    expect(detail).toMatch(/Complete\s*yes/);
    await page.screenshot({ path: "docs/console/verify.png", fullPage: true });
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
