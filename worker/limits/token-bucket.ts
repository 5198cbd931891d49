/**
 * A token bucket (rate per second, burst): the tenant's request rate (docs/TENANCY.md, "Rate
 * limits"). Pure and clock-injected so the limiter object and the tests share one implementation.
 * Tokens are fractional while refilling; only whole tokens are granted.
 */
export interface BucketLimits {
  /** Tokens added per second. */
  ratePerSecond: number;
  /** Most tokens held at once (a quiet tenant may send this many requests back to back). */
  burst: number;
}

export interface Take {
  /** Whole tokens granted (0..wanted). */
  granted: number;
  /** When nothing was granted: milliseconds until one token is there (for Retry-After). */
  retryAfterMs: number;
}

export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private limits: BucketLimits,
    now: number,
  ) {
    this.tokens = limits.burst;
    this.at = now;
  }

  /** New limits (a tenant update) apply from now; the tokens held are capped by the new burst. */
  retune(limits: BucketLimits, now: number): void {
    this.refill(now);
    this.limits = limits;
    this.tokens = Math.min(this.tokens, limits.burst);
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.limits.burst, this.tokens + ((now - this.at) / 1000) * this.limits.ratePerSecond);
    this.at = Math.max(this.at, now);
  }

  /** Whole tokens held now (nothing taken). */
  available(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  /** Up to `wanted` whole tokens (at least 1 asked), as many as there are. */
  take(wanted: number, now: number): Take {
    this.refill(now);
    const granted = Math.max(0, Math.min(Math.floor(this.tokens), Math.max(1, Math.floor(wanted))));
    this.tokens -= granted;
    if (granted > 0) return { granted, retryAfterMs: 0 };
    const missing = 1 - this.tokens;
    return { granted: 0, retryAfterMs: this.limits.ratePerSecond > 0 ? Math.ceil((missing / this.limits.ratePerSecond) * 1000) : 60_000 };
  }
}
