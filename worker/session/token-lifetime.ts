/**
 * A session lives only as long as its identity's token: at the token's `exp` the session ends
 * with "identity token expired", unless the client renewed it on the tunnel first
 * (CONTROL `{ "t": "token", "token": "<JWT>" }`, docs/PROTOCOL.md). A renewed token must verify
 * like any token at the edge, name the same issuer and subject, and still be admitted by the
 * session's policy (connect decision with the renewed claims); anything else ends the session.
 */
import type { Identity } from "../../parsers/identity.ts";

export interface TokenLifetimeHooks {
  /** Verify a token as the edge does; throws with the reason when it is not acceptable. */
  verify(token: string): Promise<Identity>;
  /** Whether the session's policy still admits this identity (connect decision). */
  admits(identity: Identity): { ok: boolean; reason: string };
  /** Adopt the renewed identity (policy decisions, audit). */
  adopt(identity: Identity): Promise<void>;
  /** End the session: the reason goes to the client in its protocol. */
  end(reason: string): void;
}

/** setTimeout's limit (~24.8 days); a later expiry is re-armed when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export function tokenExpiryMs(identity: Identity): number | null {
  const exp = identity.claims.exp;
  return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : null;
}

export class TokenLifetime {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** Renewals are handled one at a time, in arrival order. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private identity: Identity,
    private readonly hooks: TokenLifetimeHooks,
  ) {}

  start(): void {
    this.arm();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private arm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    const expiresAt = tokenExpiryMs(this.identity);
    if (expiresAt === null || this.stopped) return;
    const wait = expiresAt - Date.now();
    if (wait <= 0) return this.expire();
    this.timer = setTimeout(() => (Date.now() >= expiresAt ? this.expire() : this.arm()), Math.min(wait, MAX_TIMER_MS));
  }

  private expire(): void {
    if (this.stopped) return;
    this.stop();
    this.hooks.end("identity token expired (the client did not renew it on the tunnel)");
  }

  renew(token: unknown): Promise<void> {
    this.queue = this.queue.then(() => this.renewNow(token));
    return this.queue;
  }

  private async renewNow(token: unknown): Promise<void> {
    if (this.stopped) return;
    const fail = (why: string) => {
      this.stop();
      this.hooks.end(`renewed identity token refused: ${why}`);
    };
    if (typeof token !== "string" || token.length === 0 || token.length > 16_384) return fail("not a token");
    let next: Identity;
    try {
      next = await this.hooks.verify(token);
    } catch (e) {
      return fail((e as Error).message);
    }
    if (this.stopped) return;
    if (next.issuer !== this.identity.issuer || next.subject !== this.identity.subject) {
      return fail(`it names ${next.subject} (${next.issuer}), the session belongs to ${this.identity.subject} (${this.identity.issuer})`);
    }
    const verdict = this.hooks.admits(next);
    if (!verdict.ok) return fail(`the policy no longer admits this identity: ${verdict.reason}`);
    const before = tokenExpiryMs(this.identity) ?? 0;
    const after = tokenExpiryMs(next) ?? 0;
    // An older token never shortens nor replaces a newer one.
    if (after <= before) return;
    await this.hooks.adopt(next);
    this.identity = next;
    this.arm();
  }
}
