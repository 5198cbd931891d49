/**
 * The platform's registry of tenants (the `platform` TenantStore): create, list, show. The
 * boundary reads a tenant's record per request through a short per-isolate cache.
 */
import type { TenantRecord } from "./tenant-record.ts";

const SCHEMA = `CREATE TABLE IF NOT EXISTS tenants (name TEXT PRIMARY KEY, record TEXT NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS platform_audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, tenant TEXT, outcome TEXT NOT NULL, detail TEXT NOT NULL)`;
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
 * Replaces a record if it is still `expected` (compare-and-set: two administrators changing the
 * same tenant at once cannot both win); false when someone else changed it first.
 */
export async function replaceTenant(db: D1Database, expected: TenantRecord, next: TenantRecord): Promise<boolean> {
  await ensure(db);
  const text = JSON.stringify(next);
  await db.prepare("UPDATE tenants SET record = ? WHERE name = ? AND record = ?").bind(text, expected.name, JSON.stringify(expected)).run();
  const row = await db.prepare("SELECT record FROM tenants WHERE name = ?").bind(expected.name).first<{ record: string }>();
  forgetTenant(expected.name);
  return row?.record === text;
}

export interface PlatformAuditEntry {
  at: number;
  actor: string;
  action: string;
  tenant: string | null;
  /** "ok" or the refusal's error code. */
  outcome: string;
  detail: Record<string, unknown>;
}

/** The platform audit log: every platform administrator's action, allowed or refused. */
export async function recordPlatformAction(db: D1Database, e: PlatformAuditEntry): Promise<void> {
  await ensure(db);
  await db
    .prepare("INSERT INTO platform_audit (at, actor, action, tenant, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)")
    .bind(e.at, e.actor.slice(0, 300), e.action, e.tenant, e.outcome.slice(0, 60), JSON.stringify(e.detail).slice(0, 2000))
    .run();
}

export async function listPlatformActions(db: D1Database, limit = 200): Promise<PlatformAuditEntry[]> {
  await ensure(db);
  const rows = await db.prepare("SELECT * FROM platform_audit ORDER BY id DESC LIMIT ?").bind(limit).all<Record<string, unknown>>();
  return rows.results.map((r) => ({ at: r.at as number, actor: r.actor as string, action: r.action as string, tenant: (r.tenant as string | null) ?? null, outcome: r.outcome as string, detail: JSON.parse(r.detail as string) as Record<string, unknown> }));
}

/** Stores a new tenant; false when the name is taken (names are never reused or overwritten). */
export async function insertTenant(db: D1Database, record: TenantRecord): Promise<boolean> {
  await ensure(db);
  const text = JSON.stringify(record);
  await db.prepare("INSERT OR IGNORE INTO tenants (name, record, created_at) VALUES (?, ?, ?)").bind(record.name, text, record.createdAt).run();
  // Ours only if the stored row is ours (the adapters' change counts include index writes).
  const row = await db.prepare("SELECT record FROM tenants WHERE name = ?").bind(record.name).first<{ record: string }>();
  return row?.record === text;
}

export async function listTenants(db: D1Database): Promise<TenantRecord[]> {
  await ensure(db);
  const rows = await db.prepare("SELECT record FROM tenants ORDER BY name").all<{ record: string }>();
  return rows.results.map((r) => JSON.parse(r.record) as TenantRecord);
}

export async function readTenant(db: D1Database, name: string): Promise<TenantRecord | null> {
  await ensure(db);
  const row = await db.prepare("SELECT record FROM tenants WHERE name = ?").bind(name).first<{ record: string }>();
  return row ? (JSON.parse(row.record) as TenantRecord) : null;
}

/**
 * How long a tenant's record is trusted from this isolate's cache. A change made through this
 * isolate is seen at once (forgetTenant); other isolates see it within this time.
 */
const CACHE_MS = 10_000;
const cache = new Map<string, { at: number; record: Promise<TenantRecord | null> }>();

export function cachedTenant(db: D1Database, name: string, now = Date.now()): Promise<TenantRecord | null> {
  const hit = cache.get(name);
  if (hit && now - hit.at < CACHE_MS) return hit.record;
  const record = readTenant(db, name);
  cache.set(name, { at: now, record });
  record.then(
    (r) => {
      // An unknown name is not remembered: the tenant may be created a moment later.
      if (r === null && cache.get(name)?.record === record) cache.delete(name);
    },
    () => cache.delete(name),
  );
  return record;
}

/** Drops this isolate's cached record (after an update, suspension or deletion). */
export function forgetTenant(name: string): void {
  cache.delete(name);
}
