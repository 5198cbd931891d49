/**
 * Platform administration (hosted mode), served only on the platform's own host — never under a
 * tenant: `GET/POST /platform/v1/tenants`, `GET/PATCH/DELETE /platform/v1/tenants/:name`,
 * `POST /platform/v1/tenants/:name/suspend|resume`, `GET /platform/v1/tenants/:name/refusals`,
 * `GET /platform/v1/audit` (every platform action, allowed or refused) and
 * `GET /platform/v1/unknown-tenants` (requests naming no tenant that exists). Platform administrators are their own role:
 * tokens from GATEHOUSE_PLATFORM_ISSUERS whose (issuer, subject) is listed in
 * GATEHOUSE_PLATFORM_ADMINS. A tenant's `admin` role grants nothing here, and a platform
 * administrator holds no role inside a tenant (that is the tenant's policy).
 */
import { Hono } from "hono";
import { createMiddleware } from "hono/factory";
import { parseIssuers } from "../config/gateway-config.ts";
import { ConfigurationError, ForbiddenError, GatewayError, NotFoundError, UnauthorizedError } from "../errors.ts";
import { bearerToken } from "../auth/bearer-identity.ts";
import { TokenRejected, verifyOidcToken } from "../auth/verify-oidc-token.ts";
import type { MultiTenantEnv } from "./tenant-env.ts";
import { platformDatabase, schedulePendingRetry, tenantDatabase } from "./tenant-store.ts";
import { insertTenant, listPlatformActions, listTenants, readTenant, recordPlatformAction, replaceTenant } from "./tenant-registry.ts";
import { audienceClash, publicView, signinSecretsOf, statusOf, tenantFromRequest, updatedTenant, versionOf, type TenantRecord } from "./tenant-record.ts";
import { purgeTenant } from "./tenant-lifecycle.ts";
import { converge, recordIntent, tellFor, writeTombstone, type Converged } from "./lifecycle-steps.ts";
import { piecesOf } from "./tenant-lifecycle.ts";
import { listUnknownTenantRequests, noteUnknownTenant } from "./unknown-tenants.ts";
import { decodeJwt } from "jose";
import { changedSecrets, openSecrets, sealSecrets, splitSecrets } from "./tenant-secrets.ts";
import { listRefusals, periodOf, periodQuery, readUsage, readUsagePeriods, usageReport } from "./tenant-usage.ts";
import { isTenantName } from "./resolve.ts";
import { checkPlaced, parsePlacement, undeclaredAudience } from "./placement.ts";

type PlatformEnv = { Bindings: MultiTenantEnv; Variables: { admin: string } };

interface PlatformAdmin {
  issuer: string;
  subject: string;
}

function platformAdmins(text: string | undefined): PlatformAdmin[] {
  let value: unknown;
  try {
    value = JSON.parse(text?.trim() || "[]");
  } catch {
    throw new ConfigurationError("GATEHOUSE_PLATFORM_ADMINS is not valid JSON");
  }
  if (!Array.isArray(value) || !value.every((a) => typeof a?.issuer === "string" && typeof a?.subject === "string")) {
    throw new ConfigurationError("GATEHOUSE_PLATFORM_ADMINS must be a JSON array of {issuer, subject}");
  }
  return value as PlatformAdmin[];
}

/**
 * Refused platform administration is logged with the requests naming no tenant (bounded, the same
 * table: unknown-tenants.ts), under the presented token's unverified issuer and subject.
 */
const platformAdmin = createMiddleware<PlatformEnv>(async (c, next) => {
  try {
    await checkPlatformAdmin(c);
  } catch (e) {
    if (e instanceof UnauthorizedError || e instanceof ForbiddenError) {
      let who = "(no token)";
      try {
        const claims = decodeJwt(/^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1] ?? "");
        who = `${String(claims.iss ?? "?")} ${String(claims.sub ?? "?")}`;
      } catch {
        // not a JWT: logged as no token
      }
      noteUnknownTenant(platformDatabase(c.env.TENANT_STORE), c.executionCtx, { kind: "platform-auth", name: who, path: new URL(c.req.url).pathname, via: c.req.method });
    }
    throw e;
  }
  await next();
});

async function checkPlatformAdmin(c: Parameters<Parameters<typeof createMiddleware<PlatformEnv>>[0]>[0]): Promise<void> {
  const token = bearerToken(c.req.header("authorization"));
  const admins = platformAdmins(c.env.GATEHOUSE_PLATFORM_ADMINS);
  let who: { issuer: string; subject: string };
  try {
    who = await verifyOidcToken(token, { issuers: parseIssuers(c.env.GATEHOUSE_PLATFORM_ISSUERS) });
  } catch (e) {
    if (e instanceof TokenRejected) throw new UnauthorizedError(`platform administration: ${e.message}`);
    throw e;
  }
  if (!admins.some((a) => a.issuer === who.issuer && a.subject === who.subject)) {
    throw new ForbiddenError(`identity ${who.subject} is not a platform administrator`);
  }
  c.set("admin", `${who.issuer} ${who.subject}`);
}

const MAX_BODY = 1024 * 1024;

function tenantName(c: { req: { param(name: string): string } }): string {
  const name = c.req.param("name");
  if (!isTenantName(name)) throw new NotFoundError(`no tenant ${JSON.stringify(name)}`);
  return name;
}

async function jsonBody(c: { req: { text(): Promise<string> } }, optional = false): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.length > MAX_BODY) throw new GatewayError(400, "bad_request", `body exceeds ${MAX_BODY} bytes`);
  if (optional && text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new GatewayError(400, "bad_request", "body must be a JSON object");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new GatewayError(400, "bad_request", "body must be a JSON object");
  return body as Record<string, unknown>;
}

type Ctx = { env: MultiTenantEnv; var: { admin: string }; req: { param(name: string): string } };

/**
 * Runs one platform action and writes it to the platform audit log — refused ones too (a
 * GatewayError's code is the outcome), so an administrator probing what they may do is seen.
 */
async function audited<T>(c: Ctx, action: string, tenant: string | null, detail: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
  const db = platformDatabase(c.env.TENANT_STORE);
  try {
    const out = await fn();
    await recordPlatformAction(db, { at: Date.now(), actor: c.var.admin, action, tenant, outcome: "ok", detail });
    return out;
  } catch (e) {
    const outcome = e instanceof GatewayError ? e.code : e instanceof ConfigurationError ? "invalid_tenant" : "error";
    await recordPlatformAction(db, { at: Date.now(), actor: c.var.admin, action, tenant, outcome, detail: { ...detail, reason: (e as Error).message.slice(0, 300) } }).catch(() => {});
    throw e;
  }
}

/**
 * With tenants placed across processes (placement.ts), this process administers only its own: any
 * other tenant is refused (421, or 404 when placed nowhere) before its storage here is read, so a
 * registry never gains or serves a tenant another process holds. With placement, a tenant may
 * only trust the audiences the map declares for it (the cross-process form of audienceClash).
 */
function placedHere(env: MultiTenantEnv, name: string, record?: TenantRecord): void {
  const placement = parsePlacement(env.GATEHOUSE_PLACEMENT, env.GATEHOUSE_PLATFORM_ISSUERS);
  if (!placement) return;
  const placed = checkPlaced(placement, name);
  if (!placed.ok) throw new GatewayError(placed.status, placed.body.error, placed.body.reason);
  const undeclared = record ? undeclaredAudience(placement, record) : null;
  if (undeclared) throw new GatewayError(422, "invalid_tenant", undeclared);
}

/** The tenant's current record, or 404 (deleted tenants are found: their tombstone answers). */
async function existing(c: Ctx): Promise<TenantRecord> {
  placedHere(c.env, tenantName(c));
  const record = await readTenant(platformDatabase(c.env.TENANT_STORE), tenantName(c));
  if (!record) throw new NotFoundError(`no tenant ${c.req.param("name")}`);
  return record;
}

function notDeleted(record: TenantRecord): void {
  if (statusOf(record) === "deleted") throw new GatewayError(410, "tenant_deleted", `tenant ${record.name} was deleted; its name is not reused`);
}

async function replaceOrConflict(c: Ctx, before: TenantRecord, after: TenantRecord): Promise<void> {
  if (!(await replaceTenant(platformDatabase(c.env.TENANT_STORE), before, after))) {
    throw new GatewayError(409, "conflict", `tenant ${before.name} was changed by someone else meanwhile; read it again and retry`);
  }
}

/**
 * The record with its secrets changed and its sign-in client secrets (`signin:<id>`) replaced,
 * all sealed together under the platform key (never stored in clear).
 */
async function withSecrets(env: MultiTenantEnv, record: TenantRecord, current: Record<string, string>, change: unknown, signinSecrets: Record<string, string>): Promise<TenantRecord> {
  const next = { ...changedSecrets(current, change), ...signinSecrets };
  return { ...record, secrets: await sealSecrets(env.GATEHOUSE_PLATFORM_SECRETS_KEY, record.name, next), secretNames: Object.keys(next).sort() };
}

function reasonOf(body: Record<string, unknown>): string {
  const reason = body.reason;
  if (reason === undefined) return "";
  if (typeof reason !== "string" || reason.length > 500) throw new GatewayError(400, "bad_request", "reason must be a string of at most 500 characters");
  return reason;
}

/**
 * A step overtaken by a later one (another administrator's) answers 409 with the tenant's state
 * now. A step whose pieces could not all be told is not finished: 503, the registry's alarm tells
 * them again every 30 s (`admin tenants show` lists them as pending), and repeating the command
 * tells everything again. A suspension's record already says suspended (the boundary refuses the
 * tenant meanwhile); a resume's stays suspended until every piece is told.
 */
async function finished(c: Ctx, recorded: TenantRecord, done: Converged, code: string, what: string): Promise<void> {
  if (done.superseded || !done.record) {
    const now = done.record ? `${statusOf(done.record)}${done.record.lifecycle ? ` (${done.record.lifecycle.intent} in force)` : ""}` : "gone";
    throw new GatewayError(409, "lifecycle_superseded", `tenant ${recorded.name} was changed by another step meanwhile; it is ${now}`);
  }
  if (done.told.unreached.length === 0) return;
  await schedulePendingRetry(c.env.TENANT_STORE);
  throw new GatewayError(503, code, `tenant ${recorded.name} is ${what}, but not everything could be told: ${done.told.problems.join("; ").slice(0, 500)}; the platform tells them again every 30 s, or repeat the command`);
}

export const platformRoutes = new Hono<PlatformEnv>()
  .use("*", platformAdmin)
  .get("/tenants", async (c) => {
    const tenants = await listTenants(platformDatabase(c.env.TENANT_STORE));
    return c.json({ tenants: tenants.map(publicView) });
  })
  .post("/tenants", async (c) => {
    const body = await jsonBody(c);
    const name = typeof body.name === "string" ? body.name.slice(0, 64) : null;
    return audited(c, "tenant.create", name, {}, async () => {
      let record: Awaited<ReturnType<typeof tenantFromRequest>>;
      try {
        const { secrets, ...rest } = body;
        record = await tenantFromRequest(rest, c.var.admin);
        const signinSecrets = signinSecretsOf(rest.signin);
        if (secrets !== undefined || Object.keys(signinSecrets).length > 0) record = await withSecrets(c.env, record, {}, secrets ?? {}, signinSecrets);
      } catch (e) {
        if (e instanceof ConfigurationError) throw new GatewayError(422, "invalid_tenant", e.message);
        throw e;
      }
      placedHere(c.env, record.name, record);
      const db = platformDatabase(c.env.TENANT_STORE);
      // The platform's own (issuer, audience) counts as taken: a tenant trusting it would accept platform admins' tokens.
      const platform = { ...record, name: "", issuers: c.env.GATEHOUSE_PLATFORM_ISSUERS ?? "[]" };
      const clash = audienceClash(record, [...(await listTenants(db)), platform]);
      if (clash) throw new GatewayError(422, "invalid_tenant", clash);
      if (!(await insertTenant(db, record))) {
        const taken = await readTenant(db, record.name);
        if (taken && statusOf(taken) === "deleted") throw new GatewayError(409, "conflict", `the name ${record.name} belonged to a deleted tenant and is never reused`);
        throw new GatewayError(409, "conflict", `tenant ${record.name} already exists`);
      }
      return c.json({ tenant: publicView(record) }, 201);
    });
  })
  .get("/tenants/:name", async (c) => {
    const record = await existing(c);
    if (statusOf(record) === "deleted") return c.json({ tenant: publicView(record), usage: null, usage_period: null });
    const db = tenantDatabase(c.env.TENANT_STORE, record.name);
    const now = Date.now();
    const [current] = await readUsagePeriods(db, periodOf(now));
    // usage: totals since creation (what limits count); usage_period: this billing period's.
    return c.json({ tenant: publicView(record), usage: await readUsage(db), usage_period: current });
  })
  .get("/tenants/:name/usage", async (c) => {
    const record = await existing(c);
    notDeleted(record);
    return c.json({ tenant: record.name, ...(await usageReport(tenantDatabase(c.env.TENANT_STORE, record.name), periodQuery(c.req.query("period")))) });
  })
  .patch("/tenants/:name", async (c) => {
    const body = await jsonBody(c);
    // Field names only: secret values never reach the audit log.
    return audited(c, "tenant.update", c.req.param("name"), { fields: Object.keys(body), ...(body.secrets && typeof body.secrets === "object" ? { secrets: Object.keys(body.secrets) } : {}) }, async () => {
      // (signin's client secrets are in body.signin: only the field name "signin" is logged.)
      const before = await existing(c);
      notDeleted(before);
      let after: TenantRecord;
      try {
        after = updatedTenant(before, body, c.var.admin);
        if ("secrets" in body || "signin" in body) {
          const current = splitSecrets(await openSecrets(c.env.GATEHOUSE_PLATFORM_SECRETS_KEY, before.name, before.secrets));
          after = await withSecrets(c.env, after, current.own, "secrets" in body ? body.secrets : {}, "signin" in body ? signinSecretsOf(body.signin) : current.signin);
        }
      } catch (e) {
        if (e instanceof ConfigurationError) throw new GatewayError(422, "invalid_tenant", e.message);
        throw e;
      }
      placedHere(c.env, after.name, after);
      const platform = { ...after, name: "", issuers: c.env.GATEHOUSE_PLATFORM_ISSUERS ?? "[]" };
      const clash = audienceClash(after, [...(await listTenants(platformDatabase(c.env.TENANT_STORE))), platform]);
      if (clash) throw new GatewayError(422, "invalid_tenant", clash);
      // Every piece is to be told the new version: the long-lived objects reload the record (its
      // secrets, sign-in, issuers) at once instead of when next evicted (docs/TENANCY.md "Updates").
      after = { ...after, pending: { version: versionOf(after), pieces: piecesOf(after.shards, tellFor(after).sessionMessage !== null), error: "not told yet" } };
      await replaceOrConflict(c, before, after);
      const done = await converge(c.env, platformDatabase(c.env.TENANT_STORE), after);
      // The change is made; pieces not reached are retried every 30 s and shown as pending.
      if (done.told.unreached.length > 0) await schedulePendingRetry(c.env.TENANT_STORE);
      return c.json({ tenant: publicView(done.record ?? after) });
    });
  })
  .post("/tenants/:name/suspend", async (c) => {
    const body = await jsonBody(c, true);
    return audited(c, "tenant.suspend", c.req.param("name"), { reason: body.reason ?? null }, async () => {
      placedHere(c.env, tenantName(c));
      const reason = reasonOf(body);
      const db = platformDatabase(c.env.TENANT_STORE);
      // Told again even when it was suspended already: a session that slipped in is ended too, and pieces left pending are told.
      const recorded = await recordIntent(db, tenantName(c), "suspend", c.var.admin, reason);
      const done = await converge(c.env, db, recorded);
      await finished(c, recorded, done, "suspension_incomplete", "suspended");
      return c.json({ tenant: publicView(done.record!), ended_sessions: done.told.endedSessions, closed_connectors: done.told.closedConnectors });
    });
  })
  .post("/tenants/:name/resume", async (c) => {
    const body = await jsonBody(c, true);
    return audited(c, "tenant.resume", c.req.param("name"), {}, async () => {
      placedHere(c.env, tenantName(c));
      const db = platformDatabase(c.env.TENANT_STORE);
      // The record says "resume" first but stays suspended until every piece admits the tenant
      // again (the other way round, a hub would refuse an active tenant's connectors).
      const recorded = await recordIntent(db, tenantName(c), "resume", c.var.admin, reasonOf(body));
      const done = await converge(c.env, db, recorded);
      await finished(c, recorded, done, "resume_incomplete", "still suspended");
      return c.json({ tenant: publicView(done.record!) });
    });
  })
  .delete("/tenants/:name", async (c) => {
    const body = await jsonBody(c, true);
    return audited(c, "tenant.delete", c.req.param("name"), {}, async () => {
      placedHere(c.env, tenantName(c));
      const db = platformDatabase(c.env.TENANT_STORE);
      // Anything that slipped in since the suspension ends first, then every object forgets.
      const recorded = await recordIntent(db, tenantName(c), "delete", c.var.admin, reasonOf(body));
      const done = await converge(c.env, db, recorded);
      await finished(c, recorded, done, "suspension_incomplete", "being deleted");
      const purged = await purgeTenant(c.env, recorded);
      const after = await writeTombstone(db, recorded, c.var.admin, reasonOf(body) || "deleted");
      return c.json({ tenant: publicView(after), purged });
    });
  })
  .get("/tenants/:name/refusals", async (c) => {
    const record = await existing(c);
    notDeleted(record);
    return c.json({ refusals: await listRefusals(tenantDatabase(c.env.TENANT_STORE, record.name)) });
  })
  .get("/audit", async (c) => c.json({ actions: await listPlatformActions(platformDatabase(c.env.TENANT_STORE)) }))
  .get("/unknown-tenants", async (c) => c.json(await listUnknownTenantRequests(platformDatabase(c.env.TENANT_STORE))));
