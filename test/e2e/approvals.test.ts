/**
 * Issue 6 end to end: statements held for human approval inside a live psql / pg session,
 * through the real worker, connector and PostgreSQL.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { spawn } from "node:child_process";
import pg from "pg";
import { startTestStack, type TestStack, type TestConnection } from "../harness/stack.ts";
import { eventually, gatehouse } from "./helpers.ts";

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
    timeout: 2m
  - name: deletes-need-two
    effect: approve
    subjects: { issuer: http://127.0.0.1:8788, subject: "pipeline-*" }
    resources: [demo-pg]
    actions: [{ sql: { commands: ["DELETE"] } }]
    required_approvals: 2
  - name: quick-timeout
    effect: approve
    subjects: { issuer: http://127.0.0.1:8788, subject: "impatient-*" }
    resources: [demo-pg]
    actions: [sql.write]
    timeout: 3s
`;

function cli(args: string[], token: string) {
  return gatehouse(args, { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: token });
}

/** Runs psql, resolving the approval id as soon as the hold NOTICE is printed. */
function heldPsql(url: string, sql: string) {
  const child = spawn("psql", [url, "-X", "-v", "ON_ERROR_STOP=1", "-c", sql], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  let foundId: (id: string) => void;
  const id = new Promise<string>((r) => (foundId = r));
  child.stderr.on("data", (d) => {
    stderr += d;
    const m = /held for approval (\S+)/.exec(stderr);
    if (m) foundId(m[1]!);
  });
  const done = new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => child.on("exit", (code) => resolve({ code: code ?? 1, stdout, stderr })));
  return { id, done };
}

let stack: TestStack;
let pipeline: TestConnection;
let admin: pg.Client;
let alice: string;
let bob: string;
let pipelineToken: string;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY, verbose: !!process.env.GATEHOUSE_TEST_VERBOSE });
  pipelineToken = await stack.mintToken({ sub: "pipeline-deploy" });
  pipeline = await stack.connect("demo-pg", { token: pipelineToken });
  alice = await stack.mintToken({ sub: "alice", claims: { groups: ["approvers"] } });
  bob = await stack.mintToken({ sub: "bob", claims: { groups: ["approvers"] } });
  const su = stack.pg.superuser!;
  admin = new pg.Client({ host: stack.pg.host, port: stack.pg.port, database: stack.pg.database, user: su.user, password: su.password });
  await admin.connect();
}, 180_000);

afterAll(async () => {
  await admin?.end();
  await stack?.stop();
});

const count = async (where: string) => (await admin.query(`select count(*)::int as n from orders where ${where}`)).rows[0].n as number;

describe("held statements", () => {
  it("holds a write, tells psql at once, and runs it exactly once after approval", async () => {
    const run = heldPsql(pipeline.url, "insert into orders (customer_id, amount, status) values (1, 4242.42, 'pending')");
    const id = await run.id;
    // Held: nothing reached the database yet.
    expect(await count("amount = 4242.42")).toBe(0);
    const show = await cli(["approvals", "show", id], alice);
    expect(show.stdout).toContain("insert into orders");
    expect(show.stdout).toContain("writes-need-approval");
    const approved = await cli(["approvals", "approve", id, "--reason", "looks fine"], alice);
    expect(approved.code).toBe(0);
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("INSERT 0 1");
    expect(await count("amount = 4242.42")).toBe(1);
    // The approval cannot be used again.
    const again = await cli(["approvals", "approve", id], bob);
    expect(again.code).not.toBe(0);
  });

  it("refuses the requester's own approval", async () => {
    const run = heldPsql(pipeline.url, "update orders set amount = 1111.11 where id = 1");
    const id = await run.id;
    const self = await cli(["approvals", "approve", id], pipelineToken);
    expect(self.code).not.toBe(0);
    expect(self.stderr).toMatch(/own|self/i);
    await cli(["approvals", "deny", id, "--reason", "cleanup"], alice);
    const r = await run.done;
    expect(r.code).not.toBe(0);
    expect(await count("amount = 1111.11")).toBe(0);
  });

  it("a denied statement gets 42501 with the reason; the session stays usable", async () => {
    const client = new pg.Client({ connectionString: pipeline.url });
    await client.connect();
    const notices: string[] = [];
    client.on("notice", (n) => notices.push(n.message ?? ""));
    try {
      const pending = client.query("update orders set amount = 2222.22 where id = 2").catch((e: pg.DatabaseError) => e);
      const id = await eventually(async () => /held for approval (\S+)/.exec(notices.join("\n"))?.[1], "the hold notice");
      const denied = await cli(["approvals", "deny", id, "--reason", "change freeze"], alice);
      expect(denied.code).toBe(0);
      const err = (await pending) as pg.DatabaseError;
      expect(err.code).toBe("42501");
      expect(err.message).toContain("change freeze");
      expect((await client.query("select 1 as one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await client.end();
    }
    expect(await count("amount = 2222.22")).toBe(0);
  });

  it("requires N distinct approvals when the rule says so", async () => {
    await admin.query("insert into orders (customer_id, amount, status) values (1, 3333.33, 'refunded')");
    const run = heldPsql(pipeline.url, "delete from orders where amount = 3333.33");
    const id = await run.id;
    expect((await cli(["approvals", "approve", id], alice)).code).toBe(0);
    // One approval is not enough: still held.
    expect(await count("amount = 3333.33")).toBe(1);
    expect((await cli(["approvals", "approve", id], alice)).code).not.toBe(0); // same approver twice does not count
    expect((await cli(["approvals", "approve", id], bob)).code).toBe(0);
    const r = await run.done;
    expect(r.code).toBe(0);
    expect(await count("amount = 3333.33")).toBe(0);
  });

  it("times out with 42501 and never runs the statement", async () => {
    const impatient = await stack.connect("demo-pg", { sub: "impatient-bot" });
    try {
      const run = heldPsql(impatient.url, "insert into orders (customer_id, amount, status) values (1, 4444.44, 'pending')");
      await run.id;
      const r = await run.done;
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/42501|expired|timed out/i);
      expect(await count("amount = 4444.44")).toBe(0);
    } finally {
      await impatient.stop();
    }
  });
});
