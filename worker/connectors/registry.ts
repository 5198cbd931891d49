/**
 * Connector enrolment and the registry of enrolled connectors (docs/CONNECTOR.md §Enrolment),
 * kept in the ConnectorHub's storage: one strongly consistent place decides whether a token was
 * already used, whether a connector is revoked and which key is current — the checks that must
 * never race. Connectors in GATEHOUSE_CONNECTORS stay trusted as the bootstrap; this registry
 * adds enrolled ones and records revocations of either kind.
 *
 * Storage keys:
 *   enrol:<sha256 hex of token>   EnrolmentToken   (the token itself is never stored)
 *   connector:<id>                ConnectorRecord  (enrolled connectors; bootstrap ones only once revoked)
 */
import type { JWK } from "jose";

export interface EnrolmentToken {
  id: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
  createdAt: number;
  createdBy: string;
  usedAt?: number;
  /** The binding the enrolled connector gets (parsers/connector-binding.ts); absent: any name. */
  resources?: string[];
}

export interface ConnectorRecord {
  id: string;
  source: "enrolled" | "configuration";
  /** Current public key (enrolled connectors); null for a revoked bootstrap connector. */
  publicKey: JWK | null;
  /** RFC 7638 thumbprint of publicKey, so admission can check it is still the current key. */
  thumbprint: string | null;
  enrolledAt: number | null;
  enrolledBy: string | null;
  rotatedAt: number | null;
  revokedAt: number | null;
  revokedBy: string | null;
  /**
   * The resource names it may serve (globs, parsers/connector-binding.ts); absent or null: any.
   * Enrolled connectors only (a configured one's is in GATEHOUSE_CONNECTORS).
   */
  resources?: string[] | null;
  /** When an administrator last changed the binding (bind): the binding's generation, strictly increasing. */
  boundAt?: number | null;
  boundBy?: string | null;
}

export type RegistryResult<T> = ({ ok: true } & T) | { ok: false; status: 400 | 401 | 403 | 404 | 409 | 410; error: string; reason: string };

/** What a storage backend must offer (DurableObjectStorage does). */
export interface RegistryStorage {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
  list<T>(options: { prefix: string }): Promise<Map<string, T>>;
  delete(keys: string[]): Promise<number>;
}

export const MIN_TOKEN_TTL_SECONDS = 60;
export const MAX_TOKEN_TTL_SECONDS = 24 * 3600;
/** Used and expired tokens are kept this long so a replay is told why, then forgotten. */
const TOKEN_MEMORY_MS = 7 * 24 * 3600_000;

const fail = (status: 400 | 401 | 404 | 409 | 410, error: string, reason: string) => ({ ok: false as const, status, error, reason });

export class ConnectorRegistry {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly now: () => number = Date.now,
  ) {}

  async createToken(tokenHash: string, id: string, ttlSeconds: number, createdBy: string, bootstrapIds: readonly string[], resources?: string[]): Promise<RegistryResult<{ expiresAt: number }>> {
    if (bootstrapIds.includes(id)) return fail(409, "conflict", `connector ${id} is configured in GATEHOUSE_CONNECTORS; remove it there (or choose another id) before enrolling`);
    const existing = await this.record(id);
    if (existing?.revokedAt != null) return fail(409, "conflict", `connector ${id} was revoked; enrol the replacement under a new id`);
    if (existing) return fail(409, "conflict", `connector ${id} is already enrolled; rotate its key with gatehouse-connector rotate-key, or revoke it first`);
    const now = this.now();
    const expiresAt = now + ttlSeconds * 1000;
    await this.storage.put<EnrolmentToken>(`enrol:${tokenHash}`, { id, expiresAt, createdAt: now, createdBy, ...(resources === undefined ? {} : { resources }) });
    return { ok: true, expiresAt };
  }

  /** Consume a token and register `publicKey` under its id. One use: a second attempt is refused. */
  async enrol(tokenHash: string, publicKey: JWK, thumbprint: string): Promise<RegistryResult<{ record: ConnectorRecord }>> {
    const key = `enrol:${tokenHash}`;
    const token = await this.storage.get<EnrolmentToken>(key);
    if (!token) return fail(401, "invalid_token", "unknown enrolment token");
    const now = this.now();
    if (token.usedAt !== undefined) return fail(401, "invalid_token", "this enrolment token was already used; ask an administrator for a new one");
    if (now >= token.expiresAt) return fail(401, "invalid_token", `this enrolment token expired at ${new Date(token.expiresAt).toISOString()}; ask an administrator for a new one`);
    // Mark it used before anything else can fail: a token is spent even if registration is refused.
    await this.storage.put<EnrolmentToken>(key, { ...token, usedAt: now });
    const existing = await this.record(token.id);
    if (existing) return fail(409, "conflict", `connector ${token.id} is already ${existing.revokedAt != null ? "revoked" : "enrolled"}`);
    const record: ConnectorRecord = {
      id: token.id,
      source: "enrolled",
      publicKey,
      thumbprint,
      enrolledAt: now,
      enrolledBy: token.createdBy,
      rotatedAt: null,
      revokedAt: null,
      revokedBy: null,
      resources: token.resources ?? null,
      boundAt: null,
      boundBy: null,
    };
    await this.storage.put(`connector:${token.id}`, record);
    return { ok: true, record };
  }

  async record(id: string): Promise<ConnectorRecord | undefined> {
    return this.storage.get<ConnectorRecord>(`connector:${id}`);
  }

  async list(): Promise<ConnectorRecord[]> {
    return [...(await this.storage.list<ConnectorRecord>({ prefix: "connector:" })).values()];
  }

  /** Replace an enrolled connector's key; the caller proved possession of `oldThumbprint`'s key. */
  async rotate(id: string, oldThumbprint: string, publicKey: JWK, thumbprint: string): Promise<RegistryResult<{ record: ConnectorRecord }>> {
    const rec = await this.record(id);
    if (!rec || rec.source !== "enrolled") return fail(404, "not_found", `connector ${id} is not enrolled (connectors from GATEHOUSE_CONNECTORS change their key in that variable)`);
    if (rec.revokedAt != null) return fail(410, "revoked", `connector ${id} was revoked`);
    if (rec.thumbprint !== oldThumbprint) return fail(409, "conflict", `the key that signed this request is no longer connector ${id}'s current key`);
    if (thumbprint === oldThumbprint) return fail(400, "bad_request", "the new key is the current key");
    // Strictly later than the previous rotation (and than 0, the enrolled key): it is the new key's generation.
    const rotatedAt = Math.max(this.now(), (rec.rotatedAt ?? 0) + 1);
    const record: ConnectorRecord = { ...rec, publicKey, thumbprint, rotatedAt };
    await this.storage.put(`connector:${id}`, record);
    return { ok: true, record };
  }

  /**
   * Change an enrolled connector's binding (`resources`, null: any name). Its boundAt is the new
   * binding's generation: strictly later than the previous one, as rotatedAt is.
   */
  async bind(id: string, resources: string[] | null, by: string): Promise<RegistryResult<{ record: ConnectorRecord }>> {
    const rec = await this.record(id);
    if (!rec || rec.source !== "enrolled") return fail(404, "not_found", `connector ${id} is not enrolled (a connector from GATEHOUSE_CONNECTORS is bound by its "resources" field there)`);
    if (rec.revokedAt != null) return fail(410, "revoked", `connector ${id} was revoked`);
    const boundAt = Math.max(this.now(), (rec.boundAt ?? 0) + 1);
    const record: ConnectorRecord = { ...rec, resources, boundAt, boundBy: by };
    await this.storage.put(`connector:${id}`, record);
    return { ok: true, record };
  }

  /** Revoke any connector (enrolled or bootstrap). Idempotent: a second call reports the first. */
  async revoke(id: string, by: string, bootstrapIds: readonly string[]): Promise<RegistryResult<{ record: ConnectorRecord; already: boolean }>> {
    const rec = await this.record(id);
    if (rec?.revokedAt != null) return { ok: true, record: rec, already: true };
    if (!rec && !bootstrapIds.includes(id)) return fail(404, "not_found", `no connector ${id} is enrolled or configured`);
    const now = this.now();
    const record: ConnectorRecord = rec
      ? { ...rec, revokedAt: now, revokedBy: by }
      : { id, source: "configuration", publicKey: null, thumbprint: null, enrolledAt: null, enrolledBy: null, rotatedAt: null, revokedAt: now, revokedBy: by };
    await this.storage.put(`connector:${id}`, record);
    return { ok: true, record, already: false };
  }

  /**
   * Whether an assertion verified with a key may be admitted: the connector is not revoked and,
   * for an enrolled connector, the key is still its current one (a rotation or revocation may
   * have happened between the key lookup and this check). Admitted with an enrolled key: the
   * key's generation, its record's rotatedAt (0 before any rotation), which hub shards compare
   * with the latest rotation they were told of (connector-hub.ts).
   */
  async admissible(
    id: string,
    thumbprint: string | null,
  ): Promise<{ refused: string } | { refused: null; keyGeneration: number | null; resources: string[] | null; bindingGeneration: number | null }> {
    const rec = await this.record(id);
    if (rec?.revokedAt != null) return { refused: `connector ${id} was revoked at ${new Date(rec.revokedAt).toISOString()}` };
    if (thumbprint !== null && rec?.thumbprint !== thumbprint) return { refused: `connector ${id}'s key was rotated; this key is no longer trusted` };
    // Read with the key check, from the same record: which rotation installed the key (0: the
    // enrolled one), and the binding the socket is judged under with its generation (0: the enrolment's).
    if (thumbprint === null) return { refused: null, keyGeneration: null, resources: null, bindingGeneration: null };
    return { refused: null, keyGeneration: rec?.rotatedAt ?? 0, resources: rec?.resources ?? null, bindingGeneration: rec?.boundAt ?? 0 };
  }

  /** Forget enrolment tokens long past their expiry. */
  async sweep(): Promise<void> {
    const cutoff = this.now() - TOKEN_MEMORY_MS;
    const tokens = await this.storage.list<EnrolmentToken>({ prefix: "enrol:" });
    const old = [...tokens].filter(([, t]) => t.expiresAt < cutoff).map(([k]) => k);
    for (let i = 0; i < old.length; i += 128) await this.storage.delete(old.slice(i, i + 128));
  }
}

/** SHA-256 hex of an enrolment token: what the worker stores instead of the token. */
export async function hashEnrolmentToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh enrolment token: 256 random bits, prefixed so it is recognisable in logs and scanners. */
export function newEnrolmentToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return `ghenrol_${btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}
