/**
 * Proof of possession of a connector's new key (parsers/tunnel/enrolment.ts): the request's
 * public key verifies a short-lived JWS bound to this request. Pure; throws TokenRejected.
 */
import { calculateJwkThumbprint, importJWK, jwtVerify, type JWK } from "jose";
import { KEY_PROOF_AUDIENCE, KEY_PROOF_MAX_LIFETIME_SECONDS, KEY_PROOF_TYPE } from "../../parsers/tunnel/enrolment.ts";
import { TokenRejected } from "./verify-oidc-token.ts";

const B64URL_32 = /^[A-Za-z0-9_-]{43}$/;

/** The public JWK reduced to its public members, or a rejection naming what is wrong. */
export function ed25519PublicKey(value: unknown): JWK {
  const k = value as Record<string, unknown> | null;
  if (typeof k !== "object" || k === null || k.kty !== "OKP" || k.crv !== "Ed25519" || typeof k.x !== "string" || !B64URL_32.test(k.x)) {
    throw new TokenRejected("public_key must be an Ed25519 public JWK");
  }
  if ("d" in k) throw new TokenRejected("public_key contains a private key; send only the public part");
  return { kty: "OKP", crv: "Ed25519", x: k.x };
}

export async function verifyKeyProof(proof: unknown, publicKey: JWK, subject: string, now = Math.floor(Date.now() / 1000)): Promise<string> {
  if (typeof proof !== "string") throw new TokenRejected("proof (a JWS signed with the new key) is missing");
  try {
    const { payload } = await jwtVerify(proof, await importJWK(publicKey, "EdDSA"), {
      algorithms: ["EdDSA", "Ed25519"],
      typ: KEY_PROOF_TYPE,
      audience: KEY_PROOF_AUDIENCE,
      subject,
      requiredClaims: ["iat", "exp"],
      clockTolerance: 30,
      currentDate: new Date(now * 1000),
    });
    if (payload.exp! - payload.iat! > KEY_PROOF_MAX_LIFETIME_SECONDS) throw new Error(`lifetime exceeds ${KEY_PROOF_MAX_LIFETIME_SECONDS}s`);
  } catch (e) {
    throw new TokenRejected(`key proof rejected: ${(e as Error).message}`);
  }
  return calculateJwkThumbprint(publicKey, "sha256");
}
