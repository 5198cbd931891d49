/** The deploy plan: given what exists on the account, which wrangler commands run (pure). */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { deployConfigText, describePlan, parseD1List, parseR2BucketList, parseSecretList, planDeploy, type AccountState, type DeployTarget } from "../../scripts/deploy/plan.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const ISSUERS = JSON.stringify([{ issuer: "https://token.actions.githubusercontent.com", jwks_uri: "https://token.actions.githubusercontent.com/.well-known/jwks", audiences: ["gatehouse"] }]);
const target = (vars: Partial<DeployTarget["vars"]> = {}): DeployTarget => ({
  workerName: "gatehouse",
  d1Name: "gatehouse",
  r2Bucket: "gatehouse-recordings",
  deployConfig: "wrangler.deploy.toml",
  vars: { GATEHOUSE_ISSUERS: ISSUERS, GATEHOUSE_PUBLIC_URL: "https://gatehouse.example.com", GATEHOUSE_POLICY: "version: 1\n", GATEHOUSE_POLICY_SOURCE: "bootstrap.yaml", ...vars },
});
const empty: AccountState = { d1: [], r2Buckets: [], secrets: null };
const everything: AccountState = { d1: [{ name: "gatehouse", uuid: "5f1c0d2e-0000-4000-8000-000000000001" }], r2Buckets: ["gatehouse-recordings"], secrets: ["GATEHOUSE_AUDIT_KEYS", "GATEHOUSE_MASKING_KEY"] };
const kinds = (s: AccountState) => planDeploy(target(), s).steps.map((x) => x.kind);

describe("deploy plan", () => {
  it("on an empty account: creates the database and bucket, generates both secrets, migrates, deploys with the secrets", () => {
    const plan = planDeploy(target(), empty);
    expect(plan.problems).toEqual([]);
    expect(plan.steps.map((s) => ("argv" in s ? s.argv.slice(0, 4).join(" ") : s.kind))).toEqual([
      "d1 create gatehouse",
      "r2 bucket create gatehouse-recordings",
      "write-config",
      "generate-secrets",
      "d1 migrations apply gatehouse",
      "deploy --config wrangler.deploy.toml --var",
    ]);
    expect(plan.steps.find((s) => s.kind === "generate-secrets")).toEqual({ kind: "generate-secrets", names: ["GATEHOUSE_AUDIT_KEYS", "GATEHOUSE_MASKING_KEY"] });
    const deploy = plan.steps.at(-1) as { argv: string[] };
    expect(deploy.argv).toContain("--secrets-file");
    expect(deploy.argv).toContain(`GATEHOUSE_ISSUERS:${ISSUERS}`);
    expect(plan.steps.find((s) => s.kind === "migrate")).toMatchObject({ argv: ["d1", "migrations", "apply", "gatehouse", "--remote", "--config", "wrangler.deploy.toml"] });
  });

  it("is idempotent: when everything exists it only migrates (a no-op when up to date) and deploys, keeping the secrets", () => {
    expect(kinds(everything)).toEqual(["write-config", "migrate", "deploy"]);
    const deploy = planDeploy(target(), everything).steps.at(-1) as { argv: string[] };
    expect(deploy.argv).not.toContain("--secrets-file");
    expect(planDeploy(target(), everything).steps[0]).toEqual({ kind: "write-config", file: "wrangler.deploy.toml", databaseId: "5f1c0d2e-0000-4000-8000-000000000001" });
  });

  it("creates only what is missing and never replaces an existing secret", () => {
    expect(kinds({ ...everything, r2Buckets: ["other"] })).toEqual(["create-r2", "write-config", "migrate", "deploy"]);
    expect(kinds({ ...everything, d1: [{ name: "other", uuid: "x" }] })).toEqual(["create-d1", "write-config", "migrate", "deploy"]);
    const oneSecret = planDeploy(target(), { ...everything, secrets: ["GATEHOUSE_AUDIT_KEYS"] });
    expect(oneSecret.steps.find((s) => s.kind === "generate-secrets")).toEqual({ kind: "generate-secrets", names: ["GATEHOUSE_MASKING_KEY"] });
  });

  it("refuses production-unfit variables before running anything", () => {
    const dev = JSON.stringify([{ issuer: "http://127.0.0.1:8788", audiences: ["gatehouse"], dev: true }]);
    expect(planDeploy(target({ GATEHOUSE_ISSUERS: dev }), empty).problems).toEqual(["--issuers lists a development issuer (dev: true); production trusts real issuers only"]);
    expect(planDeploy(target({ GATEHOUSE_ISSUERS: "[]" }), empty).problems[0]).toContain("at least one trusted issuer");
    expect(planDeploy(target({ GATEHOUSE_PUBLIC_URL: "http://gatehouse.example.com" }), empty).problems[0]).toContain("https://");
    const big = planDeploy(target({ GATEHOUSE_POLICY: "#".repeat(6000) }), empty);
    expect(big.problems[0]).toContain("apply the full one with gatehouse admin policy apply");
    expect(describePlan(big)).toMatch(/^cannot deploy:\n {2}- GATEHOUSE_POLICY is larger/);
  });

  it("describes the plan for --dry-run", () => {
    const text = describePlan(planDeploy(target(), empty));
    expect(text.split("\n")[0]).toBe("1. wrangler d1 create gatehouse");
    expect(text).toContain("3. write wrangler.deploy.toml (wrangler.toml with database_id <id of the database created above>)");
    expect(text).toContain("4. generate missing secrets: GATEHOUSE_AUDIT_KEYS, GATEHOUSE_MASKING_KEY (existing secrets are kept)");
  });

  it("reads wrangler's outputs and writes the deploy config from the real wrangler.toml", () => {
    expect(parseD1List('[{"uuid":"u1","name":"gatehouse","version":"production"},{"uuid":"u2","name":"x"}]')).toEqual([{ name: "gatehouse", uuid: "u1" }, { name: "x", uuid: "u2" }]);
    expect(parseR2BucketList("Listing buckets...\nname:           gatehouse-recordings\ncreation_date:  2026-01-01T00:00:00.000Z\n\nname: logs\ncreation_date: x\n")).toEqual(["gatehouse-recordings", "logs"]);
    expect(parseSecretList('[{"name":"GATEHOUSE_AUDIT_KEYS","type":"secret_text"}]')).toEqual(["GATEHOUSE_AUDIT_KEYS"]);
    const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
    const out = deployConfigText(toml, "gatehouse", "5f1c0d2e-0000-4000-8000-000000000001");
    expect(out).toContain('database_id = "5f1c0d2e-0000-4000-8000-000000000001"');
    expect(out).not.toContain("00000000-0000-0000-0000-000000000000");
    expect(() => deployConfigText(toml, "other", "x")).toThrow(/no \[\[d1_databases\]\] block for other/);
  });
});
