/**
 * Self-host entry module (docs/DEPLOY.md §Self-hosted worker): the Gatehouse worker as served by
 * standalone workerd. It wraps the worker and each of its Durable Object classes so that `DB` and
 * `RECORDINGS` — which workerd does not provide — are the SelfHostStore adapters, under the same
 * names; everything else is the unchanged worker. Config: scripts/selfhost-config.ts.
 */
import app from "../index.ts";
import { SessionObject as BaseSessionObject } from "../session/session-object.ts";
import { ConnectorHub as BaseConnectorHub } from "../connectors/connector-hub.ts";
import { ApprovalsObject as BaseApprovalsObject } from "../approvals/approvals-object.ts";
import { SessionLimiter as BaseSessionLimiter } from "../limits/session-limiter.ts";
import { ExportObject as BaseExportObject } from "../export/exporter-object.ts";
import type { Env } from "../env.ts";
import { SelfHostD1, SelfHostR2 } from "./adapters.ts";
import type { SelfHostStore } from "./store-object.ts";

export { SelfHostStore } from "./store-object.ts";
// Bound in wrangler.toml for the hosted mode (docs/TENANCY.md); the self-hosted worker is single-tenant
// and never uses it, but wrangler builds this entry from the same bindings and wants the class.
export { TenantStore } from "../tenancy/tenant-store.ts";

type HostEnv = Omit<Env, "DB" | "RECORDINGS"> & { SELFHOST_STORE: DurableObjectNamespace<SelfHostStore> };

const wrapped = new WeakMap<HostEnv, Env>();

/**
 * The worker's Env with D1/R2 provided by the store (one instance: "store"). One wrapper per env
 * object, so per-database caches in the worker (e.g. "schema already migrated") keep working.
 */
function withStorage(env: HostEnv): Env {
  let out = wrapped.get(env);
  if (!out) {
    const id = env.SELFHOST_STORE.idFromName("store");
    const store = () => env.SELFHOST_STORE.get(id);
    out = { ...env, DB: new SelfHostD1(store) as unknown as D1Database, RECORDINGS: new SelfHostR2(store) as unknown as R2Bucket };
    wrapped.set(env, out);
  }
  return out;
}

export class SessionObject extends BaseSessionObject {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}
export class ConnectorHub extends BaseConnectorHub {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}
export class ApprovalsObject extends BaseApprovalsObject {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}
export class SessionLimiter extends BaseSessionLimiter {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}
export class ExportObject extends BaseExportObject {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}

export default {
  fetch(request: Request, env: HostEnv, ctx: ExecutionContext): Response | Promise<Response> {
    return app.fetch(request, withStorage(env), ctx);
  },
};
