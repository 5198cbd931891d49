/**
 * The self-hosted stand-ins for D1 and R2 (adapters.ts over SelfHostStore objects), put into the
 * worker's raw Env under the usual names before anything else sees it (index.ts).
 *
 *  - Single-tenant (default): `DB` and `RECORDINGS` are the one store object named "store", as
 *    they always were.
 *  - Multi-tenant (`GATEHOUSE_TENANCY=multi`, docs/TENANCY.md): tenants never use the shared
 *    store. Their databases are TenantStore objects (tenant-store.ts), and their recordings are a
 *    store object of their own, `tenant:<t>:store` in SELFHOST_STORE (`TENANT_RECORDINGS`), so
 *    tenants share neither rows nor one object's queue. The raw `DB` and `RECORDINGS` then refuse
 *    every call: a code path that reached for the deployment's storage instead of its tenant's
 *    fails loudly instead of mixing tenants in one database.
 */
import { ConfigurationError } from "../errors.ts";
import type { HostedEnv } from "../tenancy/tenant-env.ts";
import { tenantObjectName } from "../tenancy/object-names.ts";
import { SelfHostD1, SelfHostR2 } from "./adapters.ts";
import type { SelfHostStore } from "./store-object.ts";

export type HostEnv = Omit<HostedEnv, "DB" | "RECORDINGS" | "TENANT_RECORDINGS"> & { SELFHOST_STORE: DurableObjectNamespace<SelfHostStore> };

/** The single-tenant store's name; a tenant's objects are `tenant:<t>:…`, so no tenant can name it. */
export const SHARED_STORE = "store";

const wrapped = new WeakMap<HostEnv, HostedEnv>();

/** Stands in for the shared D1/R2 in multi-tenant mode: any use is a bug, refused. */
function refusedInHostedMode(binding: string): unknown {
  return new Proxy(
    {},
    {
      get(_target, property) {
        // Not a thenable (an accidental `await env.DB` must not look like a promise).
        if (property === "then") return undefined;
        return () => {
          throw new ConfigurationError(`hosted mode: the deployment's shared ${binding} is not used; every tenant has its own (docs/TENANCY.md)`);
        };
      },
    },
  );
}

function isMultiTenant(env: HostEnv): boolean {
  return (env.GATEHOUSE_TENANCY ?? "").trim() === "multi";
}

/**
 * The worker's Env with D1/R2 provided by store objects. One wrapper per env object, so
 * per-database caches in the worker (e.g. "schema already migrated") keep working.
 */
export function withStorage(env: HostEnv): HostedEnv {
  let out = wrapped.get(env);
  if (!out) {
    const ns = env.SELFHOST_STORE;
    const storeNamed = (name: string) => {
      const id = ns.idFromName(name);
      return () => ns.get(id);
    };
    if (isMultiTenant(env)) {
      const buckets = new Map<string, R2Bucket>();
      out = {
        ...env,
        DB: refusedInHostedMode("D1 (DB)") as D1Database,
        RECORDINGS: refusedInHostedMode("recordings bucket (RECORDINGS)") as R2Bucket,
        TENANT_RECORDINGS: (tenant: string) => {
          let bucket = buckets.get(tenant);
          if (!bucket) {
            // tenantObjectName refuses a name that is not a tenant's (':', '/', reserved names).
            bucket = new SelfHostR2(storeNamed(tenantObjectName(tenant, "store"))) as unknown as R2Bucket;
            buckets.set(tenant, bucket);
          }
          return bucket;
        },
      };
    } else {
      const store = storeNamed(SHARED_STORE);
      out = { ...env, DB: new SelfHostD1(store) as unknown as D1Database, RECORDINGS: new SelfHostR2(store) as unknown as R2Bucket };
    }
    wrapped.set(env, out);
  }
  return out;
}
