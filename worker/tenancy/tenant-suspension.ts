/**
 * The suspension as the tenant's own objects see it (hosted mode): a row in the tenant's own
 * database, written by the platform's suspend before it lists the sessions to end, and cleared by
 * resume. A session checks it right after registering in the session index (the same database):
 * either its row was there when the suspend listed the open sessions (and it is ended with them),
 * or it registered after — after the marker was written — and finds the marker and ends itself.
 * Both sides write first and read second in one database that runs one statement at a time, so no
 * session falls between the two (docs/TENANCY.md "Lifecycle").
 *
 * The row carries the tenant record's version it was told (tenant-sync.ts): one conditional
 * statement writes it only when the told version is not older than the stored one, so a late
 * resume cannot clear the marker of a newer suspension.
 */
import type { TenantSyncAnswer, TenantSyncState } from "./tenant-sync.ts";

const SCHEMA = "CREATE TABLE IF NOT EXISTS tenant_lifecycle (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, suspended TEXT, at INTEGER NOT NULL)";
/** Written by releases before versions existed (read, and removed once a version is told). */
const LEGACY = "CREATE TABLE IF NOT EXISTS tenant_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, at INTEGER NOT NULL)";

export async function applyTenantSuspension(db: D1Database, state: TenantSyncState, now = Date.now()): Promise<TenantSyncAnswer> {
  await db.exec(SCHEMA);
  await db
    .prepare(
      "INSERT INTO tenant_lifecycle (id, version, suspended, at) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, suspended = excluded.suspended, at = excluded.at WHERE excluded.version >= tenant_lifecycle.version",
    )
    .bind(state.version, state.suspended, now)
    .run();
  const held = await db.prepare("SELECT version FROM tenant_lifecycle WHERE id = 1").first<{ version: number }>();
  const version = held?.version ?? state.version;
  if (version === state.version) {
    await db.exec(LEGACY);
    await db.prepare("DELETE FROM tenant_state WHERE key = 'suspended'").run();
  }
  return { applied: version === state.version, version };
}

/** Why the tenant is suspended (the message its sessions end with), or null. Errors propagate: callers fail closed. */
export async function tenantSuspension(db: D1Database): Promise<string | null> {
  try {
    const row = await db.prepare("SELECT suspended FROM tenant_lifecycle WHERE id = 1").first<{ suspended: string | null }>();
    if (row) return row.suspended;
  } catch (e) {
    if (!/no such table/i.test((e as Error).message)) throw e;
  }
  try {
    const row = await db.prepare("SELECT value FROM tenant_state WHERE key = 'suspended'").first<{ value: string }>();
    return row?.value ?? null;
  } catch (e) {
    if (/no such table/i.test((e as Error).message)) return null; // never suspended
    throw e;
  }
}
