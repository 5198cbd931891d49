/**
 * SessionLimiter: one Durable Object ("limits") that counts live sessions per identity and per
 * resource, so policy caps (`limits: max_sessions_per_identity / max_sessions_per_resource`) hold
 * across every SessionObject.
 *
 * Counting is by lease: a session takes one before its connector is asked to dial, renews it
 * while it lives (worker/limits/session-slot.ts) and releases it on every orderly end. A session
 * object that vanishes without releasing (crash, eviction, redeploy) stops renewing: its lease
 * expires after LEASE_TTL_MS and is swept by the next acquire and by an alarm. Acquire is atomic:
 * the object's input gate runs one call at a time, and SQLite writes are synchronous.
 */
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env.ts";
import type { AcquireRequest, AcquireResult, SessionLimiterRpc, StartRequest, StartResult } from "../bindings.ts";
import { logRateRefusal } from "../tenancy/rate-refusals.ts";
import { TokenBucket, type BucketLimits, type Take } from "./token-bucket.ts";
import type { AddressShare, ApiBucket, ApiTake } from "./api-rate.ts";
import { isNewerOrSame, type TenantSyncAnswer, type TenantSyncState } from "../tenancy/tenant-sync.ts";

export type { AcquireRequest, AcquireResult, StartRequest, StartResult };

/** What a session refused by `max_session_starts_per_minute` is told (at the edge or by its slot). */
export function startsRefusal(started: number, limit: number, retryAfterMs: number): string {
  return `gatehouse: too many sessions: the tenant started ${started} sessions in the last minute (tenant limit max_session_starts_per_minute: ${limit}); retry in ${Math.ceil(retryAfterMs / 1000)} s`;
}

/** Session starts are counted over this sliding window (limit: `max_session_starts_per_minute`). */
export const START_WINDOW_MS = 60_000;

/** A lease lives this long without renewal; sessions renew every LEASE_RENEW_MS. */
export const LEASE_TTL_MS = 60_000;
export const LEASE_RENEW_MS = 15_000;


/** Written before record versions existed: read, and removed once a version is told. */
const API_SUSPENDED_KEY = "api-suspended";
const API_LIFECYCLE_KEY = "api-lifecycle";

/** How many client address groups' shares of the anonymous API bucket a tenant's limiter keeps. */
export const MAX_ADDRESS_BUCKETS = 10_000;

/** The bucket under `key`, created full or retuned to `limits`; moved to the map's end (most recently used), the oldest dropped past the bound. */
export function retuned<K>(buckets: Map<K, { bucket: TokenBucket; key: string }>, name: K, limits: BucketLimits, now: number, max = MAX_ADDRESS_BUCKETS): TokenBucket {
  const key = `${limits.ratePerSecond}/${limits.burst}`;
  let held = buckets.get(name);
  if (held) buckets.delete(name);
  if (!held) held = { bucket: new TokenBucket(limits, now), key };
  else if (held.key !== key) {
    held.bucket.retune(limits, now);
    held.key = key;
  }
  buckets.set(name, held);
  if (buckets.size > max) buckets.delete(buckets.keys().next().value!);
  return held.bucket;
}

export class SessionLimiter extends DurableObject<Env> implements SessionLimiterRpc {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS leases (session_id TEXT PRIMARY KEY, identity TEXT NOT NULL, resource TEXT NOT NULL, expires_at INTEGER NOT NULL)",
    );
    this.sql.exec("CREATE INDEX IF NOT EXISTS leases_identity ON leases (identity)");
    this.sql.exec("CREATE INDEX IF NOT EXISTS leases_resource ON leases (resource)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS starts (session_id TEXT PRIMARY KEY, at INTEGER NOT NULL)");
  }

  /**
   * The tenant's request bucket (hosted mode, `max_requests_per_second` / `request_burst`). In
   * memory on purpose: this object is the tenant's one limiter, calls run one at a time, and an
   * object evicted while idle would have refilled to the burst anyway.
   */
  private bucket?: TokenBucket;
  private bucketLimits?: string;
  /** The tenant's API buckets (`max_api_requests_per_minute`, worker/limits/api-rate.ts), in memory likewise. */
  private readonly apiBuckets = new Map<ApiBucket, { bucket: TokenBucket; key: string }>();
  /**
   * Per client address group shares of the `anonymous` bucket, least recently used first. Bounded:
   * past MAX_ADDRESS_BUCKETS the least recently used is dropped (that address starts again with a
   * full share; the tenant's bucket still bounds the total). A share refills within a minute and
   * every token of one is also a token of the tenant's bucket (at most 2 × its minute's worth in a
   * minute), so fewer than that many shares are ever not full: for limits up to 5000 a minute a
   * dropped share is always a full one, i.e. nothing is forgotten.
   */
  private readonly addressBuckets = new Map<string, { bucket: TokenBucket; key: string }>();
  /** Whether the tenant's API is suspended, at which record version (kept in storage: survives eviction); undefined before read. */
  private apiState: TenantSyncState | null | undefined;

  private sweep(now: number): void {
    this.sql.exec("DELETE FROM leases WHERE expires_at <= ?", now);
  }

  private count(column: "identity" | "resource", value: string): number {
    return Number(this.sql.exec(`SELECT count(*) AS n FROM leases WHERE ${column} = ?`, value).one().n);
  }

  async acquire(req: AcquireRequest): Promise<AcquireResult> {
    const now = Date.now();
    this.sweep(now);
    // A session asks once; asking again (a retried RPC) keeps its one lease.
    this.sql.exec("DELETE FROM leases WHERE session_id = ?", req.sessionId);
    if (req.maxInTenant != null) {
      const open = Number(this.sql.exec("SELECT count(*) AS n FROM leases").one().n);
      if (open >= req.maxInTenant) return { ok: false, scope: "tenant", open, limit: req.maxInTenant };
    }
    if (req.maxPerIdentity !== null) {
      const open = this.count("identity", req.identity);
      if (open >= req.maxPerIdentity) return { ok: false, scope: "identity", open, limit: req.maxPerIdentity };
    }
    if (req.maxPerResource !== null) {
      const open = this.count("resource", req.resource);
      if (open >= req.maxPerResource) return { ok: false, scope: "resource", open, limit: req.maxPerResource };
    }
    if (req.maxStartsPerMinute != null) {
      const refused = this.takeStart(req.sessionId, req.maxStartsPerMinute, now);
      if (refused) return refused;
    }
    this.sql.exec("INSERT INTO leases (session_id, identity, resource, expires_at) VALUES (?, ?, ?, ?)", req.sessionId, req.identity, req.resource, now + Math.min(req.ttlMs ?? LEASE_TTL_MS, LEASE_TTL_MS));
    await this.scheduleSweep();
    return { ok: true };
  }

  /** Sliding window: the starts of the last minute, this session's earlier try not counted twice. */
  private takeStart(sessionId: string, max: number, now: number): Extract<AcquireResult, { scope: "tenant-starts" }> | null {
    this.sql.exec("DELETE FROM starts WHERE at <= ?", now - START_WINDOW_MS);
    const started = Number(this.sql.exec("SELECT count(*) AS n FROM starts WHERE session_id <> ?", sessionId).one().n);
    if (started >= max) {
      const oldest = Number(this.sql.exec("SELECT min(at) AS at FROM starts").one().at ?? now);
      return { ok: false, scope: "tenant-starts", open: started, limit: max, retryAfterMs: Math.max(1, oldest + START_WINDOW_MS - now) };
    }
    this.sql.exec("INSERT OR REPLACE INTO starts (session_id, at) VALUES (?, ?)", sessionId, now);
    return null;
  }

  /** Start refusals not yet in the tenant's log (written at most once a second: a flood is one write). */
  private refusedStarts: { count: number; message: string; start: StartRequest } | undefined;
  private startsLoggedAt = Number.NEGATIVE_INFINITY;

  /**
   * Hosted mode, at the edge (worker/routes/tunnel.ts): may the tenant start one more session
   * (`max_session_starts_per_minute`)? Asked before any other Durable Object is touched, so a
   * refused start costs this one call. Refusals are counted and logged here, in aggregate.
   */
  async admitStart(req: StartRequest): Promise<StartResult> {
    const now = Date.now();
    const refused = this.takeStart(req.sessionId, req.maxStartsPerMinute, now);
    if (!refused) return { ok: true };
    const message = startsRefusal(refused.open, refused.limit, refused.retryAfterMs);
    const pending = (this.refusedStarts ??= { count: 0, message, start: req });
    pending.count++;
    pending.message = message;
    pending.start = req;
    if (now - this.startsLoggedAt >= 1000) this.ctx.waitUntil(this.logRefusedStarts());
    else await this.scheduleAlarm(this.startsLoggedAt + 1000);
    return { ok: false, message, retryAfterMs: refused.retryAfterMs };
  }

  private async logRefusedStarts(): Promise<void> {
    const pending = this.refusedStarts;
    if (!pending) return;
    this.refusedStarts = undefined;
    this.startsLoggedAt = Date.now();
    const { sessionId, identity, resource } = pending.start;
    await logRateRefusal(this.env, { counter: "session_starts_rate_limited", sessionId, identity, resource, count: pending.count, message: pending.message }).catch(() => {});
  }

  /**
   * Up to `wanted` of the tenant's request tokens (a session leases a few at a time:
   * worker/limits/request-gate.ts). Limits travel with each call, so a tenant update applies at once.
   */
  async takeRequests(wanted: number, limits: BucketLimits): Promise<Take> {
    const now = Date.now();
    const key = `${limits.ratePerSecond}/${limits.burst}`;
    if (!this.bucket) this.bucket = new TokenBucket(limits, now);
    else if (this.bucketLimits !== key) this.bucket.retune(limits, now);
    this.bucketLimits = key;
    return this.bucket.take(wanted, now);
  }

  /**
   * Hosted mode: the platform suspended (or resumed) the tenant (tenant-lifecycle.ts), at the
   * record's `version`; an older version than the one held is ignored (tenant-sync.ts). Every
   * isolate asks this object for API tokens at least once a second while it serves the tenant, so
   * an isolate whose cached record still says "active" refuses the tenant's API within about a
   * second, not the record cache's 10 s.
   */
  async syncApiSuspension(state: TenantSyncState): Promise<TenantSyncAnswer> {
    const held = await this.apiLifecycle();
    if (!isNewerOrSame(state, held)) return { applied: false, version: held!.version };
    await this.ctx.storage.put(API_LIFECYCLE_KEY, state);
    await this.ctx.storage.delete(API_SUSPENDED_KEY);
    this.apiState = state;
    return { applied: true, version: state.version };
  }

  private async apiLifecycle(): Promise<TenantSyncState | null> {
    if (this.apiState === undefined) {
      const legacy = await this.ctx.storage.get<string>(API_SUSPENDED_KEY); // written before versions existed
      this.apiState = (await this.ctx.storage.get<TenantSyncState>(API_LIFECYCLE_KEY)) ?? (legacy !== undefined ? { version: -1, suspended: legacy } : null);
    }
    return this.apiState;
  }

  /**
   * Up to `wanted` of the tenant's API tokens from `bucket` (each isolate leases a few at a time:
   * worker/limits/api-rate.ts). Limits travel with each call, as for requests. With
   * `share`, also from the client address group's share of it (`scope` says which one was empty).
   */
  async takeApiRequests(bucket: ApiBucket, wanted: number, limits: BucketLimits, share?: AddressShare): Promise<ApiTake> {
    const lifecycle = await this.apiLifecycle();
    if (lifecycle?.suspended) return { granted: 0, retryAfterMs: 1000, suspended: lifecycle.suspended };
    // The record version this limiter was last told: an isolate holding an older record re-reads it (api-rate.ts).
    const told = lifecycle ? { version: lifecycle.version } : {};
    const now = Date.now();
    const whole = retuned(this.apiBuckets, bucket, limits, now);
    if (!share) return { ...whole.take(wanted, now), ...told };
    // One client address group's share of the bucket: taken from together with the tenant's, so
    // neither is spent without the other (worker/limits/api-rate.ts "per-address shares").
    const part = retuned(this.addressBuckets, share.group, share.limits, now);
    const n = Math.min(wanted, whole.available(now), part.available(now));
    if (n >= 1) {
      whole.take(n, now);
      part.take(n, now);
      return { granted: n, retryAfterMs: 0, ...told };
    }
    if (whole.available(now) < 1) return { ...whole.take(1, now), scope: "tenant", ...told };
    return { ...part.take(1, now), scope: "address", ...told };
  }

  /** Extend a live lease; false when it is gone (expired and swept): the session must end. */
  async renew(sessionId: string): Promise<boolean> {
    const now = Date.now();
    const cursor = this.sql.exec("UPDATE leases SET expires_at = ? WHERE session_id = ? AND expires_at > ? RETURNING session_id", now + LEASE_TTL_MS, sessionId, now);
    return cursor.toArray().length > 0;
  }

  async release(sessionId: string): Promise<void> {
    this.sql.exec("DELETE FROM leases WHERE session_id = ?", sessionId);
  }

  /** Open sessions (tests and operators). */
  async counts(identity: string, resource: string): Promise<{ identity: number; resource: number }> {
    this.sweep(Date.now());
    return { identity: this.count("identity", identity), resource: this.count("resource", resource) };
  }

  private async scheduleSweep(): Promise<void> {
    await this.scheduleAlarm(Date.now() + LEASE_TTL_MS);
  }

  /** The one alarm serves sweeps and the start-refusal log: the earliest wanted time wins. */
  private async scheduleAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    await this.logRefusedStarts();
    this.sweep(Date.now());
    this.sql.exec("DELETE FROM starts WHERE at <= ?", Date.now() - START_WINDOW_MS);
    const left = Number(this.sql.exec("SELECT count(*) AS n FROM leases").one().n);
    if (left > 0) await this.scheduleAlarm(Date.now() + LEASE_TTL_MS);
  }
}
