/**
 * REST access to recorded sessions, for auditors only (policy role `auditor`). Mounted by the
 * worker at /v1/sessions:
 *
 *   GET /v1/sessions?identity=&resource=&from=&to=&outcome=&limit=&before=   the session index
 *   GET /v1/sessions/:id                                                     one index row
 *   GET /v1/sessions/:id/export                                              JSON Lines trail (the verifiable form)
 *   GET /v1/sessions/:id/verify                                              server-side verification result
 *
 * Times are epoch milliseconds or ISO 8601. The export is the concatenation of the chunks in R2;
 * a session still running exports only its sealed chunks.
 */
import { GatewayError } from "../errors.ts";
import { Hono, type MiddlewareHandler } from "hono";
import { verifyTrailText } from "../../parsers/audit/index.ts";
import { readExport, streamExport } from "../audit/chunk-store.ts";
import type { AuditEnv } from "../audit/env.ts";
import { publishedAuditKeys } from "../audit/keys.ts";
import { getSession, listSessions, MAX_LIST_LIMIT, type SessionListFilter } from "../audit/session-index.ts";
import { isValidSessionId } from "../audit/storage-keys.ts";

export interface SessionsApiDeps {
  /** Verifies the caller (OIDC bearer) and that policy grants it `role`; provided by the worker. */
  requireRole: (role: string) => MiddlewareHandler;
}

export const AUDITOR_ROLE = "auditor";

class BadRequest extends Error {}

/** Epoch ms or ISO 8601 → epoch ms. */
export function parseTime(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (/^\d{1,15}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new BadRequest(`${name} must be epoch milliseconds or an ISO 8601 time`);
  return t;
}

export function createSessionsApi(deps: SessionsApiDeps) {
  if (!deps || typeof deps.requireRole !== "function") throw new TypeError("createSessionsApi: deps.requireRole is required");
  const app = new Hono<{ Bindings: AuditEnv }>();
  app.use("*", deps.requireRole(AUDITOR_ROLE));

  app.onError((err, c) => {
    if (err instanceof BadRequest) return c.json({ error: "bad_request", reason: err.message }, 400);
    // Admission errors (401/403 from requireRole) keep their status and one-line reason.
    if (err instanceof GatewayError) return c.json({ error: err.code, reason: err.message }, err.status);
    console.error("sessions api:", err);
    return c.json({ error: "internal_error" }, 500);
  });

  app.get("/", async (c) => {
    const q = c.req.query();
    const limit = q.limit === undefined ? undefined : Number(q.limit);
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT)) {
      throw new BadRequest(`limit must be an integer in 1..${MAX_LIST_LIMIT}`);
    }
    const filter: SessionListFilter = {
      identity: q.identity || undefined,
      resource: q.resource || undefined,
      from: parseTime(q.from, "from"),
      to: parseTime(q.to, "to"),
      before: parseTime(q.before, "before"),
      outcome: q.outcome || undefined,
      limit,
    };
    const sessions = await listSessions(c.env.DB, filter);
    const max = filter.limit ?? 100;
    const next = sessions.length === max ? String(sessions[sessions.length - 1].started_at) : undefined;
    return c.json({ sessions, ...(next ? { next_before: next } : {}) });
  });

  const withSession = (id: string) => {
    if (!isValidSessionId(id)) throw new BadRequest("invalid session id");
    return id;
  };

  app.get("/:id", async (c) => {
    const id = withSession(c.req.param("id"));
    const row = await getSession(c.env.DB, id);
    if (!row) return c.json({ error: "not_found" }, 404);
    return c.json({ session: row });
  });

  app.get("/:id/export", async (c) => {
    const id = withSession(c.req.param("id"));
    const row = await getSession(c.env.DB, id);
    if (!row) return c.json({ error: "not_found" }, 404);
    return new Response(streamExport(c.env.RECORDINGS, id), {
      headers: {
        "content-type": "application/x-ndjson; charset=utf-8",
        "content-disposition": `attachment; filename="gatehouse-session-${id}.jsonl"`,
        "gatehouse-session-status": row.status,
        "gatehouse-chunks": String(row.chunks),
      },
    });
  });

  app.get("/:id/verify", async (c) => {
    const id = withSession(c.req.param("id"));
    const row = await getSession(c.env.DB, id);
    if (!row) return c.json({ error: "not_found" }, 404);
    const [{ text }, keys] = await Promise.all([readExport(c.env.RECORDINGS, id), publishedAuditKeys(c.env)]);
    const ended = row.status !== "open";
    const result = await verifyTrailText(text, {
      keys,
      sessionId: id,
      requireComplete: ended,
      // The index only knows the final chunk count once the session ended.
      expectedChunks: ended ? row.chunks : undefined,
    });
    return c.json({ session: id, status: row.status, indexed_complete: row.complete, ...result });
  });

  return app;
}
