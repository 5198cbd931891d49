/**
 * Wire shapes of connector enrolment and key rotation (docs/PROTOCOL.md §Enrolment), shared by
 * the worker (worker/routes/connector-enrolment.ts) and the connector (connector/enrolment.ts).
 *
 * Both requests carry a key proof: a compact JWS signed with the NEW private key whose `sub`
 * binds it to this one request (the enrolment token's SHA-256, or `<id>:<old key thumbprint>`),
 * so the worker registers only keys their sender holds and a proof cannot be replayed elsewhere.
 */
export const KEY_PROOF_TYPE = "gatehouse-key-proof+jwt";
export const KEY_PROOF_AUDIENCE = "gatehouse-key-proof";
export const KEY_PROOF_MAX_LIFETIME_SECONDS = 120;

/** POST /v1/connector/enroll (no Authorization header: the token is the credential). */
export interface EnrolRequest {
  token: string;
  public_key: { kty: "OKP"; crv: "Ed25519"; x: string };
  proof: string;
}

/** POST /v1/connector/rotate-key (Authorization: Bearer <assertion signed with the current key>). */
export interface RotateKeyRequest {
  public_key: { kty: "OKP"; crv: "Ed25519"; x: string };
  proof: string;
}

export interface EnrolResponse {
  id: string;
  thumbprint: string;
}

export const enrolProofSubject = (tokenSha256Hex: string) => `enrol:${tokenSha256Hex}`;
export const rotateProofSubject = (connectorId: string, oldThumbprint: string) => `rotate:${connectorId}:${oldThumbprint}`;
