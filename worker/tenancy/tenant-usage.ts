/**
 * Per-tenant usage counters (for billing and limits) and the log of refused requests, both in the
 * tenant's own store. A counter is incremented and checked in one statement, so concurrent
 * requests cannot both pass the last unit of a limit.
 */
const SCHEMA = `CREATE TABLE IF NOT EXISTS tenant_usage (counter TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tenant_refusals (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, via TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, error TEXT NOT NULL, reason TEXT NOT NULL, token_issuer TEXT, token_audience TEXT, token_subject TEXT, connector TEXT, token_tenant TEXT)`;

export type UsageCounter = "sessions_started" | "recording_bytes" | "approval_requests" | "requests_rate_limited" | "session_starts_rate_limited";
export const USAGE_COUNTERS: readonly UsageCounter[] = ["sessions_started", "recording_bytes", "approval_requests", "requests_rate_limited", "session_starts_rate_limited"];

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

/**
 * Adds `amount` unless that would pass `limit` (null = no limit). Returns whether it was counted
 * and the value after (or the unchanged value when refused).
 */
export async function addUsage(db: D1Database, counter: UsageCounter, amount: number, limit: number | null): Promise<{ ok: boolean; value: number }> {
  await ensure(db);
  await db.prepare("INSERT OR IGNORE INTO tenant_usage (counter, value) VALUES (?, 0)").bind(counter).run();
  const row = await db
    .prepare("UPDATE tenant_usage SET value = value + ? WHERE counter = ? AND (? IS NULL OR value + ? <= ?) RETURNING value")
    .bind(amount, counter, limit, amount, limit)
    .first<{ value: number }>();
  if (row) return { ok: true, value: row.value };
  const now = await db.prepare("SELECT value FROM tenant_usage WHERE counter = ?").bind(counter).first<{ value: number }>();
  return { ok: false, value: now?.value ?? 0 };
}

export async function readUsage(db: D1Database): Promise<Record<UsageCounter, number>> {
  await ensure(db);
  const rows = await db.prepare("SELECT counter, value FROM tenant_usage").all<{ counter: string; value: number }>();
  const out = Object.fromEntries(USAGE_COUNTERS.map((c) => [c, 0])) as Record<UsageCounter, number>;
  for (const r of rows.results) if ((USAGE_COUNTERS as readonly string[]).includes(r.counter)) out[r.counter as UsageCounter] = r.value;
  return out;
}

export interface Refusal {
  at: number;
  via: string;
  method: string;
  path: string;
  status: number;
  error: string;
  reason: string;
  tokenIssuer: string | null;
  tokenAudience: string | null;
  tokenSubject: string | null;
  /** Connector id (assertion kid) when a connector was refused. */
  connector: string | null;
  /** The tenant whose (issuer, audience) the presented token was minted for, when it is another one. */
  tokenTenant: string | null;
}

export async function recordRefusal(db: D1Database, r: Refusal): Promise<void> {
  await ensure(db);
  await db
    .prepare(
      "INSERT INTO tenant_refusals (at, via, method, path, status, error, reason, token_issuer, token_audience, token_subject, connector, token_tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(r.at, r.via, r.method, r.path.slice(0, 300), r.status, r.error.slice(0, 60), r.reason.slice(0, 300), r.tokenIssuer, r.tokenAudience, r.tokenSubject, r.connector, r.tokenTenant)
    .run();
}

export async function listRefusals(db: D1Database, limit = 200): Promise<Refusal[]> {
  await ensure(db);
  const rows = await db.prepare("SELECT * FROM tenant_refusals ORDER BY id DESC LIMIT ?").bind(limit).all<Record<string, unknown>>();
  return rows.results.map((r) => ({
    at: r.at as number,
    via: r.via as string,
    method: r.method as string,
    path: r.path as string,
    status: r.status as number,
    error: r.error as string,
    reason: r.reason as string,
    tokenIssuer: (r.token_issuer as string | null) ?? null,
    tokenAudience: (r.token_audience as string | null) ?? null,
    tokenSubject: (r.token_subject as string | null) ?? null,
    connector: (r.connector as string | null) ?? null,
    tokenTenant: (r.token_tenant as string | null) ?? null,
  }));
}

/**
 * Hosted mode: why a new session cannot be recorded (the tenant's recording bytes are used up),
 * or null. Checked before a session starts; TenantR2 enforces the same limit on every write.
 */
export async function recordingLimitReached(env: { DB: D1Database; TENANT?: { limits: { maxRecordingBytes: number | null } } }): Promise<string | null> {
  const limit = env.TENANT?.limits.maxRecordingBytes;
  if (limit === undefined || limit === null) return null;
  const used = (await readUsage(env.DB)).recording_bytes;
  return used >= limit ? `gatehouse: the tenant's recording limit (${limit} bytes) is reached: sessions cannot be recorded` : null;
}
