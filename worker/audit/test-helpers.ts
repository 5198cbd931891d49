/** Helpers for the workerd tests of the recorder and the sessions API (imported by *.test.ts only). */
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import type { AuditEnv } from "./env.ts";
import { SessionRecorder, type RecorderLimits, type SessionRecorderOptions, type SessionStartInput } from "./recorder.ts";
import { readExport } from "./chunk-store.ts";
import { PIPELINE_CLAIMS } from "../../parsers/audit/fixtures.ts";
import { openRecorderAudit, type RecorderAudit } from "./open-recorder-audit.ts";

export const testEnv = env as unknown as AuditEnv & { SESSIONS: DurableObjectNamespace };

let counter = 0;
/** A fresh, unique session id per call (tests in one file share storage). */
export function newSessionId(prefix = "s"): string {
  counter++;
  return `${prefix}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Runs fn inside the session Durable Object for `sessionId`, with its real (SQLite) storage. */
export function inSessionObject<R>(sessionId: string, fn: (state: DurableObjectState) => Promise<R>): Promise<R> {
  const stub = testEnv.SESSIONS.get(testEnv.SESSIONS.idFromName(sessionId));
  return runInDurableObject(stub, (_instance: unknown, state: DurableObjectState) => fn(state));
}

export function recorderFor(state: DurableObjectState, sessionId: string, opts: Partial<SessionRecorderOptions> = {}): SessionRecorder {
  return new SessionRecorder({ storage: state.storage, env: testEnv, sessionId, mode: "fail-closed", ...opts });
}

export function startInput(overrides: Partial<SessionStartInput> = {}): SessionStartInput {
  return {
    identity: { issuer: PIPELINE_CLAIMS.iss, subject: PIPELINE_CLAIMS.sub, claims: PIPELINE_CLAIMS },
    resource: "demo-pg",
    resource_type: "postgres",
    connector: "onprem-1",
    client_addr: "203.0.113.7",
    policy_hash: "b".repeat(64),
    ...overrides,
  };
}

/** An R2 bucket that fails writes while `failing` is set: R2 outages for fail-closed tests. */
export class FlakyBucket {
  failing = false;
  puts = 0;
  constructor(private readonly inner: R2Bucket) {}
  asBucket(): R2Bucket {
    return this as unknown as R2Bucket;
  }
  put(...args: Parameters<R2Bucket["put"]>) {
    if (this.failing) return Promise.reject(new Error("R2 unavailable (test)"));
    this.puts++;
    return this.inner.put(...args);
  }
  get(...args: Parameters<R2Bucket["get"]>) {
    return this.inner.get(...args);
  }
  list(...args: Parameters<R2Bucket["list"]>) {
    return this.inner.list(...args);
  }
  delete(...args: Parameters<R2Bucket["delete"]>) {
    return this.inner.delete(...args);
  }
  head(...args: Parameters<R2Bucket["head"]>) {
    return this.inner.head(...args);
  }
}

/**
 * DO storage whose writes fail while `failing` is set (as a full or broken storage does: the
 * SQLite statement or transaction throws). Everything else is the real storage.
 */
export class FlakyStorage {
  failing = false;
  /** Storage writes made: transactions, and write statements outside one (each batch of events is one write). */
  transactions = 0;
  private inTransaction = false;
  private readonly flakySql: SqlStorage;
  constructor(private readonly inner: DurableObjectStorage) {
    const sql = inner.sql;
    const exec = (query: string, ...bindings: SqlStorageValue[]) => {
      const write = !/^\s*(SELECT|CREATE|ALTER)\b/i.test(query);
      if (write && this.failing) throw new Error("SQLITE_FULL: database or disk is full (test)");
      if (write && !this.inTransaction) this.transactions++;
      return sql.exec(query, ...bindings);
    };
    this.flakySql = new Proxy(sql, { get: (target, prop) => (prop === "exec" ? exec : Reflect.get(target, prop, target)) });
  }
  asStorage(): DurableObjectStorage {
    return this as unknown as DurableObjectStorage;
  }
  get sql(): SqlStorage {
    return this.flakySql;
  }
  transactionSync<T>(fn: () => T): T {
    if (this.failing) throw new Error("SQLITE_FULL: database or disk is full (test)");
    this.transactions++;
    this.inTransaction = true;
    try {
      return this.inner.transactionSync(fn);
    } finally {
      this.inTransaction = false;
    }
  }
  sync(): Promise<void> {
    return this.inner.sync();
  }
}

/** A fail-closed recorder audit for one test session over the given (flaky) storage, as a session object opens it. */
export function openTestAudit(
  sessionId: string,
  storage: FlakyStorage,
  resource: { name: string; type: string } = { name: "demo-pg", type: "postgres" },
  limits?: Partial<RecorderLimits>,
): Promise<RecorderAudit> {
  return openRecorderAudit({
    ctx: { storage: storage.asStorage() } as DurableObjectState,
    env: testEnv,
    admission: {
      sessionId,
      identity: { issuer: PIPELINE_CLAIMS.iss, subject: PIPELINE_CLAIMS.sub, claims: PIPELINE_CLAIMS } as never,
      resource: resource as never,
      clientAddress: null,
    },
    policyHash: "b".repeat(64),
    mode: "fail-closed",
    ...(limits ? { limits } : {}),
  });
}

/** Events durable so far (written to DO storage, including those sealed and moved to R2 since), read synchronously from the state row. */
export function durableCount(state: DurableObjectState): number {
  // The recorder's own rule (recorder.ts load): the newer of the state row (written at start, seal,
  // upload, index and end) and the state the last written batch carries in its last row.
  const sql = state.storage.sql;
  const row = sql.exec("SELECT v FROM gatehouse_audit_state WHERE k = 'state'").toArray()[0];
  const batch = sql.exec("SELECT state FROM gatehouse_audit_events WHERE state IS NOT NULL ORDER BY seq DESC LIMIT 1").toArray()[0];
  const seqOf = (json: unknown) => (json === undefined || json === null ? 0 : (JSON.parse(String(json)) as { seq: number }).seq);
  return Math.max(seqOf(row?.v), seqOf(batch?.state));
}

/** The whole trail in seq order: the chunks already in R2, then what is still in DO storage. */
export async function wholeTrail(state: DurableObjectState, sessionId: string): Promise<Array<{ seq: number; type: string; data: Record<string, unknown> }>> {
  const { text } = await readExport(testEnv.RECORDINGS, sessionId);
  const events = text
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as { seq?: number; type?: string; data: Record<string, unknown> })
    .filter((e): e is { seq: number; type: string; data: Record<string, unknown> } => typeof e.seq === "number" && typeof e.type === "string");
  const inStorage = durableTrail(state) as Array<{ seq: number; type: string; data: Record<string, unknown> }>;
  const bySeq = new Map<number, { seq: number; type: string; data: Record<string, unknown> }>();
  for (const e of [...events, ...inStorage]) bySeq.set(e.seq, e);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** The session's durable trail, in order (what survived a commit, read from the object's own storage). */
export function durableTrail(state: DurableObjectState): Array<{ type: string; data: Record<string, unknown> }> {
  return state.storage.sql
    .exec("SELECT line FROM gatehouse_audit_events ORDER BY seq")
    .toArray()
    .map((r) => JSON.parse(String(r.line)) as { type: string; data: Record<string, unknown> });
}
