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
 *    whose one-time token is judged by the hub —, the published audit keys), and the registry
 *    lookup of a connector key this isolate does not hold (worker/connectors/connector-keys.ts).
 *    Charged up front. A flood there can use up only this bucket: the tenant's authenticated API
 *    goes on. Within it, each client address group (address-group.ts: an IPv4 address, an IPv6
 *    /48, or the one group of requests without a trusted address) may spend only its share
 *    (`addressShare`: a tenth of the bucket, at least 10 a minute): a flood from one address, or
 *    from a few, leaves the rest of the bucket to everyone else, so it cannot keep the tenant's
 *    people from signing in. The tenant's bucket still bounds the total, however many addresses.
 *
 * Cheap: each isolate leases tokens from the limiter a tenth of a second's worth at a time (at
 * least one) and spends them locally; a lease lives one second, and tokens not spent by then are
 * lost (the error is on the side of refusing). Tokens are taken from the bucket before they are
 * spent, so however many isolates serve the tenant it never gets more than burst + rate × t calls
 * in t seconds. Once the limiter has said when the next token comes, the isolate refuses until
 * then without asking it again. The bucket is in the limiter's memory: no durable write per call.
 *
 * A limiter that cannot be reached: routes that only protect (revoking a grant or a connector,
 * changing a connector's binding — narrowing it ends the sessions it serves outside the new one —,
 * denying a request, signing out, cancelling a running statement) and the public audit keys go on (fail open: refusing them would
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
import { clientAddress } from "../routes/client-address.ts";
import { addressGroup } from "./address-group.ts";
import { forgetTenant } from "../tenancy/tenant-registry.ts";

import { apiRequestsPerMinute } from "./api-rate-default.ts";
export { DEFAULT_API_REQUESTS_PER_MINUTE, apiRequestsPerMinute } from "./api-rate-default.ts";

export type ApiBucket = "callers" | "unmatched" | "anonymous";

/** A client address group's share of the anonymous bucket, asked for with it. */
export interface AddressShare {
  group: string;
  limits: BucketLimits;
}

/** What the limiter answers: `scope` says whether the tenant's bucket or the address's share was empty. */
export type ApiTake = Take & { suspended?: string; scope?: "tenant" | "address"; version?: number };


export interface ApiRateLimiter {
  /**
   * `suspended`: the platform suspended the tenant (session-limiter.ts syncApiSuspension);
   * `version`: the tenant record's version the limiter was last told.
   */
  takeApiRequests(bucket: ApiBucket, wanted: number, limits: BucketLimits, share?: AddressShare): Promise<ApiTake>;
}

const LEASE_MS = 1000;


/** The bucket: a minute's worth may be sent back to back, refilled at the per-minute rate. */
export function apiBucketLimits(perMinute: number): BucketLimits {
  return { ratePerSecond: perMinute / 60, burst: perMinute };
}

/**
 * One client address group's share of the anonymous bucket, a minute's worth: a tenth of the
 * tenant's (an office behind one NAT address signs in a dozen people a minute at the default of
 * 1200), at least 10 (a sign-in is three or four calls), at most the whole bucket.
 */
export function addressShare(perMinute: number): number {
  return Math.min(perMinute, Math.max(10, Math.ceil(perMinute / 10)));
}

/** How many leases one isolate keeps (per tenant, bucket and address group); the oldest go first. */
export const MAX_ISOLATE_LEASES = 4096;

/**
 * Routes whose calls go on when the limiter cannot be reached (see above). Paths are the worker's
 * (the tenant prefix already stripped).
 */
export function failsOpen(method: string, path: string): boolean {
  if (method === "GET" && path === "/.well-known/gatehouse-audit-keys") return true;
  if (method !== "POST") return false;
  return (
    path === "/signout" ||
    path === "/v1/cancel" ||
    /^\/v1\/(approvals|grants)\/[^/]+\/deny$/.test(path) ||
    /^\/v1\/grants\/[^/]+\/revoke$/.test(path) ||
    /^\/v1\/admin\/connectors\/[^/]+\/revoke$/.test(path) ||
    // An administrator's containment of a connector thought compromised, as revoking it is. A bind
    // that widens passes too: the route is admin-only and one call is bounded work (a record, a
    // close per hub shard); the limit bounds cost, it does not decide who may bind.
    /^\/v1\/admin\/connectors\/[^/]+\/bind$/.test(path) ||
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
  /** Whose emptiness `emptyUntil` is: the tenant's bucket or the address group's share. */
  scope?: "tenant" | "address";
  /** The tenant is suspended (the limiter said so): refused until `emptyUntil`, then asked again. */
  suspended?: string;
}

/**
 * One isolate's leases, per tenant and bucket — and, in the anonymous bucket, per client address
 * group. Keys carry the tenant: tenant A's lease is never spent on B's calls (and each tenant's
 * limiter is its own object anyway). Bounded (MAX_ISOLATE_LEASES, oldest dropped first): a lease
 * dropped loses at most its one or two tokens and what it knew of an empty bucket, which the
 * limiter, holding the truth, says again on the next ask.
 */
export class ApiRateGate {
  /** Per tenant and bucket; per address group apart, so a flood of addresses never pushes out what the isolate knows of the whole bucket. */
  private readonly tenantLeases = new Map<string, Lease>();
  private readonly addressLeases = new Map<string, Lease>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxLeases = MAX_ISOLATE_LEASES,
  ) {}

  private lease(leases: Map<string, Lease>, key: string, perMinute: number): Lease {
    let lease = leases.get(key);
    if (!lease || lease.perMinute !== perMinute) {
      lease = { perMinute, tokens: 0, expiresAt: 0, emptyUntil: 0 };
      leases.set(key, lease);
      while (leases.size > this.maxLeases) leases.delete(leases.keys().next().value!);
    }
    return lease;
  }

  /**
   * `group` (anonymous bucket only): the client address group (address-group.ts) whose share the
   * call spends as well as the tenant's bucket.
   * `record`: the version of the tenant's record this call was judged with, and how to drop it. A
   * limiter told a newer version (an update: an issuer removed, a secret rotated) refuses the call
   * — 503 `tenant_record_changed`, retry at once — and the record is read again for the next one,
   * so an isolate's cache serves a changed record at most a lease (a second) longer, not 10 s.
   */
  async admit(tenant: string, bucket: ApiBucket, perMinute: number, limiter: () => ApiRateLimiter, failOpen: boolean, group?: string, record?: { version: number; forget(): void }): Promise<ApiDecision> {
    const tenantKey = `${tenant}\n${bucket}`;
    const now = this.now();
    const whole = this.lease(this.tenantLeases, tenantKey, perMinute);
    const lease = group === undefined ? whole : this.lease(this.addressLeases, `${tenantKey}\n${group}`, perMinute);
    if (lease.tokens > 0 && now < lease.expiresAt) {
      lease.tokens--;
      return { ok: true };
    }
    if (now < lease.emptyUntil) return lease.suspended !== undefined ? suspendedDecision(lease.suspended) : refused(bucket, perMinute, lease.emptyUntil - now, lease.scope);
    // The tenant's whole bucket known empty (said while serving another address): refused without asking.
    if (now < whole.emptyUntil) {
      // Remembered for this address group too: it was refused (addressKnownRefused).
      if (lease !== whole) Object.assign(lease, { tokens: 0, emptyUntil: whole.emptyUntil, scope: "tenant", suspended: whole.suspended });
      return whole.suspended !== undefined ? suspendedDecision(whole.suspended) : refused(bucket, perMinute, whole.emptyUntil - now, "tenant");
    }
    const limits = apiBucketLimits(perMinute);
    const share: AddressShare | undefined = group === undefined ? undefined : { group, limits: apiBucketLimits(addressShare(perMinute)) };
    let take: ApiTake;
    try {
      take = await limiter().takeApiRequests(bucket, Math.max(1, Math.ceil((share ?? { limits }).limits.ratePerSecond / 10)), limits, share);
    } catch (e) {
      if (failOpen) return { ok: true };
      return { ok: false, status: 503, retryAfterSeconds: 1, error: "rate_limiter_unavailable", reason: `gatehouse: the tenant's API rate limiter cannot be reached (${(e as Error).message.slice(0, 200)}); retry shortly` };
    }
    const after = this.now();
    if (take.suspended !== undefined) {
      // Whatever this isolate's cached tenant record says: suspended (asked again in a second).
      for (const l of new Set([lease, whole])) {
        l.tokens = 0;
        l.emptyUntil = after + take.retryAfterMs;
        l.suspended = take.suspended;
      }
      return suspendedDecision(take.suspended);
    }
    lease.suspended = undefined;
    whole.suspended = undefined;
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
    const scope = group === undefined ? undefined : (take.scope ?? "tenant");
    lease.tokens = 0;
    lease.emptyUntil = after + take.retryAfterMs;
    lease.scope = scope;
    if (scope === "tenant") {
      whole.emptyUntil = after + take.retryAfterMs;
      whole.scope = "tenant";
    }
    return refused(bucket, perMinute, take.retryAfterMs, scope);
  }

  /**
   * The refusal this isolate already holds for the address group `group` in `bucket` (its share
   * used up, or it was refused while the tenant's whole bucket was empty), or null: nothing is
   * asked of the limiter and nothing is spent. A group that has not been refused is never refused
   * here, however empty the whole bucket is (worker/routes/connector.ts, stream tickets: a flood from other addresses
   * must not keep the tenant's connectors out).
   */
  addressKnownRefused(tenant: string, bucket: ApiBucket, perMinute: number, group: string): ApiDecision | null {
    const lease = this.addressLeases.get(`${tenant}\n${bucket}\n${group}`);
    const now = this.now();
    if (!lease || lease.perMinute !== perMinute || now >= lease.emptyUntil) return null;
    return lease.suspended !== undefined ? suspendedDecision(lease.suspended) : refused(bucket, perMinute, lease.emptyUntil - now, lease.scope);
  }
}

function suspendedDecision(reason: string): ApiDecision {
  return { ok: false, status: 403, retryAfterSeconds: 1, error: "tenant_suspended", reason };
}

function refused(bucket: ApiBucket, perMinute: number, retryAfterMs: number, scope?: "tenant" | "address"): ApiDecision {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  const which = bucket === "callers" ? "API request" : bucket === "unmatched" ? "API request by an identity the tenant's policy does not name" : "unauthenticated API request";
  const what =
    scope === "address"
      ? `this client address's share of the tenant's unauthenticated API budget is used up (${addressShare(perMinute)} a minute per address; max_api_requests_per_minute: ${perMinute})`
      : `the tenant's API rate limit is reached (max_api_requests_per_minute: ${perMinute})`;
  return { ok: false, status: 429, retryAfterSeconds, error: "api_rate_limited", reason: `gatehouse: ${which} refused: ${what}; retry in ${retryAfterSeconds} s` };
}

/** A refusal decided deep in a route (a charged lookup), thrown to app.onError, which sends `response` (429 or 503, with Retry-After) as is. */
export class RefusedByRateLimit extends Error {
  constructor(readonly response: Response) {
    super("refused by the tenant's API rate limit");
  }
}

/** This isolate's gate (module state: one per isolate, shared by every request it serves). */
const isolateGate = new ApiRateGate();

/**
 * Hosted mode: charge one call of the tenant's API to `bucket`. Null when admitted (and always in
 * single-tenant mode: no tenant, no limit); otherwise the answer to send: 429 (or 503 when the
 * limiter is unreachable on a fail-closed route) with a JSON body and Retry-After.
 */
export async function chargeApiRequest(env: Pick<Env, "TENANT" | "SESSION_LIMITER">, bucket: ApiBucket, method: string, path: string, gate: ApiRateGate = isolateGate, group?: string): Promise<Response | null> {
  const tenant = env.TENANT;
  if (!tenant) return null;
  const decision = await gate.admit(
    tenant.name,
    bucket,
    apiRequestsPerMinute(tenant.limits),
    () => env.SESSION_LIMITER.get(env.SESSION_LIMITER.idFromName("limits")),
    failsOpen(method, path),
    group,
    { version: tenant.version ?? 0, forget: () => forgetTenant(tenant.name) },
  );
  return decision.ok ? null : refusalResponse(decision);
}

function refusalResponse(decision: Exclude<ApiDecision, { ok: true }>): Response {
  return Response.json(
    { error: decision.error, reason: decision.reason, retry_after_seconds: decision.retryAfterSeconds },
    { status: decision.status, headers: { "retry-after": String(decision.retryAfterSeconds) } },
  );
}

/**
 * Hosted mode: the refusal this isolate already holds for the request's client address group in
 * the anonymous bucket (ApiRateGate.addressKnownRefused), or null. Spends nothing: for calls that
 * are charged only when they turn out to be refused (a stream ticket the session object refused,
 * worker/routes/connector.ts), so that an address refused once reaches no object until its share
 * returns.
 */
export function knownAnonymousRefusal(env: Pick<Env, "TENANT" | "GATEHOUSE_BEHIND_CLOUDFLARE">, request: Request, gate: ApiRateGate = isolateGate): Response | null {
  const tenant = env.TENANT;
  if (!tenant) return null;
  const group = addressGroup(clientAddress(env, request.headers, request.cf));
  const decision = gate.addressKnownRefused(tenant.name, "anonymous", apiRequestsPerMinute(tenant.limits), group);
  return decision && !decision.ok ? refusalResponse(decision) : null;
}

/**
 * Hosted mode: charge one unauthenticated call (a route that serves anyone, or work done before its
 * caller is known) to the anonymous bucket and the share of its client address group — the
 * address the gateway trusts (worker/routes/client-address.ts: CF-Connecting-IP on Cloudflare, the
 * socket peer under standalone workerd, never X-Forwarded-For), or the shared `unknown` group.
 */
export function chargeAnonymousCall(
  env: Pick<Env, "TENANT" | "SESSION_LIMITER" | "GATEHOUSE_BEHIND_CLOUDFLARE">,
  request: Request,
  path: string,
  gate: ApiRateGate = isolateGate,
): Promise<Response | null> {
  if (!env.TENANT) return Promise.resolve(null);
  const group = addressGroup(clientAddress(env, request.headers, request.cf));
  return chargeApiRequest(env, "anonymous", request.method, path, gate, group);
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
