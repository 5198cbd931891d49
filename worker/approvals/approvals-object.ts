/**
 * ApprovalsObject: ONE Durable Object (named "approvals") holding every approval request and
 * just-in-time grant in its SQLite storage. Every state change is a synchronous SQLite write
 * (atomic under the object's input gate); everything that talks to the outside — telling the
 * waiting session, ending sessions that relied on a grant, webhook/Slack notifications — goes
 * through an outbox drained by the object's alarm, retried with backoff, so a slow or failing
 * receiver never blocks a decision and nothing is lost across restarts or evictions.
 *
 * The transitions themselves are in core.ts (pure); this file is storage, alarms and delivery.
 */
import { ID_ALPHABET, shardOfObjectName } from "./shard-placement.ts";
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import { principalKey, type Principal } from "./ci-context.ts";
import {
  ApprovalError,
  castVote,
  consume,
  createGrantRequest,
  createStatementRequest,
  expireIfDue,
  isGrantActive,
  nextDeadline,
  outcomeOf,
  revokeGrant,
  withdraw,
  type ApprovalOutcome,
  type ApprovalRecord,
  type NewGrantRequest,
  type NewStatementRequest,
  type RequestKind,
  type RequestStatus,
  type VoteDecision,
} from "./core.ts";
import {
  DELIVERY_HEADER,
  EVENT_HEADER,
  RETRY_DELAYS_MS,
  SIGNATURE_HEADER,
  TIMESTAMP_HEADER,
  eventFor,
  notificationTargetsFromPolicyText,
  requestUrl,
  resolveRef,
  resolveTargetUrl,
  signWebhook,
  slackMessage,
  wants,
  webhookBody,
  type NotificationEvent,
  type NotificationTarget,
} from "./notifications.ts";
import { isNewerOrSame, type TenantSyncAnswer, type TenantSyncState } from "../tenancy/tenant-sync.ts";
import { refreshTenantEnv } from "../tenancy/env-refresh.ts";

/** What the session Durable Object implements for us (RPC on the SESSIONS namespace). */
export interface SessionApprovalCallbacks {
  /** A held statement was decided. Resolves true if the session is alive and took the outcome, false if no such live session. */
  approvalDecided(id: string, outcome: ApprovalOutcome): Promise<boolean>;
  /** End the session now (grant revoked or expired). Resolves true if a live session was ended. */
  terminate(code: string, reason: string): Promise<boolean>;
}

export type Result<T> = { ok: true; value: T } | { ok: false; code: ApprovalError["code"]; message: string };

export interface ListFilter {
  kind?: RequestKind;
  status?: RequestStatus;
  /** Only requests by this identity (issuer + " " + subject). */
  requesterKey?: string;
  limit?: number;
}

export interface HistoryEntry {
  at: number;
  type: string;
  data: Record<string, unknown>;
}

export interface OutboxEntry {
  id: number;
  requestId: string;
  kind: string;
  target: string;
  event: string;
  attempts: number;
  status: string;
  nextAt: number;
  lastError: string | null;
}

type OutboxKind = "fanout" | "webhook" | "slack" | "session-decided" | "session-terminate";

const MAX_LIST = 200;
const MAX_PENDING_GRANTS_PER_REQUESTER = 10;
const MAX_PENDING_STATEMENTS_PER_SESSION = 4;
const DELIVERIES_PER_ALARM = 25;
const SESSION_CALL_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000] as const;
const WEBHOOK_TIMEOUT_MS = 10_000;
/** SQLSTATE sent when a session loses the grant it relied on (insufficient_privilege). */
export const GRANT_ENDED_SQLSTATE = "42501";

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS requests (
     id TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     status TEXT NOT NULL,
     resource TEXT NOT NULL,
     requester_key TEXT NOT NULL,
     session_id TEXT,
     created_at INTEGER NOT NULL,
     deadline INTEGER,
     record TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS requests_deadline ON requests (deadline) WHERE deadline IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS requests_listing ON requests (created_at)`,
  `CREATE INDEX IF NOT EXISTS requests_grants ON requests (requester_key, kind, status)`,
  `CREATE TABLE IF NOT EXISTS history (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     request_id TEXT NOT NULL,
     at INTEGER NOT NULL,
     type TEXT NOT NULL,
     data TEXT NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS history_request ON history (request_id, seq)`,
  `CREATE TABLE IF NOT EXISTS grant_sessions (
     grant_id TEXT NOT NULL,
     session_id TEXT NOT NULL,
     noted_at INTEGER NOT NULL,
     PRIMARY KEY (grant_id, session_id))`,
  `CREATE TABLE IF NOT EXISTS outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     request_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     target TEXT NOT NULL,
     event TEXT NOT NULL,
     payload TEXT NOT NULL,
     delivery_id TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL,
     status TEXT NOT NULL DEFAULT 'pending',
     last_error TEXT)`,
  `CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_at)`,
  // Hosted mode: the tenant's suspension as the platform last told it, with the record's version (tenant-sync.ts).
  `CREATE TABLE IF NOT EXISTS tenant_lifecycle (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, suspended TEXT)`,
];

/**
 * Outbox rows that leave the deployment (webhooks, Slack): held while the tenant is suspended.
 * Deadlines, fan-out expansion and the calls to the tenant's own sessions go on. One list for the
 * SQL filter and the JS check.
 */
const OUTWARD: readonly OutboxKind[] = ["webhook", "slack"];
const OUTWARD_KINDS = `(${OUTWARD.map((k) => `'${k}'`).join(", ")})`;
const isOutward = (kind: OutboxKind) => OUTWARD.includes(kind);

/**
 * How long outward rows wait, unattempted, when the tenant's newest record says suspended although
 * this shard was not told yet (the platform's tell is pending), or when the record cannot be read.
 */
const HELD_RECHECK_MS = 30_000;

export class ApprovalsObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  /** Which of the tenant's approval shards this object is (from its name: shards.ts). */
  private readonly shard: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.shard = shardOfObjectName(ctx.id.name);
    for (const s of SCHEMA) this.sql.exec(s);
    // A fresh instance has nothing in flight: deliveries claimed by a previous (evicted or
    // restarted) instance go back to the queue. Receivers may see a duplicate; the delivery id says so.
    this.sql.exec("UPDATE outbox SET status = 'pending' WHERE status = 'sending'");
    void ctx.blockConcurrencyWhile(async () => {
      if ((await ctx.storage.getAlarm()) === null) this.reschedule();
    });
  }

  // ------------------------------------------------------------------ statements (session side)

  async createStatement(input: NewStatementRequest): Promise<Result<{ id: string; url: string; expiresAt: number }>> {
    return this.attempt(() => {
      const pending = this.sql
        .exec<{ n: number }>("SELECT COUNT(*) AS n FROM requests WHERE session_id = ? AND status = 'pending'", input.sessionId)
        .one().n;
      if (pending >= MAX_PENDING_STATEMENTS_PER_SESSION) throw new ApprovalError("invalid", `session ${input.sessionId} already has ${pending} pending approval requests`);
      const now = Date.now();
      const record = createStatementRequest(input, newId("apr", this.shard), now);
      this.ctx.storage.transactionSync(() => {
        this.insert(record);
        this.log(record.id, now, "requested", {
          session_id: input.sessionId,
          resource: record.resource,
          requester: record.requester,
          rule: record.rule,
          statement_sha256: record.statement!.sha256,
          expires_at: record.expiresAt,
        });
        this.enqueue(record.id, "fanout", "*", eventFor(record, "requested"), "", now);
      });
      this.scheduleSoon();
      return { id: record.id, url: requestUrl(this.env.GATEHOUSE_PUBLIC_URL, record), expiresAt: record.expiresAt };
    });
  }

  /** The session runs the approved statement: once, same session, same SHA-256. */
  async consume(id: string, sessionId: string, statementSha256: string): Promise<Result<ApprovalRecord>> {
    return this.attempt(() => {
      const now = Date.now();
      const record = this.mustLoad(id);
      const used = consume(record, sessionId, statementSha256, now);
      this.ctx.storage.transactionSync(() => {
        this.save(used);
        this.log(id, now, "executed", { session_id: sessionId, statement_sha256: statementSha256 });
      });
      return used;
    });
  }

  /** The session ended while its statement was pending (client went away): nothing may run any more. */
  async withdraw(id: string, sessionId: string, reason: string): Promise<Result<ApprovalRecord>> {
    return this.attempt(() => {
      const now = Date.now();
      const record = this.mustLoad(id);
      const next = withdraw(record, sessionId, reason, now);
      if (next !== record) {
        this.ctx.storage.transactionSync(() => this.commitDecision(next, now, { by: null, reason }));
        this.scheduleSoon();
      }
      return next;
    });
  }

  // ------------------------------------------------------------------ grants

  async createGrant(input: NewGrantRequest): Promise<Result<ApprovalRecord>> {
    return this.attempt(() => {
      const key = principalKey(input.requester);
      const pending = this.sql
        .exec<{ n: number }>("SELECT COUNT(*) AS n FROM requests WHERE requester_key = ? AND kind = 'grant' AND status = 'pending'", key)
        .one().n;
      if (pending >= MAX_PENDING_GRANTS_PER_REQUESTER) throw new ApprovalError("invalid", `too many pending grant requests (${pending}); wait for a decision or revoke some`);
      const now = Date.now();
      const record = createGrantRequest(input, newId("grt", this.shard), now);
      this.ctx.storage.transactionSync(() => {
        this.insert(record);
        this.log(record.id, now, "requested", { resource: record.resource, requester: record.requester, duration_ms: input.durationMs, reason: record.requestReason });
        this.enqueue(record.id, "fanout", "*", eventFor(record, "requested"), "", now);
      });
      this.scheduleSoon();
      return record;
    });
  }

  /** Resource names with an active grant for this identity. */
  async activeGrants(requesterKey: string, resource?: string): Promise<string[]> {
    const now = Date.now();
    const out = new Set<string>();
    for (const r of this.grantsOf(requesterKey, resource)) if (isGrantActive(r, now)) out.add(r.resource);
    return [...out];
  }

  /** A session relies on this identity's active grants for `resource`: remember it so revocation ends the session. */
  async noteGrantUse(sessionId: string, requesterKey: string, resource: string): Promise<string[]> {
    const now = Date.now();
    const ids: string[] = [];
    for (const r of this.grantsOf(requesterKey, resource)) {
      if (!isGrantActive(r, now)) continue;
      this.sql.exec("INSERT OR IGNORE INTO grant_sessions (grant_id, session_id, noted_at) VALUES (?, ?, ?)", r.id, sessionId, now);
      this.log(r.id, now, "used", { session_id: sessionId });
      ids.push(r.id);
    }
    return ids;
  }

  async revoke(id: string, by: Principal, reason: string | null): Promise<Result<ApprovalRecord>> {
    return this.attempt(() => {
      const now = Date.now();
      const record = this.mustLoad(id);
      const next = revokeGrant(record, by, reason, now);
      this.ctx.storage.transactionSync(() => {
        this.save(next);
        this.log(id, now, "revoked", { by, reason });
        this.enqueue(id, "fanout", "*", "grant.revoked", "", now);
        this.enqueueSessionEnds(next, `just-in-time grant ${id} for ${next.resource} was revoked by ${by.label}${reason ? `: ${reason}` : ""}`, now);
      });
      this.scheduleSoon();
      return next;
    });
  }

  // ------------------------------------------------------------------ decisions (approvers)

  async vote(id: string, voter: Principal, decision: VoteDecision, reason: string | null, eligibleRules: string[]): Promise<Result<ApprovalRecord>> {
    return this.attempt(() => {
      const now = Date.now();
      let record = this.mustLoad(id);
      const expired = expireIfDue(record, now);
      if (expired) {
        // The alarm has not run yet: settle the deadline first so a late vote cannot win.
        this.ctx.storage.transactionSync(() => this.commitDecision(expired, now, { by: null, reason: expired.outcomeReason }));
        this.scheduleSoon();
        record = expired;
      }
      const next = castVote(record, { voter, decision, reason, eligibleRules }, now);
      const vote = next.votes[next.votes.length - 1]!;
      this.ctx.storage.transactionSync(() => {
        this.log(id, now, "vote", { approver: voter, decision, reason: vote.reason, counts: vote.counts });
        if (next.status !== record.status) this.commitDecision(next, now, { by: voter, reason: next.outcomeReason });
        else this.save(next);
      });
      if (next.status !== record.status) this.scheduleSoon();
      return next;
    });
  }

  // ------------------------------------------------------------------ reads

  async get(id: string): Promise<ApprovalRecord | null> {
    return this.load(id);
  }

  async list(filter: ListFilter = {}): Promise<ApprovalRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.kind) {
      where.push("kind = ?");
      args.push(filter.kind);
    }
    if (filter.status) {
      where.push("status = ?");
      args.push(filter.status);
    }
    if (filter.requesterKey) {
      where.push("requester_key = ?");
      args.push(filter.requesterKey);
    }
    const limit = Math.min(MAX_LIST, Math.max(1, filter.limit ?? 50));
    const rows = this.sql
      .exec<{ record: string }>(`SELECT record FROM requests ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY created_at DESC LIMIT ${limit}`, ...args)
      .toArray();
    return rows.map((r) => JSON.parse(r.record) as ApprovalRecord);
  }

  async history(id: string): Promise<HistoryEntry[]> {
    return this.sql
      .exec<{ at: number; type: string; data: string }>("SELECT at, type, data FROM history WHERE request_id = ? ORDER BY seq LIMIT 500", id)
      .toArray()
      .map((r) => ({ at: r.at, type: r.type, data: JSON.parse(r.data) as Record<string, unknown> }));
  }

  async outbox(id: string): Promise<OutboxEntry[]> {
    return this.sql
      .exec<{ id: number; request_id: string; kind: string; target: string; event: string; attempts: number; status: string; next_at: number; last_error: string | null }>(
        "SELECT id, request_id, kind, target, event, attempts, status, next_at, last_error FROM outbox WHERE request_id = ? ORDER BY id LIMIT 200",
        id,
      )
      .toArray()
      .map((r) => ({ id: r.id, requestId: r.request_id, kind: r.kind, target: r.target, event: r.event, attempts: r.attempts, status: r.status, nextAt: r.next_at, lastError: r.last_error }));
  }

  // ------------------------------------------------------------------ hosted mode: the tenant suspended

  /** Why the tenant is suspended, as last told (null: not suspended, or single-tenant). */
  private tenantSuspended(): string | null {
    return this.sql.exec<{ suspended: string | null }>("SELECT suspended FROM tenant_lifecycle WHERE id = 1").toArray()[0]?.suspended ?? null;
  }

  private holdingOutward(): boolean {
    return this.tenantSuspended() !== null;
  }

  /**
   * RPC (hosted mode): the tenant's record at `state.version` says suspended (or not); older
   * versions than the one held are ignored (tenant-sync.ts). While suspended, notifications to
   * webhooks and Slack are held in the outbox — kept, not dropped, their attempts untouched — and
   * sent once the tenant is resumed (the alarm is set for now). Deleting the tenant erases the
   * object, held notifications included: a deleted tenant's notifications are never sent.
   */
  async syncTenantSuspension(state: TenantSyncState): Promise<TenantSyncAnswer> {
    const held = this.sql.exec<{ version: number }>("SELECT version FROM tenant_lifecycle WHERE id = 1").toArray()[0];
    if (!isNewerOrSame(state, held)) return { applied: false, version: held!.version };
    this.sql.exec("INSERT INTO tenant_lifecycle (id, version, suspended) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version, suspended = excluded.suspended", state.version, state.suspended);
    if (state.suspended === null) this.scheduleSoon();
    return { applied: true, version: state.version };
  }

  // ------------------------------------------------------------------ alarm: deadlines and outbox

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.settleDeadlines(now);
    await this.expandFanouts(now);
    await this.deliverDue(Date.now());
    this.reschedule();
  }

  private settleDeadlines(now: number): void {
    const due = this.sql.exec<{ record: string }>("SELECT record FROM requests WHERE deadline IS NOT NULL AND deadline <= ? LIMIT 500", now).toArray();
    for (const row of due) {
      const record = JSON.parse(row.record) as ApprovalRecord;
      const next = expireIfDue(record, now);
      if (!next) {
        // Deadline column out of date (should not happen): recompute it.
        this.save(record);
        continue;
      }
      if (record.kind === "grant" && record.status === "approved") {
        this.ctx.storage.transactionSync(() => {
          this.save(next);
          this.log(record.id, now, "expired", { reason: next.outcomeReason });
          this.enqueue(record.id, "fanout", "*", "grant.expired", "", now);
          this.enqueueSessionEnds(next, `just-in-time grant ${record.id} for ${record.resource} expired`, now);
        });
      } else {
        this.ctx.storage.transactionSync(() => this.commitDecision(next, now, { by: null, reason: next.outcomeReason }));
      }
    }
  }

  /** Turns "notify everyone configured" rows into one row per target, using the policy in force now. */
  private async expandFanouts(now: number): Promise<void> {
    const rows = this.sql
      .exec<{ id: number; request_id: string; event: string }>("SELECT id, request_id, event FROM outbox WHERE kind = 'fanout' AND status = 'pending' AND next_at <= ? LIMIT 100", now)
      .toArray();
    if (rows.length === 0) return;
    let targets: NotificationTarget[];
    try {
      const policy = await currentPolicy(this.env);
      targets = notificationTargetsFromPolicyText(policy.text);
    } catch (e) {
      // No usable configuration right now: keep the rows and try again later (never drop them).
      for (const r of rows) this.retryLater(r.id, 1, now, `notifications configuration: ${(e as Error).message}`, RETRY_DELAYS_MS);
      return;
    }
    for (const r of rows) {
      const record = this.load(r.request_id);
      this.ctx.storage.transactionSync(() => {
        if (record) {
          for (const t of targets) {
            if (!wants(t, r.event as NotificationEvent, record.resource)) continue;
            this.enqueue(record.id, t.type, t.name, r.event, JSON.stringify(t), now);
          }
        }
        this.sql.exec("UPDATE outbox SET status = 'expanded' WHERE id = ?", r.id);
      });
    }
  }

  private async deliverDue(now: number): Promise<void> {
    const rows = this.sql
      .exec<{ id: number; request_id: string; kind: OutboxKind; target: string; event: string; payload: string; delivery_id: string; attempts: number }>(
        `SELECT id, request_id, kind, target, event, payload, delivery_id, attempts FROM outbox WHERE status = 'pending' AND kind != 'fanout' ${this.holdingOutward() ? `AND kind NOT IN ${OUTWARD_KINDS}` : ""} AND next_at <= ? ORDER BY next_at LIMIT ?`,
        now,
        DELIVERIES_PER_ALARM,
      )
      .toArray();
    // Claim the rows before awaiting: a concurrent alarm run must not send them twice.
    for (const r of rows) this.sql.exec("UPDATE outbox SET status = 'sending' WHERE id = ?", r.id);
    const sendable = (await this.outwardHeld(rows)) ? rows.filter((r) => !isOutward(r.kind)) : rows;
    await Promise.all(
      sendable.map(async (r) => {
        const attempt = r.attempts + 1;
        try {
          const result = await this.deliver(r);
          this.sql.exec("UPDATE outbox SET status = 'delivered', attempts = ?, last_error = NULL WHERE id = ?", attempt, r.id);
          if (result) this.log(r.request_id, Date.now(), result.type, result.data);
        } catch (e) {
          const delays = r.kind === "session-decided" || r.kind === "session-terminate" ? SESSION_CALL_DELAYS_MS : RETRY_DELAYS_MS;
          const gaveUp = this.retryLater(r.id, attempt, Date.now(), (e as Error).message, delays);
          if (gaveUp) this.onGaveUp(r.request_id, r.kind, r.target, (e as Error).message);
        }
      }),
    );
  }

  /**
   * Hosted mode, once per batch with outward rows: the tenant's newest record (its secrets may have
   * been rotated) before anything is signed or sent. When it says suspended (a suspension whose
   * tell has not reached this shard yet) or cannot be read, the batch's outward rows go back to the
   * outbox unattempted, their attempts untouched, and are looked at again in HELD_RECHECK_MS.
   */
  private async outwardHeld(rows: { id: number; kind: OutboxKind }[]): Promise<boolean> {
    const outward = rows.filter((r) => isOutward(r.kind));
    if (outward.length === 0) return false;
    let held: boolean;
    try {
      await refreshTenantEnv(this.env);
      held = this.env.TENANT?.suspended === true;
    } catch (e) {
      console.error(`gatehouse: approvals: the tenant's record cannot be read; notifications wait: ${(e as Error).message}`);
      held = true;
    }
    if (held) for (const r of outward) this.sql.exec("UPDATE outbox SET status = 'pending', next_at = ? WHERE id = ?", Date.now() + HELD_RECHECK_MS, r.id);
    return held;
  }

  /** Returns a history entry to write on success, if any. Throws to retry. */
  private async deliver(row: { request_id: string; kind: OutboxKind; target: string; event: string; payload: string; delivery_id: string }): Promise<{ type: string; data: Record<string, unknown> } | null> {
    const record = this.load(row.request_id);
    if (!record) return null;
    if (row.kind === "session-decided") {
      const outcome = JSON.parse(row.payload) as ApprovalOutcome;
      const stub = this.sessionStub(row.target);
      const alive = await stub.approvalDecided(record.id, outcome);
      const delivery = alive ? { status: "delivered" as const, at: Date.now(), detail: null } : { status: "session-gone" as const, at: Date.now(), detail: "the session that asked no longer exists: nothing ran" };
      const latest = this.load(record.id)!;
      this.save({ ...latest, delivery });
      return { type: alive ? "session-notified" : "session-gone", data: { session_id: row.target, status: outcome.status } };
    }
    if (row.kind === "session-terminate") {
      const { code, reason } = JSON.parse(row.payload) as { code: string; reason: string };
      const ended = await this.sessionStub(row.target).terminate(code, reason);
      return { type: "session-ended", data: { session_id: row.target, live: ended, reason } };
    }
    const target = JSON.parse(row.payload) as NotificationTarget;
    const env = this.env as unknown as Record<string, unknown>;
    const url = resolveTargetUrl(target, env);
    const publicUrl = this.env.GATEHOUSE_PUBLIC_URL;
    let body: string;
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "gatehouse-approvals/1" };
    if (row.kind === "slack") {
      body = JSON.stringify(slackMessage(record, row.event as NotificationEvent, publicUrl));
    } else {
      body = JSON.stringify(webhookBody(record, row.event as NotificationEvent, row.delivery_id, publicUrl, Date.now()));
      const secret = resolveRef(target.secret!, env, `notification '${target.name}' secret`);
      const ts = Math.floor(Date.now() / 1000);
      headers[TIMESTAMP_HEADER] = String(ts);
      headers[SIGNATURE_HEADER] = await signWebhook(secret, ts, body);
      headers[EVENT_HEADER] = row.event;
      headers[DELIVERY_HEADER] = row.delivery_id;
    }
    const res = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS) });
    await res.body?.cancel();
    if (res.status < 200 || res.status > 299) throw new Error(`${target.name}: HTTP ${res.status}`);
    return { type: "notified", data: { target: target.name, event: row.event, delivery: row.delivery_id } };
  }

  private onGaveUp(requestId: string, kind: OutboxKind, target: string, error: string): void {
    const now = Date.now();
    this.log(requestId, now, "delivery-failed", { kind, target, error });
    if (kind === "session-decided") {
      const record = this.load(requestId);
      if (record) this.save({ ...record, delivery: { status: "failed", at: now, detail: error } });
    }
  }

  /** Returns true when no retry is left (the row is marked failed, and stays listed). */
  private retryLater(id: number, attempt: number, now: number, error: string, delays: readonly number[]): boolean {
    const delay = delays[attempt - 1];
    if (delay === undefined) {
      this.sql.exec("UPDATE outbox SET status = 'failed', attempts = ?, last_error = ? WHERE id = ?", attempt, error.slice(0, 500), id);
      return true;
    }
    this.sql.exec("UPDATE outbox SET status = 'pending', attempts = ?, next_at = ?, last_error = ? WHERE id = ?", attempt, now + delay, error.slice(0, 500), id);
    return false;
  }

  private reschedule(): void {
    const deadline = this.sql.exec<{ t: number | null }>("SELECT MIN(deadline) AS t FROM requests WHERE deadline IS NOT NULL").one().t;
    // Held rows are not due: their time is in the past, and an alarm for them would fire at once, again and again.
    const held = this.holdingOutward() ? `AND kind NOT IN ${OUTWARD_KINDS}` : "";
    const outbox = this.sql.exec<{ t: number | null }>(`SELECT MIN(next_at) AS t FROM outbox WHERE status = 'pending' ${held}`).one().t;
    const next = [deadline, outbox].filter((t): t is number => typeof t === "number");
    if (next.length === 0) return;
    void this.ctx.storage.setAlarm(Math.max(Date.now(), Math.min(...next)));
  }

  private scheduleSoon(): void {
    // setAlarm replaces any later alarm; the alarm run reschedules for the rest.
    void this.ctx.storage.setAlarm(Date.now());
  }

  // ------------------------------------------------------------------ helpers

  /** Records a decision and queues what follows from it. Callers run it inside transactionSync. */
  private commitDecision(next: ApprovalRecord, now: number, how: { by: Principal | null; reason: string | null }): void {
    this.save(next);
    this.log(next.id, now, next.status, { by: how.by, reason: how.reason });
    this.enqueue(next.id, "fanout", "*", eventFor(next, "decided"), "", now);
    const outcome = outcomeOf(next);
    // A withdrawn request came from the session itself: nobody to tell.
    if (outcome && next.status !== "withdrawn") this.enqueue(next.id, "session-decided", outcome.sessionId, next.status, JSON.stringify(outcome), now);
  }

  private enqueueSessionEnds(record: ApprovalRecord, reason: string, now: number): void {
    const sessions = this.sql.exec<{ session_id: string }>("SELECT session_id FROM grant_sessions WHERE grant_id = ?", record.id).toArray();
    for (const s of sessions) this.enqueue(record.id, "session-terminate", s.session_id, record.status, JSON.stringify({ code: GRANT_ENDED_SQLSTATE, reason }), now);
  }

  private enqueue(requestId: string, kind: OutboxKind, target: string, event: string, payload: string, now: number): void {
    this.sql.exec(
      "INSERT INTO outbox (request_id, kind, target, event, payload, delivery_id, next_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      requestId,
      kind,
      target,
      event,
      payload,
      crypto.randomUUID(),
      now,
    );
  }

  private sessionStub(sessionId: string): SessionApprovalCallbacks {
    // The SESSIONS binding is typed with the SessionObject class; these two RPC methods are its
    // approval-facing surface (see SessionApprovalCallbacks).
    return this.env.SESSIONS.get(this.env.SESSIONS.idFromName(sessionId)) as unknown as SessionApprovalCallbacks;
  }

  private grantsOf(requesterKey: string, resource?: string): ApprovalRecord[] {
    const rows = resource
      ? this.sql.exec<{ record: string }>("SELECT record FROM requests WHERE requester_key = ? AND kind = 'grant' AND status = 'approved' AND resource = ?", requesterKey, resource).toArray()
      : this.sql.exec<{ record: string }>("SELECT record FROM requests WHERE requester_key = ? AND kind = 'grant' AND status = 'approved'", requesterKey).toArray();
    return rows.map((r) => JSON.parse(r.record) as ApprovalRecord);
  }

  private insert(record: ApprovalRecord): void {
    this.sql.exec(
      "INSERT INTO requests (id, kind, status, resource, requester_key, session_id, created_at, deadline, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      record.id,
      record.kind,
      record.status,
      record.resource,
      principalKey(record.requester),
      record.statement?.sessionId ?? null,
      record.createdAt,
      nextDeadline(record),
      JSON.stringify(record),
    );
  }

  private save(record: ApprovalRecord): void {
    this.sql.exec("UPDATE requests SET status = ?, deadline = ?, record = ? WHERE id = ?", record.status, nextDeadline(record), JSON.stringify(record), record.id);
  }

  private load(id: string): ApprovalRecord | null {
    const row = this.sql.exec<{ record: string }>("SELECT record FROM requests WHERE id = ?", id).toArray()[0];
    return row ? (JSON.parse(row.record) as ApprovalRecord) : null;
  }

  private mustLoad(id: string): ApprovalRecord {
    const r = this.load(id);
    if (!r) throw new ApprovalError("not-found", `no request ${id}`);
    return r;
  }

  private log(requestId: string, at: number, type: string, data: Record<string, unknown>): void {
    this.sql.exec("INSERT INTO history (request_id, at, type, data) VALUES (?, ?, ?, ?)", requestId, at, type, JSON.stringify(data));
  }

  /** Typed refusals become values (errors crossing RPC lose their class); anything else propagates. */
  private attempt<T>(fn: () => T): Result<T> {
    try {
      return { ok: true, value: fn() };
    } catch (e) {
      if (e instanceof ApprovalError) return { ok: false, code: e.code, message: e.message };
      throw e;
    }
  }
}

/**
 * Short, unguessable, typeable ids: apr_/grt_ + 16 base32 characters. The first names the shard
 * that holds the request (shards.ts), the other 15 are random (75 bits).
 */
function newId(prefix: "apr" | "grt", shard: number): string {
  const bytes = new Uint8Array(15);
  crypto.getRandomValues(bytes);
  let s = ID_ALPHABET[shard]!;
  for (const b of bytes) s += ID_ALPHABET[b & 31];
  return `${prefix}_${s}`;
}
