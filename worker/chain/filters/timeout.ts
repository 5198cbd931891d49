/**
 * Request timeout (shared filter): a forwarded request starts the clock (the policy's
 * statement_timeout); the answer that completes it stops the clock; when time runs out first,
 * `onTimeout` cancels it in the protocol's way (PostgreSQL: a CancelRequest through the connector).
 * The clock runs only while a request is outstanding: requests are counted in, completions out.
 * A session's requests are answered in order, so when one completes and others are still
 * outstanding, the next one's clock starts then (each request gets the whole limit once it runs).
 */
import { CONTINUE, type ChainFrame, type Filter } from "../types.ts";

export interface TimeoutOptions<M> {
  /** The limit in milliseconds; null = none. Read per request (the policy may change it). */
  limitMs(): number | null;
  /** Whether an answer completes one outstanding request (PostgreSQL: ReadyForQuery). */
  completes(frame: ChainFrame<M>): boolean;
  onTimeout(limitMs: number): void;
}

export interface TimeoutFilter<M> extends Filter<M> {
  /** Stop the clock (session end). */
  clear(): void;
}

export function timeoutFilter<M>(opts: TimeoutOptions<M>): TimeoutFilter<M> {
  // One timer serves many requests: a completed request only drops its deadline (no clearTimeout,
  // no setTimeout per request). When the timer fires it looks at the deadline now running: none
  // → it lapses; not reached (a later request started its clock since) → it re-arms for the
  // rest; reached → the request timed out.
  let timer: ReturnType<typeof setTimeout> | undefined;
  let deadline: { at: number; ms: number } | undefined;
  let outstanding = 0;
  const clear = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    deadline = undefined;
  };
  const schedule = (ms: number) => {
    timer = setTimeout(() => {
      timer = undefined;
      const d = deadline;
      if (!d) return;
      const left = d.at - Date.now();
      if (left > 0) return schedule(left);
      deadline = undefined;
      opts.onTimeout(d.ms);
    }, ms);
  };
  /** Start the clock of the request now running. */
  const start = () => {
    const ms = opts.limitMs();
    if (!ms) return;
    deadline = { at: Date.now() + ms, ms };
    if (timer === undefined) schedule(ms);
  };
  return {
    name: "timeout",
    decode(frame) {
      if (!frame.request) return CONTINUE;
      outstanding++;
      if (!deadline) start();
      return CONTINUE;
    },
    encode(frame) {
      if (outstanding > 0 && opts.completes(frame)) {
        outstanding--;
        deadline = undefined;
        if (outstanding > 0) start();
      }
      return CONTINUE;
    },
    clear,
  };
}
