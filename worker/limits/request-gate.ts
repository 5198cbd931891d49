/**
 * The tenant's request rate, as one session applies it (hosted mode, docs/TENANCY.md "Rate
 * limits"). Every request an engine decides on (a SQL statement, an HTTP or Kubernetes request, an
 * SSH exec/shell/sftp/forward request) first asks `admit()`. Tokens come from the tenant's one
 * bucket in its SessionLimiter, leased a few at a time so a busy session does not pay a round trip
 * per statement: a lease is at most a tenth of a second's worth and lives one second. Tokens are
 * taken from the bucket before they are used, so the tenant never runs more than burst + rate × t
 * requests in t seconds; leased tokens a session does not use within a second are lost (the error
 * is on the side of refusing). An unreachable limiter refuses (fail closed).
 *
 * Refusals must be cheap, or a flood of them takes the CPU the limit is meant to protect
 * (docs/TENANCY.md, "Cheap refusals"). So engines ask `beforeParse()` first, before decoding or
 * classifying anything: when the bucket is known to be empty the request is refused at once, no
 * limiter call, and counted in the session's trail per window (refusal-trail.ts) rather than
 * recorded as a request. A session that keeps sending before the Retry-After it was given,
 * END_AFTER_PREMATURE times in a row, is told to end (`end`).
 */
import type { BucketLimits } from "./token-bucket.ts";
import type { RefusalTrail } from "./refusal-trail.ts";

export interface Throttle {
  /** One sentence for the client, starting with "gatehouse:". */
  message: string;
  /** Whole seconds after which one more request would be admitted (at least 1). */
  retryAfterSeconds: number;
  /**
   * Already recorded (counted in a durable `rate.refused` event): the engine records nothing more
   * and decodes nothing more. Absent: the engine records the refused request as a decision.
   */
  recorded?: boolean;
  /** Set when the session must end after this refusal is answered: why (recorded as the session's end). */
  end?: string;
}

export interface RequestLimiter {
  takeRequests(wanted: number, limits: BucketLimits): Promise<{ granted: number; retryAfterMs: number }>;
}

/** The rule name decisions refused by the rate carry in the session's trail. */
export const RATE_LIMIT_RULE = "gatehouse:tenant-rate-limit";

const LEASE_MS = 1000;
const LOG_EVERY_MS = 1000;
/**
 * Refused requests sent before the Retry-After the session was last given, with no request sent
 * after its Retry-After in between, after which the session is ended: a client that honours
 * Retry-After never gets there; one that ignores it cannot keep the gateway busy refusing it.
 */
export const END_AFTER_PREMATURE = 20;

export function bucketLimits(limits: { maxRequestsPerSecond?: number | null; requestBurst?: number | null } | undefined): BucketLimits | null {
  const rate = limits?.maxRequestsPerSecond;
  if (rate == null) return null;
  return { ratePerSecond: rate, burst: limits?.requestBurst ?? Math.max(1, rate) };
}

export class RequestGate {
  private tokens = 0;
  private expiresAt = 0;
  private leasing: Promise<{ granted: number; retryAfterMs: number }> | undefined;
  private refused = 0;
  private lastLogged = Number.NEGATIVE_INFINITY;
  /** Until then the tenant's bucket is known to be empty (the limiter said when a token returns). */
  private emptyUntil = 0;
  /** The time the session was last told to retry at, and how many requests came before it, in a row. */
  private retryAt = 0;
  private premature = 0;

  constructor(
    private readonly limits: BucketLimits,
    private readonly limiter: () => RequestLimiter,
    /** Count and log refusals: called at most once a second with how many were refused since. */
    private readonly onRefused: (count: number, message: string) => Promise<void>,
    private readonly now: () => number = Date.now,
    /** Where refusals decided before parsing are recorded (counted per window). */
    private readonly trail?: RefusalTrail,
  ) {}

  private limitMessage(): string {
    return `gatehouse: request refused: the tenant's request rate limit is reached (max_requests_per_second: ${this.limits.ratePerSecond}, burst ${this.limits.burst})`;
  }

  /**
   * Asked before the request is decoded or classified: null (synchronously, when the session holds
   * a token) to go on and decide the request, then `admit(cost)`; else the refusal, answered only
   * once it is counted in a durable `rate.refused` event. Makes sure at least one token is held, so
   * a refusal for an empty bucket is always decided here, never after the classification.
   */
  beforeParse(): Promise<Throttle | null> | null {
    if (this.available() >= 1) return null;
    if (this.now() < this.emptyUntil) return this.refuseEarly(this.limitMessage(), this.emptyUntil - this.now());
    return this.leaseBeforeParse();
  }

  private async leaseBeforeParse(): Promise<Throttle | null> {
    let got: { granted: number; retryAfterMs: number };
    try {
      got = await (this.leasing ??= this.lease(1).finally(() => (this.leasing = undefined)));
    } catch (e) {
      return this.refuseEarly(`gatehouse: request refused: the tenant's rate limiter is unavailable (${(e as Error).message})`, 1000);
    }
    if (this.available() >= 1) return null;
    this.emptyUntil = this.now() + Math.max(1, got.retryAfterMs);
    return this.refuseEarly(this.limitMessage(), got.retryAfterMs);
  }

  private async refuseEarly(message: string, retryAfterMs: number): Promise<Throttle> {
    const now = this.now();
    const throttle = this.refuse(message, retryAfterMs);
    if (now < this.retryAt) this.premature++;
    this.retryAt = now + throttle.retryAfterSeconds * 1000;
    if (!this.trail) return throttle;
    try {
      await this.trail.add(throttle.message);
    } catch (e) {
      // Not recorded: the session cannot go on (nothing refused may go unrecorded), and this refusal
      // is not answered as if it were: without `recorded` the engine records it as a decision, which
      // the broken trail refuses, so the session ends with the recording error before any answer.
      return { ...throttle, end: `session ended: a refusal by the tenant's request rate limit could not be recorded (${(e as Error).message})` };
    }
    if (this.premature >= END_AFTER_PREMATURE) {
      return { ...throttle, recorded: true, end: `session ended: it sent ${this.premature} requests in a row before the Retry-After of the tenant's request rate limit (max_requests_per_second: ${this.limits.ratePerSecond})` };
    }
    return { ...throttle, recorded: true };
  }

  private get leaseSize(): number {
    return Math.max(1, Math.min(this.limits.burst, Math.floor(this.limits.ratePerSecond / 10)));
  }

  /**
   * One request costing `cost` tokens (a simple query's statements; 1 otherwise): null when
   * admitted, else why not and when to retry.
   */
  async admit(cost = 1): Promise<Throttle | null> {
    cost = Math.max(1, Math.floor(cost));
    const { ratePerSecond, burst } = this.limits;
    if (cost > burst) {
      return this.refuse(`gatehouse: request refused: its ${cost} statements are more than the tenant's request burst (${burst}); send fewer at a time`, 1000);
    }
    // Each round leases what is missing (at least a lease); a round granting nothing refuses.
    for (let round = 0; round <= cost; round++) {
      if (this.take(cost)) return this.admitted();
      let got: { granted: number; retryAfterMs: number };
      try {
        got = await (this.leasing ??= this.lease(cost - this.available()).finally(() => (this.leasing = undefined)));
      } catch (e) {
        return this.refuse(`gatehouse: request refused: the tenant's rate limiter is unavailable (${(e as Error).message})`, 1000);
      }
      if (got.granted === 0) {
        // (Tokens another caller's lease brought in meanwhile still count, charged once.)
        if (this.take(cost)) return this.admitted();
        this.emptyUntil = this.now() + Math.max(1, got.retryAfterMs);
        return this.refuse(`gatehouse: request refused: the tenant's request rate limit is reached (max_requests_per_second: ${ratePerSecond}, burst ${burst})`, got.retryAfterMs);
      }
    }
    if (this.take(cost)) return this.admitted();
    return this.refuse(`gatehouse: request refused: the tenant's request rate limit is reached (max_requests_per_second: ${ratePerSecond}, burst ${burst})`, 1000);
  }

  /**
   * A request admitted after the Retry-After it was given ends a streak; one admitted before it
   * does not (a client ignoring Retry-After still gets a token now and then at the tenant's rate,
   * and must not be forgiven for it).
   */
  private admitted(): null {
    if (this.now() >= this.retryAt) this.premature = 0;
    return null;
  }

  /** Log what is still unlogged (the session ends). */
  async flush(): Promise<void> {
    await this.trail?.flush().catch(() => {});
    if (this.refused === 0) return;
    const count = this.refused;
    this.refused = 0;
    await this.onRefused(count, `gatehouse: request refused: the tenant's request rate limit is reached (max_requests_per_second: ${this.limits.ratePerSecond})`);
  }

  private available(): number {
    return this.now() < this.expiresAt ? this.tokens : 0;
  }

  private take(cost: number): boolean {
    if (this.available() < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Leases at least `missing` tokens (and at least a lease's worth); they join the unexpired ones. */
  private async lease(missing: number): Promise<{ granted: number; retryAfterMs: number }> {
    const got = await this.limiter().takeRequests(Math.max(this.leaseSize, missing), this.limits);
    if (got.granted > 0) {
      this.tokens = this.available() + got.granted;
      this.expiresAt = this.now() + LEASE_MS;
    }
    return got;
  }

  private refuse(message: string, retryAfterMs: number): Throttle {
    this.refused++;
    const now = this.now();
    if (now - this.lastLogged >= LOG_EVERY_MS) {
      this.lastLogged = now;
      const count = this.refused;
      this.refused = 0;
      // Logged in the background: the refusal itself must not wait on (or fail with) the log.
      this.onRefused(count, message).catch(() => {});
    }
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    return { message: `${message}; retry in ${retryAfterSeconds} s`, retryAfterSeconds };
  }
}
