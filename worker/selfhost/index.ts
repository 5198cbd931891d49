/**
 * Self-host entry module (docs/DEPLOY.md §Self-hosted worker): the Gatehouse worker as served by
 * standalone workerd. It wraps the worker and each of its Durable Object classes so that `DB` and
 * `RECORDINGS` — which workerd does not provide — are the SelfHostStore adapters, under the same
 * names (storage.ts); everything else is the unchanged worker. Config: scripts/selfhost-config.ts.
 *
 * The classes are the tenant-aware ones (worker/tenancy/tenant-objects.ts): single-tenant (the
 * default) they are the plain classes with the store's D1/R2; with `GATEHOUSE_TENANCY=multi` an
 * object gets the stand-ins first and then, from its own name, its tenant's Env (docs/TENANCY.md,
 * "Self-hosted multi-tenant").
 */
import app from "../index.ts";
import {
  SessionObject as TenantSessionObject,
  ConnectorHub as TenantConnectorHub,
  ApprovalsObject as TenantApprovalsObject,
  SessionLimiter as TenantSessionLimiter,
  ExportObject as TenantExportObject,
} from "../tenancy/tenant-objects.ts";
import { withStorage, type HostEnv } from "./storage.ts";

export { SelfHostStore } from "./store-object.ts";
// Every tenant's database and the platform's registry of tenants (multi-tenant mode only).
export { TenantStore } from "../tenancy/tenant-store-object.ts";

export class SessionObject extends TenantSessionObject {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}
export class ConnectorHub extends TenantConnectorHub {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}
export class ApprovalsObject extends TenantApprovalsObject {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}
export class SessionLimiter extends TenantSessionLimiter {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}
export class ExportObject extends TenantExportObject {
  constructor(ctx: DurableObjectState, env: HostEnv) {
    super(ctx, withStorage(env));
  }
}

export default {
  fetch(request: Request, env: HostEnv, ctx: ExecutionContext): Response | Promise<Response> {
    return app.fetch(request, withStorage(env), ctx);
  },
};
