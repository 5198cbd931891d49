/**
 * A tenant's configuration as the platform stores it: the same shapes as the single-tenant
 * variables (GATEHOUSE_ISSUERS, GATEHOUSE_CONNECTORS, GATEHOUSE_POLICY…), validated whole at
 * creation with the same parsers, so a tenant can never hold a configuration a single-tenant
 * deployment would refuse.
 */
import type { TenantScope } from "../env.ts";
import { assertKeySources, parseConnectors, parseIssuers } from "../config/gateway-config.ts";
import { ConfigurationError } from "../errors.ts";
import { parseExportConfig } from "../export/config.ts";
import { loadPolicy, formatPolicyErrors } from "../../parsers/policy/index.ts";
import { isTenantName, TENANT_NAME_RULE } from "./resolve.ts";
import { toHex } from "../../parsers/encoding/hex-base64.ts";
import { MAX_APPROVAL_SHARDS } from "../approvals/shards.ts";
import { MAX_HUB_SHARDS } from "../connectors/hub-shards.ts";
import { parseSigninConfig, signinIssuerProblems } from "../signin/config.ts";
import { SIGNIN_SECRET_PREFIX } from "./tenant-secrets.ts";
import { apiRequestsPerMinute } from "../limits/api-rate-default.ts";

/**
 * maxSessions: live sessions at once in the tenant; maxRecordingBytes: bytes stored under its R2
 * prefix in total; maxApprovalRequests: approval requests created in total. null = no cap.
 */
export type TenantLimits = TenantScope["limits"];

export interface TenantRecord {
  name: string;
  /** JSON texts in the single-tenant variables' formats (docs/CONFIGURATION.md). */
  issuers: string;
  connectors: string;
  policy: string;
  policySource: string;
  maskingKey: string;
  /** Ed25519 private JWKs (first = active); null = a key generated in the tenant's own store. */
  auditKeys: string | null;
  export: string | null;
  /** Sealed secrets (tenant-secrets.ts): AES-GCM under the platform's key; null = none. */
  secrets?: string | null;
  /** Their names, for display (values are never shown); `signin:<id>` for sign-in client secrets. */
  secretNames?: string[];
  /**
   * People's sign-in for the tenant's console: GATEHOUSE_SIGNIN's format without the OIDC client
   * secrets (sealed with `secrets` under `signin:<id>`); null/absent = no console sign-in.
   */
  signin?: string | null;
  limits: TenantLimits;
  /**
   * Objects holding the tenant's approvals (worker/approvals/shards.ts) and connector hub
   * (worker/connectors/hub-shards.ts); absent = 1. Fixed at creation.
   */
  shards?: { approvals: number; hub?: number };
  createdAt: number;
  createdBy: string;
  /**
   * active (absent in records made before suspension existed) · suspended: every new request,
   * session and connector is refused, live ones were ended · deleted: a tombstone — configuration
   * wiped, the name never given to anyone else (docs/TENANCY.md, "Lifecycle").
   */
  status?: TenantStatus;
  /** The last lifecycle change or update: when, by whom, why. */
  changedAt?: number;
  changedBy?: string;
  reason?: string;
  /**
   * Raised by every change of the record (absent = 0); compare-and-set makes each value one
   * record's. The tenant's pieces are told it with the state they must hold and ignore older
   * versions (tenant-sync.ts), so lifecycle steps racing each other end in the newest one's state.
   */
  version?: number;
  /**
   * The lifecycle step in force (lifecycle-steps.ts): what the pieces must end at, why, and the
   * version that recorded it. While a resume is pending the status stays suspended.
   */
  lifecycle?: { intent: LifecycleIntent; reason: string; since: number };
  /**
   * Pieces (tenant-lifecycle.ts piecesOf) not yet told the record at `version`, and why: retried by
   * the platform registry's alarm, shown by `admin tenants show`. Absent: every piece holds it.
   */
  pending?: { version: number; pieces: string[]; error: string };
}

export type LifecycleIntent = "suspend" | "resume" | "delete";

export const versionOf = (r: TenantRecord): number => r.version ?? 0;

export type TenantStatus = "active" | "suspended" | "deleted";

export const statusOf = (r: TenantRecord): TenantStatus => r.status ?? "active";

/** What the platform admin API shows: never the masking key or private audit keys. */
export function publicView(r: TenantRecord) {
  return {
    name: r.name,
    issuers: JSON.parse(r.issuers) as unknown,
    connectors: (JSON.parse(r.connectors) as Array<{ id: string }>).map((c) => c.id),
    policy_source: r.policySource,
    audit_keys: r.auditKeys === null ? "generated" : "configured",
    export: r.export !== null,
    secrets: (r.secretNames ?? []).filter((n) => !n.startsWith(SIGNIN_SECRET_PREFIX)),
    signin: signinView(r),
    limits: limitsView(r.limits),
    shards: { approvals: r.shards?.approvals ?? 1, hub: r.shards?.hub ?? 1 },
    created_at: new Date(r.createdAt).toISOString(),
    created_by: r.createdBy,
    status: statusOf(r),
    version: versionOf(r),
    ...(r.lifecycle ? { lifecycle: r.lifecycle.intent } : {}),
    // Pieces not yet told the newest version (retried every 30 s by the platform): not converged yet.
    ...(r.pending ? { pending: { pieces: r.pending.pieces, error: r.pending.error } } : {}),
    ...(r.changedAt !== undefined ? { changed_at: new Date(r.changedAt).toISOString(), changed_by: r.changedBy ?? null, reason: r.reason ?? null } : {}),
  };
}

/** The tenant's sign-in providers as shown: configuration, and whether a client secret is sealed (never its value). */
function signinView(r: TenantRecord) {
  if (!r.signin) return null;
  const raw = JSON.parse(r.signin) as { oidc?: Array<Record<string, unknown>>; saml?: Array<Record<string, unknown>>; session_hours?: number };
  const sealed = new Set(r.secretNames ?? []);
  return {
    oidc: (raw.oidc ?? []).map((p) => ({ ...p, client_secret: sealed.has(`${SIGNIN_SECRET_PREFIX}${String(p.id)}`) ? "sealed" : null })),
    saml: (raw.saml ?? []).map(({ certificate: _c, ...p }) => p),
    session_hours: raw.session_hours ?? 8,
  };
}

/**
 * `signin` of a tenant file: GATEHOUSE_SIGNIN's format (docs/CONSOLE.md), validated by its parser
 * and checked against the tenant's own issuers — an OIDC provider's issuer must be one the tenant
 * trusts with the provider's client_id among its audiences (so another tenant's audience, which
 * creation refuses, can never be a client id here), and a SAML IdP's entity id must not be one of
 * its OIDC issuers. Returns the text to store: the client secrets taken out (signinSecretsOf).
 */
export function parseTenantSignin(value: unknown, issuers: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) throw new ConfigurationError("signin must be an object in GATEHOUSE_SIGNIN's format (docs/CONSOLE.md)");
  let config: ReturnType<typeof parseSigninConfig>;
  try {
    config = parseSigninConfig(JSON.stringify(value));
  } catch (e) {
    if (e instanceof ConfigurationError) throw new ConfigurationError(e.message.replaceAll("GATEHOUSE_SIGNIN", "signin"));
    throw e;
  }
  if (config.oidc.length + config.saml.length === 0) throw new ConfigurationError("signin: name at least one oidc or saml provider (or give null for none)");
  const problems = signinIssuerProblems(config, parseIssuers(issuers));
  if (problems.length > 0) throw new ConfigurationError(problems.join("; ").replaceAll("GATEHOUSE_SIGNIN", "signin").replaceAll("GATEHOUSE_ISSUERS", "the tenant's issuers"));
  const raw = value as { oidc?: Array<Record<string, unknown>> };
  return JSON.stringify({ ...raw, ...(raw.oidc ? { oidc: raw.oidc.map(({ client_secret: _s, ...p }) => p) } : {}) });
}

/** The OIDC client secrets of a (validated) `signin`, under the names they are sealed by. */
export function signinSecretsOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const oidc = (value as { oidc?: Array<Record<string, unknown>> } | null | undefined)?.oidc ?? [];
  for (const p of oidc) if (typeof p.client_secret === "string") out[`${SIGNIN_SECRET_PREFIX}${String(p.id)}`] = p.client_secret;
  return out;
}

/**
 * `shards` of a tenant file: `{ "approvals": N, "hub": M }` (each 1 to 32; default 1). Fixed at
 * creation: a different count would move grants and resources to other objects (docs/TENANCY.md).
 */
export function parseShards(value: unknown): { approvals: number; hub: number } {
  if (value === undefined || value === null) return { approvals: 1, hub: 1 };
  if (typeof value !== "object" || Array.isArray(value)) throw new ConfigurationError("shards must be an object");
  const given = value as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => k !== "approvals" && k !== "hub");
  if (unknown.length > 0) throw new ConfigurationError(`shards: unknown ${unknown.map((k) => JSON.stringify(k)).join(", ")} (known: approvals, hub)`);
  return { approvals: shardCount("approvals", given.approvals, MAX_APPROVAL_SHARDS), hub: shardCount("hub", given.hub, MAX_HUB_SHARDS) };
}

function shardCount(name: string, value: unknown, max: number): number {
  const n = value ?? 1;
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 1 || n > max) throw new ConfigurationError(`shards.${name} must be an integer from 1 to ${max}`);
  return n;
}

function limit(where: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new ConfigurationError(`${where} must be a non-negative integer or null`);
  return v;
}

/** The limits' names in the API and tenant files, and their fields. */
const LIMIT_FIELDS = {
  max_sessions: "maxSessions",
  max_recording_bytes: "maxRecordingBytes",
  max_approval_requests: "maxApprovalRequests",
  max_requests_per_second: "maxRequestsPerSecond",
  request_burst: "requestBurst",
  max_session_starts_per_minute: "maxSessionStartsPerMinute",
  max_api_requests_per_minute: "maxApiRequestsPerMinute",
} as const satisfies Record<string, keyof TenantLimits>;

/** The limits as shown: `max_api_requests_per_minute` is never "none" (absent = the default it runs with). */
export function limitsView(l: TenantLimits): Record<keyof typeof LIMIT_FIELDS, number | null> {
  const view = Object.fromEntries(Object.entries(LIMIT_FIELDS).map(([k, f]) => [k, l[f] ?? null])) as Record<keyof typeof LIMIT_FIELDS, number | null>;
  view.max_api_requests_per_minute = apiRequestsPerMinute(l);
  return view;
}

/**
 * `limits` of a tenant file: every key known (a misspelt limit would silently be no limit), each a
 * non-negative integer or null. A burst without a rate means nothing and is refused.
 */
export function parseLimits(value: unknown): TenantLimits {
  if (value === undefined || value === null) value = {};
  if (typeof value !== "object" || Array.isArray(value)) throw new ConfigurationError("limits must be an object");
  const given = value as Record<string, unknown>;
  const unknown = Object.keys(given).filter((k) => !(k in LIMIT_FIELDS));
  if (unknown.length > 0) throw new ConfigurationError(`limits: unknown limit ${unknown.map((k) => JSON.stringify(k)).join(", ")} (known: ${Object.keys(LIMIT_FIELDS).join(", ")})`);
  const out = { maxSessions: null, maxRecordingBytes: null, maxApprovalRequests: null } as TenantLimits;
  for (const [k, f] of Object.entries(LIMIT_FIELDS)) out[f] = limit(`limits.${k}`, given[k]);
  if (out.requestBurst != null && out.maxRequestsPerSecond == null) throw new ConfigurationError("limits.request_burst needs limits.max_requests_per_second");
  if (out.maxRequestsPerSecond === 0) throw new ConfigurationError("limits.max_requests_per_second must be at least 1 (0 would refuse every request: suspend the tenant instead)");
  if (out.requestBurst === 0) throw new ConfigurationError("limits.request_burst must be at least 1 (0 would refuse every request: suspend the tenant instead)");
  if (out.maxApiRequestsPerMinute === 0) throw new ConfigurationError("limits.max_api_requests_per_minute must be at least 1 (0 would refuse every API call: suspend the tenant instead; absent or null = the default, 1200)");
  return out;
}

const jsonOrNull = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

/**
 * Validates a creation request (`POST /platform/v1/tenants`). Every problem is a
 * ConfigurationError naming the field; nothing is stored unless all of it is valid.
 */
export async function tenantFromRequest(body: Record<string, unknown>, createdBy: string, now = Date.now()): Promise<TenantRecord> {
  const name = body.name;
  if (typeof name !== "string" || !isTenantName(name)) throw new ConfigurationError(`name: ${TENANT_NAME_RULE} (and not a reserved name)`);
  const issuers = JSON.stringify(body.issuers ?? []);
  const parsedIssuers = parseIssuers(issuers);
  if (parsedIssuers.length === 0) throw new ConfigurationError("issuers: a tenant must trust at least one issuer");
  // Hosted tenants never get the development issuer's marker: it only makes sense on a laptop.
  if (parsedIssuers.some((i) => i.dev)) throw new ConfigurationError("issuers: dev issuers are not allowed for hosted tenants");
  assertKeySources(parsedIssuers, "issuers");
  const connectors = JSON.stringify(body.connectors ?? []);
  parseConnectors(connectors);
  const policy = body.policy;
  if (typeof policy !== "string" || policy.trim() === "") throw new ConfigurationError("policy: the tenant's policy YAML is required");
  const policySource = typeof body.policy_source === "string" && body.policy_source !== "" ? body.policy_source : "policy.yaml";
  const loaded = await loadPolicy(policy, policySource, { devIssuers: [] });
  if (!loaded.ok) throw new ConfigurationError(`policy ${policySource} is invalid:\n${formatPolicyErrors(loaded.errors)}`);
  let maskingKey = body.masking_key;
  if (maskingKey === undefined) {
    const bytes = new Uint8Array(32);
    crypto.getRandomValues(bytes);
    maskingKey = toHex(bytes);
  }
  if (typeof maskingKey !== "string" || maskingKey.length < 16) throw new ConfigurationError("masking_key must be a string of at least 16 characters (omit it to generate one)");
  const exportJson = jsonOrNull(body.export);
  parseExportConfig(exportJson ?? undefined);
  const signin = parseTenantSignin(body.signin, issuers);
  return {
    name,
    issuers,
    connectors,
    policy,
    policySource,
    maskingKey,
    auditKeys: jsonOrNull(body.audit_keys),
    export: exportJson,
    limits: parseLimits(body.limits),
    shards: parseShards(body.shards),
    ...(signin !== null ? { signin } : {}),
    createdAt: now,
    createdBy,
  };
}

/**
 * (issuer, audience) pairs must be unique across tenants: a token minted for one tenant's audience
 * then cannot even verify at another, whatever that tenant's claim rules say. Returns the clash.
 */
export function audienceClash(candidate: TenantRecord, others: TenantRecord[]): string | null {
  const mine = parseIssuers(candidate.issuers);
  for (const other of others) {
    if (other.name === candidate.name) continue;
    for (const theirs of parseIssuers(other.issuers)) {
      for (const i of mine) {
        if (i.issuer !== theirs.issuer) continue;
        const shared = i.audiences.find((a) => theirs.audiences.includes(a));
        if (shared !== undefined) return `issuer ${i.issuer} with audience ${shared} is already trusted by ${other.name ? `tenant ${other.name}` : "the platform"}; give each tenant its own audience`;
      }
    }
  }
  return null;
}

/** What `PATCH /platform/v1/tenants/<t>` may change (docs/TENANCY.md, "Updates"). */
const UPDATABLE = new Set(["limits", "issuers", "secrets", "signin"]);

/**
 * A tenant's record with an update applied, validated like a creation. Other fields are refused
 * by name: the masking key and audit keys would split the tenant's history, connectors are the
 * tenant admins' own (`/v1/admin/connectors`), the policy is theirs (`admin policy apply`), and
 * an export change is not offered (what becomes of sessions queued for a removed sink is not decided).
 */
export function updatedTenant(record: TenantRecord, body: Record<string, unknown>, by: string, now = Date.now()): TenantRecord {
  const refused = Object.keys(body).filter((k) => !UPDATABLE.has(k));
  if (refused.length > 0) throw new ConfigurationError(`cannot update ${refused.map((k) => JSON.stringify(k)).join(", ")}: only limits, issuers, secrets and signin change after creation`);
  if (Object.keys(body).length === 0) throw new ConfigurationError("nothing to update (give limits, issuers, secrets and/or signin)");
  const next: TenantRecord = { ...record, changedAt: now, changedBy: by, reason: "updated", version: versionOf(record) + 1 };
  if ("limits" in body) next.limits = parseLimits(body.limits);
  if ("issuers" in body) {
    const issuers = JSON.stringify(body.issuers ?? []);
    const parsed = parseIssuers(issuers);
    if (parsed.length === 0) throw new ConfigurationError("issuers: a tenant must trust at least one issuer");
    if (parsed.some((i) => i.dev)) throw new ConfigurationError("issuers: dev issuers are not allowed for hosted tenants");
    assertKeySources(parsed, "issuers");
    next.issuers = issuers;
  }
  // Replaced whole (its client secrets too: give them again); re-checked when the issuers change,
  // so no update leaves a sign-in provider the tenant no longer trusts.
  if ("signin" in body) next.signin = parseTenantSignin(body.signin, next.issuers);
  else if ("issuers" in body && next.signin) parseTenantSignin(JSON.parse(next.signin), next.issuers);
  return next;
}

/** A deleted tenant: the name and when/why, nothing else (no keys, no configuration). */
export function tombstone(record: TenantRecord, by: string, reason: string, now = Date.now()): TenantRecord {
  return {
    name: record.name,
    issuers: "[]",
    connectors: "[]",
    policy: "",
    policySource: "",
    maskingKey: "",
    auditKeys: null,
    export: null,
    limits: { maxSessions: 0, maxRecordingBytes: 0, maxApprovalRequests: 0 },
    createdAt: record.createdAt,
    createdBy: record.createdBy,
    status: "deleted",
    version: versionOf(record) + 1,
    changedAt: now,
    changedBy: by,
    reason,
  };
}
