/**
 * The connector's identity: an Ed25519 key pair. The private half stays on-prem (by reference in
 * the config); the public half goes into the worker's configuration. There is no shared secret.
 */
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { ConfigError } from "./errors.ts";

export type Ed25519PrivateJwk = JWK & { kty: "OKP"; crv: "Ed25519"; x: string; d: string };
export type Ed25519PublicJwk = JWK & { kty: "OKP"; crv: "Ed25519"; x: string };

export async function generateConnectorKeyPair(): Promise<{ privateJwk: Ed25519PrivateJwk; publicJwk: Ed25519PublicJwk }> {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const privateJwk = (await exportJWK(privateKey)) as Ed25519PrivateJwk;
  return { privateJwk, publicJwk: publicJwkOf(privateJwk) };
}

/** The public half of a private JWK (drops `d` and anything else that is not public). */
export function publicJwkOf(jwk: Ed25519PrivateJwk | Ed25519PublicJwk): Ed25519PublicJwk {
  return { kty: "OKP", crv: "Ed25519", x: jwk.x };
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Check the shape of a private Ed25519 JWK; `field` names the config field in errors. */
export function assertEd25519PrivateJwk(field: string, value: unknown): asserts value is Ed25519PrivateJwk {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new ConfigError(field, "must be a JSON Web Key object");
  const jwk = value as Record<string, unknown>;
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") throw new ConfigError(field, 'must be an Ed25519 key (kty "OKP", crv "Ed25519"); generate one with `gatehouse-connector keygen`');
  if (typeof jwk.x !== "string" || !B64URL.test(jwk.x)) throw new ConfigError(field, "JWK has no valid public part x");
  if (typeof jwk.d !== "string" || !B64URL.test(jwk.d)) throw new ConfigError(field, "must be the PRIVATE key (JWK with d); the public key belongs in the worker configuration");
}

/** Parse the text of a private JWK file or variable. */
export function parsePrivateJwk(field: string, text: string): Ed25519PrivateJwk {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ConfigError(field, "is not valid JSON (expected an Ed25519 private JWK)");
  }
  assertEd25519PrivateJwk(field, parsed);
  return parsed;
}

export async function importConnectorPrivateKey(jwk: Ed25519PrivateJwk): Promise<CryptoKey> {
  try {
    return await importJWK(jwk, "EdDSA");
  } catch (err) {
    throw new ConfigError("private_key", `cannot import the Ed25519 key: ${(err as Error).message}`);
  }
}
