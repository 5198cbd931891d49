/**
 * Tenant placement across processes (self-hosted multi-tenant, docs/TENANCY.md "Placement across
 * workerd processes"): a deployment runs several standalone workerd processes, each with its own
 * storage directory, and `GATEHOUSE_PLACEMENT` tells each one which tenants are its own:
 *
 *   { "process": "p1",
 *     "tenants": { "acme": { "process": "p0", "audiences": ["gatehouse-acme"] },
 *                  "beta": { "process": "p1", "audiences": ["gatehouse-beta"] } } }
 *
 * `tenants` is the whole deployment's map, the same on every process (scripts/selfhost-config.ts
 * writes it from one placement file); `process` names the process reading it. A process serves —
 * boundary, platform API, Durable Objects — only the tenants placed on it; any other tenant is
 * refused before this process's storage is read (421 when another process holds it, 404 when none
 * does). Each process keeps the registry of its own tenants: the registry is partitioned by the
 * map, so a tenant's record, database, objects and recordings are on its process only.
 *
 * (Pure, no bindings: also imported by scripts/selfhost-config.ts to validate the map it writes.)
 *
 * What one registry checked across tenants — no (issuer, audience) pair trusted by two tenants —
 * is kept across processes by the map: every tenant's audiences are declared here, no audience
 * may be declared for two tenants (or be a platform audience), and a tenant may only trust
 * audiences declared for it (checked at create and update). No process needs another's registry.
 */
import { parseIssuers } from "../config/gateway-config.ts";
import { ConfigurationError } from "../errors.ts";
import { isTenantName } from "./resolve.ts";

/** Process names: like tenant names but short and free of reserved words (they appear in 421 answers and logs). */
const PROCESS_NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

export interface Placement {
  /** This process. */
  process: string;
  /** Every placed tenant of the deployment → its process and the audiences it may trust. */
  tenants: Map<string, { process: string; audiences: string[] }>;
}

/** The last map parsed (the variable does not change while a process runs): not parsed per request. */
let last: { text: string; platformIssuers: string | undefined; placement: Placement } | undefined;

/** `GATEHOUSE_PLACEMENT`; null when unset (one process serves every tenant, as before). Throws ConfigurationError. */
export function parsePlacement(text: string | undefined, platformIssuers?: string): Placement | null {
  if (text === undefined || text.trim() === "") return null;
  if (last && last.text === text && last.platformIssuers === platformIssuers) return last.placement;
  const placement = parse(text, platformIssuers);
  last = { text, platformIssuers, placement };
  return placement;
}

function parse(text: string, platformIssuers: string | undefined): Placement {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigurationError("GATEHOUSE_PLACEMENT is not valid JSON");
  }
  const fail = (why: string): never => {
    throw new ConfigurationError(`GATEHOUSE_PLACEMENT: ${why}`);
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail("must be an object { process, tenants }");
  const v = value as Record<string, unknown>;
  const unknown = Object.keys(v).filter((k) => k !== "process" && k !== "tenants");
  if (unknown.length > 0) fail(`unknown field(s) ${unknown.join(", ")}`);
  if (typeof v.process !== "string" || !PROCESS_NAME.test(v.process)) fail("process must name this process (lowercase letters, digits, inner hyphens, 2–32 characters)");
  if (typeof v.tenants !== "object" || v.tenants === null || Array.isArray(v.tenants)) fail("tenants must be an object: tenant name → { process, audiences }");
  const tenants = new Map<string, { process: string; audiences: string[] }>();
  const audienceOwner = new Map<string, string>();
  for (const [name, entry] of Object.entries(v.tenants as Record<string, unknown>)) {
    if (!isTenantName(name)) fail(`${JSON.stringify(name)} is not a tenant name`);
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) fail(`tenant ${name}: must be { process, audiences }`);
    const e = entry as Record<string, unknown>;
    const extra = Object.keys(e).filter((k) => k !== "process" && k !== "audiences");
    if (extra.length > 0) fail(`tenant ${name}: unknown field(s) ${extra.join(", ")}`);
    if (typeof e.process !== "string" || !PROCESS_NAME.test(e.process)) fail(`tenant ${name}: process must be a process name`);
    if (!Array.isArray(e.audiences) || e.audiences.length === 0 || !e.audiences.every((a) => typeof a === "string" && a.trim() !== "")) {
      fail(`tenant ${name}: audiences must be a non-empty array of the token audiences it may trust`);
    }
    const audiences = e.audiences as string[];
    for (const a of audiences) {
      const owner = audienceOwner.get(a);
      if (owner !== undefined && owner !== name) fail(`audience ${a} is declared for tenants ${owner} and ${name}: each tenant needs its own`);
      audienceOwner.set(a, name);
    }
    tenants.set(name, { process: e.process as string, audiences: [...new Set(audiences)] });
  }
  if (platformIssuers !== undefined) {
    for (const i of parseIssuers(platformIssuers)) {
      for (const a of i.audiences) {
        const owner = audienceOwner.get(a);
        if (owner !== undefined) fail(`audience ${a} is declared for tenant ${owner} and is a platform audience (GATEHOUSE_PLATFORM_ISSUERS)`);
      }
    }
  }
  return { process: v.process as string, tenants };
}

export type PlacementCheck = { ok: true } | { ok: false; status: 404 | 421; body: { error: string; reason: string; process?: string } };

/** May this process serve `tenant`? Decided from the map alone: nothing is read from storage. */
export function checkPlaced(p: Placement, tenant: string): PlacementCheck {
  const entry = p.tenants.get(tenant);
  if (entry === undefined) {
    return { ok: false, status: 404, body: { error: "unknown_tenant", reason: `no tenant ${tenant} is placed on this deployment (GATEHOUSE_PLACEMENT)` } };
  }
  if (entry.process !== p.process) {
    return {
      ok: false,
      status: 421,
      body: { error: "tenant_not_placed_here", reason: `tenant ${tenant} is served by process ${entry.process}, not by this one (${p.process}); send its requests there`, process: entry.process },
    };
  }
  return { ok: true };
}

/** A tenant's record may only trust the audiences declared for it: the cross-process form of audienceClash. */
export function undeclaredAudience(p: Placement, record: { name: string; issuers: string }): string | null {
  const declared = p.tenants.get(record.name)?.audiences ?? [];
  for (const i of parseIssuers(record.issuers)) {
    for (const a of i.audiences) {
      if (!declared.includes(a)) return `issuer ${i.issuer} with audience ${a}: tenant ${record.name} may only trust the audiences GATEHOUSE_PLACEMENT declares for it (${declared.join(", ")})`;
    }
  }
  return null;
}
