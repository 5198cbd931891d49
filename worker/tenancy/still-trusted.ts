/**
 * Hosted mode: a session's token was verified at the edge with the tenant's issuers as that
 * isolate had them cached (up to 10 s old). The session object reads the tenant's record afresh
 * when it starts, so it checks again — against the record it holds — that the token's issuer and
 * the audience it was minted for are still trusted: an issuer (or audience) removed by an update
 * starts no session after the update, whichever isolate's cache admitted it (fail closed).
 */
import type { Identity } from "../../parsers/identity.ts";
import { parseIssuers } from "../config/gateway-config.ts";

/** Why the identity is no longer trusted by `issuersJson` (GATEHOUSE_ISSUERS' format), or null. */
export function noLongerTrusted(identity: Identity, issuersJson: string | undefined): string | null {
  let issuers: ReturnType<typeof parseIssuers>;
  try {
    issuers = parseIssuers(issuersJson);
  } catch (e) {
    return `gatehouse: the tenant's issuers cannot be read (${(e as Error).message})`;
  }
  const trusted = issuers.find((i) => i.issuer === identity.issuer);
  if (!trusted) return `gatehouse: the issuer ${identity.issuer} is no longer trusted by the tenant`;
  const aud = identity.claims.aud;
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === "string") : [];
  if (audiences.length > 0 && !audiences.some((a) => trusted.audiences.includes(a))) return `gatehouse: the audience ${audiences.join(", ")} of issuer ${identity.issuer} is no longer trusted by the tenant`;
  return null;
}
