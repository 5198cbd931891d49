/**
 * Where a request of a sharded tenant lives (shards.ts has the whole picture): the pure placement
 * rules, apart so that the ApprovalsObject (which reads its own shard from its name and mints ids
 * carrying it) and the sharded client both use them without importing each other.
 */

/** The letters of the request ids' alphabet (approvals-object.ts): shard k's ids start with the k-th. */
export const ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";
export const MAX_APPROVAL_SHARDS = ID_ALPHABET.length;

export function shardObjectName(base: string, shard: number): string {
  return shard === 0 ? base : `${base}-${shard}`;
}

/** The shard an object serves, from its own name (`…approvals-3` → 3; `…approvals` → 0). */
export function shardOfObjectName(name: string | undefined): number {
  const m = /-(\d+)$/.exec(name ?? "");
  const k = m ? Number(m[1]) : 0;
  return k < MAX_APPROVAL_SHARDS ? k : 0;
}

/** The shard a request id names (its first letter after the prefix), within `count` shards. */
export function shardOfId(id: string, count: number): number {
  if (count <= 1) return 0;
  const k = ID_ALPHABET.indexOf(id.charAt(4));
  // An id whose letter names no shard of this tenant is looked up on shard 0, where it is not.
  return k >= 0 && k < count ? k : 0;
}

/** FNV-1a of a key, for stable placement (not security: the key is the tenant's own resource or session). */
export function shardOfKey(key: string, count: number): number {
  if (count <= 1) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % count;
}
