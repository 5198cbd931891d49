/**
 * Platform administration (hosted mode), served only on the platform's own host — never under a
 * tenant: `GET/POST /platform/v1/tenants`, `GET /platform/v1/tenants/:name`,
 * `GET /platform/v1/tenants/:name/usage|refusals`. Platform administrators are their own role:
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
import { platformDatabase, tenantDatabase } from "./tenant-store.ts";
import { insertTenant, listTenants, readTenant } from "./tenant-registry.ts";
import { audienceClash, publicView, tenantFromRequest } from "./tenant-record.ts";
import { listRefusals, readUsage } from "./tenant-usage.ts";
import { isTenantName } from "./resolve.ts";

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

const platformAdmin = createMiddleware<PlatformEnv>(async (c, next) => {
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
  await next();
});

const MAX_BODY = 1024 * 1024;

function tenantName(c: { req: { param(name: string): string } }): string {
  const name = c.req.param("name");
  if (!isTenantName(name)) throw new NotFoundError(`no tenant ${JSON.stringify(name)}`);
  return name;
}

export const platformRoutes = new Hono<PlatformEnv>()
  .use("*", platformAdmin)
  .get("/tenants", async (c) => {
    const tenants = await listTenants(platformDatabase(c.env.TENANT_STORE));
    return c.json({ tenants: tenants.map(publicView) });
  })
  .post("/tenants", async (c) => {
    const text = await c.req.text();
    if (text.length > MAX_BODY) throw new GatewayError(400, "bad_request", `body exceeds ${MAX_BODY} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new GatewayError(400, "bad_request", "body must be a JSON object");
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new GatewayError(400, "bad_request", "body must be a JSON object");
    let record: Awaited<ReturnType<typeof tenantFromRequest>>;
    try {
      record = await tenantFromRequest(body as Record<string, unknown>, c.var.admin);
    } catch (e) {
      if (e instanceof ConfigurationError) return c.json({ error: "invalid_tenant", reason: e.message }, 422);
      throw e;
    }
    const db = platformDatabase(c.env.TENANT_STORE);
    // The platform's own (issuer, audience) counts as taken: a tenant trusting it would accept platform admins' tokens.
    const platform = { ...record, name: "", issuers: c.env.GATEHOUSE_PLATFORM_ISSUERS ?? "[]" };
    const clash = audienceClash(record, [...(await listTenants(db)), platform]);
    if (clash) return c.json({ error: "invalid_tenant", reason: clash }, 422);
    if (!(await insertTenant(db, record))) throw new GatewayError(409, "conflict", `tenant ${record.name} already exists`);
    return c.json({ tenant: publicView(record) }, 201);
  })
  .get("/tenants/:name", async (c) => {
    const record = await readTenant(platformDatabase(c.env.TENANT_STORE), tenantName(c));
    if (!record) throw new NotFoundError(`no tenant ${c.req.param("name")}`);
    return c.json({ tenant: publicView(record), usage: await readUsage(tenantDatabase(c.env.TENANT_STORE, record.name)) });
  })
  .get("/tenants/:name/refusals", async (c) => {
    const record = await readTenant(platformDatabase(c.env.TENANT_STORE), tenantName(c));
    if (!record) throw new NotFoundError(`no tenant ${c.req.param("name")}`);
    return c.json({ refusals: await listRefusals(tenantDatabase(c.env.TENANT_STORE, record.name)) });
  });
