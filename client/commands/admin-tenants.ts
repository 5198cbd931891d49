/**
 * `gatehouse admin tenants create|list|show` — the hosted platform's tenant administration
 * (worker/tenancy/platform-routes.ts, docs/TENANCY.md). Platform administrators only: the token
 * must come from GATEHOUSE_PLATFORM_ISSUERS and name a GATEHOUSE_PLATFORM_ADMINS subject; a
 * tenant's `admin` role is refused here. --gateway is the platform URL, without `/t/<tenant>`.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "../args.ts";
import { CliError, UsageError } from "../errors.ts";
import { errorFromBody } from "../gateway/api.ts";
import type { CommandIO } from "./io.ts";

export const TENANTS_USAGE = `  gatehouse admin tenants create --file tenant.json [--json]   create a tenant (platform admin)
  gatehouse admin tenants list [--json]                        every tenant
  gatehouse admin tenants show <name> [--json]                 one tenant, its limits and usage counters
`;

interface TenantView {
  name: string;
  issuers: Array<{ issuer: string; audiences: string[] }>;
  connectors: string[];
  policy_source: string;
  audit_keys: string;
  limits: Record<string, number | null>;
  created_at: string;
  created_by: string;
}

export async function adminTenantsCommand(sub: string | undefined, rest: string[], base: URL, headers: Record<string, string>, io: CommandIO): Promise<number> {
  const a = parseArgs(rest, { gateway: { kind: "string" }, audience: { kind: "string" }, json: { kind: "boolean" }, file: { kind: "string" } });
  const call = async (method: string, path: string, body?: string) => {
    const res = await fetch(new URL(path, base), {
      method,
      headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
      body,
      redirect: "error",
    });
    const text = await res.text();
    if (!res.ok) throw errorFromBody(res.status, text);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const json = a.booleans.has("json");
  const print = (t: TenantView, usage?: Record<string, number>) => {
    io.stdout(`tenant ${t.name} (created ${t.created_at} by ${t.created_by})\n`);
    for (const i of t.issuers) io.stdout(`  issuer     ${i.issuer} (audiences ${i.audiences.join(", ")})\n`);
    io.stdout(`  connectors ${t.connectors.join(", ") || "(none configured; enrol with admin connectors)"}\n`);
    io.stdout(`  policy     ${t.policy_source}; audit keys ${t.audit_keys}\n`);
    io.stdout(`  limits     ${Object.entries(t.limits).map(([k, v]) => `${k}=${v ?? "none"}`).join(" ")}\n`);
    if (usage) io.stdout(`  usage      ${Object.entries(usage).map(([k, v]) => `${k}=${v}`).join(" ")}\n`);
  };
  if (sub === "create") {
    const file = a.strings.get("file");
    if (!file || a.positionals.length) throw new UsageError("admin tenants create needs --file tenant.json (and no other arguments)");
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const out = await call("POST", "platform/v1/tenants", text);
    if (json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    else print(out.tenant as TenantView);
    return 0;
  }
  if (sub === "list") {
    if (a.positionals.length) throw new UsageError("admin tenants list takes no arguments");
    const out = await call("GET", "platform/v1/tenants");
    const tenants = out.tenants as TenantView[];
    if (json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    else if (tenants.length === 0) io.stdout("no tenants\n");
    else for (const t of tenants) io.stdout(`${t.name}\t${t.created_at}\t${t.issuers.map((i) => i.issuer).join(",")}\n`);
    return 0;
  }
  if (sub === "show") {
    if (a.positionals.length !== 1) throw new UsageError("admin tenants show needs one tenant name");
    const out = await call("GET", `platform/v1/tenants/${encodeURIComponent(a.positionals[0]!)}`);
    if (json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    else print(out.tenant as TenantView, out.usage as Record<string, number>);
    return 0;
  }
  throw new UsageError(`unknown admin tenants command ${JSON.stringify(sub)} (create, list, show)`);
}
