/**
 * A tenant's connector hub sharded over several ConnectorHub objects (hosted mode, `shards.hub` in
 * the tenant's record; docs/TENANCY.md "Sharding within a tenant"):
 *
 * - shard k is the object named `hub` (k = 0, the one object of an unsharded tenant and of a
 *   single-tenant deployment) or `hub-<k>`; in hosted mode the tenant's namespace prefixes every
 *   name (`tenant:t:hub-2`), so a shard is never another tenant's object;
 * - **the registry lives on shard 0 only**: enrolment tokens, connector records, key rotation,
 *   revocation and the one-use assertion `jti` claims. Every connector admission — a control socket
 *   to any shard, a session stream — is claimed there, so a revocation, a rotation or a replayed
 *   assertion is judged in one place whichever shard the socket goes to;
 * - **a resource lives on the shard of hash(resource name)**: describing it, the control sockets of
 *   the connectors that serve it, `openStream` (pairing a session with a connector's stream) and the
 *   record of the sessions it serves. A connector keeps one control socket per shard holding one of
 *   its resources; shard 0 tells it the count and the map in a `shards` message (docs/PROTOCOL.md).
 *
 * The count is fixed at creation: a different count would move resources to other objects.
 */
import type { Env } from "../env.ts";
import { shardObjectName } from "../approvals/shard-placement.ts";
import { MAX_HUB_SHARDS, hubShardOfResource } from "./hub-placement.ts";

export { MAX_HUB_SHARDS, hubShardMap, hubShardOfResource } from "./hub-placement.ts";

export const HUB_OBJECT_NAME = "hub";
/** Internal header from the control route to the shard it chose (never from a connector). */
export const HUB_SHARD_HEADER = "x-gatehouse-hub-shard";
/**
 * Internal header from the control route: the generation of the enrolled key that admitted the
 * socket on shard 0 (absent for a GATEHOUSE_CONNECTORS key), compared by the shard with the latest
 * key rotation it was told of (connector-hub.ts, closeControls).
 */
export const CONNECTOR_KEY_GENERATION_HEADER = "x-gatehouse-connector-key-generation";

/**
 * Internal headers from the control route: the binding the socket is judged under (JSON array of
 * globs, absent: any name) — the enrolled record's, read by shard 0 with the admission, or the
 * GATEHOUSE_CONNECTORS entry's — and, for an enrolled connector, that binding's generation,
 * compared by the shard with the latest binding change it was told of (closeForRebind).
 */
export const CONNECTOR_BINDING_HEADER = "x-gatehouse-connector-binding";
export const CONNECTOR_BINDING_GENERATION_HEADER = "x-gatehouse-connector-binding-generation";

type HubEnv = Pick<Env, "CONNECTOR_HUB" | "TENANT">;
type HubStub = ReturnType<Env["CONNECTOR_HUB"]["get"]>;

export function hubShardCount(env: Pick<Env, "TENANT">): number {
  return Math.max(1, Math.min(MAX_HUB_SHARDS, env.TENANT?.shards?.hub ?? 1));
}

export function hubShard(env: HubEnv, shard: number): HubStub {
  return env.CONNECTOR_HUB.get(env.CONNECTOR_HUB.idFromName(shardObjectName(HUB_OBJECT_NAME, shard)));
}

/**
 * Which shard a hub object is, from its own name (`hub`, `tenant:t:hub` → 0; `tenant:t:hub-2` → 2).
 * Any other name (an id not made from a name, a test's own hub) counts as shard 0: it does all of
 * shard 0's checks.
 */
export function hubShardOfObjectName(name: string | undefined): number {
  const m = /(?:^|:)hub-([1-9][0-9]?)$/.exec(name ?? "");
  return m ? Number(m[1]) : 0;
}

/** Shard 0: the connector registry (enrolment, keys, revocations, jti claims). */
export function registryHub(env: HubEnv): HubStub {
  return hubShard(env, 0);
}

/** The shard that describes `resource` and pairs its sessions with a connector. */
export function resourceHub(env: HubEnv, resource: string): HubStub {
  return hubShard(env, hubShardOfResource(resource, hubShardCount(env)));
}

/** Every shard's stub (suspension, purge). */
export function allHubShards(env: HubEnv): HubStub[] {
  return Array.from({ length: hubShardCount(env) }, (_, k) => hubShard(env, k));
}
