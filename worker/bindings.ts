/**
 * What callers may ask of each Durable Object through its namespace binding (RPC), declared in this
 * leaf module so that `env.ts` types the bindings without importing the object classes — which
 * import `env.ts` themselves and, through engines, masking and approvals, half the worker: that was
 * an 18-file import cycle. Each class `implements` its interface, so the two cannot drift apart.
 */
import type { Identity, ResourceInfo } from "../parsers/identity.ts";
import type { JWK } from "jose";
import type { ConnectorRecord, RegistryResult } from "./connectors/registry.ts";
import type { TenantSyncAnswer, TenantSyncState } from "./tenancy/tenant-sync.ts";

/** RPC of the SessionObject (worker/session/session-object.ts); `fetch` carries the WebSocket hops. */
export interface SessionObjectRpc extends Rpc.DurableObjectBranded {
  /** Cancel the session on behalf of its owner; false when it does not belong to `caller` or is gone. */
  cancel(caller: { issuer: string; subject: string }): Promise<boolean>;
  /** End the session from outside (grant revoked, connector revoked); false when it is gone. */
  terminate(code: string, reason: string): Promise<boolean>;
}

/** A binding change (gatehouse admin connectors bind): the record, the channels closed and the sessions (outside the new binding) ended on every shard. */
export type BindResult = RegistryResult<{ record: ConnectorRecord; closedChannels: number; endedSessions: number; failedShards: number[] }>;

/** An admitted assertion: `keyGeneration` and `bindingGeneration` for an enrolled key, `resources` its binding (absent: any name). */
export type ClaimResult = { ok: true; keyGeneration?: number; bindingGeneration?: number; resources?: string[] } | { ok: false; reason: string; suspended?: true };

export type RevokeResult = RegistryResult<{ record: ConnectorRecord; already: boolean; closedChannels: number; endedSessions: number; failedShards: number[] }>;

/** `ticketHash`: SHA-256 hex of the stream ticket sent to the chosen connector (parsers/tunnel/stream-ticket.ts). */
export type OpenStreamResult = { ok: true; connectorId: string; ticketHash: string } | { ok: false; reason: string };

/** RPC of the ConnectorHub (worker/connectors/connector-hub.ts); `fetch` carries the control channel. */
export interface ConnectorHubRpc extends Rpc.DurableObjectBranded {
  /** Admits a verified assertion: not revoked, key still current, jti not seen before (replay). */
  /** Admitted with an enrolled key: `keyGeneration` says which rotation installed it (0: none). */
  /** `bindingGeneration`: which binding change set `resources` (0: the enrolment's). */
  claimAssertion(connectorId: string, jti: string, exp: number, thumbprint: string | null): Promise<ClaimResult>;
  createEnrolmentToken(tokenHash: string, id: string, ttlSeconds: number, createdBy: string, bootstrapIds: string[], resources?: string[]): Promise<RegistryResult<{ expiresAt: number }>>;
  /** Change an enrolled connector's binding (null: any name), close its control channels and end its sessions outside the binding on every shard. */
  bindConnector(id: string, resources: string[] | null, by: string): Promise<BindResult>;
  enrolConnector(tokenHash: string, publicKey: JWK, thumbprint: string): Promise<RegistryResult<{ record: ConnectorRecord }>>;
  connectorRecord(id: string): Promise<ConnectorRecord | null>;
  listConnectors(): Promise<{ records: ConnectorRecord[]; online: string[] }>;
  rotateConnectorKey(id: string, oldThumbprint: string, publicKey: JWK, thumbprint: string): Promise<RegistryResult<{ record: ConnectorRecord }>>;
  revokeConnector(id: string, by: string, bootstrapIds: string[]): Promise<RevokeResult>;
  describe(resource: string): Promise<(ResourceInfo & { online: boolean }) | null>;
  openStream(sessionId: string, resource: string): Promise<OpenStreamResult>;
  /**
   * Hosted mode: the tenant's record at a version says suspended (refuse its connectors from now on
   * and close every control channel, counted in `closed`) or not (admit them again); older versions ignored.
   */
  syncTenantSuspension(state: TenantSyncState): Promise<TenantSyncAnswer & { closed: number }>;
  /** Shard k > 0 of a sharded hub, told by shard 0 that a connector was revoked (worker/connectors/hub-shards.ts). */
  dropConnector(id: string): Promise<{ closedChannels: number; endedSessions: number }>;
  /**
   * Shard 0 to every shard after a key rotation: remember the new key's generation (its rotatedAt)
   * and close the connector's control channels (admitted with the old key).
   */
  closeControls(id: string, keyGeneration?: number): Promise<{ closedChannels: number; endedSessions: number }>;
  /**
   * Shard 0 to every shard after a binding change: remember the binding's generation (its boundAt),
   * close the connector's control channels admitted under an older binding, and end the live
   * sessions it serves for resources outside `binding` (null: any name).
   */
  closeForRebind(id: string, bindingGeneration: number, binding: string[] | null): Promise<{ closedChannels: number; endedSessions: number }>;
}

/** The ApprovalsObject is reached through `approvalsStub()` (worker/approvals/client.ts), typed there. */
export type ApprovalsObjectRpc = Rpc.DurableObjectBranded;

/** A session's lease request to the SessionLimiter (worker/limits/session-limiter.ts). */
export interface AcquireRequest {
  sessionId: string;
  /** issuer + "\n" + subject */
  identity: string;
  resource: string;
  maxPerIdentity: number | null;
  maxPerResource: number | null;
  /** Hosted mode: live sessions in the whole tenant (this limiter is the tenant's own); absent = no cap. */
  maxInTenant?: number | null;
  /** Hosted mode: sessions the tenant may start per minute (sliding window); absent = no cap. */
  maxStartsPerMinute?: number | null;
  /** Lease lifetime without renewal (default LEASE_TTL_MS; tests use a short one). */
  ttlMs?: number;
}

export type AcquireResult =
  | { ok: true }
  | { ok: false; scope: "identity" | "resource" | "tenant"; open: number; limit: number }
  /** The tenant started `open` sessions in the last minute; one more may start in retryAfterMs. */
  | { ok: false; scope: "tenant-starts"; open: number; limit: number; retryAfterMs: number };

/** Hosted mode: may the tenant start one more session (asked at the edge, worker/routes/tunnel.ts)? */
export interface StartRequest {
  sessionId: string;
  maxStartsPerMinute: number;
  /** For the tenant's refusal log. */
  identity: Identity;
  resource: ResourceInfo;
}

export type StartResult = { ok: true } | { ok: false; message: string; retryAfterMs: number };

/** RPC of the SessionLimiter: leases of live sessions for the policy's concurrency caps. */
export interface SessionLimiterRpc extends Rpc.DurableObjectBranded {
  acquire(req: AcquireRequest): Promise<AcquireResult>;
  admitStart(req: StartRequest): Promise<StartResult>;
  renew(sessionId: string): Promise<boolean>;
  release(sessionId: string): Promise<void>;
  takeRequests(wanted: number, limits: { ratePerSecond: number; burst: number }): Promise<{ granted: number; retryAfterMs: number }>;
  /**
   * The tenant's API buckets (worker/limits/api-rate.ts). `share`: the client address group's
   * sub-bucket of `anonymous`, taken from together with the tenant's; `scope` says which was empty;
   * `version`: the tenant record's version the limiter was last told.
   */
  takeApiRequests(
    bucket: "callers" | "unmatched" | "anonymous",
    wanted: number,
    limits: { ratePerSecond: number; burst: number },
    share?: { group: string; limits: { ratePerSecond: number; burst: number } },
  ): Promise<{ granted: number; retryAfterMs: number; suspended?: string; scope?: "tenant" | "address"; version?: number }>;
  /** Hosted mode: the platform suspended / resumed the tenant (older record versions ignored); takeApiRequests answers `suspended` meanwhile. */
  syncApiSuspension(state: TenantSyncState): Promise<TenantSyncAnswer>;
  counts(identity: string, resource: string): Promise<{ identity: number; resource: number }>;
}

/** What the ExportObject (worker/export/exporter-object.ts) reports to administrators. */
export interface ExportStatus {
  pending: Array<{ session: string; attempts: number; last_error: string | null }>;
  sinks: Array<{ name: string; kind: string; format: string; batches: number; records: number; failures: number; last_error: string | null; last_ok_at: number | null }>;
}

/** RPC of the ExportObject: ended sessions are queued for shipping to the SIEM sinks. */
export interface ExporterRpc extends Rpc.DurableObjectBranded {
  enqueue(session: string): Promise<void>;
  status(): Promise<ExportStatus>;
}
