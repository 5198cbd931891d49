/**
 * GET /.well-known/gatehouse-audit-keys — every public key that ever signed (or may sign) audit
 * checkpoints: `{ keys: [{ kid, kty, crv, x, created, status: active|retired }] }`. Public, no
 * authentication: verifiers need it, and it holds no secret.
 */
import type { Context } from "hono";
import type { AuditEnv } from "../audit/env.ts";
import { publishedAuditKeys } from "../audit/keys.ts";

export async function auditKeysResponse(env: Pick<AuditEnv, "DB" | "GATEHOUSE_AUDIT_KEYS">): Promise<Response> {
  try {
    const keys = await publishedAuditKeys(env);
    return new Response(JSON.stringify({ keys }), {
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=300" },
    });
  } catch {
    // Misconfigured keys must not look like "no keys": verifiers would then fail for the wrong reason.
    return new Response(JSON.stringify({ error: "audit_keys_unavailable" }), { status: 503, headers: { "content-type": "application/json" } });
  }
}

/** Hono handler: `app.get("/.well-known/gatehouse-audit-keys", auditKeysHandler)`. */
export function auditKeysHandler(c: Context<{ Bindings: AuditEnv }>): Promise<Response> {
  return auditKeysResponse(c.env);
}
