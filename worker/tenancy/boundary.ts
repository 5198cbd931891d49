/**
 * The hosted mode's front door. Single-tenant (the default): requests go to the worker as they
 * are. Multi-tenant: the tenant is resolved from the host or the `/t/<tenant>` prefix (resolve.ts),
 * its record read from the platform registry, and the unchanged worker runs with that tenant's
 * Env (tenant-env.ts) — so every Durable Object, table, recording and configuration value it
 * touches is the tenant's. Refused requests (401/403/404/409/410, and the API rate limit's 429) are
 * recorded in the tenant's refusal log — coalesced per second (refusal-coalescer.ts) — with the
 * presented token's issuer/audience/subject and — when that token was minted for another tenant —
 * which one.
 */
import { Hono } from "hono";
import { decodeJwt, decodeProtectedHeader } from "jose";
import type { Env } from "../env.ts";
import { ConfigurationError, GatewayError } from "../errors.ts";
import { parseIssuers } from "../config/gateway-config.ts";
import { parseTenancySettings, resolveTenant } from "./resolve.ts";
import { requireTenantStore, tenantEnv, type HostedEnv, type MultiTenantEnv } from "./tenant-env.ts";
import { platformDatabase } from "./tenant-store.ts";
import { cachedTenant, listTenants } from "./tenant-registry.ts";
import { addUsage, recordRefusal, type Refusal } from "./tenant-usage.ts";
import { platformRoutes } from "./platform-routes.ts";
import { statusOf, type TenantRecord } from "./tenant-record.ts";
import { noteUnknownTenant } from "./unknown-tenants.ts";
import { openSecrets } from "./tenant-secrets.ts";
import { withPathPrefix } from "./path-prefix.ts";
import { RefusalCoalescer } from "./refusal-coalescer.ts";
import { UsageTally } from "./usage-tally.ts";
import { checkPlaced, parsePlacement, type Placement } from "./placement.ts";

type FetchApp = { fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> };

const platformApp = new Hono<{ Bindings: MultiTenantEnv }>()
  .get("/healthz", (c) => c.json({ ok: true, ready: true, tenancy: "multi" }))
  .route("/platform/v1", platformRoutes)
  .notFound((c) => c.json({ error: "not_found", reason: "hosted mode: name a tenant (<tenant>.<base domain> or /t/<tenant>/…); the platform serves /platform/v1 only" }, 404))
  .onError((err, c) => {
    if (err instanceof GatewayError) return c.json({ error: err.code, reason: err.message }, err.status);
    if (err instanceof ConfigurationError) return c.json({ error: "misconfigured", reason: err.message }, 503);
    console.error("gatehouse platform: unhandled error", err);
    return c.json({ error: "internal", reason: "internal error" }, 500);
  });

const REFUSED = new Set([401, 403, 404, 409, 410, 429]);
/** This isolate's refusal log writer: a flood of refusals is a few rows a second, not a write each. */
const refusals = new RefusalCoalescer();
/** This isolate's tally of the API rate limit's refusals (the usage counter `api_requests_refused`). */
const apiRefusals = new UsageTally();

export async function serveHosted(app: FetchApp, request: Request, raw: HostedEnv, ctx: ExecutionContext): Promise<Response> {
  let settings: ReturnType<typeof parseTenancySettings>;
  let hosted: MultiTenantEnv;
  let placement: Placement | null;
  try {
    settings = parseTenancySettings(raw);
    if (settings.mode === "single") {
      // A placement means the operator split tenants across processes: serving as one organisation would ignore it.
      if (raw.GATEHOUSE_PLACEMENT?.trim()) throw new ConfigurationError("GATEHOUSE_PLACEMENT needs GATEHOUSE_TENANCY=multi");
      return app.fetch(request, raw, ctx);
    }
    hosted = requireTenantStore(raw);
    placement = parsePlacement(raw.GATEHOUSE_PLACEMENT, raw.GATEHOUSE_PLATFORM_ISSUERS);
  } catch (e) {
    return Response.json({ error: "misconfigured", reason: (e as Error).message }, { status: 503 });
  }
  const url = new URL(request.url);
  const resolved = resolveTenant(url, settings);
  const db = platformDatabase(hosted.TENANT_STORE);
  if (resolved.kind === "invalid") {
    noteUnknownTenant(db, ctx, { kind: "invalid", name: spelledTenant(url, settings.baseDomain), path: url.pathname, via: url.pathname.startsWith("/t/") ? "path" : "host" });
    return Response.json({ error: "unknown_tenant", reason: resolved.reason }, { status: 404 });
  }
  if (resolved.kind === "platform") return platformApp.fetch(request, hosted, ctx);
  if (placement) {
    // Another process's tenant (or nobody's) is refused before this process's storage is read.
    const placed = checkPlaced(placement, resolved.tenant.name);
    if (!placed.ok) {
      // A name placed nowhere goes to the platform's log of unknown names, as without placement (its own log, not a tenant's storage).
      if (placed.status === 404) noteUnknownTenant(db, ctx, { kind: "unknown", name: resolved.tenant.name, path: resolved.inner.pathname, via: resolved.tenant.via });
      return Response.json(placed.body, { status: placed.status });
    }
  }
  const record = await cachedTenant(db, resolved.tenant.name);
  if (!record || statusOf(record) === "deleted") {
    noteUnknownTenant(db, ctx, { kind: record ? "deleted" : "unknown", name: resolved.tenant.name, path: resolved.inner.pathname, via: resolved.tenant.via });
    if (record) return Response.json({ error: "tenant_deleted", reason: `tenant ${record.name} was deleted` }, { status: 410 });
    return Response.json({ error: "unknown_tenant", reason: `no tenant ${resolved.tenant.name}` }, { status: 404 });
  }
  let secrets: Record<string, string>;
  try {
    secrets = await openSecrets(hosted.GATEHOUSE_PLATFORM_SECRETS_KEY, record.name, record.secrets);
  } catch (e) {
    return Response.json({ error: "misconfigured", reason: `tenant ${record.name}: ${(e as Error).message}` }, { status: 503 });
  }
  const env = tenantEnv(hosted, record, resolved.tenant, secrets);
  // A suspended tenant answers nothing: no API call, no new session, no connector (recorded below).
  const response =
    statusOf(record) === "suspended"
      ? Response.json({ error: "tenant_suspended", reason: `tenant ${record.name} is suspended by the platform${record.reason && record.reason !== "suspended" ? ` (${record.reason})` : ""}` }, { status: 403 })
      : await app.fetch(new Request(resolved.inner, request), env, ctx);
  if (response.status === 101 && resolved.inner.pathname.startsWith("/v1/tunnel/")) {
    ctx.waitUntil(addUsage(env.DB, "sessions_started", 1, null).catch(() => {}));
  } else if (REFUSED.has(response.status) && !(response.status === 429 && resolved.inner.pathname.startsWith("/v1/tunnel/"))) {
    // (A refused session start, 429 on the tunnel route, is logged by the start limiter itself: rate-refusals.ts.)
    const refusal = await describeRefusal(request, response, resolved.inner.pathname, resolved.tenant.via);
    const work = refusals.note(record.name, refusal, async (row) => {
      row.tokenTenant = await tokenTenant(row, record, await listTenants(db), placement);
      await recordRefusal(env.DB, row);
    });
    if (work !== null) ctx.waitUntil(work.catch((e) => console.error("gatehouse: could not record a refusal", e)));
    // The API rate limit's refusals are counted in the tenant's usage too, coalesced likewise (a flood is one write a second).
    if (refusal.error === "api_rate_limited") {
      const counted = apiRefusals.note(record.name, refusal.at, (n) => addUsage(env.DB, "api_requests_refused", n, null).then(() => {}));
      if (counted !== null) ctx.waitUntil(counted.catch((e) => console.error("gatehouse: could not count a refusal", e)));
    }
  }
  // Links and redirects of a tenant named by its path prefix keep the prefix (path-prefix.ts).
  return resolved.tenant.via === "path" ? withPathPrefix(response, `/t/${record.name}`) : response;
}

async function describeRefusal(request: Request, response: Response, path: string, via: string): Promise<Refusal> {
  let error = `http_${response.status}`;
  let reason = "";
  try {
    const body = (await response.clone().json()) as { error?: unknown; reason?: unknown };
    if (typeof body.error === "string") error = body.error;
    if (typeof body.reason === "string") reason = body.reason;
  } catch {
    // not JSON: the status says enough
  }
  const refusal: Refusal = {
    at: Date.now(),
    via,
    method: request.method,
    path,
    status: response.status,
    error,
    reason,
    tokenIssuer: null,
    tokenAudience: null,
    tokenSubject: null,
    connector: null,
    tokenTenant: null,
  };
  const token = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
  if (token) {
    // Unverified on purpose: this is what the caller presented, recorded for the tenant's admins.
    try {
      const claims = decodeJwt(token);
      refusal.tokenIssuer = typeof claims.iss === "string" ? claims.iss.slice(0, 200) : null;
      refusal.tokenAudience = (Array.isArray(claims.aud) ? claims.aud.join(" ") : (claims.aud ?? null))?.slice(0, 200) ?? null;
      refusal.tokenSubject = typeof claims.sub === "string" ? claims.sub.slice(0, 200) : null;
      if (path.startsWith("/v1/connector/")) {
        const kid = decodeProtectedHeader(token).kid;
        refusal.connector = typeof kid === "string" ? kid.slice(0, 100) : null;
      }
    } catch {
      // not a JWT
    }
  }
  return refusal;
}

/**
 * The other tenant whose issuer + audience the presented token names, if any. With a placement the
 * registry here holds only this process's tenants; the map's declared audiences name the others.
 */
async function tokenTenant(r: Refusal, here: TenantRecord, all: TenantRecord[], placement: Placement | null): Promise<string | null> {
  if (!r.tokenIssuer || !r.tokenAudience) return null;
  const audiences = r.tokenAudience.split(" ");
  if (placement) {
    for (const [name, entry] of placement.tenants) if (name !== here.name && entry.audiences.some((a) => audiences.includes(a))) return name;
  }
  for (const t of all) {
    if (t.name === here.name) continue;
    if (parseIssuers(t.issuers).some((i) => i.issuer === r.tokenIssuer && i.audiences.some((a) => audiences.includes(a)))) return t.name;
  }
  return null;
}

/** How the request spelled the tenant it named (for the platform's log of unknown names). */
function spelledTenant(url: URL, baseDomain: string | null): string {
  const prefix = /^\/t\/([^/]*)/.exec(url.pathname);
  if (prefix) return prefix[1]!;
  const host = url.hostname.toLowerCase();
  return baseDomain && host.endsWith(`.${baseDomain}`) ? host.slice(0, -baseDomain.length - 1) : host;
}
