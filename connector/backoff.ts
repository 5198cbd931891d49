/**
 * Reconnect delays: exponential with full jitter, capped, so a fleet of connectors does not
 * stampede a worker that just restarted. The caller resets it once a connection proved stable.
 */
export interface BackoffOptions {
  /** First delay ceiling in ms (default 250). */
  initialMs?: number;
  /** Largest delay in ms (default 10 000). */
  maxMs?: number;
  /** Random source in [0, 1), for tests. */
  random?: () => number;
}

export interface Backoff {
  /** Delay before the next attempt, in ms. */
  next(): number;
  reset(): void;
}

export function createBackoff(opts: BackoffOptions = {}): Backoff {
  const initialMs = opts.initialMs ?? 250;
  const maxMs = opts.maxMs ?? 10_000;
  const random = opts.random ?? Math.random;
  if (!(initialMs > 0) || !(maxMs >= initialMs)) throw new RangeError("backoff needs 0 < initialMs <= maxMs");
  let attempt = 0;
  return {
    next() {
      const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
      attempt++;
      // Half fixed, half random: never zero (no hot loop), still spread out.
      return Math.round(ceiling / 2 + random() * (ceiling / 2));
    },
    reset() {
      attempt = 0;
    },
  };
}
