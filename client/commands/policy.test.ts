import { afterEach, describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { policyCommand } from "./policy.ts";
import { devClaims, githubClaims } from "../../parsers/policy/test-fixtures.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const BIN = path.join(ROOT, "bin/gatehouse.mjs");
const DEMO = path.join(ROOT, "examples/policies/demo.yaml");
const GITHUB = path.join(ROOT, "examples/policies/github-actions.yaml");

const dirs: string[] = [];
afterEach(async () => {
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "gh-policy-"));
  dirs.push(dir);
  return dir;
}

async function writeJson(dir: string, name: string, value: unknown): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, JSON.stringify(value));
  return file;
}

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await policyCommand(argv, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

function spawnGatehouse(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const POLICY = `version: 1
rules:
  - { name: connect-all, effect: allow, subjects: any, resources: any, actions: [connect] }
  - { name: hold-prod, effect: approve, subjects: any, resources: [{ labels: { env: prod } }], actions: [connect], approvers: any, timeout: 5m }
  - { name: no-lab, effect: deny, subjects: [{ claims: { groups: interns } }], resources: [lab], actions: [connect] }
`;

describe("gatehouse policy validate", () => {
  it("prints the hash of a valid policy", async () => {
    const r = await run(["validate", "--policy", DEMO]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^${DEMO.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: valid, \\d+ rules, sha256 [0-9a-f]{64}\\n$`));
  });

  it("prints every error as file:line:col and exits 2", async () => {
    const dir = await tempDir();
    const file = path.join(dir, "bad.yaml");
    await writeFile(file, "version: 1\nrules:\n  - name: x\n    effect: alow\n    subjects: any\n    resources: any\n    actions: [read]\n");
    const r = await run(["validate", "--policy", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `${file}:4:13: rule 'x': effect must be one of allow, deny, approve, got 'alow' (did you mean 'allow'?)\n` +
        `${file}:7:15: rule 'x': actions[0]: unknown action 'read' (did you mean 'sql.read'? actions are namespaced by protocol)\n` +
        `gatehouse policy: ${file} is invalid (2 errors)\n`,
    );
  });
});

describe("gatehouse policy test (connect)", () => {
  it("exits 0 for allow, 1 for deny, 3 for approve", async () => {
    const dir = await tempDir();
    const policy = path.join(dir, "p.yaml");
    await writeFile(policy, POLICY);
    const alice = await writeJson(dir, "alice.json", devClaims("alice", ["dev"]));
    const intern = await writeJson(dir, "intern.json", devClaims("ian", ["interns"]));

    const allow = await run(["test", "--policy", policy, "--token-claims", alice, "--resource", "pg-dev"]);
    expect(allow.code).toBe(0);
    expect(allow.stdout).toContain(`decision   ALLOW by rule 'connect-all': rule 'connect-all' (${policy}:3) allows connect to pg-dev`);

    const deny = await run(["test", "--policy", policy, "--token-claims", intern, "--resource", "lab"]);
    expect(deny.code).toBe(1);
    expect(deny.stdout).toContain("decision   DENY by rule 'no-lab'");

    const approve = await run(["test", "--policy", policy, "--token-claims", alice, "--resource", "pg-prod", "--labels", "env=prod,tier=db"]);
    expect(approve.code).toBe(3);
    expect(approve.stdout).toContain("resource   pg-prod (postgres, env=prod,tier=db)");
    expect(approve.stdout).toContain(`decision   APPROVE by rule 'hold-prod'`);
    expect(approve.stdout).toContain(`approval   rule 'hold-prod': approvers "any", timeout 5m`);
  });

  it("reports default deny, roles and limits from the demo policy", async () => {
    const dir = await tempDir();
    const other = await writeJson(dir, "other.json", { iss: "https://elsewhere.example", sub: "mallory", groups: ["admins"] });
    const r = await run(["test", "--policy", DEMO, "--token-claims", other, "--resource", "demo-pg"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("decision   DENY (default deny): no rule allows connect to demo-pg for 'mallory' (https://elsewhere.example); default deny");
    const admin = await writeJson(dir, "admin.json", devClaims("root", ["admins", "auditors"]));
    const a = await run(["test", "--policy", DEMO, "--token-claims", admin, "--resource", "demo-pg"]);
    expect(a.code).toBe(0);
    expect(a.stdout).toContain("roles      auditor, admin");
    expect(a.stdout).toContain("limits     max session 8h, statement timeout 5m; recording best-effort");
    // Writes can be approved under demo.yaml: the connector logs in with the write credential.
    expect(a.stdout).toContain("access     write (the connector logs in with the write credential)");
    // Nobody matches for mallory: nothing can run, the least credential.
    expect((await run(["test", "--policy", DEMO, "--token-claims", other, "--resource", "demo-pg"])).stdout).toContain("access     read");
  });

  it("--expect turns the effect into pass/fail for CI", async () => {
    const dir = await tempDir();
    const pr = await writeJson(dir, "pr.json", githubClaims({ ref: "refs/pull/1/merge", event_name: "pull_request" }));
    expect((await run(["test", "--policy", GITHUB, "--token-claims", pr, "--resource", "pg-prod", "--expect", "deny"])).code).toBe(0);
    const wrong = await run(["test", "--policy", GITHUB, "--token-claims", pr, "--resource", "pg-prod", "--expect", "allow"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^gatehouse policy: expected allow, got deny: no rule allows connect to pg-prod/);
  });

  it("reads a JWT with --token (signature not checked) and --grant activates grants", async () => {
    const dir = await tempDir();
    const policy = path.join(dir, "p.yaml");
    await writeFile(policy, "version: 1\nrules:\n  - { name: jit, effect: allow, subjects: any, resources: any, actions: [connect], requires: grant }\n");
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const token = path.join(dir, "token.jwt");
    await writeFile(token, `${b64({ alg: "ES256" })}.${b64(devClaims("alice"))}.c2ln\n`);
    const without = await run(["test", "--policy", policy, "--token", token, "--resource", "pg-prod"]);
    expect(without.code).toBe(1);
    expect(without.stdout).toContain("(rule 'jit' would allow it with an active grant for pg-prod)");
    expect((await run(["test", "--policy", policy, "--token", token, "--resource", "pg-prod", "--grant", "pg-prod"])).code).toBe(0);
  });

  it("prints JSON with --json", async () => {
    const dir = await tempDir();
    const alice = await writeJson(dir, "alice.json", devClaims("alice"));
    const r = await run(["test", "--policy", DEMO, "--token-claims", alice, "--resource", "demo-pg", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      policy: { source: DEMO },
      identity: { issuer: "http://127.0.0.1:8788", subject: "alice" },
      resource: { name: "demo-pg", type: "postgres", labels: {} },
      limits: { maxSessionMs: 28_800_000, statementTimeoutMs: 300_000 },
      connect: { effect: "allow", rule: "demo-read" },
      effect: "allow",
      rule: "demo-read",
    });
    expect(out.policy.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("prints usage with --help", async () => {
    const r = await run(["test", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("gatehouse policy test --policy FILE");
  });

  it("exits 2 on usage errors and unreadable inputs", async () => {
    const dir = await tempDir();
    const alice = await writeJson(dir, "alice.json", devClaims("alice"));
    const noSub = await writeJson(dir, "nosub.json", { iss: "x" });
    const cases: [string[], RegExp][] = [
      [[], /usage:/],
      [["frobnicate"], /unknown policy command "frobnicate"/],
      [["test", "--token-claims", alice, "--resource", "x"], /--policy is required/],
      [["test", "--policy", DEMO, "--resource", "x"], /exactly one of --token-claims/],
      [["test", "--policy", DEMO, "--token-claims", alice], /--resource is required/],
      [["test", "--policy", DEMO, "--token-claims", alice, "--resource", "x", "--expect", "maybe"], /--expect must be one of allow, deny, approve/],
      [["test", "--policy", DEMO, "--token-claims", alice, "--resource", "x", "--labels", "env"], /--labels expects k=v/],
      [["test", "--policy", DEMO, "--token-claims", alice, "--resource", "x", "--type", "ssh", "--sql", "select 1"], /--sql needs a postgres resource/],
      [["test", "--policy", DEMO, "--token-claims", alice, "--resource", "x", "--bogus"], /unknown option --bogus/],
      [["test", "--policy", path.join(dir, "missing.yaml"), "--token-claims", alice, "--resource", "x"], /cannot read policy .*missing\.yaml: ENOENT/],
      [["test", "--policy", DEMO, "--token-claims", DEMO, "--resource", "x"], /is not JSON/],
      [["test", "--policy", DEMO, "--token-claims", noSub, "--resource", "x"], /need a string 'sub'/],
      [["test", "--policy", DEMO, "--token", alice, "--resource", "x"], /does not hold a JWT/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(" ")).toBe(2);
      expect(r.stderr, argv.join(" ")).toMatch(message);
    }
  });
});

describe("gatehouse policy (spawned CLI)", () => {
  it("runs through bin/gatehouse.mjs with the documented exit codes", async () => {
    const dir = await tempDir();
    const deploy = await writeJson(dir, "deploy.json", githubClaims());
    const ok = await spawnGatehouse(["policy", "test", "--policy", GITHUB, "--token-claims", deploy, "--resource", "pg-prod", "--labels", "env=prod"]);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("decision   ALLOW by rule 'acme-api-migrations'");
    const evil = await writeJson(dir, "evil.json", githubClaims({ repository: "acme/api-evil" }));
    const no = await spawnGatehouse(["policy", "test", "--policy", GITHUB, "--token-claims", evil, "--resource", "pg-prod"]);
    expect(no.code).toBe(1);
    const ddl = await spawnGatehouse(["policy", "test", "--policy", GITHUB, "--token-claims", deploy, "--resource", "pg-prod", "--sql", "alter table t add column c int; truncate t"]);
    expect(ddl.code).toBe(1);
    expect(ddl.stdout).toContain("sql #1     ddl ALTER TABLE: alter table t add column c int");
    expect(ddl.stdout).toContain("decision   DENY by rule 'prod-no-unbounded-writes'");
    const invalid = await spawnGatehouse(["policy", "validate", "--policy", path.join(ROOT, "package.json")]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain("package.json:");
  });
});

const classifierBuilt = existsSync(path.join(ROOT, "wasm/build/sql.wasm"));

describe("gatehouse policy test --sql", () => {
  it("classifies each statement with the gateway's classifier and decides the strictest", async () => {
    expect(classifierBuilt, "wasm/build/sql.wasm (run npm run build:wasm)").toBe(true);
    const dir = await tempDir();
    const alice = await writeJson(dir, "alice.json", devClaims("alice"));
    const read = await run(["test", "--policy", DEMO, "--token-claims", alice, "--resource", "demo-pg", "--sql", "select * from orders"]);
    expect(read.code).toBe(0);
    expect(read.stdout).toContain("sql #1     read SELECT: select * from orders");

    const mixed = await run(["test", "--policy", DEMO, "--token-claims", alice, "--resource", "demo-pg", "--sql", "select 1; update orders set total = 0 where id = 1; drop table orders"]);
    expect(mixed.code).toBe(1);
    expect(mixed.stdout).toMatch(/sql #2 +write UPDATE: update orders set total = 0 where id = 1\n +APPROVE: rule 'demo-writes-need-approval'/);
    expect(mixed.stdout).toMatch(/decision   DENY by rule 'demo-no-ddl': rule 'demo-no-ddl' \(.*demo\.yaml:\d+\) denies ddl on demo-pg \(statement 3 of 3: DROP TABLE\)/);

    const write = await run(["test", "--policy", DEMO, "--token-claims", alice, "--resource", "demo-pg", "--sql", "insert into orders values (1)"]);
    expect(write.code).toBe(3);

    const fn = await run(["test", "--policy", DEMO, "--token-claims", alice, "--resource", "demo-pg", "--sql", "select pg_read_file('/etc/passwd')", "--json"]);
    expect(fn.code).toBe(1);
    const out = JSON.parse(fn.stdout);
    expect(out.sql.statements[0]).toMatchObject({ kind: "read", flags: ["dangerous-function"], functions: ["pg_read_file"], text: "select pg_read_file('/etc/passwd')" });
    expect(out.rule).toBe("demo-no-dangerous-functions");

    const sqlFile = path.join(dir, "q.sql");
    await writeFile(sqlFile, "-- nothing but a comment\n");
    const empty = await run(["test", "--policy", DEMO, "--token-claims", alice, "--resource", "demo-pg", "--sql-file", sqlFile]);
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain("decision   ALLOW: empty query");
  });

  it("a refused connect decides even when the SQL would be allowed", async () => {
    expect(classifierBuilt).toBe(true);
    const dir = await tempDir();
    const other = await writeJson(dir, "other.json", { iss: "https://elsewhere.example", sub: "x" });
    const r = await run(["test", "--policy", DEMO, "--token-claims", other, "--resource", "demo-pg", "--sql", "select 1"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("decision   DENY (default deny): no rule allows connect to demo-pg");
  });
});
