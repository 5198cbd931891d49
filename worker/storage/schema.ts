/**
 * D1 schema, applied idempotently on first use in each isolate (wrangler dev does not apply
 * migrations by itself, and a gateway must not depend on an operator remembering to).
 * Each migration runs once; applied ones are listed in `schema_migrations`.
 */
import m0001 from "../migrations/0001_sessions.sql";

export const MIGRATIONS: ReadonlyArray<{ id: string; sql: string }> = [{ id: "0001_sessions", sql: m0001 }];

const applied = new WeakMap<D1Database, Promise<void>>();
let extraMigrations: ReadonlyArray<{ id: string; sql: string }> = [];

/** Other modules (audit, approvals) register their migrations at import time. */
export function registerMigrations(migrations: ReadonlyArray<{ id: string; sql: string }>): void {
  extraMigrations = [...extraMigrations, ...migrations];
}

export function ensureSchema(db: D1Database): Promise<void> {
  let done = applied.get(db);
  if (!done) {
    done = migrate(db);
    applied.set(db, done);
    done.catch(() => applied.delete(db));
  }
  return done;
}

async function migrate(db: D1Database): Promise<void> {
  await db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)");
  const rows = await db.prepare("SELECT id FROM schema_migrations").all<{ id: string }>();
  const done = new Set(rows.results.map((r) => r.id));
  for (const m of [...MIGRATIONS, ...extraMigrations]) {
    if (done.has(m.id)) continue;
    const statements = m.sql
      .split(/;\s*(?:\n|$)/)
      .map((s) => s.replace(/^\s*--.*$/gm, "").trim())
      .filter(Boolean);
    await db.batch([
      ...statements.map((s) => db.prepare(s)),
      db.prepare("INSERT OR IGNORE INTO schema_migrations (id, applied_at) VALUES (?, ?)").bind(m.id, Date.now()),
    ]);
  }
}
