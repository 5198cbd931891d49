/**
 * Hosted mode: the boundary's refusals (401/403/404/409/410, and the API rate limit's 429) are
 * written to the tenant's refusal log — but a flood of bad tokens must not become one durable
 * write per request in the tenant's store. Per isolate and tenant, the first refusal of a kind
 * (same path, method, status, error, presented issuer/audience/subject, connector) is written at
 * once; the same kind again within the next second is counted, and the count is written as one
 * more row when the second is over ("N more like it"). More than `maxKinds` kinds in one second
 * fold into one row per status for that second, which keeps a few samples (subject, path): the
 * kinds are chosen by whoever sends the requests, so a flood of made-up subjects can make other
 * refusals of that second lose their own row — never their count. Nothing is dropped: every
 * refusal is in a row or in a row's count; a window whose timer did not fire is closed by the
 * next refusal that finds it. (The session-level rate refusals have their own aggregation: rate-refusals.ts.)
 */
import type { Refusal } from "./tenant-usage.ts";

type Write = (refusal: Refusal) => Promise<void>;

interface Window {
  key: string;
  tenant: string;
  openedAt: number;
  closed: boolean;
  first: Refusal;
  /** Overflow rows only: a few of the folded refusals (subject and path), so the row keeps some detail. */
  samples?: string[];
  /** The window's writer (the opening request's: its tenant's store). */
  write: Write;
  /** Refusals after the first, within the window: written as one row when it closes. */
  more: number;
  lastAt: number;
}

export const COALESCE_WINDOW_MS = 1000;
export const MAX_KINDS_PER_WINDOW = 20;

export class RefusalCoalescer {
  private readonly windows = new Map<string, Window>();
  /** Kinds with an open window, per tenant (the cap on distinct rows per second). */
  private readonly kinds = new Map<string, number>();

  constructor(
    private readonly wait: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
    private readonly windowMs = COALESCE_WINDOW_MS,
    private readonly maxKinds = MAX_KINDS_PER_WINDOW,
  ) {}

  /**
   * Note one refusal. Returns the work to keep alive (ctx.waitUntil) when this call opened a
   * window — the first row's write, then the window's closing row — or null when it was counted in
   * an open one.
   */
  note(tenant: string, refusal: Refusal, write: Write): Promise<void> | null {
    // Windows whose timer did not fire (the request context that kept it was cancelled) are closed
    // here, so a stuck window never turns later refusals into counts that are never written.
    const late: Array<Promise<void>> = [];
    let key = kindOf(tenant, refusal);
    let open = this.windows.get(key);
    if (open && this.stale(open, refusal.at)) {
      late.push(this.close(open));
      open = undefined;
    }
    if (!open && (this.kinds.get(tenant) ?? 0) >= this.maxKinds) {
      for (const w of this.windows.values()) if (w.tenant === tenant && this.stale(w, refusal.at)) late.push(this.close(w));
    }
    if (!open && (this.kinds.get(tenant) ?? 0) >= this.maxKinds) {
      // Too many kinds this second: counted in one row per status instead (with a few samples).
      const sample = `${refusal.tokenSubject ?? "-"} ${refusal.method} ${refusal.path.slice(0, 60)}`;
      refusal = overflow(refusal, this.maxKinds);
      key = kindOf(tenant, refusal);
      open = this.windows.get(key);
      if (open) {
        if (open.samples && open.samples.length < 5 && !open.samples.includes(sample)) open.samples.push(sample);
      } else refusal = { ...refusal, reason: `${refusal.reason}; first: ${sample}` };
    }
    if (open) {
      open.more++;
      open.lastAt = refusal.at;
      return late.length > 0 ? settle(late) : null;
    }
    const window: Window = { key, tenant, openedAt: refusal.at, closed: false, first: refusal, write, more: 0, lastAt: refusal.at, ...(refusal.error === OVERFLOW ? { samples: [] } : {}) };
    this.windows.set(key, window);
    this.kinds.set(tenant, (this.kinds.get(tenant) ?? 0) + 1);
    const firstWrite = write(refusal);
    const closed = this.wait(this.windowMs).then(() => this.close(window));
    return settle([...late, firstWrite, closed]);
  }

  private stale(w: Window, now: number): boolean {
    return now - w.openedAt > 2 * this.windowMs;
  }

  /** Close a window once (its timer or a later note, whichever comes first) and write its count. */
  private async close(w: Window): Promise<void> {
    if (w.closed) return;
    w.closed = true;
    if (this.windows.get(w.key) === w) this.windows.delete(w.key);
    const left = (this.kinds.get(w.tenant) ?? 1) - 1;
    if (left > 0) this.kinds.set(w.tenant, left);
    else this.kinds.delete(w.tenant);
    if (w.more > 0) await w.write(summary(w, this.windowMs));
  }
}

const OVERFLOW = "many_kinds_of_refusal";

function settle(work: Array<Promise<void>>): Promise<void> {
  return Promise.allSettled(work).then((results) => {
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });
}

function kindOf(tenant: string, r: Refusal): string {
  return JSON.stringify([tenant, r.via, r.method, r.path, r.status, r.error, r.tokenIssuer, r.tokenAudience, r.tokenSubject, r.connector]);
}

function overflow(r: Refusal, maxKinds: number): Refusal {
  return {
    ...r,
    method: "*",
    path: "*",
    error: OVERFLOW,
    reason: `more than ${maxKinds} kinds of refusal in one second from one gateway instance: counted together (this one: ${r.method} ${r.path.slice(0, 100)} ${r.error})`,
    tokenIssuer: null,
    tokenAudience: null,
    tokenSubject: null,
    connector: null,
  };
}

function summary(w: Window, windowMs: number): Refusal {
  const s = w.more === 1 ? "" : "s";
  const samples = w.samples && w.samples.length > 0 ? `; among them: ${w.samples.join(" | ")}` : "";
  return { ...w.first, at: w.lastAt, reason: `${w.more} more refusal${s} like the previous entry within ${windowMs} ms of it (last: ${new Date(w.lastAt).toISOString()})${samples}; first reason: ${w.first.reason}`.slice(0, 300) };
}
