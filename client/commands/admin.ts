/**
 * `gatehouse admin policy apply <file> | show` — the hosted-use policy API (worker/routes/admin.ts);
 * `gatehouse admin connectors …` — connector enrolment (admin-connectors.ts).
 * `gatehouse admin tenants …` — hosted mode's tenants, platform administrators only (admin-tenants.ts).
 * `gatehouse admin usage` — hosted mode: a tenant's own usage counters (its admin role).
 * Only identities holding the policy's `admin` role may call it. A policy is validated whole by
 * the gateway; an invalid one is rejected with every error and nothing changes.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs, type FlagSpec } from "../args.ts";
import { CliError, UsageError } from "../errors.ts";
import { DEFAULT_GATEWAY, errorFromBody, parseGatewayUrl } from "../gateway/api.ts";
import { resolveTokenSource } from "../auth/token-source.ts";
import type { CommandIO } from "./io.ts";
import { adminConnectorsCommand, CONNECTORS_USAGE } from "./admin-connectors.ts";
import { adminTenantsCommand, periodParam, printUsage, TENANTS_USAGE } from "./admin-tenants.ts";

export const ADMIN_USAGE = `usage:
  gatehouse admin policy apply <policy.yaml>   validate and apply a policy (admin role)
  gatehouse admin policy show [--json]          the policy in force, its hash and origin
  gatehouse admin usage [--period YYYY-MM] [--json]   hosted mode: this tenant's usage per billing period (admin role)
${CONNECTORS_USAGE}${TENANTS_USAGE}options:
  --gateway URL   gateway (env GATEHOUSE_URL); token from GATEHOUSE_TOKEN or the CI's OIDC token
`;

interface PolicyView {
  hash: string;
  source: string;
  text: string;
  origin: string;
  version: number | null;
  applied_by: string | null;
  applied_at: string | null;
}

export async function adminCommand(argv: string[], io: CommandIO): Promise<number> {
  const [area, sub, ...rest] = argv;
  // `admin <anything> --help`: the one usage text covers every admin command.
  if (area !== undefined && (argv.includes("--help") || argv.includes("-h"))) {
    io.stdout(ADMIN_USAGE);
    return 0;
  }
  if (area === "usage") return adminUsageCommand(argv.slice(1), io);
  const listed = (area === "connectors" || area === "tenants") && sub !== undefined && !sub.startsWith("-");
  if ((area !== "policy" || (sub !== "apply" && sub !== "show")) && !listed) {
    io.stdout(ADMIN_USAGE);
    return area === undefined || area === "--help" || area === "-h" ? (area === undefined ? 2 : 0) : 2;
  }
  const connectorFlags: Record<string, FlagSpec> =
    area === "connectors" ? { id: { kind: "string" }, ttl: { kind: "string" }, resources: { kind: "string" }, any: { kind: "boolean" } } : area === "tenants" ? { file: { kind: "string" }, reason: { kind: "string" }, yes: { kind: "boolean" }, period: { kind: "string" } } : {};
  const a = parseArgs(rest, { gateway: { kind: "string" }, audience: { kind: "string" }, json: { kind: "boolean" }, ...connectorFlags });
  const env = io.env ?? process.env;
  const base = parseGatewayUrl(a.strings.get("gateway") ?? env.GATEHOUSE_URL ?? DEFAULT_GATEWAY);
  const token = await resolveTokenSource({ env, audience: a.strings.get("audience") }).getToken();
  const headers = { authorization: `Bearer ${token}`, accept: "application/json" };
  if (area === "connectors") return adminConnectorsCommand(sub, rest, base, headers, io);
  if (area === "tenants") return adminTenantsCommand(sub, rest, base, headers, io);
  if (sub === "show") {
    if (a.positionals.length) throw new UsageError("admin policy show takes no arguments");
    const res = await fetch(new URL("v1/admin/policy", base), { headers, redirect: "error" });
    const text = await res.text();
    if (!res.ok) throw errorFromBody(res.status, text);
    const view = JSON.parse(text) as PolicyView;
    if (a.booleans.has("json")) io.stdout(`${JSON.stringify(view, null, 2)}\n`);
    else {
      const who = view.applied_by ? ` by ${view.applied_by} at ${view.applied_at}` : "";
      io.stdout(`# policy ${view.source} (${view.origin}${view.version ? ` v${view.version}` : ""}${who})\n# sha256 ${view.hash}\n${view.text}`);
    }
    return 0;
  }
  if (a.positionals.length !== 1) throw new UsageError("admin policy apply needs one policy file");
  const file = a.positionals[0]!;
  let yaml: string;
  try {
    yaml = await readFile(file, "utf8");
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const url = new URL("v1/admin/policy", base);
  url.searchParams.set("source", path.basename(file));
  const res = await fetch(url, { method: "PUT", headers: { ...headers, "content-type": "application/yaml" }, body: yaml, redirect: "error" });
  const text = await res.text();
  if (res.status === 422) {
    const body = JSON.parse(text) as { errors: Array<{ file: string; line: number; column: number; message: string }> };
    for (const e of body.errors) io.stderr(`${file}:${e.line}:${e.column}: ${e.message}\n`);
    io.stderr(`gatehouse: policy not applied (${body.errors.length} error${body.errors.length === 1 ? "" : "s"}); the policy in force is unchanged\n`);
    return 1;
  }
  if (!res.ok) throw errorFromBody(res.status, text);
  const body = JSON.parse(text) as { hash: string };
  io.stdout(`gatehouse: policy applied (sha256 ${body.hash}); new sessions use it\n`);
  return 0;
}

/** `gatehouse admin usage`: the tenant's own usage (GET /v1/admin/usage under the tenant's URL). */
async function adminUsageCommand(args: string[], io: CommandIO): Promise<number> {
  const a = parseArgs(args, { gateway: { kind: "string" }, audience: { kind: "string" }, json: { kind: "boolean" }, period: { kind: "string" } });
  if (a.positionals.length) throw new UsageError("admin usage takes no arguments (the tenant is the one --gateway names)");
  const env = io.env ?? process.env;
  const base = parseGatewayUrl(a.strings.get("gateway") ?? env.GATEHOUSE_URL ?? DEFAULT_GATEWAY);
  const query = periodParam(a.strings.get("period"));
  const token = await resolveTokenSource({ env, audience: a.strings.get("audience") }).getToken();
  const res = await fetch(new URL(`v1/admin/usage${query}`, base), { headers: { authorization: `Bearer ${token}`, accept: "application/json" }, redirect: "error" });
  const text = await res.text();
  if (!res.ok) throw errorFromBody(res.status, text);
  const report = JSON.parse(text) as Parameters<typeof printUsage>[1];
  if (a.booleans.has("json")) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else printUsage(io, report);
  return 0;
}
