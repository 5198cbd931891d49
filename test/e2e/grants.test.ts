/**
 * Issue 6, just-in-time grants in a live session: a `requires: grant` rule admits the identity
 * only while its grant is active; revoking the grant ends the open session that relied on it.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import pg from "pg";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { gatehouse, psql } from "./helpers.ts";

const POLICY = `
version: 1
roles:
  approver:
    - issuer: http://127.0.0.1:8788
      claims: { groups: approvers }
rules:
  - name: oncall-read-with-grant
    effect: allow
    requires: grant
    subjects: { issuer: http://127.0.0.1:8788, subject: "oncall-*" }
    resources: [demo-pg]
    actions: [connect, sql.read, sql.session, sql.transaction]
`;

let stack: TestStack;
let requester: string;
let approver: string;

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: POLICY });
  requester = await stack.mintToken({ sub: "oncall-dana" });
  approver = await stack.mintToken({ sub: "alice", claims: { groups: ["approvers"] } });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
});

const as = (token: string) => ({ GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: token });

describe("just-in-time grants", () => {
  it("refuses without a grant, admits while it is active, and ends the session when it is revoked", async () => {
    const conn = await stack.connect("demo-pg", { token: requester, type: "postgres" });
    try {
      const before = await psql(conn.url, ["-c", "select 1"]);
      expect(before.code).not.toBe(0);
      expect(before.stderr).toMatch(/active grant/);

      const req = await gatehouse(["access", "request", "demo-pg", "--for", "30m", "--reason", "incident 42", "--json"], as(requester));
      expect(req.code).toBe(0);
      const grantId = (JSON.parse(req.stdout) as { id?: string; request?: { id: string } }).id ?? JSON.parse(req.stdout).request.id;
      expect((await gatehouse(["approvals", "approve", grantId, "--reason", "on call"], as(approver))).code).toBe(0);

      const client = new pg.Client({ connectionString: conn.url });
      const ended = new Promise<Error>((resolve) => client.on("error", resolve));
      await client.connect();
      expect((await client.query("select 'granted' as s")).rows).toEqual([{ s: "granted" }]);

      const revoke = await gatehouse(["access", "revoke", grantId, "--reason", "incident over"], as(approver));
      expect(revoke.code).toBe(0);
      const err = await ended;
      expect(err.message).toMatch(/grant/i);
      await client.end().catch(() => {});

      const after = await psql(conn.url, ["-c", "select 1"]);
      expect(after.code).not.toBe(0);
    } finally {
      await conn.stop();
    }
  });
});
