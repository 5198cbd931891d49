/**
 * `gatehouse admin tenants create|list|show|usage|update|suspend|resume|delete|audit|unknown` — the hosted platform's tenant administration
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
  gatehouse admin tenants show <name> [--json]                 one tenant, its limits, usage totals and this period's
  gatehouse admin tenants usage <name> [--period YYYY-MM] [--json]  usage per billing period (calendar month, UTC)
  gatehouse admin tenants update <name> --file change.json     change limits, issuers, secrets and/or signin ({"limits": {…}})
  gatehouse admin tenants suspend <name> [--reason text]       refuse everything; end live sessions and connectors
  gatehouse admin tenants resume <name> [--reason text]        serve a suspended tenant again
  gatehouse admin tenants delete <name> --yes [--reason text]  erase a suspended tenant (its name is never reused)
  gatehouse admin tenants audit [--json]                       the platform audit log (every platform action)
  gatehouse admin tenants unknown [--json]                     requests that named no existing tenant
`;

interface TenantView {
  name: string;
  issuers: Array<{ issuer: string; audiences: string[] }>;
  connectors: string[];
  policy_source: string;
  audit_keys: string;
  limits: Record<string, number | null>;
  signin?: { oidc: Array<{ id: string; issuer: string; client_id: string; client_secret: string | null }>; saml: Array<{ id: string; idp_entity_id: string }>; session_hours: number } | null;
  created_at: string;
  created_by: string;
  status?: string;
  changed_at?: string;
  changed_by?: string | null;
  reason?: string | null;
  /** The lifecycle step in force (suspend, resume, delete), and the pieces not yet told the record's newest version. */
  lifecycle?: string;
  pending?: { pieces: string[]; error: string };
}

interface UsageReport {
  tenant: string;
  period_kind: string;
  current_period: string;
  totals: Record<string, number>;
  periods: Array<{ period: string; from: string; to: string; counters: Record<string, number> }>;
}

const counters = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");

/** A usage report (platform: admin tenants usage; tenant admins: admin usage) as text. */
export function printUsage(io: CommandIO, r: UsageReport): void {
  io.stdout(`usage of tenant ${r.tenant} (periods: ${r.period_kind}; current ${r.current_period})\n`);
  io.stdout(`total\t${counters(r.totals)}\n`);
  if (r.periods.length === 0) io.stdout("(nothing counted in any period yet)\n");
  for (const p of r.periods) io.stdout(`${p.period}\t${counters(p.counters)}\n`);
}

/** `?period=` for the usage endpoints, checked here too so a typo is a usage error, not a round trip. */
export function periodParam(value: string | undefined): string {
  if (value === undefined) return "";
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(value)) throw new UsageError("--period must be a calendar month YYYY-MM (UTC)");
  return `?period=${value}`;
}

export async function adminTenantsCommand(sub: string | undefined, rest: string[], base: URL, headers: Record<string, string>, io: CommandIO): Promise<number> {
  const a = parseArgs(rest, { gateway: { kind: "string" }, audience: { kind: "string" }, json: { kind: "boolean" }, file: { kind: "string" }, reason: { kind: "string" }, yes: { kind: "boolean" }, period: { kind: "string" } });
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
  const print = (t: TenantView, usage?: Record<string, number>, period?: { period: string; counters: Record<string, number> } | null) => {
    io.stdout(`tenant ${t.name} (created ${t.created_at} by ${t.created_by})\n`);
    io.stdout(`  status     ${t.status ?? "active"}${t.changed_at ? ` since ${t.changed_at} by ${t.changed_by}${t.reason ? ` (${t.reason})` : ""}` : ""}\n`);
    if (t.pending) io.stdout(`  pending    not yet told to ${t.pending.pieces.join(", ")} (${t.pending.error}); the platform retries every 30 s\n`);
    for (const i of t.issuers) io.stdout(`  issuer     ${i.issuer} (audiences ${i.audiences.join(", ")})\n`);
    io.stdout(`  connectors ${t.connectors.join(", ") || "(none configured; enrol with admin connectors)"}\n`);
    io.stdout(`  policy     ${t.policy_source}; audit keys ${t.audit_keys}\n`);
    if (t.signin) {
      for (const p of t.signin.oidc) io.stdout(`  signin     oidc ${p.id} (issuer ${p.issuer}, client ${p.client_id}${p.client_secret ? ", client secret sealed" : ""})\n`);
      for (const p of t.signin.saml) io.stdout(`  signin     saml ${p.id} (idp ${p.idp_entity_id})\n`);
    } else io.stdout("  signin     none (no console sign-in)\n");
    io.stdout(`  limits     ${Object.entries(t.limits).map(([k, v]) => `${k}=${v ?? "none"}`).join(" ")}\n`);
    if (usage) io.stdout(`  usage      ${counters(usage)} (totals)\n`);
    if (period) io.stdout(`  ${period.period}    ${counters(period.counters)} (this period: calendar month, UTC)\n`);
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
    else for (const t of tenants) io.stdout(`${t.name}\t${t.created_at}\t${t.issuers.map((i) => i.issuer).join(",")}\t${t.status ?? "active"}\n`);
    return 0;
  }
  if (sub === "show") {
    if (a.positionals.length !== 1) throw new UsageError("admin tenants show needs one tenant name");
    const out = await call("GET", `platform/v1/tenants/${encodeURIComponent(a.positionals[0]!)}`);
    if (json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    else print(out.tenant as TenantView, out.usage as Record<string, number>, out.usage_period as { period: string; counters: Record<string, number> } | null);
    return 0;
  }
  if (sub === "usage") {
    if (a.positionals.length !== 1) throw new UsageError("admin tenants usage needs one tenant name");
    const out = await call("GET", `platform/v1/tenants/${encodeURIComponent(a.positionals[0]!)}/usage${periodParam(a.strings.get("period"))}`);
    if (json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    else printUsage(io, out as unknown as UsageReport);
    return 0;
  }
  const named = (what: string) => {
    if (a.positionals.length !== 1) throw new UsageError(`admin tenants ${what} needs one tenant name`);
    return `platform/v1/tenants/${encodeURIComponent(a.positionals[0]!)}`;
  };
  const reason = () => {
    const r = a.strings.get("reason");
    return r === undefined ? undefined : JSON.stringify({ reason: r });
  };
  if (sub === "update") {
    const path = named("update");
    const file = a.strings.get("file");
    if (!file) throw new UsageError("admin tenants update needs --file change.json");
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const out = await call("PATCH", path, text);
    if (json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    else print(out.tenant as TenantView);
    return 0;
  }
  if (sub === "suspend" || sub === "resume") {
    const out = await call("POST", `${named(sub)}/${sub}`, reason() ?? "{}");
    if (json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    else {
      print(out.tenant as TenantView);
      if (sub === "suspend") io.stdout(`  ended      ${out.ended_sessions} live session(s), ${out.closed_connectors} connector channel(s)\n`);
    }
    return 0;
  }
  if (sub === "delete") {
    const path = named("delete");
    // Erasing a tenant cannot be undone: asked for in so many words.
    if (!a.booleans.has("yes")) throw new UsageError("admin tenants delete erases the tenant's data and cannot be undone: add --yes");
    const out = await call("DELETE", path, reason());
    if (json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    else io.stdout(`tenant ${a.positionals[0]} deleted (${JSON.stringify(out.purged)}); its name stays reserved\n`);
    return 0;
  }
  if (sub === "audit" || sub === "unknown") {
    if (a.positionals.length) throw new UsageError(`admin tenants ${sub} takes no arguments`);
    const out = await call("GET", sub === "audit" ? "platform/v1/audit" : "platform/v1/unknown-tenants");
    if (json) io.stdout(`${JSON.stringify(out, null, 2)}\n`);
    else if (sub === "audit") {
      for (const e of out.actions as Array<{ at: number; actor: string; action: string; tenant: string | null; outcome: string }>) {
        io.stdout(`${new Date(e.at).toISOString()}\t${e.action}\t${e.tenant ?? "-"}\t${e.outcome}\t${e.actor}\n`);
      }
    } else {
      for (const r of out.requests as Array<{ kind: string; name: string; count: number; last_at: string; last_path: string }>) {
        io.stdout(`${r.kind}\t${r.name}\t${r.count}\t${r.last_at}\t${r.last_path}\n`);
      }
    }
    return 0;
  }
  throw new UsageError(`unknown admin tenants command ${JSON.stringify(sub)} (create, list, show, usage, update, suspend, resume, delete, audit, unknown)`);
}
