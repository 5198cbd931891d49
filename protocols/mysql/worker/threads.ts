/**
 * KILL QUERY through the gateway (the `mariadb` client's Ctrl-C): the client opens a second
 * connection and sends `KILL QUERY <thread id>`, the id the listener's greeting gave the first
 * connection. The listener makes that id random per connection and tells the worker (a connection
 * attribute in the session start); the session registers it here, scoped to its identity. A KILL
 * in another session finds the session by (id, identity) only — never another identity's session,
 * never a real server thread id — and cancels it as a PostgreSQL CancelRequest does (the session's
 * connector kills the server thread it opened, with the same account).
 *
 * Stored in the cancel-key table PostgreSQL uses (`pid` = the greeting's thread id, `secret` = a
 * hash of the identity, so one identity's ids cannot collide with another's key).
 */
import type { Env } from "../../../worker/env.ts";
import type { Identity } from "../../../parsers/identity.ts";
import { ensureSchema } from "../../../worker/storage/schema.ts";
import { THREAD_ATTRIBUTE } from "../codec/constants.ts";

export { THREAD_ATTRIBUTE };

export interface MysqlThreads {
  register(threadId: number): Promise<void>;
  /** Cancel the running statement of this identity's session greeted with this id; false when there is none. */
  killQuery(threadId: number): Promise<boolean>;
}

/** 31-bit FNV-1a of the identity: the `secret` column. */
function identityKey(identity: Identity): number {
  let h = 0x811c9dc5;
  for (const ch of new TextEncoder().encode(`mysql-thread\n${identity.issuer}\n${identity.subject}`)) {
    h ^= ch;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h & 0x7fffffff;
}

export function isThreadId(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v > 0 && v < 2 ** 31;
}

export function mysqlThreads(env: Env, sessionId: string, identity: Identity): MysqlThreads {
  const secret = identityKey(identity);
  return {
    async register(threadId) {
      await ensureSchema(env.DB);
      // A taken id (another session of the same identity chose it) keeps its owner: no takeover.
      await env.DB.prepare("INSERT OR IGNORE INTO cancel_keys (pid, secret, session_id, issuer, subject, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(threadId, secret, sessionId, identity.issuer, identity.subject, Date.now())
        .run();
    },
    async killQuery(threadId) {
      await ensureSchema(env.DB);
      const row = await env.DB.prepare("SELECT session_id FROM cancel_keys WHERE pid = ? AND secret = ? AND issuer = ? AND subject = ?")
        .bind(threadId, secret, identity.issuer, identity.subject)
        .first<{ session_id: string }>();
      if (!row || row.session_id === sessionId) return false;
      const stub = env.SESSIONS.get(env.SESSIONS.idFromName(row.session_id));
      return await stub.cancel({ issuer: identity.issuer, subject: identity.subject });
    },
  };
}
