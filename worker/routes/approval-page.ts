/**
 * The approval link in a held statement's NOTICE or a notification (`…/v1/approvals/apr_…`) opened
 * in a browser: a browser sends no bearer token, so instead of the API's 401 JSON it is sent to
 * the request's page in the web console (which signs the person in first, then comes back). API
 * clients (any Authorization header, or no text/html in Accept) get the API as before.
 */
import type { Context, Next } from "hono";
import type { AppEnv } from "../auth/bearer-identity.ts";

const ID = /^(apr|grt)_[a-z2-9]{16}$/;

export function wantsApprovalPage(headers: Headers): boolean {
  return !headers.has("authorization") && /\btext\/html\b/.test(headers.get("accept") ?? "");
}

export async function approvalPage(c: Context<AppEnv>, next: Next) {
  const id = c.req.param("id") ?? "";
  if (!ID.test(id) || !wantsApprovalPage(c.req.raw.headers)) return next();
  return c.redirect(`/console/approvals/${id}`, 303);
}
