/**
 * Hosted mode: a usage counter raised by a flood must not become one durable write per request in
 * the tenant's store (the API rate limit's refusals: `api_requests_refused`). Per isolate and
 * key (tenant and counter), the first event is written at once (`add(1)`); the others within the
 * next window are counted in memory and written as one `add(n)` when it is over — the refusal
 * log's coalescing (refusal-coalescer.ts), for a count. A window whose timer did not fire (the
 * request context that kept it was cancelled) is closed by the next event that finds it, so a
 * count is never left unwritten while events keep coming.
 */
import { COALESCE_WINDOW_MS } from "./refusal-coalescer.ts";

type Add = (n: number) => Promise<void>;

interface Window {
  openedAt: number;
  closed: boolean;
  pending: number;
  add: Add;
}

export class UsageTally {
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly wait: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
    private readonly windowMs = COALESCE_WINDOW_MS,
  ) {}

  /** Count one event; the work to keep alive (ctx.waitUntil) when this one opened a window (or closed a stuck one), else null. */
  note(key: string, at: number, add: Add): Promise<void> | null {
    const open = this.windows.get(key);
    if (open && at - open.openedAt <= 2 * this.windowMs) {
      open.pending++;
      return null;
    }
    const late = open ? [this.close(key, open)] : [];
    const window: Window = { openedAt: at, closed: false, pending: 0, add };
    this.windows.set(key, window);
    const closing = this.wait(this.windowMs).then(() => this.close(key, window));
    return Promise.allSettled([...late, add(1), closing]).then((results) => {
      const failed = results.find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
    });
  }

  private async close(key: string, w: Window): Promise<void> {
    if (w.closed) return;
    w.closed = true;
    if (this.windows.get(key) === w) this.windows.delete(key);
    if (w.pending > 0) await w.add(w.pending);
  }
}
