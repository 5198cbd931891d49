/**
 * Hosted mode: refusals by the tenant's rate limits (requests per second, session starts per
 * minute) counted in its usage and written to its refusal log — the same log as the boundary's
 * 401/403/404 refusals (tenant-usage.ts), status 429. The request gate calls this at most once a
 * second per session with how many it refused since, so a flood cannot turn into a write per refusal.
 */
import type { Env } from "../env.ts";
import type { Identity, ResourceInfo } from "../../parsers/identity.ts";
import { addUsage, recordRefusal, type UsageCounter } from "./tenant-usage.ts";

export async function logRateRefusal(
  env: Pick<Env, "DB" | "TENANT">,
  what: { counter: Extract<UsageCounter, "requests_rate_limited" | "session_starts_rate_limited">; sessionId: string; identity: Identity; resource: ResourceInfo; count: number; message: string },
): Promise<void> {
  if (!env.TENANT) return;
  await addUsage(env.DB, what.counter, what.count, null);
  await recordRefusal(env.DB, {
    at: Date.now(),
    via: env.TENANT.via,
    method: what.resource.type,
    path: `session ${what.sessionId} on ${what.resource.name}`,
    status: 429,
    error: what.counter === "requests_rate_limited" ? "rate_limited" : "session_starts_limited",
    reason: what.count > 1 ? `${what.message} (${what.count} refused in this session since the last entry)` : what.message,
    tokenIssuer: what.identity.issuer,
    tokenAudience: null,
    tokenSubject: what.identity.subject,
    connector: null,
    tokenTenant: null,
  });
}
