/**
 * The hosted mode's store object (tenant-store.ts says what it holds): the self-hosted build's
 * SQLite store under its own binding, plus the platform registry's retry of lifecycle tells.
 */
import { SelfHostStore } from "../selfhost/store-object.ts";
import { SelfHostD1 } from "../selfhost/adapters.ts";
import { PENDING_RETRY_MS, retryPendingPieces } from "./lifecycle-steps.ts";
import { requireTenantStore, type HostedEnv } from "./tenant-env.ts";
import { PLATFORM_STORE } from "./tenant-store.ts";

/** Same class, own binding (TENANT_STORE) and own migration tag, so it never shares instances with self-hosting. */
export class TenantStore extends SelfHostStore {
  /** A deleted tenant's database: every table and row gone (docs/TENANCY.md, "Lifecycle"). */
  async purgeTenantData(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }

  /**
   * RPC of the platform's registry: a lifecycle step or update left pieces pending
   * (lifecycle-steps.ts); this object's alarm tells them again until none is.
   */
  async schedulePendingRetry(delayMs = PENDING_RETRY_MS): Promise<void> {
    const at = Date.now() + delayMs;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    if (this.ctx.id.name !== PLATFORM_STORE) return; // only the registry sets one
    // The registry read through this object itself, not through a stub to it.
    const db = new SelfHostD1(() => this as unknown as DurableObjectStub<SelfHostStore>) as unknown as D1Database;
    const left = await retryPendingPieces(requireTenantStore(this.env as HostedEnv), db);
    if (left > 0) await this.ctx.storage.setAlarm(Date.now() + PENDING_RETRY_MS);
  }
}

