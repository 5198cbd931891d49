/**
 * The worker's Durable Object classes, made tenant-aware. In hosted mode an object learns its
 * tenant from its own name (`tenant:<name>:…`, given by TenantNamespace) and runs with that
 * tenant's Env, loaded before any event is delivered (blockConcurrencyWhile). An object whose
 * name carries no tenant refuses to start: nothing can run outside a tenant by accident.
 * In single-tenant mode they are the plain classes.
 */
import { SessionObject as BaseSessionObject } from "../session/session-object.ts";
import { ConnectorHub as BaseConnectorHub } from "../connectors/connector-hub.ts";
import { ApprovalsObject as BaseApprovalsObject } from "../approvals/approvals-object.ts";
import { SessionLimiter as BaseSessionLimiter } from "../limits/session-limiter.ts";
import { ExportObject as BaseExportObject } from "../export/exporter-object.ts";
import type { Env } from "../env.ts";
import { parseTenancySettings } from "./resolve.ts";
import { tenantOfObjectName } from "./object-names.ts";
import { platformDatabase } from "./tenant-store.ts";
import { readTenant } from "./tenant-registry.ts";
import { statusOf, versionOf, type TenantRecord } from "./tenant-record.ts";
import { registerTenantRefresh } from "./env-refresh.ts";
import type { TenantSyncAnswer, TenantSyncState } from "./tenant-sync.ts";
import { openSecrets } from "./tenant-secrets.ts";
import { requireTenantStore, tenantEnv, type HostedEnv } from "./tenant-env.ts";
import { checkPlaced, parsePlacement } from "./placement.ts";

export function objectEnv(ctx: DurableObjectState, raw: HostedEnv): Env {
  if (parseTenancySettings(raw).mode === "single") return raw;
  const hosted = requireTenantStore(raw);
  const name = ctx.id.name;
  const tenant = tenantOfObjectName(name);
  if (tenant === null) throw new Error(`hosted mode: Durable Object ${JSON.stringify(name ?? ctx.id.toString())} belongs to no tenant`);
  // Placed across processes: an object of a tenant this process does not serve (an alarm left from
  // before a placement change, say) refuses to start rather than run on this process's storage.
  const placement = parsePlacement(hosted.GATEHOUSE_PLACEMENT, hosted.GATEHOUSE_PLATFORM_ISSUERS);
  if (placement) {
    const placed = checkPlaced(placement, tenant);
    if (!placed.ok) throw new Error(`hosted mode: ${placed.body.reason}`);
  }
  // Filled in before the first event: the base constructors only prepare their own SQL tables.
  const env = {} as Env;
  let loaded = Number.NEGATIVE_INFINITY;
  // Loads (or reloads) the newest record into the same Env object the base class holds, so an
  // update reaches the object without it being evicted. Nothing is changed unless all was read,
  // and the swap itself is synchronous: no event sees half of it. (A reload is not run under
  // blockConcurrencyWhile: a failure there would reset the object, closing a hub's sockets.)
  const load = async (record?: TenantRecord | null) => {
    record ??= await readTenant(platformDatabase(hosted.TENANT_STORE), tenant);
    if (!record) throw new Error(`hosted mode: tenant ${tenant} does not exist`);
    if (statusOf(record) === "deleted") throw new Error(`hosted mode: tenant ${tenant} was deleted`);
    const secrets = await openSecrets(hosted.GATEHOUSE_PLATFORM_SECRETS_KEY, tenant, record.secrets);
    if (versionOf(record) < loaded) return; // a reload that read later finished first: keep the newer
    const fresh = tenantEnv(hosted, record, { name: tenant, via: "object" }, secrets);
    for (const key of Object.keys(env)) delete (env as unknown as Record<string, unknown>)[key];
    Object.assign(env, fresh);
    loaded = versionOf(record);
  };
  void ctx.blockConcurrencyWhile(() => load());
  // Told by the platform (syncTenantSuspension) that the record is at `version`.
  reloaders.set(ctx, async (version) => {
    if (version > loaded) await load();
  });
  // Asked before the tenant's secrets are used to send something out: the registry's record is
  // the ground truth (one read per send, not per request); a record that cannot be read throws.
  registerTenantRefresh(env, async () => {
    const record = await readTenant(platformDatabase(hosted.TENANT_STORE), tenant);
    if (!record || versionOf(record) > loaded) await load(record);
  });
  return env;
}

const reloaders = new WeakMap<DurableObjectState, (version: number) => Promise<void>>();

/** Hosted mode: the object's Env reloaded if the record told is newer than the one it holds (single-tenant: nothing). */
export async function reloadIfOlder(ctx: DurableObjectState, version: number): Promise<void> {
  await reloaders.get(ctx)?.(version);
}

/**
 * RPC of every tenant object (hosted mode): a deleted tenant's object forgets everything it
 * stored (docs/TENANCY.md, "Lifecycle"). Only the platform's delete route calls it, after the
 * tenant was suspended; single-tenant deployments never do.
 */
export interface TenantObjectPurge {
  purgeTenantData(): Promise<void>;
}

async function purge(ctx: DurableObjectState): Promise<void> {
  await ctx.storage.deleteAlarm();
  await ctx.storage.deleteAll();
}

export class SessionObject extends BaseSessionObject implements TenantObjectPurge {
  constructor(ctx: DurableObjectState, env: HostedEnv) {
    super(ctx, objectEnv(ctx, env));
  }
  async purgeTenantData(): Promise<void> {
    await purge(this.ctx);
  }
}
export class ConnectorHub extends BaseConnectorHub implements TenantObjectPurge {
  constructor(ctx: DurableObjectState, env: HostedEnv) {
    super(ctx, objectEnv(ctx, env));
  }
  /**
   * The record's newest version reaches this object's Env too (docs/TENANCY.md "Updates"). The
   * suspension is applied first: a registry that cannot be read for the reload fails the tell (it
   * stays pending and is retried) without keeping the hub from refusing a suspended tenant.
   */
  override async syncTenantSuspension(state: TenantSyncState): Promise<TenantSyncAnswer & { closed: number }> {
    const answer = await super.syncTenantSuspension(state);
    await reloadIfOlder(this.ctx, state.version);
    return answer;
  }
  async purgeTenantData(): Promise<void> {
    await purge(this.ctx);
  }
}
export class ApprovalsObject extends BaseApprovalsObject implements TenantObjectPurge {
  constructor(ctx: DurableObjectState, env: HostedEnv) {
    super(ctx, objectEnv(ctx, env));
  }
  override async syncTenantSuspension(state: TenantSyncState): Promise<TenantSyncAnswer> {
    const answer = await super.syncTenantSuspension(state); // applied first, as for the hub
    await reloadIfOlder(this.ctx, state.version);
    return answer;
  }
  async purgeTenantData(): Promise<void> {
    await purge(this.ctx);
  }
}
export class SessionLimiter extends BaseSessionLimiter implements TenantObjectPurge {
  constructor(ctx: DurableObjectState, env: HostedEnv) {
    super(ctx, objectEnv(ctx, env));
  }
  override async syncApiSuspension(state: TenantSyncState): Promise<TenantSyncAnswer> {
    const answer = await super.syncApiSuspension(state); // applied first, as for the hub
    await reloadIfOlder(this.ctx, state.version);
    return answer;
  }
  async purgeTenantData(): Promise<void> {
    await purge(this.ctx);
  }
}
export class ExportObject extends BaseExportObject implements TenantObjectPurge {
  constructor(ctx: DurableObjectState, env: HostedEnv) {
    super(ctx, objectEnv(ctx, env));
  }
  /** RPC (hosted mode): the record is at `state.version` — reloaded if newer (the exporter holds no suspension). */
  async syncTenantSuspension(state: TenantSyncState): Promise<TenantSyncAnswer> {
    await reloadIfOlder(this.ctx, state.version);
    return { applied: true, version: state.version };
  }
  async purgeTenantData(): Promise<void> {
    await purge(this.ctx);
  }
}
