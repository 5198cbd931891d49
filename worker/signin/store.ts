/**
 * D1 storage for people's sign-in: console sessions, sign-ins in flight (state → PKCE verifier,
 * nonce) and the SAML assertion replay cache. Every secret (session id, state) is a 256-bit random
 * value stored only as its SHA-256: reading the table never yields a usable cookie or state.
 * Sessions and sign-ins carry the tenant they were made for ('' single-tenant) and are found only
 * for that tenant: in hosted mode each tenant has its own database already, this is the second wall.
 */
import type { Identity } from "../../parsers/identity.ts";
import { ensureSchema, registerMigrations } from "../storage/schema.ts";
import m0003 from "../migrations/0003_console.sql";
import m0004 from "../migrations/0004_console_tenant.sql";

registerMigrations([
  { id: "0003_console", sql: m0003 },
  { id: "0004_console_tenant", sql: m0004 },
]);

export function randomToken(bytes = 32): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return base64url(b);
}

export function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

export async function hashKey(secret: string): Promise<string> {
  return base64url(await sha256(secret));
}

/** Constant-time comparison of two strings (CSRF tokens, cookie tags): parsers/encoding/same-secret.ts. */
export { sameSecret } from "../../parsers/encoding/same-secret.ts";

export interface ConsoleSession {
  /** The tenant it was made for ('' on a single-tenant deployment). */
  tenant: string;
  identity: Identity;
  method: string;
  csrf: string;
  expiresAt: number;
}

export async function createConsoleSession(db: D1Database, tenant: string, identity: Identity, method: string, ttlSeconds: number): Promise<{ id: string; session: ConsoleSession }> {
  await ensureSchema(db);
  const id = randomToken();
  const now = Date.now();
  const session: ConsoleSession = { tenant, identity, method, csrf: randomToken(), expiresAt: now + ttlSeconds * 1000 };
  // Expired rows are swept on the way: sessions are few (people), the sweep is one indexed-free delete.
  await db.batch([
    db.prepare("DELETE FROM console_tenant_sessions WHERE expires_at < ?").bind(now),
    db
      .prepare("INSERT INTO console_tenant_sessions (id_hash, tenant, issuer, subject, claims, method, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(await hashKey(id), tenant, identity.issuer, identity.subject, JSON.stringify(identity.claims), method, session.csrf, now, session.expiresAt),
  ]);
  return { id, session };
}

/** The session behind a cookie, only if it was made for this tenant and has not expired. */
export async function readConsoleSession(db: D1Database, tenant: string, id: string): Promise<ConsoleSession | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
  await ensureSchema(db);
  const row = await db
    .prepare("SELECT tenant, issuer, subject, claims, method, csrf, expires_at FROM console_tenant_sessions WHERE id_hash = ?")
    .bind(await hashKey(id))
    .first<{ tenant: string; issuer: string; subject: string; claims: string; method: string; csrf: string; expires_at: number }>();
  if (!row || row.tenant !== tenant || row.expires_at <= Date.now()) return null;
  return { tenant: row.tenant, identity: { issuer: row.issuer, subject: row.subject, claims: JSON.parse(row.claims) as Record<string, unknown> }, method: row.method, csrf: row.csrf, expiresAt: row.expires_at };
}

export async function deleteConsoleSession(db: D1Database, tenant: string, id: string): Promise<void> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return;
  await ensureSchema(db);
  await db.prepare("DELETE FROM console_tenant_sessions WHERE id_hash = ? AND tenant = ?").bind(await hashKey(id), tenant).run();
}

export interface PendingSignin {
  /** The tenant whose sign-in page started it ('' single-tenant): it finishes there or nowhere. */
  tenant: string;
  provider: string;
  verifier: string;
  nonce: string;
  returnTo: string;
  /** SHA-256 of the browser-binding cookie set when the sign-in started (login CSRF defence). */
  binding: string;
}

/** Sign-ins in flight live 10 minutes: long enough to type a password, short enough to be useless later. */
const SIGNIN_TTL_MS = 10 * 60_000;

export async function savePendingSignin(db: D1Database, state: string, p: PendingSignin): Promise<void> {
  await ensureSchema(db);
  const now = Date.now();
  await db.batch([
    db.prepare("DELETE FROM console_tenant_signins WHERE expires_at < ?").bind(now),
    db
      .prepare("INSERT INTO console_tenant_signins (state_hash, tenant, provider, verifier, nonce, return_to, binding, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(await hashKey(state), p.tenant, p.provider, p.verifier, p.nonce, p.returnTo, p.binding, now + SIGNIN_TTL_MS),
  ]);
}

/**
 * Takes (reads and deletes) a pending sign-in of this tenant: a state is good for one callback
 * only, and only at the tenant that started it (another tenant's state is not even consumed).
 */
export async function takePendingSignin(db: D1Database, tenant: string, state: string): Promise<PendingSignin | null> {
  if (!/^[A-Za-z0-9_-]{20,200}$/.test(state)) return null;
  await ensureSchema(db);
  const key = await hashKey(state);
  const row = await db
    .prepare("DELETE FROM console_tenant_signins WHERE state_hash = ? AND tenant = ? RETURNING tenant, provider, verifier, nonce, return_to, binding, expires_at")
    .bind(key, tenant)
    .first<{ tenant: string; provider: string; verifier: string; nonce: string; return_to: string; binding: string; expires_at: number }>();
  if (!row || row.tenant !== tenant || row.expires_at <= Date.now()) return null;
  return { tenant: row.tenant, provider: row.provider, verifier: row.verifier, nonce: row.nonce, returnTo: row.return_to, binding: row.binding };
}

/** Records a SAML assertion id until it expires; false when it was seen already (a replay). */
export async function firstSightOfAssertion(db: D1Database, assertionKey: string, expiresAt: number): Promise<boolean> {
  await ensureSchema(db);
  const now = Date.now();
  await db.prepare("DELETE FROM console_saml_seen WHERE expires_at < ?").bind(now).run();
  const r = await db.prepare("INSERT OR IGNORE INTO console_saml_seen (assertion_id, expires_at) VALUES (?, ?)").bind(assertionKey, expiresAt).run();
  return (r.meta.changes ?? 0) === 1;
}
