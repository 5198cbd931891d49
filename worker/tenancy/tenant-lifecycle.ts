/**
 * What suspending and deleting a tenant does beyond its record (platform-routes.ts):
 *
 *  - suspend: the tenant's own database and every hub shard are told (so a session registering
 *    late ends itself, and a connector coming through an isolate with a stale record is refused by
 *    the hub), its live sessions are ended (57P01, recorded in their trails as ended by the
 *    platform) and its connectors' control channels closed; the boundary then refuses every new
 *    request, session and connector of the tenant (403 tenant_suspended, in its refusal log).
 *  - resume: the database's marker and the hubs are told first, then the record changes.
 *  - delete (only a suspended tenant): every object the tenant has — its sessions (found in its
 *    session index), hub, approvals, limiter, exporter, its recordings under `tenants/<t>/` and
 *    last its own database — forgets what it stored; the record becomes a tombstone so the name is
 *    never given to another organisation.
 */
import type { MultiTenantEnv } from "./tenant-env.ts";
import { recordingsBucket, tenantEnv } from "./tenant-env.ts";
import type { TenantRecord } from "./tenant-record.ts";
import type { TenantObjectPurge } from "./tenant-objects.ts";
import { tenantObjectName } from "./object-names.ts";
import { APPROVALS_OBJECT_NAME } from "../approvals/client.ts";
import { approvalShards } from "../approvals/shards.ts";
import { allHubShards } from "../connectors/hub-shards.ts";
import type { Env } from "../env.ts";
import { clearTenantSuspended, markTenantSuspended } from "./tenant-suspension.ts";

type Purgeable = { purgeTenantData(): Promise<void> };

function envOf(hosted: MultiTenantEnv, record: TenantRecord) {
  return tenantEnv(hosted, record, { name: record.name, via: "object" });
}

/** Every open session of the index, read page by page (a tenant without a session cap may have many). */
async function openSessions(db: D1Database): Promise<string[]> {
  try {
    const ids: string[] = [];
    for (let after = ""; ; ) {
      const rows = await db.prepare("SELECT id FROM session_index WHERE status = 'open' AND id > ? ORDER BY id LIMIT 1000").bind(after).all<{ id: string }>();
      for (const r of rows.results) ids.push(r.id);
      if (rows.results.length < 1000) return ids;
      after = rows.results[rows.results.length - 1]!.id;
    }
  } catch (e) {
    if (/no such table/i.test((e as Error).message)) return []; // no session ever started: no index yet
    throw e;
  }
}

export interface EndedActivity {
  endedSessions: number;
  closedConnectors: number;
  /** What could not be told (the tenant's store, hub shards): the suspension must be repeated. */
  unreached: string[];
}

export async function endTenantActivity(hosted: MultiTenantEnv, record: TenantRecord, reason: string): Promise<EndedActivity> {
  return endActivity(envOf(hosted, record), reason, `gatehouse: the tenant ${record.name} is suspended by the platform`);
}

/**
 * In this order: (1) the marker in the tenant's own database (tenant-suspension.ts), so a session
 * registering from now on ends itself, and the tenant's limiter, so its API is refused by every
 * isolate within about a second; (2) every hub shard, which refuses the tenant's connectors
 * from then on and closes their channels; (3) the sessions open in the index, ended. A step that
 * cannot be done is reported (`unreached`), never skipped silently.
 */
export async function endActivity(env: Env, sessionReason: string, connectorReason: string): Promise<EndedActivity> {
  const unreached: string[] = [];
  await markTenantSuspended(env.DB, sessionReason).catch((e) => void unreached.push(`the tenant's store (${(e as Error).message})`));
  // The tenant's limiter, which every isolate serving its API asks at least once a second: an
  // isolate whose cached record still says "active" refuses the API within about a second.
  await limiterOf(env)
    .suspendApi(connectorReason)
    .catch((e) => void unreached.push(`the tenant's limiter (${(e as Error).message})`));
  let closedConnectors = 0;
  const hubs = allHubShards(env);
  for (let k = 0; k < hubs.length; k++) {
    try {
      closedConnectors += await hubs[k]!.suspendConnectors(connectorReason);
    } catch (e) {
      unreached.push(`hub shard ${k} (${(e as Error).message})`);
    }
  }
  let endedSessions = 0;
  let open: string[] = [];
  try {
    open = await openSessions(env.DB);
  } catch (e) {
    unreached.push(`the session index (${(e as Error).message})`);
  }
  let notTold = 0;
  for (const id of open) {
    const stub = env.SESSIONS.get(env.SESSIONS.idFromName(id));
    try {
      if (await stub.terminate("57P01", sessionReason)) endedSessions++;
    } catch {
      notTold++; // still running, perhaps: the suspension is reported incomplete (repeat it)
    }
  }
  if (notTold > 0) unreached.push(`${notTold} open session(s) could not be told to end`);
  return { endedSessions, closedConnectors, unreached };
}

/** Resume: the marker and every hub shard told first (errors propagate: the record then stays suspended). */
export async function resumeTenantActivity(hosted: MultiTenantEnv, record: TenantRecord): Promise<void> {
  await resumeActivity(envOf(hosted, record));
}

export async function resumeActivity(env: Env): Promise<void> {
  await clearTenantSuspended(env.DB);
  for (const hub of allHubShards(env)) await hub.resumeConnectors();
  await limiterOf(env).resumeApi();
}

function limiterOf(env: Env) {
  return env.SESSION_LIMITER.get(env.SESSION_LIMITER.idFromName("limits"));
}

/** Everything the tenant stored, gone. Safe to run again after a partial failure. */
export async function purgeTenant(hosted: MultiTenantEnv, record: TenantRecord): Promise<{ sessions: number; recordings: number }> {
  const env = envOf(hosted, record);
  let sessions = 0;
  try {
    const rows = await env.DB.prepare("SELECT id FROM session_index").all<{ id: string }>();
    for (const { id } of rows.results) {
      await (env.SESSIONS.get(env.SESSIONS.idFromName(id)) as unknown as Purgeable).purgeTenantData();
      sessions++;
    }
  } catch (e) {
    if (!/no such table/i.test((e as Error).message)) throw e;
  }
  const singletons: Array<TenantObjectPurge> = [
    ...(allHubShards(env) as unknown as TenantObjectPurge[]),
    ...(approvalShards(env, APPROVALS_OBJECT_NAME) as unknown as TenantObjectPurge[]),
    env.SESSION_LIMITER.get(env.SESSION_LIMITER.idFromName("limits")) as unknown as TenantObjectPurge,
    env.EXPORTER.get(env.EXPORTER.idFromName("exporter")) as unknown as TenantObjectPurge,
  ];
  for (const o of singletons) await o.purgeTenantData();
  // Recordings: straight from the bucket (shared, or the tenant's own when self-hosted) under the tenant's prefix.
  let recordings = 0;
  const prefix = `tenants/${record.name}/`;
  const bucket = recordingsBucket(hosted, record.name);
  for (let cursor: string | undefined, pages = 0; pages < 1000; pages++) {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    if (page.objects.length > 0) await bucket.delete(page.objects.map((o) => o.key));
    recordings += page.objects.length;
    if (!page.truncated) break;
    cursor = page.cursor;
  }
  // Its database last: the session index above was read from it.
  await (hosted.TENANT_STORE.get(hosted.TENANT_STORE.idFromName(tenantObjectName(record.name, "store"))) as unknown as Purgeable).purgeTenantData();
  return { sessions, recordings };
}
