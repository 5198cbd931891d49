/**
 * Parses and validates the worker's JSON configuration variables once per isolate.
 * Invalid configuration is a hard error: the gateway refuses to admit anyone (fail closed).
 */
import type { JWK } from "jose";
import { ConfigurationError } from "../errors.ts";
import { parseBinding } from "../../parsers/connector-binding.ts";

export interface TrustedIssuer {
  issuer: string;
  jwksUri?: string;
  jwks?: { keys: JWK[] };
  audiences: string[];
  algorithms: string[];
  maxTokenLifetimeSeconds: number;
  clockSkewSeconds: number;
  /** Development issuer (npm start): only marks sessions; no weaker checks. */
  dev: boolean;
}

export interface ConnectorKey {
  id: string;
  publicKey: JWK;
  /** The resource names it may serve (globs, parsers/connector-binding.ts); absent: any name. */
  resources?: string[];
}

export interface GatewayConfig {
  issuers: TrustedIssuer[];
  connectors: ConnectorKey[];
}

const ASYMMETRIC_ALGORITHMS = new Set(["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"]);

function parseJsonArray(name: string, text: string | undefined): unknown[] {
  if (!text || !text.trim()) return [];
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ConfigurationError(`${name} is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(value)) throw new ConfigurationError(`${name} must be a JSON array`);
  return value;
}

function str(name: string, value: unknown): string {
  if (typeof value !== "string" || value === "") throw new ConfigurationError(`${name} must be a non-empty string`);
  return value;
}

export function parseIssuers(text: string | undefined): TrustedIssuer[] {
  return parseJsonArray("GATEHOUSE_ISSUERS", text).map((raw, i) => {
    const where = `GATEHOUSE_ISSUERS[${i}]`;
    if (typeof raw !== "object" || raw === null) throw new ConfigurationError(`${where} must be an object`);
    const r = raw as Record<string, unknown>;
    const issuer = str(`${where}.issuer`, r.issuer);
    const audiences = Array.isArray(r.audiences) ? r.audiences.map((a, j) => str(`${where}.audiences[${j}]`, a)) : [];
    if (audiences.length === 0) throw new ConfigurationError(`${where}.audiences must list at least one audience`);
    const algorithms = Array.isArray(r.algorithms) ? r.algorithms.map((a, j) => str(`${where}.algorithms[${j}]`, a)) : ["RS256", "ES256"];
    for (const alg of algorithms) {
      // "none" and HMAC algorithms would let anyone holding (or guessing) a shared secret mint identities.
      if (!ASYMMETRIC_ALGORITHMS.has(alg)) throw new ConfigurationError(`${where}.algorithms: ${alg} is not allowed (asymmetric algorithms only)`);
    }
    const num = (key: string, fallback: number, max: number) => {
      const v = r[key];
      if (v === undefined) return fallback;
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw new ConfigurationError(`${where}.${key} must be an integer between 0 and ${max}`);
      return v;
    };
    const jwks = r.jwks as { keys: JWK[] } | undefined;
    if (jwks !== undefined && (typeof jwks !== "object" || !Array.isArray(jwks.keys))) throw new ConfigurationError(`${where}.jwks must be a JWK set`);
    return {
      issuer,
      jwksUri: r.jwks_uri === undefined ? undefined : str(`${where}.jwks_uri`, r.jwks_uri),
      jwks,
      audiences,
      algorithms,
      maxTokenLifetimeSeconds: num("max_token_lifetime_seconds", 3600, 86400),
      clockSkewSeconds: num("clock_skew_seconds", 30, 300),
      dev: r.dev === true,
    };
  });
}

/** Plain http that never leaves the machine (`npm start`, tests): the one loopback rule of the worker. */
export function isLoopbackHttp(url: URL): boolean {
  return url.protocol === "http:" && (url.hostname === "127.0.0.1" || url.hostname === "localhost" || url.hostname === "[::1]");
}

/** Where an issuer's signing keys may be fetched from: https, or plain http on loopback. */
export function isKeySourceUrl(text: string): boolean {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return false;
  }
  return u.protocol === "https:" || isLoopbackHttp(u);
}

/**
 * Why the signing keys of `issuer` would be fetched over an untrusted channel, or null. The keys
 * decide whose signatures count: fetched (jwks_uri, or discovery at the issuer) over plain http,
 * anyone on the path could serve their own. Inline `jwks` are not fetched.
 */
export function keySourceProblem(issuer: TrustedIssuer): string | null {
  if (issuer.jwks) return null;
  const source = issuer.jwksUri ?? issuer.issuer;
  if (isKeySourceUrl(source)) return null;
  return issuer.jwksUri !== undefined
    ? `issuer ${issuer.issuer}: jwks_uri ${issuer.jwksUri} is not an https URL (plain http only on loopback): its signing keys would be fetched over a channel anyone on the path can answer; give an https jwks_uri or the keys inline (jwks)`
    : `issuer ${issuer.issuer} is not an https URL (plain http only on loopback): its signing keys would be discovered and fetched over a channel anyone on the path can answer; give an https jwks_uri or the keys inline (jwks)`;
}

/** Throws a ConfigurationError naming `variable` for the first issuer whose keys would be fetched insecurely. */
export function assertKeySources(issuers: readonly TrustedIssuer[], variable: string): void {
  for (const i of issuers) {
    const problem = keySourceProblem(i);
    if (problem) throw new ConfigurationError(`${variable}: ${problem}`);
  }
}

export function parseConnectors(text: string | undefined): ConnectorKey[] {
  return parseJsonArray("GATEHOUSE_CONNECTORS", text).map((raw, i) => {
    const where = `GATEHOUSE_CONNECTORS[${i}]`;
    if (typeof raw !== "object" || raw === null) throw new ConfigurationError(`${where} must be an object`);
    const r = raw as Record<string, unknown>;
    const id = str(`${where}.id`, r.id);
    const key = r.public_key as JWK | undefined;
    if (!key || key.kty !== "OKP" || key.crv !== "Ed25519" || typeof key.x !== "string") {
      throw new ConfigurationError(`${where}.public_key must be an Ed25519 public JWK`);
    }
    if ("d" in key) throw new ConfigurationError(`${where}.public_key contains a private key ("d"); give only the public part`);
    let resources: string[] | undefined;
    try {
      resources = parseBinding(r.resources, `${where}.resources`);
    } catch (e) {
      throw new ConfigurationError((e as Error).message);
    }
    return resources === undefined ? { id, publicKey: key } : { id, publicKey: key, resources };
  });
}

let cached: { key: string; config: GatewayConfig } | undefined;

/** The validated configuration for these variables (memoized per isolate). */
export function gatewayConfig(env: { GATEHOUSE_ISSUERS: string; GATEHOUSE_CONNECTORS: string }): GatewayConfig {
  const key = `${env.GATEHOUSE_ISSUERS}\u0000${env.GATEHOUSE_CONNECTORS}`;
  if (cached?.key !== key) {
    cached = { key, config: { issuers: parseIssuers(env.GATEHOUSE_ISSUERS), connectors: parseConnectors(env.GATEHOUSE_CONNECTORS) } };
  }
  return cached.config;
}
