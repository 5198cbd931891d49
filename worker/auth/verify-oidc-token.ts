/**
 * Pure core of OIDC admission: verify a bearer JWT against the trusted issuers.
 * No framework glue here; the Hono middleware (bearer-identity.ts) calls this.
 *
 * Checks, in order: a JWT at all; an `iss` we trust (picked from the unverified payload only to
 * choose keys — everything is then verified); an allowed asymmetric `alg` (never `none`/HMAC);
 * signature against the issuer's JWKS; `aud`, `exp` (required), `nbf`, `iat` with bounded skew;
 * bounded lifetime (exp − iat, or exp − now when iat is absent); a `sub`.
 */
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyGetKey } from "jose";
import type { Identity } from "../../parsers/identity.ts";
import { isKeySourceUrl, keySourceProblem, type TrustedIssuer } from "../config/gateway-config.ts";

export class TokenRejected extends Error {
  override name = "TokenRejected";
}

const keySets = new Map<string, JWTVerifyGetKey>();

async function discoverJwksUri(issuer: string, fetcher: typeof fetch): Promise<string> {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const res = await fetcher(url, { headers: { accept: "application/json" } });
  if (!res.ok) throw new TokenRejected(`issuer discovery failed (${res.status} from ${url})`);
  const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
  // The discovery document must speak for the issuer we trust, or an attacker-controlled redirect could substitute keys.
  if (doc.issuer !== issuer) throw new TokenRejected(`issuer discovery returned issuer ${JSON.stringify(doc.issuer)}, expected ${issuer}`);
  if (typeof doc.jwks_uri !== "string") throw new TokenRejected("issuer discovery document has no jwks_uri");
  if (!isKeySourceUrl(doc.jwks_uri)) throw new TokenRejected(`issuer discovery names jwks_uri ${JSON.stringify(doc.jwks_uri)}: the issuer's keys are fetched over https only`);
  return doc.jwks_uri;
}

async function keySetFor(issuer: TrustedIssuer, fetcher: typeof fetch): Promise<JWTVerifyGetKey> {
  const cacheKey = JSON.stringify([issuer.issuer, issuer.jwksUri, issuer.jwks]);
  let set = keySets.get(cacheKey);
  if (!set) {
    // Fail closed: keys from a source anyone on the path could answer verify nothing.
    const insecure = keySourceProblem(issuer);
    if (insecure) throw new TokenRejected(insecure);
    if (issuer.jwks) set = createLocalJWKSet(issuer.jwks);
    else {
      const uri = issuer.jwksUri ?? (await discoverJwksUri(issuer.issuer, fetcher));
      set = createRemoteJWKSet(new URL(uri), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000, timeoutDuration: 5_000 });
    }
    keySets.set(cacheKey, set);
  }
  return set;
}

export interface VerifyOptions {
  issuers: readonly TrustedIssuer[];
  /** Seconds since epoch; for tests. */
  now?: number;
  fetcher?: typeof fetch;
}

export async function verifyOidcToken(token: string, options: VerifyOptions): Promise<Identity & { dev: boolean }> {
  if (!token || token.split(".").length !== 3) throw new TokenRejected("bearer token is not a JWT");
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: ReturnType<typeof decodeJwt>;
  try {
    header = decodeProtectedHeader(token);
    unverified = decodeJwt(token);
  } catch {
    throw new TokenRejected("bearer token is not a well-formed JWT");
  }
  const trusted = options.issuers.find((i) => i.issuer === unverified.iss);
  if (!trusted) throw new TokenRejected(`token issuer ${JSON.stringify(unverified.iss ?? null)} is not trusted`);
  if (!header.alg || !trusted.algorithms.includes(header.alg)) {
    throw new TokenRejected(`token algorithm ${JSON.stringify(header.alg ?? null)} is not allowed for issuer ${trusted.issuer}`);
  }
  const now = options.now ?? Math.floor(Date.now() / 1000);
  let payload: Awaited<ReturnType<typeof jwtVerify>>["payload"];
  try {
    const keys = await keySetFor(trusted, options.fetcher ?? fetch);
    ({ payload } = await jwtVerify(token, keys, {
      issuer: trusted.issuer,
      audience: trusted.audiences,
      algorithms: trusted.algorithms,
      clockTolerance: trusted.clockSkewSeconds,
      requiredClaims: ["exp", "sub"],
      currentDate: new Date(now * 1000),
    }));
  } catch (e) {
    if (e instanceof TokenRejected) throw e;
    throw new TokenRejected(describeJoseError(e));
  }
  const exp = payload.exp!;
  const lifetime = typeof payload.iat === "number" ? exp - payload.iat : exp - now;
  if (lifetime > trusted.maxTokenLifetimeSeconds) {
    throw new TokenRejected(`token lifetime ${lifetime}s exceeds the ${trusted.maxTokenLifetimeSeconds}s allowed for issuer ${trusted.issuer}`);
  }
  if (typeof payload.iat === "number" && payload.iat > now + trusted.clockSkewSeconds) throw new TokenRejected("token issued in the future");
  return { issuer: trusted.issuer, subject: payload.sub!, claims: { ...payload }, dev: trusted.dev };
}

function describeJoseError(e: unknown): string {
  if (e instanceof errors.JWTExpired) return "token expired";
  if (e instanceof errors.JWTClaimValidationFailed) return `token claim check failed: ${e.claim} ${e.reason}`;
  if (e instanceof errors.JWSSignatureVerificationFailed) return "token signature verification failed";
  if (e instanceof errors.JWKSNoMatchingKey) return "no key of the issuer matches the token";
  if (e instanceof errors.JOSEAlgNotAllowed) return "token algorithm not allowed";
  if (e instanceof errors.JWKSTimeout) return "timed out fetching the issuer's keys";
  if (e instanceof Error) return `token rejected: ${e.message}`;
  return "token rejected";
}
