/**
 * Registers the audit migration (session_index, audit_keys) with the worker's idempotent schema
 * runner, so `npm start` / wrangler dev needs no manual `d1 migrations apply`.
 */
import m0002 from "../migrations/0002_audit.sql";
import { ensureSchema, registerMigrations } from "../storage/schema.ts";

registerMigrations([{ id: "0002_audit", sql: m0002 }]);

export function ensureAuditSchema(db: D1Database): Promise<void> {
  return ensureSchema(db);
}
