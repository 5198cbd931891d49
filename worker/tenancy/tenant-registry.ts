/**
 * The platform's registry of tenants (the `platform` TenantStore): create, list, show. The
 * boundary reads a tenant's record per request through a short per-isolate cache.
 */
import type { TenantRecord } from "./tenant-record.ts";

const SCHEMA = "CREATE TABLE IF NOT EXISTS tenants (name TEXT PRIMARY KEY, record TEXT NOT NULL, created_at INTEGER NOT NULL)";
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

/** How long a tenant's record is trusted from this isolate's cache (records are immutable once created). */
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
