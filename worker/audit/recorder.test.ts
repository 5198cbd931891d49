import { describe, expect, it } from "vitest";
import { parseTrail, verifyTrailText, isCheckpoint, type AuditEvent } from "../../parsers/audit/index.ts";
import { readExport, listChunkKeys } from "./chunk-store.ts";
import { RecordingError, RecordingLimitError } from "./errors.ts";
import { publishedAuditKeys } from "./keys.ts";
import { getSession } from "./session-index.ts";
import { FlakyBucket, FlakyStorage, inSessionObject, newSessionId, recorderFor, startInput, testEnv } from "./test-helpers.ts";
import { COMMIT_AFTER_MS, type SessionRecorder } from "./recorder.ts";

async function trailOf(id: string) {
  const { text, chunks } = await readExport(testEnv.RECORDINGS, id);
  const lines = parseTrail(text).map((l) => l.value);
  const events = lines.filter((l): l is AuditEvent => !isCheckpoint(l));
  return { text, chunks, lines, events };
}

async function verify(id: string, requireComplete = true) {
  const { text } = await readExport(testEnv.RECORDINGS, id);
  return verifyTrailText(text, { keys: await publishedAuditKeys(testEnv), sessionId: id, requireComplete });
}

async function runQuery(r: SessionRecorder, text: string, rows = 1) {
  await r.onQuery({ text, statements: [{ kind: "read", command: "SELECT" }], via: "simple" });
  await r.onDecision({ effect: "allow", rule: "reads", reason: "reads are allowed" });
  await r.onResult({ columns: [{ name: "n" }], rows_sample: Array.from({ length: rows }, (_, i) => [String(i)]), rows, command_tag: `SELECT ${rows}` });
}

const END = { reason: "client closed", status: "ok", bytes_in: 100, bytes_out: 200 } as const;

describe("SessionRecorder", () => {
  it("records a whole session into signed chunks in R2, indexes it, and trims DO storage", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { limits: { chunkMaxEvents: 4 }, rowsSample: 5 });
      await r.onSessionStart(startInput());
      await r.onQuery({ text: "SELECT email FROM users", statements: [{ kind: "read", command: "SELECT" }], via: "simple" });
      await r.onDecision({ effect: "allow", rule: "reads", reason: "ok" });
      await r.onResult({ columns: [{ name: "email" }], rows_sample: Array.from({ length: 50 }, (_, i) => [`u${i}***`]), rows: 50, command_tag: "SELECT 50" });
      await r.onMasking({ "email-partial": 50 });
      await r.onQuery({ text: "DROP TABLE users", statements: [{ kind: "ddl", command: "DROP TABLE" }] });
      await r.onDecision({ effect: "deny", rule: "no-ddl", reason: "no DDL" });
      await r.onResult({ rows: 0, command_tag: "", error: { code: "42501", message: "denied" } });
      await r.onEvent("approval.granted", { request_id: "a1", approver: "alice@example.com" });
      await r.onNotice({ severity: "WARNING", message: "careful" });
      await r.onSessionEnd(END);
      // Everything is in R2: the DO keeps only its small state row.
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM gatehouse_audit_events").one().n).toBe(0);
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM gatehouse_audit_checkpoints").one().n).toBe(0);
      expect(await r.status()).toMatchObject({ ended: true, events: 11, sealedChunks: 3, uploadedChunks: 3, lostEvents: 0 });
    });
    const { events, chunks, lines } = await trailOf(id);
    expect(chunks).toBe(3);
    expect(await listChunkKeys(testEnv.RECORDINGS, id)).toEqual([0, 1, 2].map((c) => `sessions/${id}/00000${c}.jsonl`));
    expect(events.map((e) => e.type)).toEqual(["session.start", "query", "decision", "result", "masking.counts", "query", "decision", "result", "approval.granted", "notice", "session.end"]);
    expect((lines.at(-1) as { final?: boolean }).final).toBe(true);
    const start = events[0] as AuditEvent<"session.start">;
    expect(start.data).toMatchObject({ session_id: id, resource: "demo-pg", recording: { mode: "fail-closed", rows_sample: 5 } });
    const result = events[3] as AuditEvent<"result">;
    expect(result.data.rows_sample).toHaveLength(5);
    expect(result.truncated).toEqual([expect.objectContaining({ field: "rows_sample" })]);
    expect(result.data.duration_ms).toBeGreaterThanOrEqual(0);
    expect((events[10] as AuditEvent<"session.end">).data).toMatchObject({ status: "ok", rows: 50, bytes_in: 100 });

    expect(await verify(id)).toMatchObject({ ok: true, complete: true, events: 11, chunks: 3 });
    const row = await getSession(testEnv.DB, id);
    expect(row).toMatchObject({
      status: "ok",
      complete: true,
      identity_kind: "pipeline",
      repository: "acme/shop",
      environment: "production",
      statements: { read: 1, ddl: 1 },
      statements_total: 2,
      denied: 1,
      approved: 1,
      rows: 50,
      chunks: 3,
      events: 11,
      recording_mode: "fail-closed",
    });
    expect(row!.last_hash).toBe(events[10].hash);
  });

  it("seals on bytes too and cuts oversized fields with an explicit marker", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { limits: { chunkMaxBytes: 1500, maxFieldBytes: 1000 } });
      await r.onSessionStart(startInput());
      await r.onQuery({ text: "SELECT '" + "x".repeat(3000) + "'" });
      await r.onQuery({ text: "SELECT 2" });
      await r.onSessionEnd(END);
    });
    const { events, chunks } = await trailOf(id);
    expect(chunks).toBeGreaterThanOrEqual(2);
    const q = events[1] as AuditEvent<"query">;
    expect(new TextEncoder().encode(q.data.text).length).toBe(1000);
    expect(q.truncated).toEqual([{ field: "text", original_bytes: 3009 }]);
    expect((await verify(id)).ok).toBe(true);
  });

  it("keeps the chain order of calls that were not awaited one by one", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id);
      await r.onSessionStart(startInput());
      await Promise.all(Array.from({ length: 20 }, (_, i) => r.onQuery({ text: `SELECT ${i}` })));
      await r.onSessionEnd(END);
    });
    const { events } = await trailOf(id);
    expect(events.slice(1, 21).map((e) => (e as AuditEvent<"query">).data.text)).toEqual(Array.from({ length: 20 }, (_, i) => `SELECT ${i}`));
    expect((await verify(id)).ok).toBe(true);
  });

  it("resumes the chain from DO storage after the object restarts", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { limits: { chunkMaxEvents: 3 } });
      await r.onSessionStart(startInput());
      await runQuery(r, "SELECT 1");
    });
    await inSessionObject(id, async (state) => {
      // A new instance (as after eviction) continues the same chain and chunk numbering.
      const r = recorderFor(state, id, { limits: { chunkMaxEvents: 3 } });
      await runQuery(r, "SELECT 2");
      await r.onSessionEnd(END);
    });
    expect(await verify(id)).toMatchObject({ ok: true, events: 8, complete: true });
  });

  it("resumes from the state its last batch carried: batches do not rewrite the state row, and nothing is lost", async () => {
    const id = newSessionId();
    let before: unknown;
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { batching: "round-trip" });
      await r.onSessionStart(startInput());
      const stateRow = () => state.storage.sql.exec("SELECT v FROM gatehouse_audit_state WHERE k = 'state'").one().v;
      const atStart = stateRow();
      await runQuery(r, "SELECT 1", 3);
      expect(r.commit()).toBeUndefined();
      await r.onQuery({ text: "DELETE FROM t", statements: [{ kind: "write", command: "DELETE" }] });
      await r.onDecision({ effect: "deny", rule: "no-writes", reason: "no writes" });
      expect(r.commit()).toBeUndefined();
      // One INSERT per batch, the state in its last row: the state row is as session start left it.
      expect(stateRow()).toBe(atStart);
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM gatehouse_audit_events WHERE state IS NOT NULL").one().n).toBe(3);
      before = await r.status();
    });
    await inSessionObject(id, async (state) => {
      // A new instance (as after eviction) continues from the last batch's state: seq, hash, counts.
      const r = recorderFor(state, id);
      expect(await r.status()).toEqual(before);
      await runQuery(r, "SELECT 2", 2);
      await r.onSessionEnd(END);
    });
    expect(await verify(id)).toMatchObject({ ok: true, complete: true, events: 10 });
    expect(await getSession(testEnv.DB, id)).toMatchObject({ statements: { read: 2, write: 1 }, denied: 1, rows: 5 });
  });

  it("resumes a trail written before batches carried the state (its state row is authoritative)", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id);
      await r.onSessionStart(startInput());
      await runQuery(r, "SELECT 1");
      // The table as the previous version wrote it: no state column, the state row rewritten per batch.
      const sql = state.storage.sql;
      const rows = sql.exec<{ seq: number; chunk: number; line: string }>("SELECT seq, chunk, line FROM gatehouse_audit_events ORDER BY seq").toArray();
      const last = sql.exec<{ state: string }>("SELECT state FROM gatehouse_audit_events WHERE state IS NOT NULL ORDER BY seq DESC LIMIT 1").one().state;
      sql.exec("DROP TABLE gatehouse_audit_events");
      sql.exec("CREATE TABLE gatehouse_audit_events (seq INTEGER PRIMARY KEY, chunk INTEGER NOT NULL, line TEXT NOT NULL)");
      for (const row of rows) sql.exec("INSERT INTO gatehouse_audit_events (seq, chunk, line) VALUES (?, ?, ?)", row.seq, row.chunk, row.line);
      sql.exec("INSERT OR REPLACE INTO gatehouse_audit_state (k, v) VALUES ('state', ?)", last);
    });
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id);
      await runQuery(r, "SELECT 2");
      await r.onSessionEnd(END);
    });
    expect(await verify(id)).toMatchObject({ ok: true, complete: true, events: 8 });
  });

  it("refuses misuse: events before start, after end, and another session's storage", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id);
      await expect(r.onQuery({ text: "SELECT 1" })).rejects.toMatchObject({ failure: "invalid-state" });
      await r.onSessionStart(startInput());
      await expect(r.onSessionStart(startInput())).rejects.toBeInstanceOf(RecordingError);
      await r.onSessionEnd(END);
      await expect(r.onQuery({ text: "SELECT 1" })).rejects.toMatchObject({ failure: "invalid-state" });
      await expect(r.onSessionEnd(END)).rejects.toMatchObject({ failure: "invalid-state" });
      await expect(recorderFor(state, "other-session").onQuery({ text: "x" })).rejects.toMatchObject({ failure: "invalid-state" });
    });
    expect(() => recorderFor({ storage: {} } as DurableObjectState, "bad/id")).toThrow(TypeError);
    expect(() => recorderFor({ storage: {} } as DurableObjectState, "ok", { limits: { chunkMaxEvents: 0 } })).toThrow(TypeError);
  });
});

describe("batches", () => {
  it("writes the events of one round trip (calls not awaited one by one) in one storage transaction, chained as before", async () => {
    const id = newSessionId();
    let perEvent = 0;
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const r = recorderFor(state, id, { storage: storage.asStorage() });
      await r.onSessionStart(startInput());
      const before = storage.transactions;
      // What an engine does for a pipelined batch: query, decision, then the response's events.
      await Promise.all([
        r.onQuery({ text: "SELECT 1", statements: [{ kind: "read", command: "SELECT" }], via: "simple" }),
        r.onDecision({ effect: "allow", rule: "reads", reason: "ok" }),
        r.onQuery({ text: "SELECT 2", statements: [{ kind: "read", command: "SELECT" }], via: "simple" }),
        r.onDecision({ effect: "allow", rule: "reads", reason: "ok" }),
        r.onResult({ rows: 1, command_tag: "SELECT 1" }),
        r.onResult({ rows: 1, command_tag: "SELECT 1" }),
      ]);
      expect(storage.transactions - before).toBe(1);
      // Nothing is left in memory: all six are rows of DO storage once the calls resolve.
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM gatehouse_audit_events").one().n).toBe(7);
      const mark = storage.transactions;
      await runQuery(r, "SELECT 3");
      perEvent = storage.transactions - mark;
      await r.onSessionEnd(END);
    });
    expect(perEvent).toBe(3); // awaited one by one: one write each (still no state-row write of its own)
    const { events } = await trailOf(id);
    expect(events.map((e) => e.type)).toEqual(["session.start", "query", "decision", "query", "decision", "result", "result", "query", "decision", "result", "session.end"]);
    expect(await verify(id)).toMatchObject({ ok: true, complete: true, events: 11 });
  });

  it("fail closed: a failed batch rejects every event in it, and session.end chains onto the last durable event", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const r = recorderFor(state, id, { storage: storage.asStorage() });
      await r.onSessionStart(startInput());
      await runQuery(r, "SELECT 1");
      storage.failing = true;
      const results = await Promise.allSettled([r.onQuery({ text: "DELETE FROM t" }), r.onDecision({ effect: "allow", rule: "w", reason: "x" })]);
      expect(results.map((x) => x.status)).toEqual(["rejected", "rejected"]);
      expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ failure: "persist-failed", sqlstate: "58030" });
      storage.failing = false;
      await expect(r.onResult({ rows: 0, command_tag: "DELETE 0" })).rejects.toMatchObject({ failure: "persist-failed" });
      await r.onSessionEnd({ reason: "recording failed", status: "recording-failed", bytes_in: 1, bytes_out: 1 });
    });
    const { events } = await trailOf(id);
    expect(events.map((e) => e.type)).toEqual(["session.start", "query", "decision", "result", "session.end"]);
    expect(await verify(id)).toMatchObject({ ok: true, complete: true });
  });

  it("best-effort: a lost batch is counted event by event in the next marker", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const r = recorderFor(state, id, { mode: "best-effort", storage: storage.asStorage() });
      await r.onSessionStart(startInput());
      storage.failing = true;
      await Promise.all([r.onQuery({ text: "a" }), r.onQuery({ text: "b" }), r.onQuery({ text: "c" })]);
      storage.failing = false;
      await r.onQuery({ text: "d" });
      await r.onSessionEnd(END);
    });
    const { events } = await trailOf(id);
    expect(events.map((e) => e.type)).toEqual(["session.start", "truncated", "query", "session.end"]);
    expect((events[1] as AuditEvent<"truncated">).data).toMatchObject({ omitted_events: 3 });
    expect((events[3] as AuditEvent<"session.end">).data.lost_events).toBe(3);
    expect(await verify(id)).toMatchObject({ ok: true, complete: true });
  });

  it("closes a full chunk inside a batch: later events of the batch open the next chunk", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { limits: { chunkMaxEvents: 3 } });
      await r.onSessionStart(startInput());
      await Promise.all(Array.from({ length: 10 }, (_, i) => r.onQuery({ text: `SELECT ${i}` })));
      expect(await r.status()).toMatchObject({ events: 11, sealedChunks: 3, uploadedChunks: 3 });
      await r.onSessionEnd(END);
    });
    expect(await verify(id)).toMatchObject({ ok: true, complete: true, events: 12, chunks: 4 });
  });
});

describe("round-trip batching (what the session uses)", () => {
  const count = (state: DurableObjectState) => state.storage.sql.exec("SELECT count(*) AS n FROM gatehouse_audit_events").one().n;

  it("buffers a round trip's events and writes them in one transaction at commit (before the client send)", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const r = recorderFor(state, id, { storage: storage.asStorage(), batching: "round-trip" });
      await r.onSessionStart(startInput());
      const before = storage.transactions;
      await runQuery(r, "SELECT 1"); // awaited one by one, as the engine does
      expect(count(state)).toBe(1); // only session.start is in storage: nothing was sent yet
      expect(r.commit()).toBeUndefined();
      expect(storage.transactions - before).toBe(1);
      expect(count(state)).toBe(4);
      expect(r.commit()).toBeUndefined(); // nothing buffered: no write
      expect(storage.transactions - before).toBe(1);
      // Nothing sent for a while: the timer writes what is buffered.
      await r.onQuery({ text: "SELECT 2" });
      await new Promise((resolve) => setTimeout(resolve, COMMIT_AFTER_MS * 3));
      expect(count(state)).toBe(5);
      await r.onQuery({ text: "SELECT 3" });
      await r.onSessionEnd(END); // writes what is buffered, then session.end
    });
    const { events } = await trailOf(id);
    expect(events.map((e) => e.type)).toEqual(["session.start", "query", "decision", "result", "query", "query", "session.end"]);
    expect(await verify(id)).toMatchObject({ ok: true, complete: true, events: 7 });
  });

  it("fail closed: a failed commit is returned (the bytes must not be sent) and the next event is refused", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const r = recorderFor(state, id, { storage: storage.asStorage(), batching: "round-trip" });
      await r.onSessionStart(startInput());
      await runQuery(r, "SELECT 1");
      expect(r.commit()).toBeUndefined();
      await runQuery(r, "SELECT 2");
      storage.failing = true;
      expect(r.commit()).toMatchObject({ failure: "persist-failed", sqlstate: "58030" });
      storage.failing = false;
      await expect(r.onQuery({ text: "SELECT 3" })).rejects.toMatchObject({ failure: "persist-failed" });
      await r.onSessionEnd({ reason: "recording failed", status: "recording-failed", bytes_in: 1, bytes_out: 1 });
    });
    const { events } = await trailOf(id);
    expect(events.map((e) => e.type)).toEqual(["session.start", "query", "decision", "result", "session.end"]);
    expect(await verify(id)).toMatchObject({ ok: true, complete: true });
  });

  it("a request that is not read-only asks for a commit before it is forwarded; a read does not", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { batching: "round-trip" });
      await r.onSessionStart(startInput());
      await r.onQuery({ text: "SELECT 1" });
      expect(r.forwardNeedsCommit).toBe(false); // the read may reach the target first
      r.holdForwardUntilCommitted(); // what the adapter does for a write
      await r.onQuery({ text: "DELETE FROM t" });
      expect(r.forwardNeedsCommit).toBe(true);
      expect(r.commit()).toBeUndefined();
      expect(r.forwardNeedsCommit).toBe(false);
      expect(count(state)).toBe(3);
      await r.onSessionEnd(END);
    });
    expect(await verify(id)).toMatchObject({ ok: true, complete: true, events: 4 });
  });

  it("seals and uploads a chunk a commit closed, in the background", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { batching: "round-trip", limits: { chunkMaxEvents: 3 } });
      await r.onSessionStart(startInput());
      for (let i = 0; i < 3; i++) await runQuery(r, `SELECT ${i}`);
      expect(r.commit()).toBeUndefined();
      expect(await r.status()).toMatchObject({ events: 10, sealedChunks: 3, uploadedChunks: 3 });
      await r.onSessionEnd(END);
    });
    expect(await verify(id)).toMatchObject({ ok: true, complete: true, events: 11, chunks: 4 });
  });
});

describe("fail closed", () => {
  it("throws RecordingError when DO storage cannot take the event, and refuses to continue", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const r = recorderFor(state, id, { storage: storage.asStorage() });
      await r.onSessionStart(startInput());
      await runQuery(r, "SELECT 1");
      storage.failing = true;
      const err = await r.onQuery({ text: "SELECT 2" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RecordingError);
      expect(err).toMatchObject({ failure: "persist-failed", sqlstate: "58030" });
      // Nothing more is accepted unrecorded.
      storage.failing = false;
      await expect(r.onQuery({ text: "SELECT 3" })).rejects.toMatchObject({ failure: "persist-failed" });
      // The session ends: session.end is still recorded and everything is sealed.
      await r.onSessionEnd({ reason: "recording failed", status: "recording-failed", bytes_in: 1, bytes_out: 1 });
    });
    const { events } = await trailOf(id);
    expect(events.map((e) => e.type)).toEqual(["session.start", "query", "decision", "result", "session.end"]);
    expect(await verify(id)).toMatchObject({ ok: true, complete: true });
    expect(await getSession(testEnv.DB, id)).toMatchObject({ status: "recording-failed" });
  });

  it("throws when a chunk cannot reach R2, keeps it in DO storage, and uploads it at the end", async () => {
    const id = newSessionId();
    const bucket = new FlakyBucket(testEnv.RECORDINGS);
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { env: { ...testEnv, RECORDINGS: bucket.asBucket() }, limits: { chunkMaxEvents: 3 } });
      await r.onSessionStart(startInput());
      bucket.failing = true;
      await r.onQuery({ text: "SELECT 1" });
      await expect(r.onDecision({ effect: "allow", rule: "r", reason: "x" })).rejects.toMatchObject({ failure: "upload-failed" });
      expect(state.storage.sql.exec("SELECT count(*) AS n FROM gatehouse_audit_events").one().n).toBe(3);
      bucket.failing = false;
      await r.onSessionEnd({ reason: "recording failed", status: "recording-failed", bytes_in: 0, bytes_out: 0 });
    });
    expect(await verify(id)).toMatchObject({ ok: true, events: 4, chunks: 2 });
  });

  it("fails the session end (fail-closed) when R2 stays down; the index says incomplete", async () => {
    const id = newSessionId();
    const bucket = new FlakyBucket(testEnv.RECORDINGS);
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { env: { ...testEnv, RECORDINGS: bucket.asBucket() } });
      await r.onSessionStart(startInput());
      bucket.failing = true;
      await expect(r.onSessionEnd(END)).rejects.toMatchObject({ failure: "upload-failed" });
    });
    expect(await getSession(testEnv.DB, id)).toMatchObject({ complete: false, incomplete_reason: "1 chunk(s) not in R2" });
    expect((await verify(id)).error).toMatchObject({ kind: "truncated" });
  });
});

describe("best-effort", () => {
  it("continues when an event cannot be persisted and marks the gap in the chain", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const storage = new FlakyStorage(state.storage);
      const r = recorderFor(state, id, { mode: "best-effort", storage: storage.asStorage() });
      await r.onSessionStart(startInput());
      storage.failing = true;
      await r.onQuery({ text: "SELECT 'lost'" }); // not persisted, no throw
      storage.failing = false;
      await r.onQuery({ text: "SELECT 1" });
      await r.onSessionEnd(END);
    });
    const { events } = await trailOf(id);
    expect(events.map((e) => e.type)).toEqual(["session.start", "truncated", "query", "session.end"]);
    expect((events[0] as AuditEvent<"session.start">).data.recording.mode).toBe("best-effort");
    expect((events[1] as AuditEvent<"truncated">).data).toMatchObject({ reason: "persist-failed", omitted_events: 1 });
    expect((events[3] as AuditEvent<"session.end">).data.lost_events).toBe(1);
    expect(await verify(id)).toMatchObject({ ok: true, complete: true });
    expect(await getSession(testEnv.DB, id)).toMatchObject({ complete: false, incomplete_reason: "1 event(s) lost" });
  });

  it("survives an R2 outage and uploads the backlog later", async () => {
    const id = newSessionId();
    const bucket = new FlakyBucket(testEnv.RECORDINGS);
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { mode: "best-effort", env: { ...testEnv, RECORDINGS: bucket.asBucket() }, limits: { chunkMaxEvents: 2 } });
      await r.onSessionStart(startInput());
      bucket.failing = true;
      await runQuery(r, "SELECT 1");
      expect((await r.status()).uploadedChunks).toBe(0);
      bucket.failing = false;
      await r.onSessionEnd(END);
    });
    expect(await verify(id)).toMatchObject({ ok: true, chunks: 3 });
    expect(await getSession(testEnv.DB, id)).toMatchObject({ complete: true });
  });
});

describe("limits", () => {
  it("end-session: writes a truncated marker, throws RecordingLimitError, still records session.end", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { limits: { sessionMaxEvents: 6, onLimit: "end-session" } });
      await r.onSessionStart(startInput());
      await runQuery(r, "SELECT 1");
      const err = await r.onQuery({ text: "SELECT 2" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RecordingLimitError);
      expect(err).toMatchObject({ failure: "session-limit", sqlstate: "53400" });
      await expect(r.onQuery({ text: "SELECT 3" })).rejects.toBeInstanceOf(RecordingLimitError);
      await r.onSessionEnd({ reason: "recording limit", status: "aborted", bytes_in: 0, bytes_out: 0 });
    });
    const { events } = await trailOf(id);
    expect(events.map((e) => e.type)).toEqual(["session.start", "query", "decision", "result", "truncated", "session.end"]);
    expect((events[4] as AuditEvent<"truncated">).data).toMatchObject({ reason: "session-limit", action: "end-session" });
    expect((await verify(id)).ok).toBe(true);
    expect(await getSession(testEnv.DB, id)).toMatchObject({ complete: false, status: "aborted" });
  });

  it("truncate: keeps the session going, counts what was omitted in session.end", async () => {
    const id = newSessionId();
    await inSessionObject(id, async (state) => {
      const r = recorderFor(state, id, { limits: { sessionMaxBytes: 3000, onLimit: "truncate" } });
      await r.onSessionStart(startInput());
      for (let i = 0; i < 10; i++) await r.onQuery({ text: `SELECT ${i}, '${"q".repeat(200)}'` });
      await r.onSessionEnd(END);
    });
    const { events } = await trailOf(id);
    const marker = events.find((e) => e.type === "truncated") as AuditEvent<"truncated">;
    expect(marker.data).toMatchObject({ reason: "session-limit", action: "truncate" });
    const end = events.at(-1) as AuditEvent<"session.end">;
    const recordedQueries = events.filter((e) => e.type === "query").length;
    expect(end.data.omitted_events).toBe(10 - recordedQueries);
    expect(end.data.omitted_events).toBeGreaterThan(0);
    expect((await verify(id)).ok).toBe(true);
  });
});
