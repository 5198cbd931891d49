/**
 * The web console at /console/: server-rendered pages for people (approvers, auditors, admins),
 * signed in through worker/signin/. Every page and action checks the console session; roles are
 * checked per page (approvals: the API's visibility rules; sessions and review: `auditor`).
 * Errors become HTML pages here (the API keeps its JSON errors).
 */
import { Hono } from "hono";
import { ConfigurationError, GatewayError } from "../errors.ts";
import { consoleIdentity, type ConsoleEnv } from "../signin/session.ts";
import { RefusedByRateLimit } from "../limits/api-rate.ts";
import { consoleApprovals } from "./approvals.ts";
import { consoleSessions } from "./sessions.ts";
import { consoleGrants, consoleReview } from "./review.ts";
import { ASSETS } from "./assets.ts";
import { html, page } from "./html.ts";
import { whoOf } from "./who.ts";

export const consoleRoutes = new Hono<ConsoleEnv>();

consoleRoutes.get("/assets/:name", (c) => {
  const asset = ASSETS[c.req.param("name")];
  if (!asset) return c.text("not found", 404);
  return c.body(asset.body, 200, { "content-type": asset.type, "cache-control": "public, max-age=300", "x-content-type-options": "nosniff" });
});
consoleRoutes.use("*", consoleIdentity());
consoleRoutes.get("/", (c) => c.redirect("/console/approvals", 303));
consoleRoutes.route("/approvals", consoleApprovals);
consoleRoutes.route("/sessions", consoleSessions);
consoleRoutes.route("/review", consoleReview);
consoleRoutes.route("/grants", consoleGrants);

consoleRoutes.onError(async (err, c) => {
  // The API rate limit's answer (JSON 429/503 + Retry-After), as for every refused console call.
  if (err instanceof RefusedByRateLimit) return err.response;
  if (err instanceof GatewayError) {
    const status = ([400, 403, 404, 409] as const).find((s) => s === err.status) ?? 400;
    // Signed in: the page keeps its navigation (and sign-out) around the refusal.
    const who = c.var.consoleSession ? await whoOf(c).catch(() => undefined) : undefined;
    return page(c, { title: status === 403 ? "Not allowed" : status === 404 ? "Not found" : "Refused", who, body: html`<p role="alert">${err.message}</p><p><a href="/console/">Back to the console</a></p>` }, status);
  }
  if (err instanceof ConfigurationError) return page(c, { title: "Gateway misconfigured", body: html`<p role="alert">${err.message}</p>` }, 503);
  console.error("console:", err);
  return page(c, { title: "Error", body: html`<p role="alert">Internal error.</p>` }, 500);
});
