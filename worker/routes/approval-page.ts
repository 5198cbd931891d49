/**
 * The approval link in a held statement's NOTICE (`…/v1/approvals/apr_…`) opened in a browser:
 * a browser sends no bearer token, so instead of the API's 401 JSON it gets a plain-text page that
 * says how to decide the request. The page holds nothing but the id already in the link; API
 * clients (any Authorization header, or no text/html in Accept) get the API as before.
 */
import type { Context, Next } from "hono";
import type { AppEnv } from "../auth/bearer-identity.ts";

const ID = /^(apr|grt)_[a-z2-9]{16}$/;

export function wantsApprovalPage(headers: Headers): boolean {
  return !headers.has("authorization") && /\btext\/html\b/.test(headers.get("accept") ?? "");
}

export function approvalPageText(id: string): string {
  const grant = id.startsWith("grt_");
  return [
    `Gatehouse ${grant ? "access grant request" : "approval request"} ${id}`,
    "",
    `This link names a request waiting for a human decision. There is no web console yet: decide`,
    `it with the gatehouse CLI, using an identity the policy lets approve (the requester cannot):`,
    "",
    `  gatehouse approvals show ${id}`,
    `  gatehouse approvals approve ${id}`,
    `  gatehouse approvals deny ${id} --reason "why"`,
    "",
    grant ? "The requester sees its state with: gatehouse access list" : "The client that sent the statement waits until it is decided, withdrawn or expires.",
    "Locally (npm start): export GATEHOUSE_TOKEN=$(gatehouse dev token --sub bob --claim groups=approvers)",
    "More: docs/APPROVALS.md",
    "",
  ].join("\n");
}

export async function approvalPage(c: Context<AppEnv>, next: Next) {
  const id = c.req.param("id") ?? "";
  if (!ID.test(id) || !wantsApprovalPage(c.req.raw.headers)) return next();
  return c.text(approvalPageText(id), 200, { "cache-control": "no-store", "x-content-type-options": "nosniff" });
}
