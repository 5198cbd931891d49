/**
 * The gateway's audit signing keys.
 *
 * Production: GATEHOUSE_AUDIT_KEYS (a secret) = JSON array of Ed25519 private JWKs, each with a
 * kid. The first is active (signs new checkpoints); the others are retired: kept only so their
 * public halves stay published. Every key the worker has seen is also remembered in D1
 * (`audit_keys`, public half only) so a key dropped from the variable after rotation still
 * verifies old sessions.
 *
 * Local development (variable absent): one key is generated on first use and stored in D1 with
 * its private half (origin 'generated'), so `npm start` keeps signing with the same key across
 * restarts. Never rely on that in production: D1 is not a secret store.
 */
import { createSigner, generateAuditKey, publicKeyOf, AuditKeyError, type AuditPublicKey, type AuditSigner, type Ed25519PrivateJwk } from "../../parsers/audit/index.ts";
import type { AuditEnv } from "./env.ts";
import { ensureAuditSchema } from "./schema.ts";
import { toHex } from "../../parsers/encoding/hex-base64.ts";

export interface LoadedAuditKeys {
  signer: AuditSigner;
  /** Public keys from the variable (active first). */
  configured: AuditPublicKey[];
}

type KeyEnv = Pick<AuditEnv, "DB" | "GATEHOUSE_AUDIT_KEYS">;

// Per-isolate cache: importing keys and touching D1 once, not per session.
let cache: { source: string; db: D1Database; keys: Promise<LoadedAuditKeys> } | undefined;

export function parseConfiguredKeys(json: string): Ed25519PrivateJwk[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new AuditKeyError("GATEHOUSE_AUDIT_KEYS is not valid JSON");
  }
  if (!Array.isArray(parsed) || parsed.length === 0) throw new AuditKeyError("GATEHOUSE_AUDIT_KEYS must be a non-empty JSON array of Ed25519 private JWKs");
  const kids = new Set<string>();
  return parsed.map((k, i) => {
    if (!k || typeof k !== "object" || typeof (k as { kid?: unknown }).kid !== "string" || (k as { kid: string }).kid === "") {
      throw new AuditKeyError(`GATEHOUSE_AUDIT_KEYS[${i}] has no kid`);
    }
    const jwk = k as Ed25519PrivateJwk;
    if (kids.has(jwk.kid)) throw new AuditKeyError(`GATEHOUSE_AUDIT_KEYS: duplicate kid ${jwk.kid}`);
    kids.add(jwk.kid);
    publicKeyOf(jwk); // shape check
    return jwk;
  });
}

export function loadAuditKeys(env: KeyEnv): Promise<LoadedAuditKeys> {
  const source = env.GATEHOUSE_AUDIT_KEYS?.trim() ?? "";
  if (cache && cache.source === source && cache.db === env.DB) return cache.keys;
  const keys = source !== "" ? fromVariable(env.DB, source) : fromD1(env.DB);
  cache = { source, db: env.DB, keys };
  keys.catch(() => {
    if (cache?.keys === keys) cache = undefined; // retry next time instead of caching a failure
  });
  return keys;
}

async function fromVariable(db: D1Database, source: string): Promise<LoadedAuditKeys> {
  const jwks = parseConfiguredKeys(source);
  await ensureAuditSchema(db);
  const signer = await createSigner(jwks[0]);
  const configured = jwks.map((k, i) => publicKeyOf(k, i === 0 ? "active" : "retired"));
  // Remember every configured public key so it stays published after it leaves the variable.
  const now = Date.now();
  await db.batch(
    configured.map((k) =>
      db
        .prepare("INSERT OR IGNORE INTO audit_keys (kid, public_jwk, private_jwk, origin, created) VALUES (?, ?, NULL, 'configured', ?)")
        .bind(k.kid, JSON.stringify({ kid: k.kid, kty: k.kty, crv: k.crv, x: k.x }), k.created ?? now),
    ),
  );
  return { signer, configured };
}

async function fromD1(db: D1Database): Promise<LoadedAuditKeys> {
  await ensureAuditSchema(db);
  const existing = await db.prepare("SELECT private_jwk FROM audit_keys WHERE origin = 'generated'").first<{ private_jwk: string | null }>();
  let jwk: Ed25519PrivateJwk | undefined = existing?.private_jwk ? (JSON.parse(existing.private_jwk) as Ed25519PrivateJwk) : undefined;
  if (!jwk) {
    const id = new Uint8Array(6);
    crypto.getRandomValues(id);
    const candidate = await generateAuditKey(`local-${toHex(id)}`);
    const pub = publicKeyOf(candidate);
    // The unique index on origin='generated' makes concurrent first uses agree on one key.
    await db
      .prepare("INSERT OR IGNORE INTO audit_keys (kid, public_jwk, private_jwk, origin, created) VALUES (?, ?, ?, 'generated', ?)")
      .bind(pub.kid, JSON.stringify({ kid: pub.kid, kty: pub.kty, crv: pub.crv, x: pub.x }), JSON.stringify(candidate), candidate.created ?? Date.now())
      .run();
    const winner = await db.prepare("SELECT private_jwk FROM audit_keys WHERE origin = 'generated'").first<{ private_jwk: string | null }>();
    if (!winner?.private_jwk) throw new AuditKeyError("could not store the generated audit key in D1");
    jwk = JSON.parse(winner.private_jwk) as Ed25519PrivateJwk;
  }
  const signer = await createSigner(jwk);
  return { signer, configured: [] };
}

/** All public keys for /.well-known/gatehouse-audit-keys and for verification: active first. */
export async function publishedAuditKeys(env: KeyEnv): Promise<AuditPublicKey[]> {
  const { signer, configured } = await loadAuditKeys(env);
  const out = new Map<string, AuditPublicKey>();
  out.set(signer.kid, { ...signer.publicKey, status: "active" });
  for (const k of configured) if (!out.has(k.kid)) out.set(k.kid, { ...k, status: "retired" });
  const rows = await env.DB.prepare("SELECT kid, public_jwk, created FROM audit_keys ORDER BY created").all<{ kid: string; public_jwk: string; created: number }>();
  for (const r of rows.results) {
    const prior = out.get(r.kid);
    if (prior) {
      prior.created ??= r.created;
      continue;
    }
    const pub = JSON.parse(r.public_jwk) as AuditPublicKey;
    out.set(r.kid, { ...publicKeyOf(pub, "retired"), created: r.created });
  }
  return [...out.values()];
}

/** Test hook: forget the per-isolate cache. */
export function resetAuditKeyCache(): void {
  cache = undefined;
}
