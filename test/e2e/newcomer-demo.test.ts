/**
 * The demo, as a newcomer meets it (examples/policies/demo.yaml on the local stack, real psql):
 * a held write reminds the waiting client with the time left, its approval link opens a page that
 * says how to approve, and Ctrl-C in psql withdraws the request (57014; approvers see it
 * withdrawn); a just-in-time grant visibly changes what a statement gets.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import pg from "pg";
import { cleanPgEnv, startTestStack, type TestConnection, type TestStack } from "../harness/stack.ts";
import { eventually, gatehouse, psql } from "./helpers.ts";

let stack: TestStack;
let alice: string;
let bob: string;
let conn: TestConnection;
const as = (token: string) => ({ GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: token });

beforeAll(async () => {
  stack = await startTestStack({ workerVars: { GATEHOUSE_APPROVAL_REMINDER_SECONDS: "1" } });
  alice = await stack.mintToken({ sub: "alice" });
  bob = await stack.mintToken({ sub: "bob", claims: { groups: ["approvers"] } });
  conn = await stack.connect("demo-pg", { token: alice });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

describe("a held write", () => {
  it("reminds the client, links to the request in the web console, and is withdrawn by Ctrl-C (57014)", async () => {
    const child = spawn("psql", [conn.url, "-X", "-v", "VERBOSITY=verbose", "-c", "update orders set status = 'withdrawn-by-ctrl-c' where id = 1"], { env: cleanPgEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));

    const [, id, url] = await eventually(async () => /held for approval (apr_\w+) .* or at (\S+)/.exec(stderr), "the hold NOTICE");
    const reminder = await eventually(async () => new RegExp(`still waiting for approval ${id} \\((\\d+m )?\\d+s left, until \\S+\\)`).exec(stderr), "a reminder NOTICE");
    expect(reminder[0]).toContain(id);

    // The link, opened in a browser: sent to the request's page in the web console, not a 401 JSON.
    const page = await fetch(url!, { headers: { accept: "text/html,application/xhtml+xml" }, redirect: "manual" });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe(`/console/approvals/${id}`);
    // Not signed in: the console sends the browser to sign in, and back to the request afterwards.
    const console = await fetch(new URL(page.headers.get("location")!, url!), { redirect: "manual" });
    expect(console.status).toBe(303);
    expect(console.headers.get("location")).toBe(`/signin?return_to=${encodeURIComponent(`/console/approvals/${id}`)}`);
    // The API is unchanged for API clients.
    expect((await fetch(url!)).status).toBe(401);

    // Ctrl-C: psql sends a CancelRequest.
    child.kill("SIGINT");
    expect(await exited).not.toBe(0);
    expect(stderr).toMatch(/ERROR:\s+57014: gatehouse: statement not run: the client cancelled the statement while it waited for approval/);

    const show = await gatehouse(["approvals", "show", id!, "--json"], as(bob));
    expect(show.code).toBe(0);
    expect((JSON.parse(show.stdout) as { request: { status: string } }).request.status).toBe("withdrawn");
    // Ground truth: the row was not updated.
    const su = stack.pg.superuser!;
    const db = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
    await db.connect();
    try {
      expect((await db.query("select count(*)::int as n from orders where status = 'withdrawn-by-ctrl-c'")).rows[0].n).toBe(0);
    } finally {
      await db.end();
    }
    // The session stays usable.
    const after = await psql(conn.url, ["-At", "-c", "select 1"]);
    expect(after.stdout.trim()).toBe("1");
  }, 120_000);
});

describe("a just-in-time grant", () => {
  it("turns a default-deny statement into one that can run", async () => {
    const before = await psql(conn.url, ["-c", "select pg_stat_reset()"]);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toContain("rule 'demo-oncall-stats-reset' would allow it with an active grant for demo-pg");

    const req = await gatehouse(["access", "request", "demo-pg", "--for", "30m", "--reason", "reset stats after the load test", "--json"], as(alice));
    expect(req.code).toBe(0);
    const parsed = JSON.parse(req.stdout) as { id?: string; request?: { id: string } };
    const grantId = parsed.id ?? parsed.request!.id;
    expect((await gatehouse(["approvals", "approve", grantId, "--reason", "ok"], as(bob))).code).toBe(0);

    // A new session under the grant: the statement is no longer refused; its write part is held
    // like every demo write, and once approved it runs on the database.
    const child = spawn("psql", [conn.url, "-X", "-At", "-c", "select pg_stat_reset()"], { env: cleanPgEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
    const [, id] = await eventually(async () => /held for approval (apr_\w+)/.exec(stderr), "the hold NOTICE");
    expect((await gatehouse(["approvals", "approve", id!], as(bob))).code).toBe(0);
    expect(await exited).toBe(0);
    expect(stdout).toBe("\n");
    // Ground truth: the database's statistics were reset just now.
    const su = stack.pg.superuser!;
    const db = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
    await db.connect();
    try {
      const r = await db.query("select stats_reset > now() - interval '5 minutes' as recent from pg_stat_database where datname = current_database()");
      expect(r.rows[0].recent).toBe(true);
    } finally {
      await db.end();
    }

    // The access review lists the grant: who asked, why, who approved, when it was usable.
    const auditor = await stack.mintToken({ sub: "audrey", claims: { groups: ["auditors"] } });
    const day = 24 * 3600_000;
    const review = await gatehouse(["review", "report", "--from", new Date(Date.now() - day).toISOString(), "--to", new Date(Date.now() + day).toISOString(), "--format", "json"], as(auditor));
    expect(review.stderr).toBe("");
    const grants = (JSON.parse(review.stdout) as { grants: Array<Record<string, unknown>> }).grants;
    expect(grants).toEqual([expect.objectContaining({ id: grantId, resource: "demo-pg", status: "approved", reason: "reset stats after the load test", approved_by: [expect.stringContaining("bob")] })]);
    expect(grants[0]!.active_from).toEqual(expect.any(String));
    const md = await gatehouse(["review", "report", "--from", new Date(Date.now() - day).toISOString(), "--to", new Date(Date.now() + day).toISOString()], as(auditor));
    expect(md.stdout).toContain("## Just-in-time grants\n\n- ");
    expect(md.stdout).toMatch(new RegExp(String.raw`→ demo-pg: approved, approved by bob.*reset stats after the load test.*\(${grantId}\)`));
  }, 120_000);
});

describe("gatehouse doctor", () => {
  it("passes on a working setup and names the fix when the token is not trusted or the gateway is down", async () => {
    const ok = await gatehouse(["doctor", "demo-pg"], { ...as(alice), NO_COLOR: "1" });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok {4}token {4}sub "alice"/m);
    expect(ok.stdout).toMatch(/^ok {4}gateway .* is ready$/m);
    expect(ok.stdout).toMatch(/^ok {4}clock /m);
    expect(ok.stdout).toMatch(/^ok {4}resource demo-pg \(postgres\) is served by a connector$/m);
    expect(ok.stdout).not.toContain("\x1b[");

    const json = await gatehouse(["doctor", "demo-pg", "--json"], as(alice));
    expect((JSON.parse(json.stdout) as { ok: boolean }).ok).toBe(true);

    // A token the gateway does not trust (signed by another key).
    const { generateKeyPair, SignJWT } = await import("jose");
    const { privateKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT({ aud: "gatehouse" }).setProtectedHeader({ alg: "ES256", kid: "other" }).setIssuer(stack.issuerId).setSubject("alice").setIssuedAt().setExpirationTime("10m").sign(privateKey);
    const untrusted = await gatehouse(["doctor", "demo-pg"], { ...as(forged), NO_COLOR: "1" });
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout).toMatch(/^FAIL {2}resource .*HTTP 401/m);
    expect(untrusted.stdout).toContain("fix: the gateway does not trust this token");

    const down = await gatehouse(["doctor"], { GATEHOUSE_URL: "http://127.0.0.1:9", GATEHOUSE_TOKEN: alice, NO_COLOR: "1" });
    expect(down.code).toBe(1);
    expect(down.stdout).toMatch(/^FAIL {2}gateway {2}cannot reach http:\/\/127\.0\.0\.1:9/m);
    expect(down.stdout).toContain("fix: start it (locally: npm start)");
  }, 60_000);
});
