/**
 * What a tenant's record tells the rest of the tenant (platform-routes.ts, lifecycle-steps.ts):
 *
 *  - suspend: the tenant's own database (so a session registering late ends itself), its limiter
 *    (its API), every hub shard (so a connector coming through an isolate with a stale record is
 *    refused by the hub; channels closed) and every approvals shard (notifications held) are told,
 *    then its live sessions are ended (57P01, recorded in their trails as ended by the platform);
 *    the boundary refuses every new request, session and connector of the tenant (403
 *    tenant_suspended, in its refusal log).
 *  - resume and update: the same pieces told the record's new version; long-lived objects reload it.
 *  - delete (only a suspended tenant): every object the tenant has — its sessions (found in its
 *    session index), hub, approvals, limiter, exporter, its recordings under `tenants/<t>/` and
 *    last its own database — forgets what it stored; the record becomes a tombstone so the name is
 *    never given to another organisation.
 *
 * Every tell carries the record's version; pieces ignore older ones (tenant-sync.ts).
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
import { applyTenantSuspension } from "./tenant-suspension.ts";
import { withTimeout } from "../objects/with-timeout.ts";
import type { TenantSyncState } from "./tenant-sync.ts";

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

/**
 * What one lifecycle step tells the pieces: the record's version, and — when the tenant is
 * suspended — the message its sessions end with and the one its connectors and API are refused
 * with (both null: not suspended).
 */
export interface PieceTell {
  version: number;
  sessionMessage: string | null;
  connectorMessage: string | null;
}

export interface TellResult {
  endedSessions: number;
  closedConnectors: number;
  /** Pieces (piecesOf names) that could not be told: left pending on the record, retried by the registry's alarm. */
  unreached: string[];
  /** The same, said for people: what failed and why. */
  problems: string[];
}

/**
 * The pieces a record change is told to: the tenant's database (the marker sessions check), its
 * limiter (the API), every hub shard, every approvals shard (the notification outbox), its
 * exporter (which only reloads the record), and — for a suspension — its open sessions (ended; a
 * session that registers later finds the marker). Each long-lived object reloads the record when
 * told a newer version than it holds (tenant-objects.ts).
 */
export function piecesOf(shards: { hub?: number; approvals?: number } | undefined, suspended: boolean): string[] {
  const hubs = shards?.hub ?? 1;
  const approvals = shards?.approvals ?? 1;
  return ["store", "limiter", ...Array.from({ length: hubs }, (_, k) => `hub-${k}`), ...Array.from({ length: approvals }, (_, k) => `approvals-${k}`), "exporter", ...(suspended ? ["sessions"] : [])];
}

/** A piece that does not answer within this time counts as not told (and is retried), sparing the others. */
const PIECE_TIMEOUT_MS = 10_000;

function withinTime<T>(p: Promise<T>, what: string): Promise<T> {
  return withTimeout(p, PIECE_TIMEOUT_MS, `${what} did not answer within ${PIECE_TIMEOUT_MS / 1000} s`);
}

/**
 * Tells `pieces` the record at `tell.version`. In this order: (1) the tenant's database (the
 * marker), so a session registering from now on sees it; (2) its limiter, every hub shard and
 * every approvals shard at once, each within a time limit — one that fails spares no other; (3)
 * when suspended, the sessions open in the index, ended — unless the database already holds a
 * newer version (a later step owns the tenant now: ending sessions is no longer this step's to
 * do). A piece holding a newer version ignores the tell and counts as told. What could not be
 * told is returned (`unreached`), never skipped silently.
 */
export async function tellPieces(env: Env, tell: PieceTell, pieces: readonly string[]): Promise<TellResult> {
  const state: TenantSyncState = { version: tell.version, suspended: tell.connectorMessage };
  const unreached: string[] = [];
  const problems: string[] = [];
  const failed = (piece: string, what: string) => (e: unknown) => {
    unreached.push(piece);
    problems.push(`${what} (${(e as Error).message})`);
  };
  const wanted = new Set(pieces);
  let storeStale = false;
  if (wanted.has("store")) {
    await withinTime(applyTenantSuspension(env.DB, { version: tell.version, suspended: tell.sessionMessage }), "the tenant's store")
      .then((a) => void (storeStale = !a.applied))
      .catch(failed("store", "the tenant's store"));
  }
  let closedConnectors = 0;
  const calls: Promise<void>[] = [];
  // The tenant's limiter, which every isolate serving its API asks at least once a second: an
  // isolate whose cached record still says "active" refuses the API within about a second.
  if (wanted.has("limiter")) calls.push(withinTime(limiterOf(env).syncApiSuspension(state), "the tenant's limiter").then(() => {}, failed("limiter", "the tenant's limiter")));
  allHubShards(env).forEach((hub, k) => {
    if (!wanted.has(`hub-${k}`)) return;
    calls.push(withinTime(hub.syncTenantSuspension(state), `hub shard ${k}`).then((a) => void (closedConnectors += a.closed), failed(`hub-${k}`, `hub shard ${k}`)));
  });
  approvalShards(env, APPROVALS_OBJECT_NAME).forEach((shard, k) => {
    if (!wanted.has(`approvals-${k}`)) return;
    const rpc = shard as unknown as { syncTenantSuspension(s: TenantSyncState): Promise<unknown> };
    calls.push(withinTime(rpc.syncTenantSuspension(state), `approvals shard ${k}`).then(() => {}, failed(`approvals-${k}`, `approvals shard ${k}`)));
  });
  // The exporter holds no suspension; told so that it reloads the record (tenant-objects.ts).
  if (wanted.has("exporter")) {
    const exporter = env.EXPORTER.get(env.EXPORTER.idFromName("exporter")) as unknown as { syncTenantSuspension(s: TenantSyncState): Promise<unknown> };
    calls.push(withinTime(exporter.syncTenantSuspension(state), "the tenant's exporter").then(() => {}, failed("exporter", "the tenant's exporter")));
  }
  await Promise.all(calls);
  let endedSessions = 0;
  if (wanted.has("sessions") && tell.sessionMessage !== null && !storeStale) {
    try {
      endedSessions = await endOpenSessions(env, tell.sessionMessage);
    } catch (e) {
      failed("sessions", "the open sessions")(e);
    }
  }
  return { endedSessions, closedConnectors, unreached, problems };
}

async function endOpenSessions(env: Env, message: string): Promise<number> {
  const open = await openSessions(env.DB);
  let ended = 0;
  let notTold = 0;
  for (const id of open) {
    const stub = env.SESSIONS.get(env.SESSIONS.idFromName(id));
    try {
      if (await stub.terminate("57P01", message)) ended++;
    } catch {
      notTold++; // still running, perhaps: the step stays pending and is retried
    }
  }
  if (notTold > 0) throw new Error(`${notTold} open session(s) could not be told to end`);
  return ended;
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
