/**
 * A tenant's approvals sharded over several ApprovalsObjects (hosted mode, `shards.approvals` in
 * the tenant's record; docs/TENANCY.md "Sharding within a tenant"), behind the one ApprovalsApi
 * the rest of the worker uses:
 *
 * - shard k is the object named `approvals` (k = 0, the single object of an unsharded tenant) or
 *   `approvals-<k>`; in hosted mode every name is prefixed with the tenant by its namespace, so a
 *   shard is never another tenant's object;
 * - a request's id carries its shard: the first character after `apr_`/`grt_` is the shard's
 *   letter (ids keep their format; 75 random bits remain), so get/vote/consume/withdraw/revoke go
 *   straight to it;
 * - a held statement is created on the shard of its session (hash of the session id), a grant on
 *   the shard of its resource (hash of the resource name), so a grant's lookups (`activeGrants`
 *   for one resource, `noteGrantUse`) ask one shard;
 * - listings and `activeGrants` without a resource ask every shard and merge.
 *
 * The shard count is fixed when the tenant is created: a different count would move grants.
 */
import type { Env } from "../env.ts";
import type { ApprovalRecord } from "./core.ts";
import type { ApprovalsObject, ListFilter } from "./approvals-object.ts";
import { MAX_APPROVAL_SHARDS, shardObjectName, shardOfId, shardOfKey } from "./shard-placement.ts";

export type ApprovalsApi = Pick<
  ApprovalsObject,
  "createStatement" | "consume" | "withdraw" | "createGrant" | "activeGrants" | "noteGrantUse" | "revoke" | "vote" | "get" | "list" | "history" | "outbox"
>;

export { ID_ALPHABET, MAX_APPROVAL_SHARDS, shardObjectName, shardOfId, shardOfKey, shardOfObjectName } from "./shard-placement.ts";

export function approvalShardCount(env: Pick<Env, "TENANT">): number {
  return Math.max(1, Math.min(MAX_APPROVAL_SHARDS, env.TENANT?.shards?.approvals ?? 1));
}

/** Every shard's stub (purge, tests). */
export function approvalShards(env: Pick<Env, "APPROVALS" | "TENANT">, base: string): ApprovalsApi[] {
  return Array.from({ length: approvalShardCount(env) }, (_, k) => env.APPROVALS.get(env.APPROVALS.idFromName(shardObjectName(base, k))) as unknown as ApprovalsApi);
}

/** The tenant's approvals as one ApprovalsApi, routed and fanned out over its shards. */
export function shardedApprovals(shards: ApprovalsApi[]): ApprovalsApi {
  const n = shards.length;
  const byId = (id: string) => shards[shardOfId(id, n)]!;
  const byKey = (key: string) => shards[shardOfKey(key, n)]!;
  return {
    createStatement: (input) => byKey(input.sessionId).createStatement(input),
    consume: (id, sessionId, sha) => byId(id).consume(id, sessionId, sha),
    withdraw: (id, sessionId, reason) => byId(id).withdraw(id, sessionId, reason),
    createGrant: (input) => byKey(input.resource).createGrant(input),
    activeGrants: async (requesterKey, resource) => {
      if (resource !== undefined) return byKey(resource).activeGrants(requesterKey, resource);
      const all = await Promise.all(shards.map((s) => s.activeGrants(requesterKey)));
      return [...new Set(all.flat())].sort();
    },
    noteGrantUse: (sessionId, requesterKey, resource) => byKey(resource).noteGrantUse(sessionId, requesterKey, resource),
    revoke: (id, by, reason) => byId(id).revoke(id, by, reason),
    vote: (id, voter, decision, reason, rules) => byId(id).vote(id, voter, decision, reason, rules),
    get: (id) => byId(id).get(id),
    list: async (filter: ListFilter = {}) => {
      // Each shard's newest `limit`, merged: the newest `limit` overall are among them.
      const all = (await Promise.all(shards.map((s) => s.list(filter)))).flat() as ApprovalRecord[];
      const limit = Math.min(200, Math.max(1, filter.limit ?? 50));
      return all.sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1)).slice(0, limit);
    },
    history: (id) => byId(id).history(id),
    outbox: (id) => byId(id).outbox(id),
  } as ApprovalsApi;
}
