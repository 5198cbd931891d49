/**
 * Connector assertions (docs/PROTOCOL.md §Connector assertions): a short-lived JWT signed with
 * the connector's Ed25519 key, minted fresh for every WebSocket dial. Stream assertions carry
 * `sid`, binding them to one session so a leaked one cannot open another session's stream.
 */
import { SignJWT, type CryptoKey } from "jose";
import { randomUUID } from "node:crypto";

export const ASSERTION_AUDIENCE = "gatehouse-connector";
export const ASSERTION_TYPE = "gatehouse-connector+jwt";
/** The protocol allows at most 60 s; shorter is fine. */
export const MAX_ASSERTION_LIFETIME_SECONDS = 60;

export interface AssertionOptions {
  /** Session id for `/v1/connector/streams/<sid>` dials; omitted for the control channel. */
  sid?: string;
  /** Lifetime in seconds, 1..60 (default 60). */
  lifetimeSeconds?: number;
  /** Clock, for tests (milliseconds since the epoch). */
  now?: () => number;
}

export async function signConnectorAssertion(privateKey: CryptoKey, connectorId: string, opts: AssertionOptions = {}): Promise<string> {
  const lifetime = opts.lifetimeSeconds ?? MAX_ASSERTION_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < 1 || lifetime > MAX_ASSERTION_LIFETIME_SECONDS) {
    throw new RangeError(`assertion lifetime must be 1..${MAX_ASSERTION_LIFETIME_SECONDS} seconds`);
  }
  const iat = Math.floor((opts.now ?? Date.now)() / 1000);
  const claims: Record<string, string> = {};
  if (opts.sid !== undefined) claims.sid = opts.sid;
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA", kid: connectorId, typ: ASSERTION_TYPE })
    .setIssuer(connectorId)
    .setSubject(connectorId)
    .setAudience(ASSERTION_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + lifetime)
    .setJti(randomUUID())
    .sign(privateKey);
}
