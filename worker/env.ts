/** Bindings and configuration variables of the Gatehouse worker (see wrangler.toml, docs/CONFIGURATION.md). */
import type { ApprovalsObjectRpc, ConnectorHubRpc, ExporterRpc, SessionLimiterRpc, SessionObjectRpc } from "./bindings.ts";

export interface Env {
  /** Typed by RPC interfaces (bindings.ts), not the classes: this module stays a leaf of the import graph. */
  SESSIONS: DurableObjectNamespace<SessionObjectRpc>;
  CONNECTOR_HUB: DurableObjectNamespace<ConnectorHubRpc>;
  /** One instance ("approvals"): approval requests and just-in-time grants (worker/approvals/). */
  APPROVALS: DurableObjectNamespace<ApprovalsObjectRpc>;
  /** One instance ("limits"): leases of live sessions for the policy's concurrency caps (worker/limits/). */
  SESSION_LIMITER: DurableObjectNamespace<SessionLimiterRpc>;
  /** One instance ("exporter"): ships verified trails of ended sessions to GATEHOUSE_EXPORT sinks (worker/export/). */
  EXPORTER: DurableObjectNamespace<ExporterRpc>;
  DB: D1Database;
  RECORDINGS: R2Bucket;
  /** JSON array of trusted OIDC issuers. */
  GATEHOUSE_ISSUERS: string;
  /** JSON array of connectors and their Ed25519 public keys. */
  GATEHOUSE_CONNECTORS: string;
  /** Policy YAML text used when no policy was applied through the admin API. */
  GATEHOUSE_POLICY: string;
  GATEHOUSE_POLICY_SOURCE: string;
  GATEHOUSE_PUBLIC_URL: string;
  /** JSON array of Ed25519 private JWKs for signing audit checkpoints (first = active). */
  GATEHOUSE_AUDIT_KEYS?: string;
  /** Per-tenant HMAC key (≥ 16 bytes) for `hash`-style masking rules. */
  GATEHOUSE_MASKING_KEY?: string;
  /** Seconds between "still waiting for approval" reminders to a held client (default 60; 0 = none). */
  GATEHOUSE_APPROVAL_REMINDER_SECONDS?: string;
  /** JSON array of SIEM sinks for verified trails (worker/export/config.ts, docs/EXPORT.md); empty = no export. */
  GATEHOUSE_EXPORT?: string;
  /** "true" when the worker runs on Cloudflare's edge, which sets CF-Connecting-IP itself (worker/routes/client-address.ts). */
  GATEHOUSE_BEHIND_CLOUDFLARE?: string;
  /** JSON: sign-in providers for people (web console, worker/signin/config.ts). */
  GATEHOUSE_SIGNIN?: string;
  /**
   * Hosted multi-tenant mode only (docs/TENANCY.md): the tenant every binding above belongs to,
   * resolved at the boundary from the host or path. Absent in single-tenant mode.
   */
  TENANT?: TenantScope;
}

export interface TenantScope {
  name: string;
  via: "host" | "path" | "object";
  /** Suspended by the platform: objects that start anyway (a request that passed a stale cache) refuse new sessions. */
  suspended?: boolean;
  /** The version of the tenant's record this Env was built from (worker/tenancy/tenant-record.ts `version`). */
  version?: number;
  limits: {
    maxSessions: number | null;
    maxRecordingBytes: number | null;
    maxApprovalRequests: number | null;
    /** Requests (SQL statements, HTTP/Kubernetes requests, SSH channel requests) per second across the tenant; null = no cap. */
    maxRequestsPerSecond?: number | null;
    /** Requests the tenant may send back to back (the bucket's size); default: one second's worth. */
    requestBurst?: number | null;
    /** Sessions the tenant may start per minute (sliding window); null = no cap. */
    maxSessionStartsPerMinute?: number | null;
    /** Calls of the tenant's API outside sessions per minute (worker/limits/api-rate.ts); null/absent = the default, 1200. */
    maxApiRequestsPerMinute?: number | null;
  };
  /**
   * How many objects hold the tenant's approvals (worker/approvals/shards.ts) and its connector hub
   * (worker/connectors/hub-shards.ts); absent = 1. Fixed at creation.
   */
  shards?: { approvals: number; hub?: number };
}
