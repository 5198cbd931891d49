/**
 * The authentication plugins the connector speaks to MySQL/MariaDB, with credentials only it
 * holds (the worker and the client never see them):
 *
 *  - mysql_native_password: SHA1(pw) XOR SHA1(scramble ‖ SHA1(SHA1(pw)))
 *  - caching_sha2_password (MySQL 8): SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) ‖ scramble) — the
 *    fast path; when the server has no cached entry it asks for the full path: the cleartext
 *    password over TLS, or RSA-OAEP-encrypted (pw ‖ NUL) XOR scramble with the server's public key
 *    (configured, or requested from the server only when the operator allowed it).
 *  - client_ed25519 (MariaDB): an Ed25519 signature of the scramble with a key derived from
 *    SHA-512(pw) — MariaDB hashes the password itself as the "expanded secret key", which Node's
 *    Ed25519 (seed → SHA-512(seed)) cannot take, so the curve arithmetic is done here over BigInt,
 *    with SHA-512 from node:crypto. Checked against a real MariaDB ed25519 account in tests.
 */
import { createHash, publicEncrypt, constants } from "node:crypto";

function sha(alg: "sha1" | "sha256" | "sha512", ...parts: Uint8Array[]): Buffer {
  const h = createHash(alg);
  for (const p of parts) h.update(p);
  return h.digest();
}

function xor(a: Uint8Array, b: Uint8Array): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i % b.length];
  return out;
}

export function nativePasswordResponse(password: string, scramble: Uint8Array): Buffer {
  if (!password) return Buffer.alloc(0);
  const pw = Buffer.from(password, "utf8");
  const h1 = sha("sha1", pw);
  return xor(h1, sha("sha1", scramble.subarray(0, 20), sha("sha1", h1)));
}

export function cachingSha2Response(password: string, scramble: Uint8Array): Buffer {
  if (!password) return Buffer.alloc(0);
  const pw = Buffer.from(password, "utf8");
  const h1 = sha("sha256", pw);
  return xor(h1, sha("sha256", sha("sha256", h1), scramble.subarray(0, 20)));
}

/** Full path without TLS: (pw ‖ NUL) XOR scramble, RSA-OAEP (SHA-1) with the server's public key. */
export function cachingSha2RsaResponse(password: string, scramble: Uint8Array, publicKeyPem: string): Buffer {
  const plain = xor(Buffer.concat([Buffer.from(password, "utf8"), Buffer.from([0])]), scramble.subarray(0, 20));
  return publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha1" }, plain);
}

// ---- Ed25519 over BigInt (RFC 8032 arithmetic; only what signing needs) ----
const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const D = mod(-121665n * inv(121666n));
const BX = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
const BY = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;
type Point = [bigint, bigint, bigint, bigint]; // extended coordinates X, Y, Z, T

function mod(a: bigint, m = P): bigint {
  const r = a % m;
  return r < 0n ? r + m : r;
}
function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  b = mod(b);
  while (e > 0n) {
    if (e & 1n) r = mod(r * b);
    b = mod(b * b);
    e >>= 1n;
  }
  return r;
}
function inv(a: bigint): bigint {
  return pow(a, P - 2n);
}
function add(p: Point, q: Point): Point {
  const [x1, y1, z1, t1] = p;
  const [x2, y2, z2, t2] = q;
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(2n * D * t1 * t2);
  const d = mod(2n * z1 * z2);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}
function scalarMult(s: bigint, p: Point): Point {
  let q: Point = [0n, 1n, 1n, 0n];
  let r = p;
  while (s > 0n) {
    if (s & 1n) q = add(q, r);
    r = add(r, r);
    s >>= 1n;
  }
  return q;
}
function encodePoint(p: Point): Buffer {
  const zi = inv(p[2]);
  const x = mod(p[0] * zi);
  const y = mod(p[1] * zi);
  const out = leBytes(y, 32);
  if (x & 1n) out[31] |= 0x80;
  return out;
}
function leBytes(n: bigint, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}
function leNumber(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]);
  return n;
}
const B: Point = [BX, BY, 1n, mod(BX * BY)];

/** MariaDB client_ed25519: sign the 32-byte scramble with the key expanded from SHA-512(password). */
export function ed25519Response(password: string, scramble: Uint8Array): Buffer {
  const az = Buffer.from(sha("sha512", Buffer.from(password, "utf8")));
  az[0] &= 248;
  az[31] &= 63;
  az[31] |= 64;
  const a = leNumber(az.subarray(0, 32));
  const A = encodePoint(scalarMult(a, B));
  const r = mod(leNumber(sha("sha512", az.subarray(32, 64), scramble)), L);
  const R = encodePoint(scalarMult(r, B));
  const k = mod(leNumber(sha("sha512", R, A, scramble)), L);
  const S = mod(r + k * a, L);
  return Buffer.concat([R, leBytes(S, 32)]);
}

/** The public key MariaDB stores for an ed25519 account (base64 without padding), for tests. */
export function ed25519PublicKey(password: string): string {
  const az = Buffer.from(sha("sha512", Buffer.from(password, "utf8")));
  az[0] &= 248;
  az[31] &= 63;
  az[31] |= 64;
  return encodePoint(scalarMult(leNumber(az.subarray(0, 32)), B)).toString("base64").replace(/=+$/, "");
}
