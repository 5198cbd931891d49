/**
 * The suspension as the tenant's own objects see it (hosted mode): a row in the tenant's own
 * database, written by the platform's suspend before it lists the sessions to end, and removed by
 * resume. A session checks it right after registering in the session index (the same database):
 * either its row was there when the suspend listed the open sessions (and it is ended with them),
 * or it registered after — after the marker was written — and finds the marker and ends itself.
 * Both sides write first and read second in one database that runs one statement at a time, so no
 * session falls between the two (docs/TENANCY.md "Lifecycle").
 */
const SCHEMA = "CREATE TABLE IF NOT EXISTS tenant_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, at INTEGER NOT NULL)";

export async function markTenantSuspended(db: D1Database, message: string, now = Date.now()): Promise<void> {
  await db.exec(SCHEMA);
  await db.prepare("INSERT INTO tenant_state (key, value, at) VALUES ('suspended', ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, at = excluded.at").bind(message, now).run();
}

export async function clearTenantSuspended(db: D1Database): Promise<void> {
  await db.exec(SCHEMA);
  await db.prepare("DELETE FROM tenant_state WHERE key = 'suspended'").run();
}

/** Why the tenant is suspended (the message its sessions end with), or null. Errors propagate: callers fail closed. */
export async function tenantSuspension(db: D1Database): Promise<string | null> {
  try {
    const row = await db.prepare("SELECT value FROM tenant_state WHERE key = 'suspended'").first<{ value: string }>();
    return row?.value ?? null;
  } catch (e) {
    if (/no such table/i.test((e as Error).message)) return null; // never suspended
    throw e;
  }
}
