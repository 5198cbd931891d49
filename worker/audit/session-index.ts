/**
 * The D1 session index: one row per session, written at start and end (and refreshed as chunks
 * are sealed). It exists for listing/filtering; the trail in R2 is the evidence.
 */
import { ciClaimsOf, describeIdentity, type SessionStartData } from "../../parsers/audit/index.ts";
import { ensureAuditSchema } from "./schema.ts";

export interface SessionIndexRow {
  id: string;
  issuer: string;
  subject: string;
  identity_kind: string;
  identity_label: string;
  claims: Record<string, unknown>;
  repository: string | null;
  ref: string | null;
  workflow: string | null;
  environment: string | null;
  resource: string;
  resource_type: string;
  connector: string;
  client_addr: string;
  policy_hash: string;
  recording_mode: string;
  started_at: number;
  ended_at: number | null;
  status: string;
  end_reason: string | null;
  statements: Record<string, number>;
  statements_total: number;
  denied: number;
  approved: number;
  bytes_in: number;
  bytes_out: number;
  rows: number;
  events: number;
  chunks: number;
  last_hash: string | null;
  complete: boolean;
  incomplete_reason: string | null;
  /** Only in listings: no earlier session of the same identity reached this resource. */
  first_access?: boolean;
}

export interface SessionProgress {
  statements: Record<string, number>;
  denied: number;
  approved: number;
  rows: number;
  events: number;
  chunks: number;
  last_hash: string | null;
}

export interface SessionFinish extends SessionProgress {
  ended_at: number;
  /** Set when the connector became known after start. */
  connector?: string;
  status: string;
  end_reason: string;
  bytes_in: number;
  bytes_out: number;
  complete: boolean;
  incomplete_reason: string | null;
}

export async function indexSessionStart(db: D1Database, start: SessionStartData, startedAt: number): Promise<void> {
  await ensureAuditSchema(db);
  const { identity } = start;
  const who = describeIdentity(identity.issuer, identity.subject, identity.claims);
  const ci = ciClaimsOf(identity.claims) ?? {};
  await db
    .prepare(
      `INSERT INTO session_index (id, issuer, subject, identity_kind, identity_label, claims, repository, ref, workflow, environment,
        resource, resource_type, connector, client_addr, policy_hash, recording_mode, started_at, status)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open')
       ON CONFLICT (id) DO NOTHING`,
    )
    .bind(
      start.session_id,
      identity.issuer,
      identity.subject,
      who.kind,
      who.label,
      JSON.stringify(identity.claims),
      ci.repository ?? null,
      ci.ref ?? null,
      ci.workflow ?? null,
      ci.environment ?? null,
      start.resource,
      start.resource_type,
      start.connector,
      start.client_addr,
      start.policy_hash,
      start.recording.mode,
      startedAt,
    )
    .run();
}

export async function indexSessionProgress(db: D1Database, id: string, p: SessionProgress): Promise<void> {
  await ensureAuditSchema(db);
  await db
    .prepare(`UPDATE session_index SET statements = ?, statements_total = ?, denied = ?, approved = ?, rows = ?, events = ?, chunks = ?, last_hash = ? WHERE id = ?`)
    .bind(JSON.stringify(p.statements), total(p.statements), p.denied, p.approved, p.rows, p.events, p.chunks, p.last_hash, id)
    .run();
}

export async function indexSessionEnd(db: D1Database, id: string, f: SessionFinish): Promise<void> {
  await ensureAuditSchema(db);
  await db
    .prepare(
      `UPDATE session_index SET ended_at = ?, connector = COALESCE(?, connector), status = ?, end_reason = ?, statements = ?, statements_total = ?, denied = ?, approved = ?,
        bytes_in = ?, bytes_out = ?, rows = ?, events = ?, chunks = ?, last_hash = ?, complete = ?, incomplete_reason = ? WHERE id = ?`,
    )
    .bind(f.ended_at, f.connector || null, f.status, f.end_reason, JSON.stringify(f.statements), total(f.statements), f.denied, f.approved, f.bytes_in, f.bytes_out, f.rows, f.events, f.chunks, f.last_hash, f.complete ? 1 : 0, f.incomplete_reason, id)
    .run();
}

function total(s: Record<string, number>): number {
  return Object.values(s).reduce((a, b) => a + b, 0);
}

export interface SessionListFilter {
  /** Matches subject, "issuer subject", the identity label (email / repo@ref…) or the repository. */
  identity?: string;
  resource?: string;
  /** epoch ms, inclusive */
  from?: number;
  /** epoch ms, exclusive */
  to?: number;
  /** a status (ok, error, denied, aborted, open…) or "complete" / "incomplete" */
  outcome?: string;
  limit?: number;
  /** epoch ms: only sessions started before (paging, newest first) */
  before?: number;
}

type RawRow = Omit<SessionIndexRow, "claims" | "statements" | "complete" | "first_access"> & {
  claims: string;
  statements: string;
  complete: number;
  first_access?: number;
};

function decode(r: RawRow): SessionIndexRow {
  const out: SessionIndexRow = { ...r, claims: JSON.parse(r.claims) as Record<string, unknown>, statements: JSON.parse(r.statements) as Record<string, number>, complete: r.complete === 1, first_access: undefined };
  if (r.first_access === undefined) delete out.first_access;
  else out.first_access = r.first_access === 1;
  return out;
}

export const MAX_LIST_LIMIT = 1000;

export async function listSessions(db: D1Database, f: SessionListFilter): Promise<SessionIndexRow[]> {
  await ensureAuditSchema(db);
  const where: string[] = [];
  const binds: unknown[] = [];
  if (f.identity) {
    where.push("(s.subject = ? OR (s.issuer || ' ' || s.subject) = ? OR s.identity_label = ? OR s.repository = ?)");
    binds.push(f.identity, f.identity, f.identity, f.identity);
  }
  if (f.resource) {
    where.push("s.resource = ?");
    binds.push(f.resource);
  }
  if (f.from !== undefined) {
    where.push("s.started_at >= ?");
    binds.push(f.from);
  }
  if (f.to !== undefined) {
    where.push("s.started_at < ?");
    binds.push(f.to);
  }
  if (f.before !== undefined) {
    where.push("s.started_at < ?");
    binds.push(f.before);
  }
  if (f.outcome === "complete") where.push("s.complete = 1");
  else if (f.outcome === "incomplete") where.push("s.complete = 0");
  else if (f.outcome) {
    where.push("s.status = ?");
    binds.push(f.outcome);
  }
  const limit = Math.min(Math.max(1, f.limit ?? 100), MAX_LIST_LIMIT);
  const sql = `SELECT s.*, NOT EXISTS (SELECT 1 FROM session_index p WHERE p.issuer = s.issuer AND p.subject = s.subject AND p.resource = s.resource
                 AND (p.started_at < s.started_at OR (p.started_at = s.started_at AND p.id < s.id))) AS first_access
               FROM session_index s ${where.length ? "WHERE " + where.join(" AND ") : ""}
               ORDER BY s.started_at DESC, s.id DESC LIMIT ${limit}`;
  const rows = await db.prepare(sql).bind(...binds).all<RawRow>();
  return rows.results.map(decode);
}

export async function getSession(db: D1Database, id: string): Promise<SessionIndexRow | undefined> {
  await ensureAuditSchema(db);
  const r = await db.prepare("SELECT * FROM session_index WHERE id = ?").bind(id).first<RawRow>();
  return r ? decode(r) : undefined;
}
