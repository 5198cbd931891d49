/**
 * Storage of the hosted mode, one SQLite database per tenant: the `TenantStore` Durable Object
 * (the self-hosted build's store, worker/selfhost/store-object.ts) named `tenant:<name>:store`
 * holds that tenant's D1 tables, reached through the same D1 adapter. A query cannot forget a
 * `WHERE tenant = ?`: another tenant's rows are in another database. The platform's own registry
 * of tenants is the store named `platform`.
 */
import { SelfHostStore } from "../selfhost/store-object.ts";
import { SelfHostD1 } from "../selfhost/adapters.ts";
import { tenantObjectName } from "./object-names.ts";
import { PENDING_RETRY_MS, retryPendingPieces } from "./lifecycle-steps.ts";
import { requireTenantStore, type HostedEnv } from "./tenant-env.ts";

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

/** Asks the registry's alarm to tell pending pieces again (after a step could not reach them all). */
export function schedulePendingRetry(ns: TenantStoreNamespace, delayMs?: number): Promise<void> {
  return ns.get(ns.idFromName(PLATFORM_STORE)).schedulePendingRetry(delayMs);
}

export type TenantStoreNamespace = DurableObjectNamespace<TenantStore>;

export const PLATFORM_STORE = "platform";

/** The tenant's D1 (per-tenant SQLite database); one instance per namespace + tenant keeps schema caches warm. */
const databases = new WeakMap<TenantStoreNamespace, Map<string, D1Database>>();

export function tenantDatabase(ns: TenantStoreNamespace, tenant: string): D1Database {
  return storeDatabase(ns, tenantObjectName(tenant, "store"));
}

export function platformDatabase(ns: TenantStoreNamespace): D1Database {
  return storeDatabase(ns, PLATFORM_STORE);
}

function storeDatabase(ns: TenantStoreNamespace, objectName: string): D1Database {
  let byName = databases.get(ns);
  if (!byName) {
    byName = new Map();
    databases.set(ns, byName);
  }
  let db = byName.get(objectName);
  if (!db) {
    const id = ns.idFromName(objectName);
    db = new SelfHostD1(() => ns.get(id)) as unknown as D1Database;
    byName.set(objectName, db);
  }
  return db;
}
