/**
 * What the platform tells each piece of a tenant (its database's marker, its limiter, every hub and
 * approvals shard) when the tenant's record changes: the record's version and whether the tenant
 * is suspended. A piece keeps the highest version it was told and ignores older ones, so a late
 * "resume" told by an administrator whose step was overtaken cannot undo a newer "suspend" (and
 * the other way round): each piece ends at the state of the newest record it heard of
 * (docs/TENANCY.md "Lifecycle: serialised by the record's version").
 */
export interface TenantSyncState {
  /** The tenant record's version (tenant-record.ts `version`): raised by every change of the record. */
  version: number;
  /** Why the tenant is suspended (the message the piece refuses with), or null when it is not. */
  suspended: string | null;
}

/** A piece's answer: `applied` false = it already holds a newer version (the told state is stale). */
export interface TenantSyncAnswer {
  applied: boolean;
  version: number;
}

/** The one rule every piece follows: equal versions are a repeat (idempotent), older ones are ignored. */
export function isNewerOrSame(told: TenantSyncState, held: { version: number } | null | undefined): boolean {
  return held === null || held === undefined || told.version >= held.version;
}
