/**
 * Admin API for hosted use: apply and show the policy. Only identities holding the policy's
 * `admin` role may call it. A policy is validated whole before it is stored; an invalid one is
 * rejected with every error (file:line:column) and nothing changes.
 */
import { Hono } from "hono";
import { loadPolicy } from "../../parsers/policy/index.ts";
import { requireRole, type AppEnv } from "../auth/bearer-identity.ts";
import { currentPolicy, devIssuerIds } from "../policy/current-policy.ts";
import { ensureSchema } from "../storage/schema.ts";
import { adminConnectorRoutes } from "./admin-connectors.ts";
import { NotFoundError } from "../errors.ts";
import { periodQuery, usageReport } from "../tenancy/tenant-usage.ts";

const MAX_POLICY_BYTES = 1024 * 1024;

const admin = requireRole("admin");

export const adminRoutes = new Hono<AppEnv>()
  .get("/policy", admin, async (c) => {
    const policy = await currentPolicy(c.env);
    await ensureSchema(c.env.DB);
    const row = await c.env.DB.prepare("SELECT version, applied_by, applied_at FROM policy_versions ORDER BY version DESC LIMIT 1").first<{
      version: number;
      applied_by: string;
      applied_at: number;
    }>();
    return c.json({
      hash: policy.hash,
      source: policy.source,
      text: policy.text,
      origin: row ? "admin-api" : "configuration",
      version: row?.version ?? null,
      applied_by: row?.applied_by ?? null,
      applied_at: row ? new Date(row.applied_at).toISOString() : null,
    });
  })
  .put("/policy", admin, async (c) => {
    const text = await c.req.text();
    if (text.length > MAX_POLICY_BYTES) return c.json({ error: "too_large", reason: `policy exceeds ${MAX_POLICY_BYTES} bytes` }, 413);
    const source = c.req.query("source") || "policy.yaml";
    const result = await loadPolicy(text, source, { devIssuers: devIssuerIds(c.env) });
    if (!result.ok) return c.json({ error: "invalid_policy", errors: result.errors }, 422);
    await ensureSchema(c.env.DB);
    const who = `${c.var.identity.issuer} ${c.var.identity.subject}`;
    await c.env.DB.prepare("INSERT INTO policy_versions (hash, source, text, applied_by, applied_at) VALUES (?, ?, ?, ?, ?)")
      .bind(result.policy.hash, source, text, who, Date.now())
      .run();
    return c.json({ ok: true, hash: result.policy.hash });
  })
  /** SIEM export: queue and per-sink progress (docs/EXPORT.md). */
  .get("/export", admin, async (c) => {
    return c.json(await c.env.EXPORTER.get(c.env.EXPORTER.idFromName("exporter")).status());
  })
  /**
   * Hosted mode: the tenant's own usage counters, totals and per billing period (docs/TENANCY.md).
   * Its DB is its own store, so a tenant admin can read no other tenant's usage by construction.
   */
  .get("/usage", admin, async (c) => {
    if (!c.env.TENANT) throw new NotFoundError("usage counters exist in hosted mode only (docs/TENANCY.md)");
    return c.json({ tenant: c.env.TENANT.name, ...(await usageReport(c.env.DB, periodQuery(c.req.query("period")))) });
  })
  /** Connector enrolment, listing and revocation (docs/CONNECTOR.md §Enrolment). */
  .route("/connectors", adminConnectorRoutes);
