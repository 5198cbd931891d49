/**
 * Request timeout (shared filter): a forwarded request starts the clock (the policy's
 * statement_timeout); the answer that completes it stops the clock; when time runs out first,
 * `onTimeout` cancels it in the protocol's way (PostgreSQL: a CancelRequest through the connector).
 * The clock runs only while a request is outstanding: requests are counted in, completions out.
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
  let timer: ReturnType<typeof setTimeout> | undefined;
  let outstanding = 0;
  const clear = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  return {
    name: "timeout",
    decode(frame) {
      if (!frame.request) return CONTINUE;
      outstanding++;
      const ms = opts.limitMs();
      if (ms && timer === undefined) {
        timer = setTimeout(() => {
          timer = undefined;
          opts.onTimeout(ms);
        }, ms);
      }
      return CONTINUE;
    },
    encode(frame) {
      if (outstanding > 0 && opts.completes(frame)) {
        outstanding--;
        if (outstanding === 0) clear();
      }
      return CONTINUE;
    },
    clear,
  };
}
