/**
 * Which tenant a request is for, decided from where it was sent — the host name
 * (`<tenant>.<base domain>`) or a path prefix (`/t/<tenant>/…`) — and never from anything the
 * caller signs or claims (a token's claims are checked against the tenant, they do not choose it).
 * Pure: no bindings, so it is unit-tested directly (resolve.test.ts).
 */

/** `GATEHOUSE_TENANCY`: "single" (default: self-hosting, npm start) or "multi" (hosted). */
export type TenancyMode = "single" | "multi";

export interface TenancySettings {
  mode: TenancyMode;
  /** Host names under which `<tenant>.<base>` selects a tenant, lowercase, no port (e.g. gatehouse.example.com). */
  baseDomain: string | null;
}

/** Lowercase letters, digits and inner hyphens, 3–32 characters: safe in a host label, a DO name, an R2 key. */
export const TENANT_NAME = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;
export const TENANT_NAME_RULE = "3–32 characters: lowercase letters, digits and inner hyphens, starting with a letter";
/** Names that would be confusing or collide with platform host names. */
const RESERVED = new Set(["www", "api", "platform", "admin", "static", "console", "status"]);

export function isTenantName(name: string): boolean {
  return TENANT_NAME.test(name) && !name.includes("--") && !RESERVED.has(name);
}

/** Resolved at the boundary; handed down inside the tenant's Env (TENANT), never rebuilt from claims. */
export interface TenantContext {
  name: string;
  /** How the request named it (recorded with refusals); "object" inside a Durable Object (from its name). */
  via: "host" | "path" | "object";
}

export type Resolution =
  | { kind: "tenant"; tenant: TenantContext; /** The request URL with the `/t/<tenant>` prefix removed. */ inner: URL }
  /** The platform itself (base host, no prefix): platform admin API and health only. */
  | { kind: "platform" }
  | { kind: "invalid"; reason: string };

export function parseTenancySettings(env: { GATEHOUSE_TENANCY?: string; GATEHOUSE_BASE_DOMAIN?: string }): TenancySettings {
  const mode = (env.GATEHOUSE_TENANCY ?? "").trim() || "single";
  if (mode !== "single" && mode !== "multi") throw new Error(`GATEHOUSE_TENANCY must be "single" or "multi", not ${JSON.stringify(mode)}`);
  const base = (env.GATEHOUSE_BASE_DOMAIN ?? "").trim().toLowerCase().replace(/\.$/, "");
  return { mode, baseDomain: base === "" ? null : base };
}

const PATH_PREFIX = /^\/t\/([^/]*)(\/.*)?$/;

export function resolveTenant(url: URL, settings: TenancySettings): Resolution {
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  let fromHost: string | null = null;
  if (settings.baseDomain && host !== settings.baseDomain && host.endsWith(`.${settings.baseDomain}`)) {
    const label = host.slice(0, -settings.baseDomain.length - 1);
    if (!isTenantName(label)) return { kind: "invalid", reason: `host ${host} does not name a tenant (${TENANT_NAME_RULE})` };
    fromHost = label;
  }
  const m = PATH_PREFIX.exec(url.pathname);
  if (m) {
    const name = decodeURIComponentSafe(m[1]!);
    if (name === null || !isTenantName(name)) return { kind: "invalid", reason: `path prefix /t/${m[1]} does not name a tenant (${TENANT_NAME_RULE})` };
    // Both present and different: ambiguous; refuse rather than pick one.
    if (fromHost !== null && fromHost !== name) return { kind: "invalid", reason: `host names tenant ${fromHost} but the path names ${name}` };
    const inner = new URL(url);
    inner.pathname = m[2] ?? "/";
    return { kind: "tenant", tenant: { name, via: "path" }, inner };
  }
  if (fromHost !== null) return { kind: "tenant", tenant: { name: fromHost, via: "host" }, inner: new URL(url) };
  return { kind: "platform" };
}

function decodeURIComponentSafe(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}
