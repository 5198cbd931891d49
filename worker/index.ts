/**
 * Gatehouse edge worker: admits OIDC-authenticated client tunnels and connector streams, and
 * hands each session to its Durable Object (worker/session/), which runs the per-session chain.
 */
import { WORKER_RELEASE } from "./version.ts";
import { TUNNEL_PROTOCOL_VERSION } from "../parsers/tunnel/version.ts";
import { Hono } from "hono";
import type { Env } from "./env.ts";
import { GatewayError, ConfigurationError } from "./errors.ts";
import { tunnelRoutes } from "./routes/tunnel.ts";
import { connectorRoutes } from "./routes/connector.ts";
import { adminRoutes } from "./routes/admin.ts";
import { approvalRoutes, grantRoutes } from "./routes/approvals.ts";
import { createSessionsApi } from "./api/sessions.ts";
import { auditKeysHandler } from "./api/audit-keys.ts";
import { requireRole } from "./auth/bearer-identity.ts";
import { notReady, readinessProblems } from "./config/readiness.ts";
import { approvalPage } from "./routes/approval-page.ts";
import { consoleRoutes } from "./console/routes.ts";
import { signinRoutes } from "./signin/routes.ts";

import { serveHosted } from "./tenancy/boundary.ts";
import { RefusedByRateLimit, chargeAnonymousCall, isAnonymousApiRoute } from "./limits/api-rate.ts";
import type { HostedEnv } from "./tenancy/tenant-env.ts";

// Tenant-aware in hosted mode (they run with the tenant named in their object name), plain otherwise.
export { SessionObject, ConnectorHub, ApprovalsObject, SessionLimiter, ExportObject } from "./tenancy/tenant-objects.ts";
export { TenantStore } from "./tenancy/tenant-store-object.ts";

const app = new Hono<{ Bindings: Env }>();

// Readiness, not mere liveness: 503 with every configuration problem until the worker can admit anyone.
app.get("/healthz", async (c) => {
  const problems = await readinessProblems(c.env);
  // The gateway's clock, for `gatehouse doctor` (tokens are checked against it).
  c.header("date", new Date().toUTCString());
  const version = { version: WORKER_RELEASE, protocol: `gatehouse.v${TUNNEL_PROTOCOL_VERSION}` };
  return problems.length === 0 ? c.json({ ok: true, ready: true, ...version }) : c.json({ ok: false, ready: false, error: "misconfigured", errors: problems, ...version }, 503);
});
// Client routes refuse up front while misconfigured (connectors may still attach and wait).
app.use("/v1/*", async (c, next) => {
  if (new URL(c.req.url).pathname.startsWith("/v1/connector/")) return next();
  const problems = await readinessProblems(c.env);
  if (problems.length > 0) throw notReady(problems);
  return next();
});
// Hosted mode: the routes that serve anyone (sign-in, connector enrolment, the published audit keys)
// draw on the tenant's `anonymous` API bucket — and their client address's share of it — before they
// do any work; the others are charged to its
// `callers` bucket once their caller is authenticated (worker/limits/api-rate.ts).
app.use("*", async (c, next) => {
  if (!c.env.TENANT || !isAnonymousApiRoute(c.req.method, c.req.path)) return next();
  const refused = await chargeAnonymousCall(c.env, c.req.raw, c.req.path);
  if (refused) return refused;
  return next();
});
app.get("/.well-known/gatehouse-audit-keys", auditKeysHandler);
app.route("/v1/sessions", createSessionsApi({ requireRole }));
app.route("/v1/connector", connectorRoutes);
app.route("/v1/admin", adminRoutes);
app.get("/v1/approvals/:id", approvalPage);
app.get("/v1/grants/:id", approvalPage);
app.route("/v1/approvals", approvalRoutes);
app.route("/v1/grants", grantRoutes);
app.route("/v1", tunnelRoutes);
// People: sign-in (OIDC / SAML) and the web console (docs/CONSOLE.md).
// `/console/` (where sign-in lands by default) is not the sub-app's "/" under strict routing: sent on
// to the approvals page, which asks for a sign-in itself.
app.get("/console/", (c) => c.redirect("/console/approvals", 303));
app.route("/console", consoleRoutes);
app.route("/", signinRoutes);

app.notFound((c) => c.json({ error: "not_found", reason: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` }, 404));

// Typed errors become HTTP responses only here, at the boundary.
app.onError((err, c) => {
  // A rate-limit answer made deeper in (a charged registry lookup or cookie check: worker/limits/api-rate.ts), sent as is.
  if (err instanceof RefusedByRateLimit) return err.response;
  if (err instanceof GatewayError) return c.json({ error: err.code, reason: err.message }, err.status);
  if (err instanceof ConfigurationError) return c.json({ error: "misconfigured", reason: err.message }, 503);
  console.error("gatehouse: unhandled error", err);
  return c.json({ error: "internal", reason: "internal error" }, 500);
});

/**
 * Entry point. GATEHOUSE_TENANCY=multi puts the tenant boundary (worker/tenancy/boundary.ts) in
 * front of `app`; single-tenant (the default) is `app` itself.
 */
export default {
  fetch(request: Request, env: HostedEnv, ctx: ExecutionContext): Response | Promise<Response> {
    return serveHosted(app, request, env, ctx);
  },
};
