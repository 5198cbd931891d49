/**
 * Per-tenant usage counters (for billing and limits) and the log of refused requests, both in the
 * tenant's own store. Each counter is kept twice: its total since the tenant was created (what the
 * limits count: max_recording_bytes and max_approval_requests are totals) and its value per
 * billing period — the calendar month in UTC (`2026-12`), the period an increment's clock falls
 * in. An increment is one transaction in the tenant's store: the total is checked against the
 * limit and raised in one conditional UPDATE, and the period's row is raised only if it was — so
 * concurrent requests can neither both pass the last unit of a limit nor lose an update.
 */
import { GatewayError } from "../errors.ts";

const SCHEMA = `CREATE TABLE IF NOT EXISTS tenant_usage (counter TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tenant_usage_periods (period TEXT NOT NULL, counter TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (period, counter));
CREATE TABLE IF NOT EXISTS tenant_refusals (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, via TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, error TEXT NOT NULL, reason TEXT NOT NULL, token_issuer TEXT, token_audience TEXT, token_subject TEXT, connector TEXT, token_tenant TEXT)`;

export type UsageCounter = "sessions_started" | "recording_bytes" | "approval_requests" | "requests_rate_limited" | "session_starts_rate_limited" | "api_requests_refused";
export const USAGE_COUNTERS: readonly UsageCounter[] = ["sessions_started", "recording_bytes", "approval_requests", "requests_rate_limited", "session_starts_rate_limited", "api_requests_refused"];

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

/** `YYYY-MM`: a billing period, the calendar month in UTC. */
export const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;

/** `?period=YYYY-MM` (a calendar month, UTC), or every period when absent. */
export function periodQuery(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  if (!PERIOD.test(value)) throw new GatewayError(400, "bad_request", "period must be a calendar month YYYY-MM (UTC)");
  return value;
}

/** The billing period (calendar month, UTC) that the instant `at` (ms) falls in. */
export function periodOf(at: number): string {
  return new Date(at).toISOString().slice(0, 7);
}

/** First and last instant of a period, as ISO strings ([from, to): `to` is the next period's start). */
export function periodBounds(period: string): { from: string; to: string } {
  const [y, m] = period.split("-").map(Number) as [number, number];
  return { from: new Date(Date.UTC(y, m - 1, 1)).toISOString(), to: new Date(Date.UTC(y, m, 1)).toISOString() };
}

/**
 * Adds `amount` unless the total would pass `limit` (null = no limit), in the total and in the
 * period `now` falls in. Returns whether it was counted and the total after (or the unchanged
 * total when refused). `now` is the clock (tests give it; periods roll over with it).
 */
export async function addUsage(db: D1Database, counter: UsageCounter, amount: number, limit: number | null, now = Date.now()): Promise<{ ok: boolean; value: number }> {
  await ensure(db);
  // One transaction (the store's batch): changes() is the conditional UPDATE's — 1 when counted.
  const [, updated] = await db.batch<{ value: number }>([
    db.prepare("INSERT OR IGNORE INTO tenant_usage (counter, value) VALUES (?, 0)").bind(counter),
    db.prepare("UPDATE tenant_usage SET value = value + ? WHERE counter = ? AND (? IS NULL OR value + ? <= ?) RETURNING value").bind(amount, counter, limit, amount, limit),
    db
      .prepare("INSERT INTO tenant_usage_periods (period, counter, value) SELECT ?, ?, ? WHERE changes() > 0 ON CONFLICT (period, counter) DO UPDATE SET value = value + excluded.value")
      .bind(periodOf(now), counter, amount),
  ]);
  const row = updated?.results[0];
  if (row) return { ok: true, value: row.value };
  const total = await db.prepare("SELECT value FROM tenant_usage WHERE counter = ?").bind(counter).first<{ value: number }>();
  return { ok: false, value: total?.value ?? 0 };
}

export interface UsagePeriod {
  period: string;
  from: string;
  to: string;
  counters: Record<UsageCounter, number>;
}

const zeroes = () => Object.fromEntries(USAGE_COUNTERS.map((c) => [c, 0])) as Record<UsageCounter, number>;

/**
 * The tenant's usage per period, newest first: one period (`period`, zeroes when nothing was
 * counted in it) or the last `limit` periods that counted anything.
 */
export async function readUsagePeriods(db: D1Database, period?: string, limit = 36): Promise<UsagePeriod[]> {
  await ensure(db);
  const rows = period
    ? await db.prepare("SELECT period, counter, value FROM tenant_usage_periods WHERE period = ?").bind(period).all<{ period: string; counter: string; value: number }>()
    : await db
        .prepare("SELECT period, counter, value FROM tenant_usage_periods WHERE period IN (SELECT DISTINCT period FROM tenant_usage_periods ORDER BY period DESC LIMIT ?)")
        .bind(limit)
        .all<{ period: string; counter: string; value: number }>();
  const byPeriod = new Map<string, Record<UsageCounter, number>>();
  if (period) byPeriod.set(period, zeroes());
  for (const r of rows.results) {
    if (!(USAGE_COUNTERS as readonly string[]).includes(r.counter)) continue;
    let counters = byPeriod.get(r.period);
    if (!counters) byPeriod.set(r.period, (counters = zeroes()));
    counters[r.counter as UsageCounter] = r.value;
  }
  return [...byPeriod.entries()].sort(([a], [b]) => (a < b ? 1 : -1)).map(([p, counters]) => ({ period: p, ...periodBounds(p), counters }));
}

/** What the usage endpoints answer (platform and tenant admin alike). */
export async function usageReport(db: D1Database, period: string | undefined, now = Date.now()) {
  return {
    period_kind: "calendar month, UTC",
    current_period: periodOf(now),
    totals: await readUsage(db),
    periods: await readUsagePeriods(db, period),
  };
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

export async function recordRefusal(db: D1Database, r: Refusal, keep = MAX_REFUSAL_ROWS): Promise<void> {
  await ensure(db);
  await db
    .prepare(
      "INSERT INTO tenant_refusals (at, via, method, path, status, error, reason, token_issuer, token_audience, token_subject, connector, token_tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(r.at, r.via, r.method, r.path.slice(0, 300), r.status, r.error.slice(0, 60), r.reason.slice(0, 300), r.tokenIssuer, r.tokenAudience, r.tokenSubject, r.connector, r.tokenTenant)
    .run();
  // The log keeps the newest MAX_REFUSAL_ROWS rows: a flood cannot grow the tenant's store without bound.
  await db.prepare("DELETE FROM tenant_refusals WHERE id <= (SELECT MAX(id) FROM tenant_refusals) - ?").bind(keep).run();
}

/** How many rows the refusal log keeps (the oldest go first). */
export const MAX_REFUSAL_ROWS = 10_000;

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
