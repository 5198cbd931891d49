/**
 * Ed25519 signing of checkpoints through WebCrypto (`crypto.subtle`, name "Ed25519"), which both
 * workerd and Node 20 implement. Keys are JWKs (RFC 8037: kty OKP, crv Ed25519, x, d).
 */
import { canonicalize } from "../encoding/jcs.ts";
import { base64urlDecode, base64urlEncode, utf8 } from "./bytes.ts";
import { AUDIT_FORMAT_VERSION, type AuditPublicKey, type Checkpoint } from "./types.ts";

export interface Ed25519PrivateJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  d: string;
  kid: string;
  /** epoch ms, optional metadata */
  created?: number;
}

/** WebCrypto key type, named without relying on the CryptoKey global (not declared by @types/node). */
type ImportedKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

export class AuditKeyError extends Error {
  override name = "AuditKeyError";
}

export interface AuditSigner {
  kid: string;
  publicKey: AuditPublicKey;
  sign(data: Uint8Array): Promise<string>;
}

function checkOkp(jwk: { kty?: unknown; crv?: unknown; x?: unknown }, what: string): void {
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string" || base64urlDecode(jwk.x).length !== 32) {
    throw new AuditKeyError(`${what}: not an Ed25519 JWK (kty OKP, crv Ed25519, 32-byte x)`);
  }
}

export function publicKeyOf(jwk: Ed25519PrivateJwk | AuditPublicKey, status?: "active" | "retired"): AuditPublicKey {
  checkOkp(jwk, `key ${jwk.kid}`);
  const pub: AuditPublicKey = { kid: jwk.kid, kty: "OKP", crv: "Ed25519", x: jwk.x };
  if (jwk.created !== undefined) pub.created = jwk.created;
  if (status) pub.status = status;
  return pub;
}

export async function createSigner(jwk: Ed25519PrivateJwk): Promise<AuditSigner> {
  if (!jwk || typeof jwk.kid !== "string" || jwk.kid === "") throw new AuditKeyError("audit key without kid");
  checkOkp(jwk, `key ${jwk.kid}`);
  if (typeof jwk.d !== "string" || base64urlDecode(jwk.d).length !== 32) {
    throw new AuditKeyError(`key ${jwk.kid}: missing or invalid private part d`);
  }
  const key = await crypto.subtle.importKey(
    "jwk",
    { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d },
    { name: "Ed25519" },
    false,
    ["sign"],
  );
  return {
    kid: jwk.kid,
    publicKey: publicKeyOf(jwk),
    async sign(data) {
      const sig = await crypto.subtle.sign({ name: "Ed25519" }, key, data as Uint8Array<ArrayBuffer>);
      return base64urlEncode(new Uint8Array(sig));
    },
  };
}

export async function generateAuditKey(kid: string, created = Date.now()): Promise<Ed25519PrivateJwk> {
  const pair = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"])) as unknown as { privateKey: ImportedKey };
  const jwk = (await crypto.subtle.exportKey("jwk", pair.privateKey)) as { x: string; d: string };
  return { kty: "OKP", crv: "Ed25519", x: jwk.x, d: jwk.d, kid, created };
}

/** The bytes a checkpoint signature covers. */
export function checkpointSigningInput(cp: Omit<Checkpoint, "sig"> | Checkpoint): Uint8Array {
  const { sig: _ignored, ...rest } = cp as Checkpoint;
  return utf8(canonicalize(rest));
}

export async function signCheckpoint(
  signer: AuditSigner,
  fields: Omit<Checkpoint, "sig" | "kid" | "type" | "v">,
): Promise<Checkpoint> {
  const unsigned: Omit<Checkpoint, "sig"> = { type: "checkpoint", v: AUDIT_FORMAT_VERSION, ...fields, kid: signer.kid };
  const sig = await signer.sign(checkpointSigningInput(unsigned));
  return { ...unsigned, sig };
}

/** Verifies with a cache of imported public keys; unknown kid → "unknown-key". */
export class CheckpointVerifier {
  private readonly imported = new Map<string, Promise<ImportedKey>>();
  private readonly byKid = new Map<string, AuditPublicKey>();

  constructor(keys: readonly AuditPublicKey[]) {
    for (const k of keys) {
      checkOkp(k, `public key ${k.kid}`);
      this.byKid.set(k.kid, k);
    }
  }

  async verify(cp: Checkpoint): Promise<"ok" | "unknown-key" | "bad-signature"> {
    const pub = this.byKid.get(cp.kid);
    if (!pub) return "unknown-key";
    let key = this.imported.get(cp.kid);
    if (!key) {
      key = crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: pub.x }, { name: "Ed25519" }, false, ["verify"]);
      this.imported.set(cp.kid, key);
    }
    let sig: Uint8Array;
    let signed: Uint8Array;
    try {
      sig = base64urlDecode(cp.sig);
      signed = checkpointSigningInput(cp); // throws JcsError for a checkpoint with no canonical form
    } catch {
      return "bad-signature";
    }
    // Exactly 64 bytes, in the one base64url spelling (no altered padding bits).
    if (sig.length !== 64 || base64urlEncode(sig) !== cp.sig) return "bad-signature";
    const ok = await crypto.subtle.verify(
      { name: "Ed25519" },
      await key,
      sig as Uint8Array<ArrayBuffer>,
      signed as Uint8Array<ArrayBuffer>,
    );
    return ok ? "ok" : "bad-signature";
  }
}

/** Accepts `{ keys: [...] }` (the well-known document) or a bare array. */
export function parseKeySet(json: unknown): AuditPublicKey[] {
  const arr = Array.isArray(json) ? json : json && typeof json === "object" ? (json as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(arr)) throw new AuditKeyError("key set must be { keys: [...] } or an array of JWKs");
  return arr.map((k) => {
    if (!k || typeof k !== "object" || typeof (k as { kid?: unknown }).kid !== "string") {
      throw new AuditKeyError("key without kid in key set");
    }
    const raw = k as AuditPublicKey & { status?: unknown; created?: unknown };
    const status = raw.status === "active" || raw.status === "retired" ? raw.status : undefined;
    const pub = publicKeyOf({ ...raw, created: typeof raw.created === "number" ? raw.created : undefined } as AuditPublicKey, status);
    return pub;
  });
}
