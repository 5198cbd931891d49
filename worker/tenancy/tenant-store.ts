/**
 * Storage of the hosted mode, one SQLite database per tenant: the `TenantStore` Durable Object
 * (the self-hosted build's store, worker/selfhost/store-object.ts) named `tenant:<name>:store`
 * holds that tenant's D1 tables, reached through the same D1 adapter. A query cannot forget a
 * `WHERE tenant = ?`: another tenant's rows are in another database. The platform's own registry
 * of tenants is the store named `platform`.
 */
import type { SelfHostStore } from "../selfhost/store-object.ts";
import { SelfHostD1 } from "../selfhost/adapters.ts";
import { tenantObjectName } from "./object-names.ts";

/** Asks the registry's alarm to tell pending pieces again (after a step could not reach them all). */
export function schedulePendingRetry(ns: TenantStoreNamespace, delayMs?: number): Promise<void> {
  return ns.get(ns.idFromName(PLATFORM_STORE)).schedulePendingRetry(delayMs);
}

/**
 * The TenantStore objects (tenant-store-object.ts), by what is asked of them: the store's RPC and
 * the registry's retry. Typed by shape so the database helpers here do not import the class (whose
 * alarm runs the lifecycle, which reaches tenants' databases through these helpers).
 */
export type TenantStoreNamespace = DurableObjectNamespace<SelfHostStore & { schedulePendingRetry(delayMs?: number): Promise<void>; purgeTenantData(): Promise<void> }>;

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
