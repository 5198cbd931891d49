/**
 * PostgreSQL's cancel keys: the synthetic (pid, secret) handed to the client in BackendKeyData.
 * A client's CancelRequest arrives on a new connection (POST /v1/cancel); the key finds the session.
 */
import type { Env } from "../../../worker/env.ts";
import type { Identity } from "../../../parsers/identity.ts";
import { ensureSchema } from "../../../worker/storage/schema.ts";

export async function registerCancelKey(env: Env, sessionId: string, identity: Identity, pid: number, secret: number): Promise<void> {
  await ensureSchema(env.DB);
  await env.DB.prepare("INSERT INTO cancel_keys (pid, secret, session_id, issuer, subject, created_at) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(pid, secret, sessionId, identity.issuer, identity.subject, Date.now())
    .run();
}

export async function forgetCancelKeys(env: Env, sessionId: string): Promise<void> {
  await ensureSchema(env.DB);
  await env.DB.prepare("DELETE FROM cancel_keys WHERE session_id = ?").bind(sessionId).run();
}
