/**
 * Hosted mode: how a long-lived object (approvals shard, exporter) makes sure its tenant's Env is
 * the newest record's before it uses the tenant's secrets to send something out. The tenant-aware
 * classes (tenant-objects.ts) register one refresher per object Env; single-tenant objects have
 * none and nothing is asked. A refresher that cannot check throws: the send waits and is retried
 * (fail closed — a rotated-out secret is never used because the registry could not be read).
 */
const refreshers = new WeakMap<object, () => Promise<void>>();

export function registerTenantRefresh(env: object, refresh: () => Promise<void>): void {
  refreshers.set(env, refresh);
}

/** Reloads the object's tenant Env if the record changed since it was loaded; throws when that cannot be checked. */
export async function refreshTenantEnv(env: object): Promise<void> {
  await refreshers.get(env)?.();
}
