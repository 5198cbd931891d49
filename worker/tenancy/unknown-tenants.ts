/**
 * Requests that name no tenant that exists (hosted mode), logged at the platform level: an
 * unknown but well-formed name, a spelling that is not a tenant name (case, Unicode, encoding,
 * host and path disagreeing), or a deleted tenant — and refused platform administration calls
 * (kind platform-auth). Bounded on purpose — the callers are anyone on
 * the internet:
 *
 *  - aggregated per isolate in memory and written at most once a second (one write for a flood,
 *    not one per request, so it cannot make the platform store a hot spot for everyone);
 *  - one row per (kind, name) with a count, first and last time and the last path;
 *  - at most MAX_IN_MEMORY distinct names wait in memory (the rest are counted under "(other)"),
 *    and at most MAX_ROWS rows are kept (the least recently seen go first).
 */
/** platform-auth: a refused platform administration call (name: the token's unverified issuer and subject). */
export type UnknownKind = "unknown" | "invalid" | "deleted" | "platform-auth";

interface Pending {
  kind: UnknownKind;
  name: string;
  count: number;
  firstAt: number;
  lastAt: number;
  path: string;
  via: string;
}

export const MAX_IN_MEMORY = 100;
export const MAX_ROWS = 1000;
const FLUSH_AFTER_MS = 1000;

const SCHEMA = `CREATE TABLE IF NOT EXISTS unknown_tenant_requests (key TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, count INTEGER NOT NULL, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, last_path TEXT NOT NULL, via TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS unknown_tenant_requests_last ON unknown_tenant_requests (last_at)`;

const ready = new WeakMap<D1Database, Promise<unknown>>();
function ensure(db: D1Database): Promise<unknown> {
  let p = ready.get(db);
  if (!p) {
    p = db.exec(SCHEMA);
    ready.set(db, p);
    p.catch(() => ready.delete(db));
  }
  return p;
}

const pending = new Map<string, Pending>();
let scheduled = false;

/** Notes one request; the write happens in the background within a second. */
export function noteUnknownTenant(db: D1Database, ctx: { waitUntil(p: Promise<unknown>): void }, what: { kind: UnknownKind; name: string; path: string; via: string }, now = Date.now()): void {
  // Names are attacker-chosen: kept short and printable.
  const name = JSON.stringify(what.name.slice(0, what.kind === "platform-auth" ? 200 : 64)).slice(1, -1);
  let key = `${what.kind}:${name}`;
  if (!pending.has(key) && pending.size >= MAX_IN_MEMORY) key = `${what.kind}:(other)`;
  const p = pending.get(key);
  if (p) {
    p.count++;
    p.lastAt = now;
    p.path = what.path.slice(0, 200);
  } else pending.set(key, { kind: what.kind, name: key.slice(what.kind.length + 1), count: 1, firstAt: now, lastAt: now, path: what.path.slice(0, 200), via: what.via });
  if (scheduled) return;
  scheduled = true;
  ctx.waitUntil(
    new Promise((r) => setTimeout(r, FLUSH_AFTER_MS))
      .then(() => flushUnknownTenants(db))
      .catch((e) => console.error("gatehouse: could not log requests to unknown tenants", e)),
  );
}

export async function flushUnknownTenants(db: D1Database): Promise<void> {
  scheduled = false;
  const batch = [...pending.entries()];
  pending.clear();
  if (batch.length === 0) return;
  await ensure(db);
  await db.batch(
    batch.map(([key, p]) =>
      db
        .prepare(
          "INSERT INTO unknown_tenant_requests (key, kind, name, count, first_at, last_at, last_path, via) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET count = count + excluded.count, last_at = excluded.last_at, last_path = excluded.last_path, via = excluded.via",
        )
        .bind(key, p.kind, p.name, p.count, p.firstAt, p.lastAt, p.path, p.via),
    ),
  );
  await db.prepare("DELETE FROM unknown_tenant_requests WHERE key NOT IN (SELECT key FROM unknown_tenant_requests ORDER BY last_at DESC LIMIT ?)").bind(MAX_ROWS).run();
}

export async function listUnknownTenantRequests(db: D1Database): Promise<{ requests: Array<{ kind: string; name: string; count: number; first_at: string; last_at: string; last_path: string; via: string }> }> {
  await ensure(db);
  const rows = await db.prepare("SELECT * FROM unknown_tenant_requests ORDER BY last_at DESC LIMIT ?").bind(MAX_ROWS).all<Record<string, unknown>>();
  return {
    requests: rows.results.map((r) => ({
      kind: r.kind as string,
      name: r.name as string,
      count: r.count as number,
      first_at: new Date(r.first_at as number).toISOString(),
      last_at: new Date(r.last_at as number).toISOString(),
      last_path: r.last_path as string,
      via: r.via as string,
    })),
  };
}
