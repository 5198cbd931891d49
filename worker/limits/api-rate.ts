/**
 * The tenant's API request rate (hosted mode, `max_api_requests_per_minute`; docs/TENANCY.md
 * "API rate limit"): the tenant's calls outside sessions — its admin API, approvals and grants,
 * session listings and trail reads, its web console, sign-in, connector enrolment and key
 * rotation, its published audit keys — draw on a token bucket of the tenant's own SessionLimiter
 * (`tenant:<t>:limits`), so one tenant's calls can never spend another's budget, and the
 * platform's own API (served outside every tenant, worker/tenancy/boundary.ts) never reaches it.
 *
 * Two buckets per tenant, both sized by the one limit:
 *  - `callers`: requests whose caller has just been authenticated as the tenant's — a bearer
 *    token that passed the tenant's issuers (signature, audience, claim rules), a console
 *    session of the tenant, a connector assertion the tenant's registry admitted. Charged right
 *    after that check, before any other Durable Object is asked. A request that fails
 *    authentication is refused (401) without spending the tenant's budget: an outsider without a
 *    token for the tenant cannot lock its administrators out.
 *  - `anonymous`: the routes that serve anyone (sign-in pages and callbacks, connector enrolment —
 *    whose one-time token is judged by the hub —, the published audit keys). Charged up front. A
 *    flood there can use up only this bucket: the tenant's authenticated API goes on.
 *
 * Cheap: each isolate leases tokens from the limiter a tenth of a second's worth at a time (at
 * least one) and spends them locally; a lease lives one second, and tokens not spent by then are
 * lost (the error is on the side of refusing). Tokens are taken from the bucket before they are
 * spent, so however many isolates serve the tenant it never gets more than burst + rate × t calls
 * in t seconds. Once the limiter has said when the next token comes, the isolate refuses until
 * then without asking it again. The bucket is in the limiter's memory: no durable write per call.
 *
 * A limiter that cannot be reached: routes that only protect (revoking a grant or a connector,
 * denying a request, signing out) and the public audit keys go on (fail open: refusing them would
 * keep an administrator from stopping access during an incident, or verifiers from checking
 * trails); every other call is refused with 503 (fail closed: they create work and state — grant
 * and approval votes, policy, enrolment, sign-in — and must not become unbounded while the limit
 * cannot be applied).
 */
import type { Env } from "../env.ts";
import type { BucketLimits, Take } from "./token-bucket.ts";
import type { Identity } from "../../parsers/identity.ts";
import type { CompiledPolicy } from "../../parsers/policy/index.ts";
import { currentPolicy } from "../policy/current-policy.ts";
import { forgetTenant } from "../tenancy/tenant-registry.ts";

export type ApiBucket = "callers" | "unmatched" | "anonymous";

/** When a tenant's record sets no `max_api_requests_per_minute`. */
export const DEFAULT_API_REQUESTS_PER_MINUTE = 1200;

export interface ApiRateLimiter {
  /**
   * `suspended`: the platform suspended the tenant (session-limiter.ts syncApiSuspension);
   * `version`: the tenant record's version the limiter was last told.
   */
  takeApiRequests(bucket: ApiBucket, wanted: number, limits: BucketLimits): Promise<Take & { suspended?: string; version?: number }>;
}

const LEASE_MS = 1000;

export function apiRequestsPerMinute(limits: { maxApiRequestsPerMinute?: number | null } | undefined): number {
  const n = limits?.maxApiRequestsPerMinute;
  return n != null && n >= 1 ? n : DEFAULT_API_REQUESTS_PER_MINUTE;
}

/** The bucket: a minute's worth may be sent back to back, refilled at the per-minute rate. */
export function apiBucketLimits(perMinute: number): BucketLimits {
  return { ratePerSecond: perMinute / 60, burst: perMinute };
}

/**
 * Routes whose calls go on when the limiter cannot be reached (see above). Paths are the worker's
 * (the tenant prefix already stripped).
 */
export function failsOpen(method: string, path: string): boolean {
  if (method === "GET" && path === "/.well-known/gatehouse-audit-keys") return true;
  if (method !== "POST") return false;
  return (
    path === "/signout" ||
    /^\/v1\/(approvals|grants)\/[^/]+\/deny$/.test(path) ||
    /^\/v1\/grants\/[^/]+\/revoke$/.test(path) ||
    /^\/v1\/admin\/connectors\/[^/]+\/revoke$/.test(path) ||
    /^\/console\/approvals\/[^/]+\/deny$/.test(path) ||
    /^\/console\/grants\/[^/]+\/revoke$/.test(path)
  );
}

/** Routes of the `anonymous` bucket (charged before anything else runs). */
export function isAnonymousApiRoute(method: string, path: string): boolean {
  return (
    path === "/.well-known/gatehouse-audit-keys" ||
    path === "/signin" ||
    path.startsWith("/signin/") ||
    path === "/signout" ||
    (method === "POST" && path === "/v1/connector/enroll")
  );
}

export type ApiDecision = { ok: true } | { ok: false; status: 403 | 429 | 503; retryAfterSeconds: number; error: string; reason: string };

interface Lease {
  /** The limit the lease was taken under: a tenant update (a new limit) starts afresh. */
  perMinute: number;
  tokens: number;
  expiresAt: number;
  /** Until then the bucket is known to be empty (the limiter said when a token returns). */
  emptyUntil: number;
  /** The tenant is suspended (the limiter said so): refused until `emptyUntil`, then asked again. */
  suspended?: string;
}

/**
 * One isolate's leases, per tenant and bucket. Keys carry the tenant: tenant A's lease is never
 * spent on B's calls (and each tenant's limiter is its own object anyway).
 */
export class ApiRateGate {
  private readonly leases = new Map<string, Lease>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * `record`: the version of the tenant's record this call was judged with, and how to drop it. A
   * limiter told a newer version (an update: an issuer removed, a secret rotated) refuses the call
   * — 503 `tenant_record_changed`, retry at once — and the record is read again for the next one,
   * so an isolate's cache serves a changed record at most a lease (a second) longer, not 10 s.
   */
  async admit(tenant: string, bucket: ApiBucket, perMinute: number, limiter: () => ApiRateLimiter, failOpen: boolean, record?: { version: number; forget(): void }): Promise<ApiDecision> {
    const key = `${tenant}\n${bucket}`;
    const now = this.now();
    let lease = this.leases.get(key);
    if (!lease || lease.perMinute !== perMinute) {
      lease = { perMinute, tokens: 0, expiresAt: 0, emptyUntil: 0 };
      this.leases.set(key, lease);
    }
    if (lease.tokens > 0 && now < lease.expiresAt) {
      lease.tokens--;
      return { ok: true };
    }
    if (now < lease.emptyUntil) return lease.suspended !== undefined ? suspendedDecision(lease.suspended) : refused(bucket, perMinute, lease.emptyUntil - now);
    const limits = apiBucketLimits(perMinute);
    let take: Take & { suspended?: string; version?: number };
    try {
      take = await limiter().takeApiRequests(bucket, Math.max(1, Math.ceil(limits.ratePerSecond / 10)), limits);
    } catch (e) {
      if (failOpen) return { ok: true };
      return { ok: false, status: 503, retryAfterSeconds: 1, error: "rate_limiter_unavailable", reason: `gatehouse: the tenant's API rate limiter cannot be reached (${(e as Error).message.slice(0, 200)}); retry shortly` };
    }
    const after = this.now();
    if (take.suspended !== undefined) {
      // Whatever this isolate's cached tenant record says: suspended (asked again in a second).
      lease.tokens = 0;
      lease.emptyUntil = after + take.retryAfterMs;
      lease.suspended = take.suspended;
      return suspendedDecision(take.suspended);
    }
    lease.suspended = undefined;
    if (record && take.version !== undefined && take.version > record.version) {
      record.forget();
      // The tokens stay leased: the retry (judged with the record read again) spends them.
      lease.tokens = take.granted;
      lease.expiresAt = after + LEASE_MS;
      lease.emptyUntil = 0;
      return { ok: false, status: 503, retryAfterSeconds: 1, error: "tenant_record_changed", reason: `gatehouse: the tenant ${tenant}'s configuration was changed by the platform a moment ago; retry` };
    }
    if (take.granted > 0) {
      lease.tokens = take.granted - 1;
      lease.expiresAt = after + LEASE_MS;
      lease.emptyUntil = 0;
      return { ok: true };
    }
    lease.tokens = 0;
    lease.emptyUntil = after + take.retryAfterMs;
    return refused(bucket, perMinute, take.retryAfterMs);
  }
}

function suspendedDecision(reason: string): ApiDecision {
  return { ok: false, status: 403, retryAfterSeconds: 1, error: "tenant_suspended", reason };
}

function refused(bucket: ApiBucket, perMinute: number, retryAfterMs: number): ApiDecision {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const which = bucket === "callers" ? "API request" : bucket === "unmatched" ? "API request by an identity the tenant's policy does not name" : "unauthenticated API request";
  return {
    ok: false,
    status: 429,
    retryAfterSeconds,
    error: "api_rate_limited",
    reason: `gatehouse: ${which} refused: the tenant's API rate limit is reached (max_api_requests_per_minute: ${perMinute}); retry in ${retryAfterSeconds} s`,
  };
}

/** This isolate's gate (module state: one per isolate, shared by every request it serves). */
const isolateGate = new ApiRateGate();

/**
 * Hosted mode: charge one call of the tenant's API to `bucket`. Null when admitted (and always in
 * single-tenant mode: no tenant, no limit); otherwise the answer to send: 429 (or 503 when the
 * limiter is unreachable on a fail-closed route) with a JSON body and Retry-After.
 */
export async function chargeApiRequest(env: Pick<Env, "TENANT" | "SESSION_LIMITER">, bucket: ApiBucket, method: string, path: string, gate: ApiRateGate = isolateGate): Promise<Response | null> {
  const tenant = env.TENANT;
  if (!tenant) return null;
  const decision = await gate.admit(
    tenant.name,
    bucket,
    apiRequestsPerMinute(tenant.limits),
    () => env.SESSION_LIMITER.get(env.SESSION_LIMITER.idFromName("limits")),
    failsOpen(method, path),
    { version: tenant.version ?? 0, forget: () => forgetTenant(tenant.name) },
  );
  if (decision.ok) return null;
  return Response.json(
    { error: decision.error, reason: decision.reason, retry_after_seconds: decision.retryAfterSeconds },
    { status: decision.status, headers: { "retry-after": String(decision.retryAfterSeconds) } },
  );
}

/** The policy the bucket choice reads, per tenant and isolate for a few seconds (not a decision: which budget a call spends). */
const BUCKET_POLICY_TTL_MS = 5_000;
const bucketPolicies = new Map<string, { at: number; policy: Promise<CompiledPolicy | null> }>();

function policyForBuckets(env: Env, now: number): Promise<CompiledPolicy | null> {
  const key = env.TENANT!.name;
  const held = bucketPolicies.get(key);
  if (held && now - held.at < BUCKET_POLICY_TTL_MS) return held.policy;
  const policy = currentPolicy(env).catch(() => null);
  bucketPolicies.set(key, { at: now, policy });
  if (bucketPolicies.size > 1000) bucketPolicies.delete(bucketPolicies.keys().next().value!);
  return policy;
}

/**
 * Hosted mode: charge one call of an authenticated caller (a verified token, a console session).
 * A valid token is not enough to spend the tenant's people's budget — an issuer such as GitHub
 * Actions mints tokens for the tenant's audience to anyone — so identities the tenant's policy
 * does not name (no role, no rule's subjects, no approvers list: `knowsIdentity`) spend the
 * `unmatched` bucket, and cannot lock the tenant's administrators out. A protective call (a
 * revoke, a deny, signing out) by a role holder is never refused by the API limit: stopping
 * access must work during a flood. A policy that cannot be read puts everyone in `unmatched`.
 */
export async function chargeAuthenticatedCall(env: Env, identity: Identity, method: string, path: string, gate: ApiRateGate = isolateGate, now = Date.now()): Promise<Response | null> {
  if (!env.TENANT) return null;
  const policy = await policyForBuckets(env, now);
  const holdsRole = (policy?.rolesOf(identity).length ?? 0) > 0;
  if (holdsRole && failsOpen(method, path)) return null;
  const bucket: ApiBucket = holdsRole || policy?.knowsIdentity(identity) ? "callers" : "unmatched";
  return chargeApiRequest(env, bucket, method, path, gate);
}
