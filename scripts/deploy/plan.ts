/**
 * What `npm run deploy` does, computed purely from what already exists on the Cloudflare account
 * (read first with `wrangler d1 list --json`, `wrangler r2 bucket list`, `wrangler secret list
 * --format json`). Idempotent by construction: whatever exists is reused, never recreated or
 * overwritten — in particular existing secrets are never replaced (rotating the audit or masking
 * key is a deliberate act, docs/DEPLOY.md). Unit-tested in plan.test.ts; scripts/deploy.ts runs it.
 */

export interface DeployTarget {
  /** Worker name (wrangler.toml `name`). */
  workerName: string;
  d1Name: string;
  r2Bucket: string;
  /** Generated wrangler config the deploy uses (wrangler.toml with the real database_id). */
  deployConfig: string;
  /** Worker variables: issuers (JSON), public URL and the bootstrap policy. */
  vars: { GATEHOUSE_ISSUERS: string; GATEHOUSE_PUBLIC_URL: string; GATEHOUSE_POLICY: string; GATEHOUSE_POLICY_SOURCE: string; GATEHOUSE_CONNECTORS?: string };
}

export interface AccountState {
  d1: Array<{ name: string; uuid: string }>;
  r2Buckets: string[];
  /** Secret names of the deployed worker; null when the worker does not exist yet. */
  secrets: string[] | null;
}

/** Secrets the worker needs in production; generated when missing, never replaced. */
export const REQUIRED_SECRETS = ["GATEHOUSE_AUDIT_KEYS", "GATEHOUSE_MASKING_KEY"] as const;
export type SecretName = (typeof REQUIRED_SECRETS)[number];

/** Cloudflare's limit for one variable; a larger policy is applied through the admin API. */
export const MAX_VAR_BYTES = 5 * 1024;

export type DeployStep =
  | { kind: "create-d1"; argv: string[] }
  | { kind: "create-r2"; argv: string[] }
  | { kind: "write-config"; file: string; databaseId: string | null }
  | { kind: "generate-secrets"; names: SecretName[] }
  | { kind: "migrate"; argv: string[] }
  | { kind: "deploy"; argv: string[] };

export interface DeployPlan {
  /** Why the deploy cannot start (nothing runs when non-empty). */
  problems: string[];
  steps: DeployStep[];
}

export function planDeploy(target: DeployTarget, state: AccountState): DeployPlan {
  const problems = validateVars(target.vars);
  const steps: DeployStep[] = [];
  const db = state.d1.find((d) => d.name === target.d1Name);
  if (!db) steps.push({ kind: "create-d1", argv: ["d1", "create", target.d1Name] });
  if (!state.r2Buckets.includes(target.r2Bucket)) steps.push({ kind: "create-r2", argv: ["r2", "bucket", "create", target.r2Bucket] });
  // A created database's id is only known after creation: the runner re-reads the account and plans again.
  steps.push({ kind: "write-config", file: target.deployConfig, databaseId: db?.uuid ?? null });
  const missing = REQUIRED_SECRETS.filter((s) => !(state.secrets ?? []).includes(s));
  if (missing.length > 0) steps.push({ kind: "generate-secrets", names: missing });
  steps.push({ kind: "migrate", argv: ["d1", "migrations", "apply", target.d1Name, "--remote", "--config", target.deployConfig] });
  const deploy = ["deploy", "--config", target.deployConfig];
  for (const [k, v] of Object.entries(target.vars)) if (v !== undefined) deploy.push("--var", `${k}:${v}`);
  // New secrets travel with the deployment (`--secrets-file`), so the worker never runs without them.
  if (missing.length > 0) deploy.push("--secrets-file", "<generated secrets file, 0600, deleted afterwards>");
  steps.push({ kind: "deploy", argv: deploy });
  return { problems, steps };
}

function validateVars(vars: DeployTarget["vars"]): string[] {
  const problems: string[] = [];
  let issuers: unknown;
  try {
    issuers = JSON.parse(vars.GATEHOUSE_ISSUERS);
  } catch {
    issuers = undefined;
  }
  if (!Array.isArray(issuers) || issuers.length === 0) problems.push("--issuers must name a JSON file with at least one trusted issuer (docs/CONFIGURATION.md)");
  else if (issuers.some((i) => (i as { dev?: unknown }).dev === true)) problems.push("--issuers lists a development issuer (dev: true); production trusts real issuers only");
  let url: URL | undefined;
  try {
    url = new URL(vars.GATEHOUSE_PUBLIC_URL);
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== "https:") problems.push("--public-url must be the worker's https:// URL (custom domain or workers.dev)");
  if (!vars.GATEHOUSE_POLICY.trim()) problems.push("--policy must name the bootstrap policy file (at least the admin role; apply the full policy later with gatehouse admin policy apply)");
  for (const [k, v] of Object.entries(vars)) {
    if (v !== undefined && new TextEncoder().encode(v).length > MAX_VAR_BYTES) {
      problems.push(`${k} is larger than Cloudflare's ${MAX_VAR_BYTES}-byte variable limit${k === "GATEHOUSE_POLICY" ? ": deploy a small bootstrap policy and apply the full one with gatehouse admin policy apply" : ""}`);
    }
  }
  return problems;
}

/** `wrangler d1 list --json`. */
export function parseD1List(json: string): AccountState["d1"] {
  const rows = JSON.parse(json) as Array<{ name?: unknown; uuid?: unknown }>;
  if (!Array.isArray(rows)) throw new Error("wrangler d1 list --json did not print an array");
  return rows.filter((r) => typeof r.name === "string" && typeof r.uuid === "string").map((r) => ({ name: r.name as string, uuid: r.uuid as string }));
}

/** `wrangler r2 bucket list` prints `name: <bucket>` / `creation_date: …` blocks. */
export function parseR2BucketList(text: string): string[] {
  return [...text.matchAll(/^name:\s*(\S+)\s*$/gm)].map((m) => m[1]!);
}

/** `wrangler secret list --format json`: [{ name, type }]. */
export function parseSecretList(json: string): string[] {
  const rows = JSON.parse(json) as Array<{ name?: unknown }>;
  if (!Array.isArray(rows)) throw new Error("wrangler secret list did not print an array");
  return rows.map((r) => r.name).filter((n): n is string => typeof n === "string");
}

/** wrangler.toml with the real database_id, for the deploy and the migrations. */
export function deployConfigText(wranglerToml: string, d1Name: string, databaseId: string): string {
  const block = /(\[\[d1_databases\]\][^[]*?database_name\s*=\s*"([^"]+)"[^[]*?database_id\s*=\s*")[^"]*(")/;
  const m = block.exec(wranglerToml);
  if (!m || m[2] !== d1Name) throw new Error(`wrangler.toml has no [[d1_databases]] block for ${d1Name} with a database_id line`);
  return `# Generated by npm run deploy from wrangler.toml; do not edit.\n${wranglerToml.replace(block, `$1${databaseId}$3`)}`;
}

/** The plan as a human reads it (`--dry-run`). */
export function describePlan(plan: DeployPlan): string {
  if (plan.problems.length > 0) return `cannot deploy:\n${plan.problems.map((p) => `  - ${p}`).join("\n")}\n`;
  const lines = plan.steps.map((s, i) => {
    const n = `${i + 1}.`;
    switch (s.kind) {
      case "write-config":
        return `${n} write ${s.file} (wrangler.toml with database_id ${s.databaseId ?? "<id of the database created above>"})`;
      case "generate-secrets":
        return `${n} generate missing secrets: ${s.names.join(", ")} (existing secrets are kept)`;
      default:
        return `${n} wrangler ${s.argv.map((a) => (/^[\w./:@<>,=-]+$/.test(a) && !a.includes("{") ? a : JSON.stringify(a.length > 80 ? `${a.slice(0, 77)}...` : a))).join(" ")}`;
    }
  });
  return `${lines.join("\n")}\n`;
}
