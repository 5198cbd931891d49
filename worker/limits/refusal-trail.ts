/**
 * Requests refused by the tenant's request rate before they were parsed, recorded in the session's
 * trail as one counted `rate.refused` event per window instead of one request + decision pair per
 * refused message (docs/TENANCY.md, "Cheap refusals"). A flood of refusals then costs one trail
 * write per window, not one per message.
 *
 * Nothing is lost and nothing is answered early: `add()` resolves only when the event that counts
 * this refusal is durable, so the client learns of a refusal after its record exists, as with any
 * other decision. The window opens at the first refusal and is written WINDOW_MS later (or at once
 * by `flush()` when the session ends); a refusal therefore waits at most one window plus one write,
 * which also slows a client that ignores Retry-After.
 */
import type { RateRefusedData } from "../../parsers/audit/types.ts";

export const REFUSAL_WINDOW_MS = 250;

interface Window {
  data: RateRefusedData;
  done: Promise<void>;
  settle: (error?: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class RefusalTrail {
  private open: Window | undefined;

  constructor(
    private readonly write: (data: RateRefusedData) => Promise<void>,
    private readonly windowMs = REFUSAL_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Count one refusal; resolves when the event counting it is durable (rejects if it cannot be written). */
  add(reason: string): Promise<void> {
    const at = this.now();
    let w = this.open;
    if (!w) {
      let settle!: (error?: Error) => void;
      const done = new Promise<void>((resolve, reject) => (settle = (error) => (error ? reject(error) : resolve())));
      // Whoever waits on the window sees a failed write; an unwatched one is not an unhandled rejection.
      done.catch(() => {});
      w = { data: { count: 0, first_ts: at, last_ts: at, reason }, done, settle, timer: undefined };
      const opened = w;
      w.timer = setTimeout(() => void this.commit(opened).catch(() => {}), this.windowMs);
      this.open = w;
    }
    w.data.count++;
    w.data.last_ts = at;
    w.data.reason = reason;
    return w.done;
  }

  /** Write the open window now (the session ends: its trail must hold every refusal before session.end). */
  async flush(): Promise<void> {
    const w = this.open;
    if (w) await this.commit(w);
  }

  private async commit(w: Window): Promise<void> {
    if (this.open === w) {
      this.open = undefined;
      if (w.timer !== undefined) clearTimeout(w.timer);
      try {
        await this.write({ ...w.data });
        w.settle();
      } catch (e) {
        w.settle(e as Error);
      }
    }
    return w.done;
  }
}
