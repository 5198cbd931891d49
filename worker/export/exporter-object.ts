/**
 * The ExportObject (one instance, "exporter"): ships every ended session's verified trail to the
 * configured sinks (worker/export/config.ts), at least once and in order per session, with a cursor
 * per (sink, session) in its SQLite storage — so a restart, an eviction or a failed delivery resumes
 * where the last acknowledged batch ended. Work runs on the object's alarm.
 *
 *   session ends ──enqueue──▶ pending ──alarm──▶ read trail (R2) ─▶ verify (chain, checkpoints,
 *   complete) ─▶ per sink: records (jsonl | ocsf) from its cursor ─▶ signed batch ─▶ deliver ─▶ cursor
 *
 * A trail that does not verify is retried (its last chunk may still be on its way); after
 * MAX_VERIFY_ATTEMPTS the sinks get one signed `gatehouse.export.unverified` alert with the
 * verifier's reasons instead of silence, and the session leaves the queue.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import type { ExporterRpc, ExportStatus } from "../bindings.ts";
import { parseExportConfig, type ExportSink } from "./config.ts";
import { deliverBatch } from "./deliver.ts";
import { readExport } from "../audit/chunk-store.ts";
import { getSession } from "../audit/session-index.ts";
import { loadAuditKeys, publishedAuditKeys } from "../audit/keys.ts";
import { verifyTrailText } from "../../parsers/audit/verify.ts";
import { parseTrail } from "../../parsers/audit/jsonl.ts";
import { batchBody, sessionContext, signBatch, toOcsf } from "../../parsers/audit/siem.ts";
import type { AuditEvent } from "../../parsers/audit/types.ts";
import { refreshTenantEnv } from "../tenancy/env-refresh.ts";

const MAX_VERIFY_ATTEMPTS = 8;
const MAX_BACKOFF_MS = 5 * 60_000;
const backoff = (attempts: number) => Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(attempts, 12));

export class ExportObject extends DurableObject<Env> implements ExporterRpc {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS pending (session TEXT PRIMARY KEY, enqueued_at INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT);
      CREATE TABLE IF NOT EXISTS cursors (sink TEXT NOT NULL, session TEXT NOT NULL, shipped INTEGER NOT NULL, PRIMARY KEY (sink, session));
      CREATE TABLE IF NOT EXISTS sink_stats (sink TEXT PRIMARY KEY, batches INTEGER NOT NULL DEFAULT 0, records INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0, last_error TEXT, last_ok_at INTEGER);
    `);
  }

  private sinks(): ExportSink[] {
    return parseExportConfig(this.env.GATEHOUSE_EXPORT);
  }

  async enqueue(session: string): Promise<void> {
    if (this.sinks().length === 0) return;
    const now = Date.now();
    this.ctx.storage.sql.exec("INSERT OR IGNORE INTO pending (session, enqueued_at, next_at) VALUES (?, ?, ?)", session, now, now);
    await this.schedule(now);
  }

  async status(): Promise<ExportStatus> {
    const sql = this.ctx.storage.sql;
    return {
      pending: sql.exec<{ session: string; attempts: number; last_error: string | null }>("SELECT session, attempts, last_error FROM pending ORDER BY enqueued_at").toArray(),
      sinks: this.sinks().map((s) => {
        const row = sql.exec<{ batches: number; records: number; failures: number; last_error: string | null; last_ok_at: number | null }>("SELECT batches, records, failures, last_error, last_ok_at FROM sink_stats WHERE sink = ?", s.name).toArray()[0];
        return { name: s.name, kind: s.kind, format: s.format, batches: row?.batches ?? 0, records: row?.records ?? 0, failures: row?.failures ?? 0, last_error: row?.last_error ?? null, last_ok_at: row?.last_ok_at ?? null };
      }),
    };
  }

  private async schedule(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    const sql = this.ctx.storage.sql;
    const due = sql.exec<{ session: string; attempts: number }>("SELECT session, attempts FROM pending WHERE next_at <= ? ORDER BY enqueued_at LIMIT 20", Date.now()).toArray();
    if (due.length > 0) {
      // Hosted mode: the tenant's newest record (its sinks and their secrets may have changed),
      // once per batch and before the sinks are read. A record that cannot be read ships nothing
      // now and charges no attempt (the sessions' verification budget is for their trails).
      try {
        await refreshTenantEnv(this.env);
      } catch (e) {
        console.error(`gatehouse: export: the tenant's record cannot be read; shipping waits: ${(e as Error).message}`);
        await this.ctx.storage.setAlarm(Date.now() + 30_000);
        return;
      }
    }
    const sinks = this.sinks();
    for (const { session, attempts } of due) {
      try {
        await this.ship(session, attempts, sinks);
        sql.exec("DELETE FROM pending WHERE session = ?", session);
        sql.exec("DELETE FROM cursors WHERE session = ?", session);
      } catch (e) {
        const message = (e as Error).message.slice(0, 500);
        sql.exec("UPDATE pending SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE session = ?", Date.now() + backoff(attempts), message, session);
      }
    }
    const next = sql.exec<{ at: number | null }>("SELECT MIN(next_at) AS at FROM pending").one().at;
    if (next !== null) await this.ctx.storage.setAlarm(Math.max(next, Date.now() + 50));
  }

  /** Ships one session to every sink from its cursor; throws to retry later (cursors keep what was acknowledged). */
  private async ship(session: string, attempts: number, sinks: ExportSink[]): Promise<void> {
    const row = await getSession(this.env.DB, session);
    if (!row) throw new Error("session not in the index yet");
    const [{ text }, keys, { signer }] = await Promise.all([readExport(this.env.RECORDINGS, session), publishedAuditKeys(this.env), loadAuditKeys(this.env)]);
    const ended = row.status !== "open";
    const verdict = await verifyTrailText(text, { keys, sessionId: session, requireComplete: ended, expectedChunks: ended ? row.chunks : undefined });
    let perSink: (sink: ExportSink) => string[];
    if (!ended || !verdict.ok) {
      if (attempts + 1 < MAX_VERIFY_ATTEMPTS) throw new Error(ended ? `trail does not verify yet: ${JSON.stringify(verdict).slice(0, 300)}` : "session still open");
      // Give up on verifying, loudly: the SIEM learns that this session's trail is not intact.
      const alert = { gatehouse: "gatehouse.export.unverified", session, status: row.status, verification: verdict };
      perSink = () => [JSON.stringify(alert)];
    } else {
      const lines = parseTrail(text);
      const raws = lines.map((l) => l.raw!);
      const ctx = sessionContext(lines.map((l) => l.value), session);
      const ocsf = lines.filter((l) => l.value.type !== "checkpoint").map((l) => JSON.stringify(toOcsf(l.value as AuditEvent, ctx)));
      perSink = (sink) => (sink.format === "jsonl" ? raws : ocsf);
    }
    const sql = this.ctx.storage.sql;
    for (const sink of sinks) {
      const records = perSink(sink);
      let shipped = sql.exec<{ shipped: number }>("SELECT shipped FROM cursors WHERE sink = ? AND session = ?", sink.name, session).toArray()[0]?.shipped ?? 0;
      while (shipped < records.length) {
        const slice = records.slice(shipped, shipped + sink.batchRecords);
        const meta = { sink: sink.name, session, format: sink.format, from: shipped, to: shipped + slice.length - 1, count: slice.length };
        const body = batchBody(slice);
        try {
          await deliverBatch(this.env, sink, body, await signBatch(signer, meta, body), meta);
        } catch (e) {
          sql.exec("INSERT INTO sink_stats (sink, failures, last_error) VALUES (?, 1, ?) ON CONFLICT (sink) DO UPDATE SET failures = failures + 1, last_error = excluded.last_error", sink.name, (e as Error).message);
          throw new Error(`sink ${sink.name}: ${(e as Error).message}`);
        }
        shipped += slice.length;
        // The cursor moves only after the sink acknowledged: at least once, never a gap.
        sql.exec("INSERT INTO cursors (sink, session, shipped) VALUES (?, ?, ?) ON CONFLICT (sink, session) DO UPDATE SET shipped = excluded.shipped", sink.name, session, shipped);
        sql.exec(
          "INSERT INTO sink_stats (sink, batches, records, last_ok_at) VALUES (?, 1, ?, ?) ON CONFLICT (sink) DO UPDATE SET batches = batches + 1, records = records + excluded.records, last_ok_at = excluded.last_ok_at",
          sink.name,
          slice.length,
          Date.now(),
        );
      }
    }
  }
}
