/**
 * The key an enrolled connector's assertion is checked with (worker/routes/connector.ts
 * admitConnector). Its record is on hub shard 0, and looking it up costs that object a storage
 * read before any signature is checked — so an assertion with a made-up `kid` must not be free:
 *
 *  - Each isolate keeps the keys it looked up (per tenant and connector id, KEY_TTL_MS, at most
 *    MAX_CACHED_KEYS): a connector's sockets and session streams are checked against its cached
 *    key without a lookup. A cached key is only a way to check the signature: whether the key is
 *    still the connector's current one, and whether it was revoked, is decided atomically by the
 *    registry when the assertion is claimed (`claimAssertion`), as before.
 *  - A lookup (no cached key, or the cached one did not verify — a rotated key, or a forged
 *    signature) is first charged to the tenant's anonymous API bucket and the client address's
 *    share of it (worker/limits/api-rate.ts): the caller is not known yet. A flood of made-up
 *    `kid`s from one address spends that address's share, then is refused (429) before the hub.
 *  - A cached key past KEY_TTL_MS that still verifies the assertion is refreshed by a lookup that is
 *    not charged: the signature shows the caller holds a key the registry gave this id, so it is
 *    the connector (or whoever stole a key, which the refresh finds revoked or rotated), not an
 *    outsider. Charging it would let a flood of the anonymous bucket — sign-in pages from a few
 *    addresses — refuse an enrolled connector's control channel whenever it reconnects to an
 *    isolate that cached its key over a minute ago, i.e. stop the tenant's sessions.
 */
import type { Env } from "../env.ts";
import type { ConnectorKey } from "../config/gateway-config.ts";
import type { ConnectorRecord } from "./registry.ts";
import { TokenRejected } from "../auth/verify-oidc-token.ts";
import { RefusedByRateLimit, chargeAnonymousCall } from "../limits/api-rate.ts";

export const KEY_TTL_MS = 60_000;
export const MAX_CACHED_KEYS = 1000;

const cachedKeys = new Map<string, { key: ConnectorKey; thumbprint: string | null; at: number }>();

/**
 * Verify an assertion naming `kid`, a connector not in the bootstrap list, with its registered key:
 * the cached one if it verifies, else the registry's (a charged lookup). A revoked connector is
 * refused; an unknown `kid` is refused by `verify` (no key to check it with).
 */
export async function verifyWithRegisteredKey<T>(
  env: Env,
  hub: { connectorRecord(id: string): Promise<ConnectorRecord | null> },
  kid: string,
  request: Request,
  path: string,
  verify: (keys: ConnectorKey[]) => Promise<T>,
  now = Date.now(),
): Promise<T & { thumbprint: string | null }> {
  const cacheKey = `${env.TENANT?.name ?? ""}\n${kid}`;
  const held = cachedKeys.get(cacheKey);
  const fresh = held && now - held.at < KEY_TTL_MS ? held : undefined;
  let signedByCachedKey = false;
  if (held) {
    try {
      const verified = await verify([held.key]);
      if (fresh) return { ...verified, thumbprint: fresh.thumbprint };
      signedByCachedKey = true; // aged: refreshed below, uncharged (see above)
    } catch (e) {
      // A rotated key, or not the connector's signature: the registry decides, at a price.
      if (!(e instanceof TokenRejected)) throw e;
    }
  }
  if (!signedByCachedKey) {
    const refused = await chargeAnonymousCall(env, request, path);
    if (refused) throw new RefusedByRateLimit(refused);
  }
  const record = await hub.connectorRecord(kid);
  if (record?.revokedAt != null || !record?.publicKey) cachedKeys.delete(cacheKey);
  if (record?.revokedAt != null) throw new TokenRejected(`connector ${kid} was revoked`);
  if (!record?.publicKey) return { ...(await verify([])), thumbprint: null };
  // Kept as it was when the registry still says so: forged signatures under a real id do not evict
  // the connector's key (its own admissions stay free of lookups).
  if (fresh?.thumbprint !== record.thumbprint) {
    cachedKeys.delete(cacheKey);
    cachedKeys.set(cacheKey, { key: { id: kid, publicKey: record.publicKey }, thumbprint: record.thumbprint, at: now });
    if (cachedKeys.size > MAX_CACHED_KEYS) cachedKeys.delete(cachedKeys.keys().next().value!);
  }
  return { ...(await verify([{ id: kid, publicKey: record.publicKey }])), thumbprint: record.thumbprint };
}

