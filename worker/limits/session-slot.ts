/**
 * A session's slot under the policy's concurrency caps: taken before the connector dials the
 * target, renewed while the session lives, released when it ends (worker/limits/session-limiter.ts).
 * Refusal is an error carrying the protocol's own code (ProtocolModule.sessionCodes): PostgreSQL
 * 53300 (too_many_connections), MySQL 08004; otherwise `too-many-sessions` (SSH: stderr + exit status 255).
 */
import type { Env } from "../env.ts";
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import { LEASE_RENEW_MS, startsRefusal, type AcquireResult } from "./session-limiter.ts";
import { protocolModule } from "../../protocols/registry.ts";

export class TooManySessionsError extends Error {
  override name = "TooManySessionsError";
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export interface SessionCaps {
  maxSessionsPerIdentity: number | null;
  maxSessionsPerResource: number | null;
  /** Hosted mode: the tenant's limit on live sessions (docs/TENANCY.md). */
  maxSessionsInTenant?: number | null;
  /** Hosted mode: sessions the tenant may start per minute. */
  maxStartsPerMinute?: number | null;
}

export class SessionSlot {
  private timer: ReturnType<typeof setInterval> | undefined;
  private held = false;
  /** The session ended: a lease granted after this moment is given back at once. */
  private released = false;

  constructor(
    private readonly env: Env,
    private readonly sessionId: string,
    private readonly identity: Identity,
    private readonly resource: ResourceInfo,
    private readonly caps: SessionCaps,
    /** Called when the lease was lost (swept while the session lived): the session must end. */
    private readonly onLost: () => void,
    /** Hosted mode: a start refused by the tenant's start rate (counted and logged by the caller). */
    private readonly onRateRefused?: (message: string) => void,
  ) {}

  private get limiter() {
    return this.env.SESSION_LIMITER.get(this.env.SESSION_LIMITER.idFromName("limits"));
  }

  get needed(): boolean {
    return this.caps.maxSessionsPerIdentity !== null || this.caps.maxSessionsPerResource !== null || this.caps.maxSessionsInTenant != null || this.caps.maxStartsPerMinute != null;
  }

  /** Take the slot or throw TooManySessionsError. Without caps there is nothing to count. */
  async acquire(): Promise<void> {
    if (!this.needed || this.held) return;
    const result: AcquireResult = await this.limiter.acquire({
      sessionId: this.sessionId,
      identity: `${this.identity.issuer}\n${this.identity.subject}`,
      resource: this.resource.name,
      maxPerIdentity: this.caps.maxSessionsPerIdentity,
      maxPerResource: this.caps.maxSessionsPerResource,
      maxInTenant: this.caps.maxSessionsInTenant ?? null,
      maxStartsPerMinute: this.caps.maxStartsPerMinute ?? null,
    });
    if (!result.ok && result.scope === "tenant-starts") {
      const message = startsRefusal(result.open, result.limit, result.retryAfterMs);
      this.onRateRefused?.(message);
      throw new TooManySessionsError(message, protocolModule(this.resource.type)?.sessionCodes?.tooManySessions ?? "too-many-sessions");
    }
    if (!result.ok) {
      const who = result.scope === "identity" ? `identity ${this.identity.subject} already has` : result.scope === "tenant" ? "the tenant already has" : `resource ${this.resource.name} already has`;
      const key = result.scope === "identity" ? "max_sessions_per_identity" : result.scope === "tenant" ? "tenant limit max_sessions" : "max_sessions_per_resource";
      throw new TooManySessionsError(
        `gatehouse: too many sessions: ${who} ${result.open} open session${result.open === 1 ? "" : "s"} (${result.scope === "tenant" ? "" : "policy limit "}${key}: ${result.limit})`,
        protocolModule(this.resource.type)?.sessionCodes?.tooManySessions ?? "too-many-sessions",
      );
    }
    if (this.released) {
      await this.limiter.release(this.sessionId);
      return;
    }
    this.held = true;
    this.timer = setInterval(() => {
      void this.limiter.renew(this.sessionId).then(
        (alive) => {
          if (!alive && this.held) this.onLost();
        },
        () => {
          // Unreachable limiter: the lease runs on; the next renewal retries.
        },
      );
    }, LEASE_RENEW_MS);
  }

  async release(): Promise<void> {
    this.released = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (!this.held) return;
    this.held = false;
    await this.limiter.release(this.sessionId);
  }
}
