/**
 * Issue 3 end to end: the policy API for hosted use, session-level limits enforced by the
 * gateway, and refusals of protocol features that would bypass statement policy.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startTestStack, type TestStack } from "../harness/stack.ts";
import { gatehouse, psql } from "./helpers.ts";

const policy = (readRule: string, limits = "max_session: 4s\n  statement_timeout: 1s") => `
version: 1
limits:
  ${limits}
roles:
  admin:
    - issuer: http://127.0.0.1:8788
      claims: { groups: admins }
rules:
  - name: ${readRule}
    effect: allow
    subjects: any
    resources: [demo-pg]
    actions: [connect, sql.read, sql.session, sql.transaction]
`;

let stack: TestStack;
let tmp: string;
let adminToken: string;

function cli(args: string[], token: string) {
  return gatehouse(args, { GATEHOUSE_URL: stack.gatewayUrl, GATEHOUSE_TOKEN: token });
}

beforeAll(async () => {
  stack = await startTestStack({ policyYaml: policy("initial-read") });
  tmp = await mkdtemp(path.join(tmpdir(), "gatehouse-policy-"));
  adminToken = await stack.mintToken({ sub: "root-admin", claims: { groups: ["admins"] } });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("session limits", () => {
  it("cancels a statement that exceeds the policy's statement timeout; the session stays usable", async () => {
    const conn = await stack.connect("demo-pg", { sub: "slowpoke" });
    const client = new pg.Client({ connectionString: conn.url });
    await client.connect();
    try {
      const err = (await client.query("select pg_sleep(30)").catch((e) => e)) as pg.DatabaseError;
      expect(err.code).toBe("57014");
      expect(err.message).toContain("statement timeout of 1s");
      expect((await client.query("select 'alive' as s")).rows).toEqual([{ s: "alive" }]);
    } finally {
      await client.end().catch(() => {});
      await conn.stop();
    }
  });

  it("ends a session at the policy's maximum duration", async () => {
    const conn = await stack.connect("demo-pg", { sub: "lingerer" });
    const client = new pg.Client({ connectionString: conn.url });
    const ended = new Promise<Error>((resolve) => client.on("error", resolve));
    await client.connect();
    try {
      const err = await ended;
      expect(err.message).toMatch(/maximum session duration/);
    } finally {
      await client.end().catch(() => {});
      await conn.stop();
    }
  });

  it("refuses replication connections", async () => {
    const conn = await stack.connect("demo-pg", { sub: "replicator" });
    try {
      const r = await psql(`${conn.url}&replication=database`, ["-c", "IDENTIFY_SYSTEM"]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/replication connections are not allowed/);
    } finally {
      await conn.stop();
    }
  });
});

describe("admin policy API", () => {
  it("refuses identities without the admin role", async () => {
    const file = path.join(tmp, "p.yaml");
    await writeFile(file, policy("whatever"));
    const r = await cli(["admin", "policy", "apply", file], await stack.mintToken({ sub: "mallory" }));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/admin role|403/);
  });

  it("rejects an invalid policy whole, with file:line:column, and keeps the one in force", async () => {
    const file = path.join(tmp, "broken.yaml");
    await writeFile(file, policy("broken").replace("effect: allow", "efect: allow"));
    const r = await cli(["admin", "policy", "apply", file], adminToken);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/broken\.yaml:\d+:\d+: .*efect/);
    const show = await cli(["admin", "policy", "show"], adminToken);
    expect(show.stdout).toContain("initial-read");
  });

  it("applies a valid policy to new sessions and shows its hash", async () => {
    const file = path.join(tmp, "next.yaml");
    // The new policy allows reads only to identities in the analysts group.
    await writeFile(file, policy("analysts-read").replace("subjects: any", "subjects: { claims: { groups: analysts } }"));
    const r = await cli(["admin", "policy", "apply", file], adminToken);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const hash = /sha256 ([0-9a-f]{64})/.exec(r.stdout)![1]!;
    const show = await cli(["admin", "policy", "show"], adminToken);
    expect(show.stdout).toContain(hash);
    expect(show.stdout).toContain("analysts-read");

    const outsider = await stack.connect("demo-pg", { sub: "not-an-analyst" });
    const analyst = await stack.connect("demo-pg", { sub: "analyst", claims: { groups: ["analysts"] } });
    try {
      const refused = await psql(outsider.url, ["-c", "select 1"]);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/default deny/);
      const ok = await psql(analyst.url, ["-A", "-t", "-c", "select 1"]);
      expect(ok.stdout.trim()).toBe("1");
    } finally {
      await outsider.stop();
      await analyst.stop();
    }
  });
});
