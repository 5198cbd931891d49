/**
 * Lifecycle steps (suspend, resume, delete) serialised per tenant by its record's version
 * (docs/TENANCY.md "Lifecycle: serialised by the record's version"):
 *
 *  1. the step's intent is recorded first, with the next version and every piece pending
 *     (compare-and-set on the registry row: of two administrators, one writes first and the other
 *     reads it and writes the version after; a repeat of the step in force keeps its version);
 *  2. every piece is told the record's version and the state it implies (tenant-lifecycle.ts
 *     tellPieces); a piece holding a newer version ignores the tell (tenant-sync.ts), so a step
 *     overtaken by a later one cannot undo it, whichever order the tells arrive in;
 *  3. the pieces told are struck from `pending` (only if the record still has that version's
 *     pending list); a resume whose pieces are all told turns the status active. What could not be
 *     told stays pending: the platform registry's alarm tells it again every 30 s
 *     (retryPendingPieces) and `admin tenants show` lists it.
 *
 * Every piece thus ends at the state of the newest version, and the record says that state once
 * nothing is pending.
 */
import { GatewayError, NotFoundError } from "../errors.ts";
import type { MultiTenantEnv } from "./tenant-env.ts";
import { tenantEnv } from "./tenant-env.ts";
import { listTenants, readTenant, replaceTenant } from "./tenant-registry.ts";
import { statusOf, tombstone, versionOf, type LifecycleIntent, type TenantRecord } from "./tenant-record.ts";
import { piecesOf, tellPieces, type PieceTell, type TellResult } from "./tenant-lifecycle.ts";

/** How often the registry's alarm tells pieces that were not reached. */
export const PENDING_RETRY_MS = 30_000;

/** The step in force: the recorded intent, or (records older than intents) what the status says. */
export function intentOf(r: TenantRecord): LifecycleIntent | null {
  return r.lifecycle?.intent ?? (statusOf(r) === "suspended" ? "suspend" : null);
}

/** What the record at its version tells the pieces. */
export function tellFor(r: TenantRecord): PieceTell {
  const version = versionOf(r);
  const intent = intentOf(r);
  if (intent === null || intent === "resume") return { version, sessionMessage: null, connectorMessage: null };
  const reason = r.lifecycle?.reason ?? (r.reason && r.reason !== "suspended" ? r.reason : "");
  return {
    version,
    sessionMessage: intent === "delete" ? `gatehouse: session ended: the tenant ${r.name} is being deleted` : `gatehouse: session ended: the tenant ${r.name} was suspended by the platform${reason ? ` (${reason})` : ""}`,
    connectorMessage: `gatehouse: the tenant ${r.name} is suspended by the platform`,
  };
}

/** Every piece the record at its version is told. */
export function allPieces(r: TenantRecord): string[] {
  return piecesOf(r.shards, tellFor(r).sessionMessage !== null);
}

/**
 * Records `intent` as the step in force (step 1), retrying the compare-and-set when someone else
 * changed the record meanwhile. Returns the record whose version the pieces are to be told: the
 * same record when this step is already in force (a repeat tells everything again).
 */
export async function recordIntent(db: D1Database, name: string, intent: LifecycleIntent, by: string, reason: string, now = Date.now()): Promise<TenantRecord> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const before = await readTenant(db, name);
    if (!before) throw new NotFoundError(`no tenant ${name}`);
    if (statusOf(before) === "deleted") throw new GatewayError(410, "tenant_deleted", `tenant ${name} was deleted; its name is not reused`);
    const current = intentOf(before);
    if (current === "delete" && intent !== "delete") throw new GatewayError(409, "conflict", `tenant ${name} is being deleted; repeat the delete to finish it`);
    if (intent === "resume" && statusOf(before) !== "suspended") throw new GatewayError(409, "conflict", `tenant ${name} is not suspended`);
    if (intent === "delete" && statusOf(before) !== "suspended") throw new GatewayError(409, "conflict", `tenant ${name} must be suspended before it is deleted (admin tenants suspend)`);
    if (current === intent) return before;
    const version = versionOf(before) + 1;
    const fallback = intent === "suspend" ? "suspended" : intent === "resume" ? "resumed" : "deleting";
    const next: TenantRecord = {
      ...before,
      // A pending resume keeps the tenant suspended until every piece admits it again (settle).
      status: "suspended",
      version,
      lifecycle: { intent, reason, since: version },
      changedAt: now,
      changedBy: by,
      reason: reason || fallback,
    };
    next.pending = { version, pieces: allPieces(next), error: "not told yet" };
    if (await replaceTenant(db, before, next)) return next;
  }
  throw new GatewayError(409, "conflict", `tenant ${name} kept changing meanwhile; read it again and retry`);
}

export interface Converged {
  told: TellResult;
  /** The record after the pieces were struck from `pending` (null: gone). */
  record: TenantRecord | null;
  /** A later step was recorded while this one told its pieces: the tenant follows that one now. */
  superseded: boolean;
}

/** Steps 2 and 3: tells `pieces` (default: all) the record at its version, then settles `pending`. */
export async function converge(hosted: MultiTenantEnv, db: D1Database, record: TenantRecord, pieces = allPieces(record)): Promise<Converged> {
  const env = tenantEnv(hosted, record, { name: record.name, via: "object" });
  const told = await tellPieces(env, tellFor(record), pieces);
  const settled = await settle(db, record, pieces, told);
  return { told, ...settled };
}

async function settle(db: D1Database, told: TenantRecord, pieces: string[], result: TellResult): Promise<{ record: TenantRecord | null; superseded: boolean }> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const current = await readTenant(db, told.name);
    if (!current || statusOf(current) === "deleted") return { record: current, superseded: true };
    const superseded = current.lifecycle?.since !== told.lifecycle?.since;
    let next = current;
    // Only this version's list is ours to shorten: a newer version has its own, told by its writer.
    if (current.pending && current.pending.version === versionOf(told)) {
      const left = current.pending.pieces.filter((p) => result.unreached.includes(p) || !pieces.includes(p));
      const error = result.problems.join("; ").slice(0, 500) || current.pending.error;
      next = { ...next, pending: left.length > 0 ? { version: current.pending.version, pieces: left, error } : undefined };
      if (!next.pending) delete next.pending;
    }
    // Every piece holds "resumed" at the record's version: the boundary may admit the tenant again.
    // A change of the record like any other, so its version is raised: objects that loaded the
    // record while it still said suspended reload it when they see a newer version (env-refresh.ts).
    if (!next.pending && next.lifecycle?.intent === "resume" && statusOf(next) === "suspended") next = { ...next, status: "active", version: versionOf(next) + 1 };
    if (next === current || (await replaceTenant(db, current, next))) return { record: next, superseded };
  }
  throw new GatewayError(409, "conflict", `tenant ${told.name} kept changing meanwhile; read it again and retry`);
}

/**
 * Step 4 of a delete, after its pieces were told and its data purged: the tombstone, only if the
 * delete is still the step in force (the record at the delete's version or an update of it).
 */
export async function writeTombstone(db: D1Database, deleting: TenantRecord, by: string, reason: string): Promise<TenantRecord> {
  for (let attempt = 0; attempt < 8; attempt++) {
    const current = await readTenant(db, deleting.name);
    if (!current) throw new NotFoundError(`no tenant ${deleting.name}`);
    if (statusOf(current) === "deleted") return current;
    if (current.lifecycle?.since !== deleting.lifecycle?.since) throw new GatewayError(409, "conflict", `tenant ${deleting.name} was changed by another step meanwhile; read it again`);
    const after = tombstone(current, by, reason);
    if (await replaceTenant(db, current, after)) return after;
  }
  throw new GatewayError(409, "conflict", `tenant ${deleting.name} kept changing meanwhile; read it again and retry`);
}

/**
 * The registry's alarm: every tenant with pieces pending is told again (those pieces only, the
 * record's current version). Returns how many tenants still have pieces pending.
 */
export async function retryPendingPieces(hosted: MultiTenantEnv, db: D1Database): Promise<number> {
  let left = 0;
  for (const record of await listTenants(db)) {
    if (!record.pending || statusOf(record) === "deleted") continue;
    try {
      const { record: after } = await converge(hosted, db, record, record.pending.pieces);
      if (after?.pending) left++;
    } catch (e) {
      left++;
      console.error(`gatehouse: tenant ${record.name}: telling pending pieces failed: ${(e as Error).message}`);
    }
  }
  return left;
}
