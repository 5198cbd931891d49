/**
 * `npm run deploy -- --issuers issuers.json --public-url https://gatehouse.example.com --policy bootstrap.yaml [--dry-run]`
 *
 * Deploys the worker to Cloudflare with wrangler, idempotently: reads what exists, creates what is
 * missing (D1 database, R2 bucket), generates the secrets that are missing (audit signing key,
 * masking key — existing ones are never replaced), applies D1 migrations and deploys. The plan
 * itself is pure (scripts/deploy/plan.ts); `--dry-run` prints it and changes nothing.
 * docs/DEPLOY.md walks through it.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { generateAuditKey } from "../parsers/audit/index.ts";
import { deployConfigText, describePlan, parseD1List, parseR2BucketList, parseSecretList, planDeploy, type AccountState, type DeployTarget, type SecretName } from "./deploy/plan.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

function wrangler(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false" }, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      err ? reject(new Error(`wrangler ${args.slice(0, 3).join(" ")} failed: ${(stderr || err.message).trim().split("\n").slice(-3).join(" ")}`)) : resolve(stdout),
    ),
  );
}

/** Runs wrangler with the terminal attached (its own progress output). */
function wranglerLoud(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, stdio: "inherit", env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" } });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`wrangler ${args[0]} exited with ${code}`))));
  });
}

async function readState(workerName: string): Promise<AccountState> {
  const d1 = parseD1List(await wrangler(["d1", "list", "--json"]));
  const r2Buckets = parseR2BucketList(await wrangler(["r2", "bucket", "list"]));
  // The worker may not exist yet: then it has no secrets.
  const secrets = await wrangler(["secret", "list", "--format", "json", "--name", workerName]).then(parseSecretList, () => null);
  return { d1, r2Buckets, secrets };
}

async function generateSecret(name: SecretName): Promise<string> {
  if (name === "GATEHOUSE_AUDIT_KEYS") return JSON.stringify([await generateAuditKey(`audit-${new Date().toISOString().slice(0, 10)}`)]);
  return randomBytes(32).toString("base64url");
}

function tomlString(toml: string, key: string): string {
  const m = new RegExp(`^${key}\\s*=\\s*"([^"]+)"`, "m").exec(toml);
  if (!m) throw new Error(`wrangler.toml has no ${key}`);
  return m[1]!;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      issuers: { type: "string" },
      "public-url": { type: "string" },
      policy: { type: "string" },
      connectors: { type: "string" },
      "dry-run": { type: "boolean" },
    },
    strict: true,
  });
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const policyFile = values.policy;
  const target: DeployTarget = {
    workerName: tomlString(toml, "name"),
    d1Name: tomlString(toml, "database_name"),
    r2Bucket: tomlString(toml, "bucket_name"),
    deployConfig: "wrangler.deploy.toml",
    vars: {
      GATEHOUSE_ISSUERS: values.issuers ? readFileSync(values.issuers, "utf8").trim() : "",
      GATEHOUSE_PUBLIC_URL: values["public-url"] ?? "",
      GATEHOUSE_POLICY: policyFile ? readFileSync(policyFile, "utf8") : "",
      GATEHOUSE_POLICY_SOURCE: policyFile ? path.basename(policyFile) : "policy.yaml",
      // Bootstrap connectors only; enrol the others (gatehouse admin connectors enroll-token).
      ...(values.connectors ? { GATEHOUSE_CONNECTORS: readFileSync(values.connectors, "utf8").trim() } : {}),
    },
  };
  let state: AccountState;
  try {
    state = await readState(target.workerName);
  } catch (e) {
    if (!values["dry-run"]) throw e;
    process.stderr.write(`could not read the account (${(e as Error).message}); planning as for an empty account\n`);
    state = { d1: [], r2Buckets: [], secrets: null };
  }
  let plan = planDeploy(target, state);
  process.stdout.write(describePlan(plan));
  if (plan.problems.length > 0) return 2;
  if (values["dry-run"]) return 0;

  // Phase 1: create what is missing, then plan again with the real database id.
  for (const step of plan.steps) if (step.kind === "create-d1" || step.kind === "create-r2") await wranglerLoud(step.argv);
  state = await readState(target.workerName);
  plan = planDeploy(target, state);
  if (plan.steps.some((s) => s.kind === "create-d1" || s.kind === "create-r2")) throw new Error("created resources are still missing from the account; run again");
  const secretsDir = mkdtempSync(path.join(tmpdir(), "gatehouse-deploy-"));
  try {
    let secretsFile: string | undefined;
    for (const step of plan.steps) {
      if (step.kind === "write-config") writeFileSync(path.join(ROOT, step.file), deployConfigText(toml, target.d1Name, step.databaseId!));
      else if (step.kind === "generate-secrets") {
        const secrets = Object.fromEntries(await Promise.all(step.names.map(async (n) => [n, await generateSecret(n)] as const)));
        secretsFile = path.join(secretsDir, "secrets.json");
        writeFileSync(secretsFile, JSON.stringify(secrets), { mode: 0o600 });
        process.stderr.write(`generated ${step.names.join(", ")}; they exist only in Cloudflare from now on (docs/DEPLOY.md on rotation)\n`);
      } else if (step.kind === "migrate") await wranglerLoud(step.argv);
      else if (step.kind === "deploy") await wranglerLoud(step.argv.map((a) => (a.startsWith("<generated secrets file") ? secretsFile! : a)));
    }
  } finally {
    rmSync(secretsDir, { recursive: true, force: true });
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`deploy: ${e.message}\n`);
    process.exit(1);
  },
);
