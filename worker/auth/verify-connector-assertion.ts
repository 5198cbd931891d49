/**
 * Pure core of connector admission: a short-lived JWT signed with the connector's own Ed25519
 * key (docs/PROTOCOL.md §Connector assertions). No shared secrets exist between worker and connector.
 */
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import type { ConnectorKey } from "../config/gateway-config.ts";
import { TokenRejected } from "./verify-oidc-token.ts";

export const CONNECTOR_AUDIENCE = "gatehouse-connector";
const MAX_LIFETIME_SECONDS = 120;
const SKEW_SECONDS = 30;

export async function verifyConnectorAssertion(
  token: string,
  connectors: readonly ConnectorKey[],
  options: { sessionId?: string; now?: number } = {},
): Promise<{ connectorId: string; jti: string; exp: number }> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenRejected("connector assertion is not a JWT");
  }
  if (header.alg !== "EdDSA" && header.alg !== "Ed25519") throw new TokenRejected("connector assertion must be signed with Ed25519");
  if (header.typ !== "gatehouse-connector+jwt") throw new TokenRejected("connector assertion has the wrong typ");
  const connector = connectors.find((c) => c.id === header.kid);
  if (!connector) throw new TokenRejected(`unknown connector ${JSON.stringify(header.kid ?? null)}`);
  const now = options.now ?? Math.floor(Date.now() / 1000);
  let payload: Awaited<ReturnType<typeof jwtVerify>>["payload"];
  try {
    const key = await importJWK({ ...connector.publicKey, alg: undefined }, header.alg);
    ({ payload } = await jwtVerify(token, key, {
      algorithms: [header.alg],
      audience: CONNECTOR_AUDIENCE,
      issuer: connector.id,
      subject: connector.id,
      requiredClaims: ["exp", "iat", "jti"],
      clockTolerance: SKEW_SECONDS,
      currentDate: new Date(now * 1000),
    }));
  } catch (e) {
    throw new TokenRejected(`connector assertion rejected: ${(e as Error).message}`);
  }
  if (payload.exp! - payload.iat! > MAX_LIFETIME_SECONDS) throw new TokenRejected(`connector assertion lifetime exceeds ${MAX_LIFETIME_SECONDS}s`);
  if (options.sessionId !== undefined && payload.sid !== options.sessionId) {
    throw new TokenRejected("connector assertion is not bound to this session");
  }
  return { connectorId: connector.id, jti: String(payload.jti), exp: payload.exp! };
}
