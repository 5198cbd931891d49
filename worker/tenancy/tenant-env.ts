/**
 * The tenant's view of the platform: an `Env` whose every binding is the tenant's own.
 *
 *  - Durable Object namespaces add `tenant:<name>:` to every name (TenantNamespace), so the
 *    worker's unchanged `idFromName("hub")` is that tenant's hub; ids cannot be made any other way.
 *  - `DB` is the tenant's own SQLite database (tenant-store.ts), not the shared D1.
 *  - `RECORDINGS` writes under `tenants/<name>/` of the shared bucket (TenantR2), counting bytes
 *    against the tenant's limit; keys are returned without the prefix so nothing else changes.
 *    Self-hosted, the bucket is the tenant's own store object (TENANT_RECORDINGS), prefix kept.
 *  - Configuration variables are the tenant's record, listed field by field: a variable added to
 *    `Env` later does not compile here until someone decides what a tenant sees for it, and
 *    platform secrets never reach tenant code (the object is built, not spread from the raw env).
 */
import type { Env } from "../env.ts";
import { ConfigurationError } from "../errors.ts";
import type { TenantContext } from "./resolve.ts";
import { versionOf, type TenantRecord } from "./tenant-record.ts";
import { tenantObjectName } from "./object-names.ts";
import { tenantDatabase, type TenantStoreNamespace } from "./tenant-store.ts";
import { addUsage } from "./tenant-usage.ts";
import { SIGNIN_SECRET_PREFIX, TENANT_SECRET_NAME } from "./tenant-secrets.ts";

/** The deployment's raw bindings in hosted mode: the worker's Env plus the platform's own. */
export interface HostedEnv extends Env {
  /** Bound in wrangler.toml and in the self-hosted workerd config (scripts/selfhost-config.ts). */
  TENANT_STORE?: TenantStoreNamespace;
  /**
   * The self-hosted build only (worker/selfhost/storage.ts): the bucket holding one tenant's
   * recordings, a store object of its own. Absent on Cloudflare: tenants share the R2 bucket,
   * each under its prefix.
   */
  TENANT_RECORDINGS?: (tenant: string) => R2Bucket;
  /** "single" (default) or "multi" (worker/tenancy/resolve.ts). */
  GATEHOUSE_TENANCY?: string;
  /** `<tenant>.<base>` host names select a tenant (besides the `/t/<tenant>/` prefix). */
  GATEHOUSE_BASE_DOMAIN?: string;
  /** JSON array, GATEHOUSE_ISSUERS format: issuers of platform administrators' tokens. */
  GATEHOUSE_PLATFORM_ISSUERS?: string;
  /** JSON array of { issuer, subject }: the platform administrators. */
  GATEHOUSE_PLATFORM_ADMINS?: string;
  /** 64 hex characters: the AES-256-GCM key tenant secrets are stored under (tenant-secrets.ts). */
  GATEHOUSE_PLATFORM_SECRETS_KEY?: string;
  /** JSON: which tenants this process serves (self-hosted placement across processes, placement.ts). */
  GATEHOUSE_PLACEMENT?: string;
}

export type MultiTenantEnv = HostedEnv & { TENANT_STORE: TenantStoreNamespace };

/** Hosted mode needs the tenant stores; without them it refuses to serve rather than share one database. */
export function requireTenantStore(raw: HostedEnv): MultiTenantEnv {
  if (!raw.TENANT_STORE) throw new ConfigurationError("GATEHOUSE_TENANCY=multi needs the TENANT_STORE Durable Object binding (wrangler.toml, or the self-hosted config of scripts/selfhost-config.ts)");
  return raw as MultiTenantEnv;
}

/** The bucket a tenant's recordings go to (always written under `tenants/<t>/` by TenantR2). */
export function recordingsBucket(raw: HostedEnv, tenant: string): R2Bucket {
  return raw.TENANT_RECORDINGS ? raw.TENANT_RECORDINGS(tenant) : raw.RECORDINGS;
}

/** Every field of Env, optional ones included: the literal below must name each one. */
type Complete<T> = { [K in keyof Required<T>]: T[K] };

export class TenantNamespace<T extends Rpc.DurableObjectBranded | undefined> {
  constructor(
    private readonly inner: DurableObjectNamespace<T>,
    readonly tenant: string,
  ) {}
  idFromName(name: string): DurableObjectId {
    return this.inner.idFromName(tenantObjectName(this.tenant, name));
  }
  get(id: DurableObjectId, options?: DurableObjectNamespaceGetDurableObjectOptions): DurableObjectStub<T> {
    return this.inner.get(id, options);
  }
  getByName(name: string, options?: DurableObjectNamespaceGetDurableObjectOptions): DurableObjectStub<T> {
    return this.inner.get(this.idFromName(name), options);
  }
  // Ids not derived from a tenant name would escape the prefix: not offered.
  idFromString(): never {
    throw new Error("tenant namespaces only name objects (idFromName)");
  }
  newUniqueId(): never {
    throw new Error("tenant namespaces only name objects (idFromName)");
  }
  jurisdiction(): never {
    throw new Error("tenant namespaces do not offer jurisdictions");
  }
}

function scoped<T extends Rpc.DurableObjectBranded | undefined>(ns: DurableObjectNamespace<T>, tenant: string): DurableObjectNamespace<T> {
  return new TenantNamespace(ns, tenant) as unknown as DurableObjectNamespace<T>;
}

export class RecordingLimitError extends Error {
  override name = "RecordingLimitError";
  /** PostgreSQL's disk_full: what a client sees when its session cannot be recorded. */
  readonly sqlstate = "53100";
}

function byteLength(body: unknown): number {
  if (typeof body === "string") return new TextEncoder().encode(body).byteLength;
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  if (body === null) return 0;
  // A stream's size is unknown before it is stored: it could pass the tenant's limit unseen.
  throw new Error("tenant recordings: only bodies of known size are stored");
}

/** The shared bucket under `tenants/<name>/`; the tenant's code sees its own keys only. */
export class TenantR2 {
  readonly prefix: string;
  constructor(
    private readonly bucket: R2Bucket,
    tenant: string,
    private readonly db: D1Database,
    private readonly maxBytes: number | null,
  ) {
    this.prefix = `tenants/${tenant}/`;
  }
  async put(key: string, body: unknown, options?: R2PutOptions) {
    const size = byteLength(body);
    const counted = await addUsage(this.db, "recording_bytes", size, this.maxBytes);
    if (!counted.ok) throw new RecordingLimitError(`the tenant's recording limit (${this.maxBytes} bytes) is reached: sessions cannot be recorded`);
    const o = await this.bucket.put(this.prefix + key, body as string, options);
    return o && { key, size: o.size, etag: o.etag, uploaded: o.uploaded, httpMetadata: o.httpMetadata, customMetadata: o.customMetadata };
  }
  async get(key: string) {
    const o = await this.bucket.get(this.prefix + key);
    if (!o) return null;
    // R2 objects are native: their properties are getters and their methods need the original receiver.
    return {
      key,
      size: o.size,
      etag: o.etag,
      uploaded: o.uploaded,
      httpMetadata: o.httpMetadata,
      customMetadata: o.customMetadata,
      get body() {
        return o.body;
      },
      text: () => o.text(),
      arrayBuffer: () => o.arrayBuffer(),
      json: <T>() => o.json<T>(),
    };
  }
  async head(key: string) {
    const o = await this.bucket.head(this.prefix + key);
    return o && { key, size: o.size, etag: o.etag, uploaded: o.uploaded, httpMetadata: o.httpMetadata, customMetadata: o.customMetadata };
  }
  async delete(keys: string | string[]): Promise<void> {
    await this.bucket.delete(Array.isArray(keys) ? keys.map((k) => this.prefix + k) : this.prefix + keys);
  }
  async list(options: R2ListOptions = {}) {
    const page = await this.bucket.list({ ...options, prefix: this.prefix + (options.prefix ?? ""), cursor: options.cursor });
    return {
      truncated: page.truncated,
      cursor: page.truncated ? page.cursor : undefined,
      objects: page.objects.map((o) => ({ key: o.key.slice(this.prefix.length), size: o.size, etag: o.etag, uploaded: o.uploaded, customMetadata: o.customMetadata })),
      delimitedPrefixes: page.delimitedPrefixes.map((p) => p.slice(this.prefix.length)),
    };
  }
}

/** One canonical URL per tenant (approval links are stored, so they must not depend on how a request came in). */
export function tenantPublicUrl(raw: Pick<Env, "GATEHOUSE_PUBLIC_URL">, tenant: string): string {
  return `${raw.GATEHOUSE_PUBLIC_URL.replace(/\/+$/, "")}/t/${tenant}`;
}

/** The tenant's GATEHOUSE_SIGNIN: its record's sign-in with the sealed OIDC client secrets put back. */
function tenantSignin(record: TenantRecord, secrets: Record<string, string>): string | undefined {
  if (!record.signin) return undefined;
  const raw = JSON.parse(record.signin) as { oidc?: Array<Record<string, unknown>> };
  const oidc = raw.oidc?.map((p) => {
    const secret = secrets[`${SIGNIN_SECRET_PREFIX}${String(p.id)}`];
    return secret === undefined ? p : { ...p, client_secret: secret };
  });
  return JSON.stringify(oidc ? { ...raw, oidc } : raw);
}

/** The Env the unchanged worker runs with for one tenant. */
export function tenantEnv(raw: MultiTenantEnv, record: TenantRecord, tenant: TenantContext, secrets: Record<string, string> = {}): Env {
  const db = tenantDatabase(raw.TENANT_STORE, record.name);
  const env: Complete<Env> = {
    SESSIONS: scoped(raw.SESSIONS, record.name),
    CONNECTOR_HUB: scoped(raw.CONNECTOR_HUB, record.name),
    APPROVALS: scoped(raw.APPROVALS, record.name),
    SESSION_LIMITER: scoped(raw.SESSION_LIMITER, record.name),
    EXPORTER: scoped(raw.EXPORTER, record.name),
    DB: db,
    RECORDINGS: new TenantR2(recordingsBucket(raw, record.name), record.name, db, record.limits.maxRecordingBytes) as unknown as R2Bucket,
    GATEHOUSE_ISSUERS: record.issuers,
    GATEHOUSE_CONNECTORS: record.connectors,
    GATEHOUSE_POLICY: record.policy,
    GATEHOUSE_POLICY_SOURCE: record.policySource,
    GATEHOUSE_PUBLIC_URL: tenantPublicUrl(raw, record.name),
    // null: the tenant's own generated key in its own store (never the platform's variable).
    GATEHOUSE_AUDIT_KEYS: record.auditKeys ?? undefined,
    GATEHOUSE_MASKING_KEY: record.maskingKey,
    GATEHOUSE_APPROVAL_REMINDER_SECONDS: raw.GATEHOUSE_APPROVAL_REMINDER_SECONDS,
    GATEHOUSE_EXPORT: record.export ?? undefined,
    GATEHOUSE_BEHIND_CLOUDFLARE: raw.GATEHOUSE_BEHIND_CLOUDFLARE,
    // People's sign-in for the tenant's console: its own providers, client secrets unsealed here only.
    GATEHOUSE_SIGNIN: tenantSignin(record, secrets),
    TENANT: { ...tenant, limits: record.limits, suspended: record.status === "suspended", version: versionOf(record), shards: { approvals: record.shards?.approvals ?? 1, hub: record.shards?.hub ?? 1 } },
  };
  // The tenant's own secrets, under the names its notification targets and export sinks use
  // (tenant-secrets.ts). Their prefixes are not Env fields, so none can replace a binding.
  for (const [name, value] of Object.entries(secrets)) if (TENANT_SECRET_NAME.test(name) && !(name in env)) (env as unknown as Record<string, string>)[name] = value;
  return env;
}
