/**
 * Where a sharded hub keeps a resource (hub-shards.ts has the whole picture): the pure placement
 * rule, apart so that tests outside workerd can compute it without the worker's bindings.
 */
import { shardOfKey } from "../approvals/shard-placement.ts";

export const MAX_HUB_SHARDS = 32;

/** The shard that holds `resource` among `count` (the same FNV-1a as the approvals' placement). */
export function hubShardOfResource(resource: string, count: number): number {
  return shardOfKey(resource, count);
}

/** Which shard each of `names` lives on: what shard 0 tells a connector in its `shards` message. */
export function hubShardMap(names: readonly string[], count: number): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, hubShardOfResource(n, count)]));
}
