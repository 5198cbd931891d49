/**
 * Durable Object names of the hosted mode: `tenant:<tenant>:<name>`. Every object a tenant's code
 * reaches is named through TenantNamespace (tenant-env.ts), which adds the prefix; an object
 * learns its own tenant back from its name (tenant-objects.ts). Tenant names cannot contain ':'.
 */
import { isTenantName } from "./resolve.ts";

const PREFIX = "tenant:";

export function tenantObjectName(tenant: string, name: string): string {
  if (!isTenantName(tenant)) throw new Error(`not a tenant name: ${JSON.stringify(tenant)}`);
  return `${PREFIX}${tenant}:${name}`;
}

/** The tenant an object belongs to, from its name; null for a name outside any tenant. */
export function tenantOfObjectName(name: string | undefined): string | null {
  if (!name?.startsWith(PREFIX)) return null;
  const rest = name.slice(PREFIX.length);
  const colon = rest.indexOf(":");
  if (colon <= 0) return null;
  const tenant = rest.slice(0, colon);
  return isTenantName(tenant) ? tenant : null;
}
