/**
 * Self-hosted storage: workerd has no D1 or R2, so one Durable Object with SQLite storage (on the
 * host's disk through workerd's `localDisk`) stands in for both. D1 statements run on its SQL
 * database as they are; R2 objects are rows of a `selfhost_objects` table. The worker reaches it
 * through the adapters in adapters.ts, bound under the usual names (DB, RECORDINGS).
 */
import { DurableObject } from "cloudflare:workers";

export type SqlValue = string | number | null | ArrayBuffer;
export interface SqlResult {
  rows: Record<string, SqlValue>[];
  changes: number;
  lastRowId: number;
}
export interface StoredObject {
  key: string;
  body: ArrayBuffer;
  size: number;
  contentType: string | null;
  customMetadata: Record<string, string>;
  uploaded: number;
}

export class SelfHostStore extends DurableObject {
  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS selfhost_objects (key TEXT PRIMARY KEY, body BLOB NOT NULL, content_type TEXT, custom_metadata TEXT NOT NULL, uploaded INTEGER NOT NULL)",
    );
  }

  /**
   * `changes` is D1's `meta.changes`: rows the statement inserted, updated or deleted — not the
   * cursor's `rowsWritten`, which also counts index entries (an insert into a table with a TEXT
   * primary key writes 2), so `changes === 1` ("was it new?", e.g. the SAML replay cache) would
   * never hold. Read from SQLite's own counter around the statement; 0 for a SELECT.
   */
  private run(sql: string, params: SqlValue[]): SqlResult {
    const before = this.ctx.storage.sql.exec("SELECT total_changes() AS n").one() as { n: number };
    const cursor = this.ctx.storage.sql.exec(sql, ...params);
    const rows = cursor.toArray() as Record<string, SqlValue>[];
    const after = this.ctx.storage.sql.exec("SELECT last_insert_rowid() AS id, total_changes() AS n").one() as { id: number; n: number };
    return { rows, changes: after.n - before.n, lastRowId: after.id };
  }

  /** One statement (D1's first/all/run). */
  async query(sql: string, params: SqlValue[]): Promise<SqlResult> {
    return this.run(sql, params);
  }

  /** D1's batch: all statements in one transaction, all or nothing. */
  async batch(statements: Array<{ sql: string; params: SqlValue[] }>): Promise<SqlResult[]> {
    return this.ctx.storage.transactionSync(() => statements.map((s) => this.run(s.sql, s.params)));
  }

  async putObject(key: string, body: ArrayBuffer, contentType: string | null, customMetadata: Record<string, string>): Promise<number> {
    const uploaded = Date.now();
    this.ctx.storage.sql.exec(
      "INSERT OR REPLACE INTO selfhost_objects (key, body, content_type, custom_metadata, uploaded) VALUES (?, ?, ?, ?, ?)",
      key,
      body,
      contentType,
      JSON.stringify(customMetadata),
      uploaded,
    );
    return uploaded;
  }

  async getObject(key: string): Promise<StoredObject | null> {
    const row = this.ctx.storage.sql.exec("SELECT key, body, content_type, custom_metadata, uploaded FROM selfhost_objects WHERE key = ?", key).toArray()[0] as
      | { key: string; body: ArrayBuffer; content_type: string | null; custom_metadata: string; uploaded: number }
      | undefined;
    if (!row) return null;
    return { key: row.key, body: row.body, size: row.body.byteLength, contentType: row.content_type, customMetadata: JSON.parse(row.custom_metadata) as Record<string, string>, uploaded: row.uploaded };
  }

  async deleteObjects(keys: string[]): Promise<void> {
    for (const key of keys) this.ctx.storage.sql.exec("DELETE FROM selfhost_objects WHERE key = ?", key);
  }

  /** Keys under `prefix` after `cursor` (the last key of the previous page), in key order. */
  async listObjects(prefix: string, cursor: string | null, limit: number): Promise<{ keys: Array<{ key: string; size: number; uploaded: number }>; truncated: boolean }> {
    const rows = this.ctx.storage.sql
      .exec(
        "SELECT key, length(body) AS size, uploaded FROM selfhost_objects WHERE substr(key, 1, length(?)) = ? AND key > ? ORDER BY key LIMIT ?",
        prefix,
        prefix,
        cursor ?? "",
        limit + 1,
      )
      .toArray() as Array<{ key: string; size: number; uploaded: number }>;
    return { keys: rows.slice(0, limit), truncated: rows.length > limit };
  }
}
