/**
 * Every example policy in examples/policies/ loads, and behaves as its comments say.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadPolicy, formatPolicyErrors, type CompiledPolicy } from "../parsers/policy/index.ts";
import { devClaims, githubClaims, githubPullRequestClaims, gitlabClaims, identityOf, resource, stmt } from "../parsers/policy/test-fixtures.ts";

/** The development issuer the test fixtures sign as; a gateway running the demo marks it `dev: true`. */
const DEV_ISSUER = String(devClaims().iss);
const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../examples/policies");

async function example(name: string): Promise<CompiledPolicy> {
  const source = `examples/policies/${name}`;
  const result = await loadPolicy(readFileSync(path.join(EXAMPLES, name), "utf8"), source, { devIssuers: [DEV_ISSUER] });
  if (!result.ok) throw new Error(formatPolicyErrors(result.errors));
  return result.policy;
}

describe("example policies", () => {
  it("every examples/policies/*.yaml loads", async () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".yaml"));
    expect(files).toEqual(expect.arrayContaining(["demo.yaml", "read-only.yaml", "github-actions.yaml", "gitlab-ci.yaml"]));
    for (const f of files) {
      const p = await example(f);
      expect(p.hash, f).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});

describe("demo.yaml", () => {
  const alice = identityOf(devClaims("alice"));
  const approver = identityOf(devClaims("ann", ["approvers"]));
  const demoPg = resource("demo-pg");

  it("lets development identities connect to demo-pg and read", async () => {
    const p = await example("demo.yaml");
    expect(p.decideConnect({ identity: alice, resource: demoPg })).toMatchObject({ effect: "allow", rule: "demo-read" });
    const read = p.decideSql({ identity: alice, resource: demoPg, statements: [stmt("transaction", "BEGIN"), stmt("read", "SELECT"), stmt("session", "SET"), stmt("transaction", "COMMIT")] });
    expect(read).toMatchObject({ effect: "allow", rule: "demo-read" });
  });

  it("refuses other issuers, other audiences and other resources", async () => {
    const p = await example("demo.yaml");
    expect(p.decideConnect({ identity: identityOf({ ...devClaims("alice"), iss: "https://elsewhere.example" }), resource: demoPg }).effect).toBe("deny");
    expect(p.decideConnect({ identity: identityOf({ ...devClaims("alice"), aud: "other" }), resource: demoPg }).effect).toBe("deny");
    expect(p.decideConnect({ identity: alice, resource: resource("pg-prod") }).effect).toBe("deny");
  });

  it("lets development identities open sessions to demo-ssh", async () => {
    const p = await example("demo.yaml");
    expect(p.decideConnect({ identity: alice, resource: resource("demo-ssh", {}, "ssh") })).toMatchObject({ effect: "allow", rule: "demo-ssh-commands" });
    expect(p.decideConnect({ identity: identityOf({ ...devClaims("alice"), iss: "https://elsewhere.example" }), resource: resource("demo-ssh", {}, "ssh") }).effect).toBe("deny");
  });

  it("holds writes for members of the approvers group", async () => {
    const p = await example("demo.yaml");
    const d = p.decideSql({ identity: alice, resource: demoPg, statements: [stmt("write", "UPDATE")] });
    expect(d).toMatchObject({ effect: "approve", rule: "demo-writes-need-approval" });
    expect(d.approvals).toEqual([
      { rule: "demo-writes-need-approval", approvers: [{ issuer: "dev", claims: { groups: "approvers" } }], timeoutMs: 15 * 60_000, required: 1 },
    ]);
    expect(p.canApprove("demo-writes-need-approval", approver)).toBe(true);
    expect(p.canApprove("demo-writes-need-approval", alice)).toBe(false);
  });

  it("denies DDL, privilege changes, COPY PROGRAM, unknown statements and dangerous functions", async () => {
    const p = await example("demo.yaml");
    const cases = [
      [stmt("ddl", "DROP TABLE"), "demo-no-ddl"],
      [stmt("privilege", "GRANT"), "demo-no-privilege-changes"],
      [stmt("copy_external", "COPY TO PROGRAM"), "demo-no-copy-program-or-server-files"],
      [stmt("unknown", "UNKNOWN"), "demo-no-unknown-statements"],
      [stmt("read", "SELECT", ["dangerous-function"], ["pg_read_file"]), "demo-no-dangerous-functions"],
      [stmt("procedural", "DO"), null],
    ] as const;
    for (const [s, rule] of cases) {
      const d = p.decideSql({ identity: approver, resource: demoPg, statements: [s] });
      expect(d, s.command).toMatchObject({ effect: "deny", rule });
    }
    const d = p.decideSql({ identity: alice, resource: demoPg, statements: [stmt("ddl", "DROP TABLE")] });
    expect(d.reason).toMatch(/^rule 'demo-no-ddl' \(examples\/policies\/demo\.yaml:\d+\) denies ddl on demo-pg \(statement 1 of 1: DROP TABLE\)$/);
  });

  it("defines auditor and admin roles, limits, masking and recording", async () => {
    const p = await example("demo.yaml");
    expect(p.rolesOf(identityOf(devClaims("aud", ["auditors"])))).toEqual(["auditor"]);
    expect(p.rolesOf(identityOf(devClaims("root", ["admins", "approvers"])))).toEqual(["admin", "approver"]);
    expect(p.rolesOf(alice)).toEqual([]);
    expect(p.sessionLimits(alice, demoPg)).toEqual({ maxSessionMs: 8 * 3_600_000, statementTimeoutMs: 5 * 60_000 });
    const masking = p.maskingRulesFor(alice, demoPg) as { columns?: string[]; detectors?: string[] }[];
    expect(masking.flatMap((m) => m.columns ?? [])).toEqual(["email", "card_number", "password_hash", "api_token"]);
    expect(masking.some((m) => (m.detectors ?? []).length > 0)).toBe(true);
    expect(p.maskingRulesFor(approver, demoPg)).toEqual(masking);
    expect(p.recordingMode(demoPg)).toBe("best-effort");
    expect(p.recordingMode(resource("pg-prod"))).toBe("fail-closed");
  });
});

describe("read-only.yaml", () => {
  it("allows reads on demo-pg and nothing else", async () => {
    const p = await example("read-only.yaml");
    const alice = identityOf(devClaims("alice", ["admins"]));
    const demoPg = resource("demo-pg");
    expect(p.decideConnect({ identity: alice, resource: demoPg }).effect).toBe("allow");
    expect(p.decideSql({ identity: alice, resource: demoPg, statements: [stmt("transaction", "BEGIN"), stmt("read", "SELECT"), stmt("transaction", "COMMIT")] }).effect).toBe("allow");
    for (const s of [stmt("write", "INSERT"), stmt("ddl", "CREATE TABLE"), stmt("session", "SET"), stmt("unknown", "UNKNOWN"), stmt("read", "SELECT", ["dangerous-function"], ["pg_sleep"])]) {
      expect(p.decideSql({ identity: alice, resource: demoPg, statements: [s] }), s.command).toMatchObject({ effect: "deny", rule: null });
    }
    expect(p.decideConnect({ identity: alice, resource: resource("demo-pg-2") }).effect).toBe("deny");
  });
});

describe("github-actions.yaml", () => {
  const pgProd = resource("pg-prod", { env: "prod" });
  const staging = resource("pg-staging", { env: "staging" });

  it("lets main of acme/api in environment production run migrations on pg-prod", async () => {
    const p = await example("github-actions.yaml");
    const deploy = identityOf(githubClaims());
    expect(p.decideConnect({ identity: deploy, resource: pgProd })).toMatchObject({ effect: "allow", rule: "acme-api-migrations" });
    const migration = [stmt("transaction", "BEGIN"), stmt("ddl", "ALTER TABLE"), stmt("write", "UPDATE"), stmt("transaction", "COMMIT")];
    expect(p.decideSql({ identity: deploy, resource: pgProd, statements: migration }).effect).toBe("allow");
    expect(p.sessionLimits(deploy, pgProd)).toEqual({ maxSessionMs: 30 * 60_000, statementTimeoutMs: 10 * 60_000 });
    // Even the migration job: no unbounded writes, no TRUNCATE, no privilege changes.
    expect(p.decideSql({ identity: deploy, resource: pgProd, statements: [stmt("write", "DELETE", ["no-where"])] })).toMatchObject({ effect: "deny", rule: "prod-no-unbounded-writes" });
    expect(p.decideSql({ identity: deploy, resource: pgProd, statements: [stmt("ddl", "TRUNCATE")] })).toMatchObject({ effect: "deny", rule: "prod-no-unbounded-writes" });
    expect(p.decideSql({ identity: deploy, resource: pgProd, statements: [stmt("privilege", "GRANT")] })).toMatchObject({ effect: "deny", rule: "ci-no-privilege-or-programs" });
  });

  it("refuses other branches, environments, repositories and renamed owners", async () => {
    const p = await example("github-actions.yaml");
    for (const claims of [
      githubClaims({ ref: "refs/heads/feature" }),
      githubClaims({ environment: "staging" }),
      githubClaims({ repository: "acme/api-evil" }),
      githubClaims({ repository_owner_id: "666" }),
      githubClaims({ iss: "https://token.actions.githubusercontent.com.evil.example" }),
      githubPullRequestClaims(),
    ]) {
      expect(p.decideConnect({ identity: identityOf(claims), resource: pgProd }).effect).toBe("deny");
    }
  });

  it("gives pull request workflows read-only access to staging", async () => {
    const p = await example("github-actions.yaml");
    const pr = identityOf(githubPullRequestClaims());
    expect(p.decideConnect({ identity: pr, resource: staging })).toMatchObject({ effect: "allow", rule: "acme-api-pull-requests-read-staging" });
    expect(p.decideSql({ identity: pr, resource: staging, statements: [stmt("read", "SELECT")] }).effect).toBe("allow");
    expect(p.decideSql({ identity: pr, resource: staging, statements: [stmt("write", "INSERT")] })).toMatchObject({ effect: "deny", rule: null });
    expect(p.decideConnect({ identity: identityOf(githubPullRequestClaims({ event_name: "pull_request_target" })), resource: staging }).effect).toBe("deny");
  });
});

describe("gitlab-ci.yaml", () => {
  const pgProd = resource("pg-prod", { env: "prod" });

  it("lets protected main of acme/api deploying to production run migrations", async () => {
    const p = await example("gitlab-ci.yaml");
    const deploy = identityOf(gitlabClaims());
    expect(p.decideSql({ identity: deploy, resource: pgProd, statements: [stmt("ddl", "CREATE INDEX"), stmt("write", "INSERT")] })).toMatchObject({ effect: "allow", rule: "acme-api-migrations" });
    expect(p.decideSql({ identity: deploy, resource: pgProd, statements: [stmt("unknown", "UNKNOWN")] })).toMatchObject({ effect: "deny", rule: "ci-no-privilege-or-programs" });
    for (const claims of [gitlabClaims({ ref_protected: "false" }), gitlabClaims({ ref: "feature" }), gitlabClaims({ ref_type: "tag" }), gitlabClaims({ project_path: "acme/api-fork" })]) {
      expect(p.decideConnect({ identity: identityOf(claims), resource: pgProd }).effect).toBe("deny");
    }
  });

  it("gives merge request pipelines read access to staging databases", async () => {
    const p = await example("gitlab-ci.yaml");
    const mr = identityOf(gitlabClaims({ pipeline_source: "merge_request_event", ref: "feature", ref_protected: "false", environment: undefined }));
    const staging = resource("pg-staging", { env: "staging" });
    expect(p.decideConnect({ identity: mr, resource: staging }).effect).toBe("allow");
    expect(p.decideSql({ identity: mr, resource: staging, statements: [stmt("write", "UPDATE")] }).effect).toBe("deny");
    expect(p.decideConnect({ identity: mr, resource: resource("mysql-staging", { env: "staging" }) }).effect).toBe("deny");
  });

  it("holds writes of the self-managed ops/dba project for approvers from the SSO", async () => {
    const p = await example("gitlab-ci.yaml");
    const dba = identityOf(gitlabClaims({ iss: "https://gitlab.example.com", project_path: "ops/dba", namespace_path: "ops" }));
    expect(p.decideSql({ identity: dba, resource: pgProd, statements: [stmt("read", "SELECT")] })).toMatchObject({ effect: "allow", rule: "dba-tools-read-prod" });
    const d = p.decideSql({ identity: dba, resource: pgProd, statements: [stmt("write", "UPDATE")] });
    expect(d).toMatchObject({ effect: "approve", rule: "dba-tools-write-prod-with-approval" });
    expect(d.approvals![0]!.timeoutMs).toBe(30 * 60_000);
    expect(p.canApprove("dba-tools-write-prod-with-approval", identityOf({ iss: "https://sso.example.com", sub: "dora", groups: ["dba"] }))).toBe(true);
    expect(p.canApprove("dba-tools-write-prod-with-approval", dba)).toBe(false);
    // The same project on gitlab.com is someone else.
    expect(p.decideConnect({ identity: identityOf(gitlabClaims({ project_path: "ops/dba" })), resource: pgProd }).effect).toBe("deny");
  });
});

describe("demo.yaml masking on demo-ssh", () => {
  it("applies every detector to demo-ssh for everyone, as its header says (no column rules: SSH has no columns)", async () => {
    const p = await example("demo.yaml");
    const demoSsh = resource("demo-ssh", {}, "ssh");
    for (const who of [identityOf(devClaims("alice")), identityOf(devClaims("ann", ["approvers"]))]) {
      const rules = p.maskingRulesFor(who, demoSsh) as { name: string; columns?: string[]; detectors?: string[] }[];
      expect(rules.map((r) => r.name)).toEqual(["demo-detectors"]);
      expect(rules[0]!.detectors).toEqual(["all"]);
    }
  });
});

describe("docs/MASKING.md", () => {
  it("its configuration example is accepted as a policy's masking section", async () => {
    const doc = readFileSync(path.resolve(EXAMPLES, "../../docs/MASKING.md"), "utf8");
    const block = /```yaml\n(masking:[\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const text = `version: 1\nrules:\n  - { name: r, effect: allow, subjects: any, resources: any, actions: [connect] }\n${block}`;
    const result = await loadPolicy(text, "MASKING.md");
    expect(result.ok ? [] : formatPolicyErrors(result.errors)).toEqual([]);
  });
});
