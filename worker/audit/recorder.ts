/**
 * SessionRecorder: the recording step of a session's chain, shared by every protocol.
 *
 * Each on* call bounds its event, encodes its data once (canonical JSON), chains it synchronously
 * (one-pass SHA-256) and buffers it. A batch — every event buffered since the last write — is
 * written as one SQL statement: a multi-row insert whose last row also carries the recorder's state
 * as of that row (so events and state are atomic without a transaction or a second statement;
 * see load()). With "per-call"
 * batching the call's promise settles when its batch is written (a microtask later, so calls made
 * together share one write); with "round-trip" batching (the session's) the buffer is written by
 * commit(), which the session calls right before it sends to the client: workerd's output gate
 * then holds those bytes until the write is durable, so nothing a recorded event describes
 * reaches the client before the event itself is on disk (docs/AUDIT.md "Durability").
 *
 * Every `limits.chunkMaxEvents` events or `limits.chunkMaxBytes` bytes the open chunk is sealed
 * with a checkpoint signed by the gateway's audit key, written to R2 as
 * `sessions/<id>/<chunk>.jsonl` and only then trimmed from DO storage. The D1 session index is
 * written at start, refreshed at each upload and finished at end.
 *
 * Failure semantics (docs/AUDIT.md "Fail closed"):
 * - mode "fail-closed": any event that cannot be persisted, a chunk that cannot reach R2, or an
 *   index row that cannot be written throws RecordingError; the session DO must answer the client
 *   with an error and end the session. After a persistence failure every further call (except
 *   onSessionEnd, which still tries to seal what exists) throws too.
 * - mode "best-effort": failures are counted instead; the next event that can be written is
 *   preceded by a `truncated` marker (reason "persist-failed") saying how many were lost, and the
 *   session is indexed as incomplete. The mode is part of session.start, so it is in the trail.
 * - limits: hitting sessionMaxEvents/sessionMaxBytes writes a `truncated` marker and then either
 *   throws RecordingLimitError (onLimit "end-session", the default) or records nothing more but
 *   the session.end (onLimit "truncate"; the omitted count is in session.end). Never silent.
 *
 * Calls are serialized internally: the chain order is the call order even if the caller does not
 * await one call before making the next.
 */
import {
  canonicalize,
  chainEncoded,
  encodeBoundedEvent,
  genesisHashSync,
  signCheckpoint,
  utf8Length,
  DEFAULT_EVENT_BOUNDS,
  type AuditEventDataMap,
  type AuditEventType,
  type DecisionData,
  type EncodedEvent,
  type EventBounds,
  type NoticeData,
  type QueryData,
  type RecordingMode,
  type ResultData,
  type SessionEndData,
  type SessionStartData,
  type UnchainedEvent,
} from "../../parsers/audit/index.ts";
import { putChunk } from "./chunk-store.ts";
import type { AuditEnv } from "./env.ts";
import { RecordingError, RecordingLimitError } from "./errors.ts";
import { loadAuditKeys } from "./keys.ts";
import { indexSessionEnd, indexSessionProgress, indexSessionStart } from "./session-index.ts";
import { isValidSessionId } from "./storage-keys.ts";

export interface RecorderLimits extends EventBounds {
  /** Seal a chunk after this many events. Default 500. */
  chunkMaxEvents: number;
  /** Seal a chunk once its events reach this many bytes (canonical JSON). Default 1 MiB. */
  chunkMaxBytes: number;
  /** Events per session before the limit action. Default 1,000,000. */
  sessionMaxEvents: number;
  /** Recorded bytes per session before the limit action. Default 1 GiB. */
  sessionMaxBytes: number;
  /** What hitting a session limit does. Default "end-session". */
  onLimit: "truncate" | "end-session";
}

export const DEFAULT_RECORDER_LIMITS: RecorderLimits = {
  ...DEFAULT_EVENT_BOUNDS,
  chunkMaxEvents: 500,
  chunkMaxBytes: 1024 * 1024,
  sessionMaxEvents: 1_000_000,
  sessionMaxBytes: 1024 * 1024 * 1024,
  onLimit: "end-session",
};

export interface SessionRecorderOptions {
  /** The session Durable Object's storage (`ctx.storage`); must be SQLite-backed. */
  storage: DurableObjectStorage;
  env: AuditEnv;
  sessionId: string;
  mode: RecordingMode;
  limits?: Partial<RecorderLimits>;
  /** Rows of each result kept in the trail (policy); capped by limits.maxSampleRows. Default limits.maxSampleRows. */
  rowsSample?: number;
  /** Await storage.sync() after every event (default false: the output gate already orders durability before output). */
  syncEachEvent?: boolean;
  /**
   * When a batch of events is written (docs/AUDIT.md "Durability"):
   * - "per-call" (default): each call's promise settles once its batch (the calls made in the same
   *   synchronous run) is written; a caller that awaits before sending sends behind the output gate.
   * - "round-trip": calls resolve once the event is chained and buffered; the buffer is written by
   *   commit(), which the session calls right before it sends anything to the client, so all the
   *   events of a round trip (requests, decisions, responses) are one write and the client's bytes
   *   leave behind the output gate. A timer (COMMIT_AFTER_MS) writes what no send has committed.
   */
  batching?: "per-call" | "round-trip";
  /** Clock (epoch ms); tests only. */
  now?: () => number;
}

/**
 * DO storage rows: the events (with the state in a batch's last row), signed checkpoints, and the
 * state table (session.start data; the state as of a seal, an upload, the index or the end).
 */
const T_EVENTS = "gatehouse_audit_events";
const T_CHECKPOINTS = "gatehouse_audit_checkpoints";
const T_STATE = "gatehouse_audit_state";

/** round-trip batching: the longest an event stays in memory when nothing is sent to the client. */
export const COMMIT_AFTER_MS = 20;

/** What the session DO knows at start; the recorder adds session_id and the recording settings. */
export type SessionStartInput = Omit<SessionStartData, "session_id" | "recording">;
/** session.end as the caller sees it; rows defaults to the rows the recorder counted. */
export type SessionEndInput = Omit<SessionEndData, "lost_events" | "omitted_events" | "rows"> & { rows?: number };
/** Event types that go through onEvent (approvals, terminal I/O, and any other non-lifecycle type). */
export type GenericEventType = Exclude<AuditEventType, "session.start" | "session.end">;

export interface RecorderStatus {
  sessionId: string;
  mode: RecordingMode;
  started: boolean;
  ended: boolean;
  /** Events written so far (next seq). */
  events: number;
  /** Chunks sealed (checkpoint signed). */
  sealedChunks: number;
  /** Chunks in R2. */
  uploadedChunks: number;
  lostEvents: number;
  omittedEvents: number;
  limitReached: boolean;
  lastHash: string | null;
}

interface CheckpointDraft {
  chunk: number;
  first_seq: number;
  last_seq: number;
  last_hash: string;
  final: boolean;
  ts: number;
}

interface State {
  session: string;
  mode: RecordingMode;
  started: boolean;
  ended: boolean;
  seq: number;
  prev: string;
  /** The open chunk's number (= chunks closed so far). */
  chunk: number;
  chunkFirst: number;
  chunkEvents: number;
  chunkBytes: number;
  /** Closed chunks whose checkpoint is not signed yet (signing is asynchronous; events go on meanwhile). */
  closing: CheckpointDraft[];
  /** Checkpoints signed and stored. */
  sealed: number;
  uploaded: number;
  totalBytes: number;
  startTs: number;
  lastQueryTs: number | null;
  statements: Record<string, number>;
  denied: number;
  approved: number;
  rows: number;
  limitHit: boolean;
  omitted: number;
  lost: number;
  indexed: boolean;
}

/** An event chained in memory and not yet written (the current batch). */
interface PendingRow {
  seq: number;
  chunk: number;
  type: string;
  line: string;
  /** false for the best-effort loss marker itself (its loss is not counted as a lost event). */
  counts: boolean;
}

interface Batch {
  promise: Promise<void>;
  resolve: (v: void | Promise<void>) => void;
  reject: (e: unknown) => void;
}

/** Bytes an event's envelope adds around its payload (v, seq, ts, type, prev, hash): for the limit check. */
const ENVELOPE_BYTES = 200;
/** Rows per INSERT: DO SQLite binds at most 100 parameters per statement (3 per row, plus the state). */
const ROWS_PER_INSERT = 32;

/** `INSERT … VALUES (?, ?, ?, NULL), …, (?, ?, ?, ?)` for n rows (the last carries the state), built once per n. */
const insertSql: string[] = [];
function insertStatement(n: number): string {
  return (insertSql[n] ??= `INSERT INTO ${T_EVENTS} (seq, chunk, line, state) VALUES ${"(?, ?, ?, NULL), ".repeat(n - 1)}(?, ?, ?, ?)`);
}

export class SessionRecorder {
  readonly sessionId: string;
  readonly mode: RecordingMode;
  private readonly storage: DurableObjectStorage;
  private readonly env: AuditEnv;
  private readonly limits: RecorderLimits;
  private readonly bounds: EventBounds;
  private readonly rowsSample: number;
  private readonly syncEachEvent: boolean;
  private readonly roundTrip: boolean;
  private readonly now: () => number;
  private commitTimer: ReturnType<typeof setTimeout> | undefined;
  /** round-trip batching: when (Date.now()) the oldest buffered event was buffered; undefined while nothing is. */
  private pendingSince: number | undefined;
  /** A buffered request is not read-only: it must be durable before it reaches the target. */
  private forwardGate = false;
  private state: State | undefined;
  /** The state as of the last successful write (its JSON, as written): what a failed batch rolls back to. */
  private committed: { json: string; lostSinceMarker: number } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Serialized (asynchronous) operations queued or running; while > 0, events queue behind them. */
  private busy = 0;
  private pending: PendingRow[] = [];
  private batch: Batch | undefined;
  /** fail-closed: a persistence failure happened; refuse further events. */
  private broken: RecordingError | undefined;
  /** best-effort: events lost since the last successful write (announced by a marker). */
  private lostSinceMarker = 0;

  constructor(opts: SessionRecorderOptions) {
    if (!opts || !opts.storage || !opts.env) throw new TypeError("SessionRecorder: storage and env are required");
    if (!opts.env.DB || !opts.env.RECORDINGS) throw new TypeError("SessionRecorder: env.DB (D1) and env.RECORDINGS (R2) are required");
    if (typeof opts.sessionId !== "string" || !isValidSessionId(opts.sessionId)) {
      throw new TypeError("SessionRecorder: sessionId must match [A-Za-z0-9][A-Za-z0-9._:-]{0,127}");
    }
    if (opts.mode !== "fail-closed" && opts.mode !== "best-effort") throw new TypeError('SessionRecorder: mode must be "fail-closed" or "best-effort"');
    const limits = { ...DEFAULT_RECORDER_LIMITS, ...(opts.limits ?? {}) };
    validateLimits(limits);
    const rowsSample = opts.rowsSample ?? limits.maxSampleRows;
    if (!Number.isInteger(rowsSample) || rowsSample < 0) throw new TypeError("SessionRecorder: rowsSample must be a non-negative integer");
    this.storage = opts.storage;
    this.env = opts.env;
    this.sessionId = opts.sessionId;
    this.mode = opts.mode;
    this.limits = limits;
    this.rowsSample = Math.min(rowsSample, limits.maxSampleRows);
    this.bounds = { maxFieldBytes: limits.maxFieldBytes, maxEventBytes: limits.maxEventBytes, maxSampleRows: this.rowsSample };
    this.syncEachEvent = opts.syncEachEvent ?? false;
    this.roundTrip = opts.batching === "round-trip";
    this.now = opts.now ?? Date.now;
  }

  // -------------------------------------------------------------------------------------------
  // Public, semantic interface
  // -------------------------------------------------------------------------------------------

  /** First event. Writes the index row (fail-closed: throws if it cannot) and loads the signing key. */
  onSessionStart(e: SessionStartInput, at?: number): Promise<void> {
    return this.serialize(async () => {
      const st = this.load();
      if (st.started) throw new RecordingError("invalid-state", `session ${this.sessionId} was already started`);
      // Fail early if no key can sign this session's checkpoints.
      try {
        await loadAuditKeys(this.env);
      } catch (err) {
        this.failOrCount(new RecordingError("key-unavailable", "no usable audit signing key", { cause: err }), false);
      }
      const ts = at ?? this.now();
      const data: SessionStartData = { ...e, session_id: this.sessionId, recording: { mode: this.mode, rows_sample: this.rowsSample } };
      st.started = true;
      st.startTs = ts;
      try {
        this.sql.exec(`INSERT OR REPLACE INTO ${T_STATE} (k, v) VALUES ('start', ?)`, JSON.stringify(data));
      } catch (err) {
        this.failOrCount(new RecordingError("persist-failed", "session.start could not be written to Durable Object storage", { cause: err }), true);
      }
      this.appendSync({ type: "session.start", ts, data });
      await this.drainInline();
      try {
        await indexSessionStart(this.env.DB, data, ts);
        this.state!.indexed = true;
        this.saveState();
      } catch (err) {
        this.failOrCount(new RecordingError("index-failed", "could not write the session index", { cause: err }), false);
      }
    });
  }

  onQuery(e: QueryData, at?: number): Promise<void> {
    return this.record((st) => {
      const ts = at ?? this.now();
      st.lastQueryTs = ts;
      if (e.statements && e.statements.length > 0) for (const s of e.statements) st.statements[s.kind] = (st.statements[s.kind] ?? 0) + 1;
      else st.statements.unclassified = (st.statements.unclassified ?? 0) + 1;
      return { type: "query", ts, data: e };
    });
  }

  onDecision(e: DecisionData, at?: number): Promise<void> {
    return this.record((st) => {
      if (e.effect === "deny") st.denied++;
      return { type: "decision", ts: at ?? this.now(), data: e };
    });
  }

  /** A response as sent to the client (masked). rows_sample is cut to the policy's sample size. */
  onResult(e: ResultData, at?: number): Promise<void> {
    return this.record((st) => {
      const ts = at ?? this.now();
      const data: ResultData = { ...e };
      if (data.duration_ms === undefined && st.lastQueryTs !== null) data.duration_ms = Math.max(0, ts - st.lastQueryTs);
      st.rows += Number.isFinite(e.rows) ? Math.max(0, Math.trunc(e.rows)) : 0;
      return { type: "result", ts, data };
    });
  }

  onNotice(e: NoticeData, at?: number): Promise<void> {
    return this.record(() => ({ type: "notice", ts: at ?? this.now(), data: e }));
  }

  /** Masked values per rule for the preceding result. */
  onMasking(counts: Record<string, number>, at?: number): Promise<void> {
    return this.record(() => ({ type: "masking.counts", ts: at ?? this.now(), data: { counts } }));
  }

  /** Any other event: approval.* (approval.granted counts as approved), term.output/input/resize, truncated… */
  onEvent<T extends GenericEventType>(type: T, data: AuditEventDataMap[T], at?: number): Promise<void> {
    return this.record((st) => {
      if (type === "approval.granted") st.approved++;
      return { type, ts: at ?? this.now(), data } as UnchainedEvent;
    });
  }

  /**
   * Last event: appends session.end, seals the final chunk, uploads everything still in DO storage,
   * finishes the index row. Throws RecordingError (fail-closed) if any of that failed; the events
   * then remain in DO storage and the index row stays incomplete.
   */
  onSessionEnd(e: SessionEndInput, at?: number): Promise<void> {
    return this.serialize(async () => {
      const problems: RecordingError[] = [];
      const before = this.load();
      if (!before.started) throw new RecordingError("invalid-state", "session.end before session.start");
      if (before.ended) throw new RecordingError("invalid-state", `session ${this.sessionId} already ended`);
      // Events of the current batch first (their failure is reported, session.end is still tried).
      const drained = await this.drainInline().then(
        () => undefined,
        (err: unknown) => asRecordingError(err, "persist-failed"),
      );
      if (drained) problems.push(drained);
      const ts = at ?? this.now();
      let st = this.state!;
      const data: SessionEndData = { ...e, rows: e.rows ?? st.rows };
      if (st.lost + this.lostSinceMarker > 0) data.lost_events = st.lost + this.lostSinceMarker;
      if (st.omitted > 0) data.omitted_events = st.omitted;
      this.broken = undefined; // still try to seal what exists
      let endRecorded = false;
      try {
        endRecorded = this.appendSync({ type: "session.end", ts, data }, { terminal: true });
        this.state!.ended = true;
        const failure = this.writePending();
        if (failure) {
          endRecorded = false;
          throw failure;
        }
      } catch (err) {
        endRecorded = false;
        problems.push(asRecordingError(err, "persist-failed"));
      }
      st = this.state!; // a failed write rolled the state back
      st.ended = true;
      // Without session.end in the trail the last chunk must not claim to be final: the verifier
      // then reports the trail as truncated, which is the truth.
      if (st.chunkEvents > 0) this.closeChunk(endRecorded);
      const sealError = await this.sealClosed();
      if (sealError) problems.push(sealError);
      const uploadError = await this.uploadPending();
      if (uploadError) problems.push(uploadError);
      const incomplete: string[] = [];
      if (!endRecorded) incomplete.push("session.end not recorded");
      if (st.uploaded < st.chunk) incomplete.push(`${st.chunk - st.uploaded} chunk(s) not in R2`);
      if (st.chunkEvents > 0) incomplete.push(`${st.chunkEvents} event(s) not sealed by a checkpoint`);
      if (st.lost > 0) incomplete.push(`${st.lost} event(s) lost`);
      if (st.limitHit) incomplete.push(`recording limit reached${st.omitted > 0 ? `, ${st.omitted} event(s) omitted` : ""}`);
      try {
        const start = st.indexed ? undefined : this.startData();
        if (start) {
          await indexSessionStart(this.env.DB, start, st.startTs);
          st.indexed = true;
        }
        await indexSessionEnd(this.env.DB, this.sessionId, {
          ended_at: ts,
          connector: data.connector,
          status: data.status,
          end_reason: data.reason,
          bytes_in: data.bytes_in,
          bytes_out: data.bytes_out,
          ...this.progress(st),
          complete: incomplete.length === 0,
          incomplete_reason: incomplete.length ? incomplete.join("; ") : null,
        });
      } catch (err) {
        problems.push(new RecordingError("index-failed", "could not finish the session index", { cause: err }));
      }
      this.saveStateQuietly();
      if (problems.length > 0 && this.mode === "fail-closed") throw problems[0];
    });
  }

  /**
   * Seal the open chunk now (if it has events) and push every sealed chunk to R2. For the session
   * DO's alarm, so a long idle session's events reach R2 without waiting for the chunk to fill.
   */
  flush(): Promise<void> {
    return this.serialize(async () => {
      const st = this.load();
      if (!st.started || st.ended) return;
      await this.drainInline();
      if (this.state!.chunkEvents > 0) this.closeChunk(false);
      await this.sealAndUpload();
    });
  }

  /**
   * round-trip batching: write the buffered events now, synchronously, in one storage transaction.
   * Called right before bytes go to the client: the write is then in flight when they are sent, so
   * the output gate holds them until it is durable. Returns the failure in fail-closed mode (the
   * caller must not send, and ends the session); best-effort counts the loss and returns nothing.
   * A chunk the batch closed is sealed and uploaded in the background (a failure there breaks the
   * recorder: the next event is refused).
   */
  commit(): RecordingError | undefined {
    // (The commit timer is left armed: when it fires with nothing buffered it simply lapses, which
    // is cheaper than a clearTimeout and a setTimeout per round trip.)
    if (this.pending.length === 0) return undefined;
    const failure = this.writePending();
    if (failure) return this.mode === "fail-closed" ? failure : undefined;
    if (this.state!.closing.length > 0) {
      this.serialize(() => this.sealAndUpload()).catch((err: unknown) => {
        this.broken ??= asRecordingError(err, "persist-failed");
      });
    }
    return undefined;
  }

  /** round-trip batching: a buffered request changes the target (or is not known to only read), or buffered events describe input about to be relayed; see forwardNeedsCommit. */
  holdForwardUntilCommitted(): void {
    this.forwardGate = true;
  }

  /** Whether the session must commit() before it forwards anything to the target. */
  get forwardNeedsCommit(): boolean {
    return this.forwardGate && this.pending.length > 0;
  }

  status(): Promise<RecorderStatus> {
    return this.serialize(async () => {
      this.load();
      await this.drainInline().catch(() => undefined);
      const st = this.state!;
      return {
        sessionId: this.sessionId,
        mode: this.mode,
        started: st.started,
        ended: st.ended,
        events: st.seq,
        sealedChunks: st.sealed,
        uploadedChunks: st.uploaded,
        lostEvents: st.lost + this.lostSinceMarker,
        omittedEvents: st.omitted,
        limitReached: st.limitHit,
        lastHash: st.seq > 0 ? st.prev : null,
      };
    });
  }

  // -------------------------------------------------------------------------------------------
  // Internals
  // -------------------------------------------------------------------------------------------

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    this.busy++;
    const run = this.queue.then(fn, fn).finally(() => {
      this.busy--;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * An ordinary event: chained and buffered synchronously, written with the rest of its batch.
   * The returned promise settles once the batch is written to DO storage (and, when the batch
   * closed a chunk, once that chunk is sealed and uploaded), so a caller that awaits it before
   * sending sends behind the output gate. While a serialized operation (start, seal/upload, end)
   * is in progress the event queues behind it, keeping the chain in call order.
   */
  private record(build: (st: State) => UnchainedEvent): Promise<void> {
    if (this.busy > 0 || !this.state) {
      return this.serialize(async () => {
        this.load();
        const written = this.recordNow(build);
        await this.drainInline().catch(() => undefined); // the error is the batch's: `written` carries it
        return written;
      });
    }
    return this.recordNow(build);
  }

  private recordNow(build: (st: State) => UnchainedEvent): Promise<void> {
    let limitError: RecordingLimitError | undefined;
    try {
      const st = this.requireActive();
      this.appendSync(build(st));
    } catch (err) {
      if (!(err instanceof RecordingLimitError)) return Promise.reject(err);
      limitError = err; // the limit marker (if any) is in the batch: write it, then report the limit
    }
    if (this.roundTrip) {
      if (this.commitTimer === undefined) this.armCommitTimer(COMMIT_AFTER_MS);
      return limitError ? Promise.reject(limitError) : Promise.resolve();
    }
    const written = this.scheduleBatch();
    return limitError ? written.then(() => Promise.reject(limitError)) : written;
  }

  /**
   * round-trip batching: write what no send has committed once its oldest event is COMMIT_AFTER_MS
   * old. One timer serves many round trips: when it fires and the buffer is younger than that (a
   * send committed in between and new events came), it re-arms for the rest; with nothing buffered
   * it lapses, and the next buffered event arms it again.
   */
  private armCommitTimer(ms: number): void {
    this.commitTimer = setTimeout(() => {
      this.commitTimer = undefined;
      if (this.pending.length === 0 || this.pendingSince === undefined) return;
      const age = Date.now() - this.pendingSince;
      if (age < COMMIT_AFTER_MS) return this.armCommitTimer(COMMIT_AFTER_MS - age);
      this.commit(); // a failure breaks the recorder (fail-closed): the next event is refused
    }, ms);
  }

  /** The current batch's promise; its write runs in a microtask, after the caller's synchronous work. */
  private scheduleBatch(): Promise<void> {
    if (this.batch) return this.batch.promise;
    let resolve!: Batch["resolve"];
    let reject!: Batch["reject"];
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.batch = { promise, resolve, reject };
    queueMicrotask(() => this.flushBatch());
    return promise;
  }

  /** Microtask: one storage transaction for the whole batch; sealing/uploading (if due) runs serialized. */
  private flushBatch(): void {
    const batch = this.batch;
    if (!batch) return; // drained inline already
    this.batch = undefined;
    const failure = this.writePending();
    if (failure) return this.mode === "fail-closed" ? batch.reject(failure) : batch.resolve();
    let after: Promise<void> | undefined;
    if (this.syncEachEvent) after = this.confirmSync();
    if (this.state!.closing.length > 0) {
      const sealing = this.serialize(() => this.sealAndUpload());
      after = after ? after.then(() => sealing) : sealing;
    }
    batch.resolve(after);
  }

  /** Inside a serialized operation: write the current batch now, seal/upload inline, settle its promise. */
  private async drainInline(): Promise<void> {
    const batch = this.batch;
    this.batch = undefined;
    const failure = this.writePending();
    try {
      if (failure) {
        if (this.mode === "fail-closed") throw failure;
      } else {
        if (this.syncEachEvent) await this.confirmSync();
        if (this.state && this.state.closing.length > 0) await this.sealAndUpload();
      }
      batch?.resolve();
    } catch (err) {
      batch?.reject(err);
      throw err;
    }
  }

  private async confirmSync(): Promise<void> {
    try {
      await this.storage.sync();
    } catch (err) {
      const failure = new RecordingError("persist-failed", "Durable Object storage could not confirm the write", { cause: err });
      this.failOrCount(failure, true);
    }
  }

  private get sql(): SqlStorage {
    return this.storage.sql;
  }

  private load(): State {
    if (this.state) return this.state;
    let batchState: string | undefined;
    try {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS ${T_EVENTS} (seq INTEGER PRIMARY KEY, chunk INTEGER NOT NULL, line TEXT NOT NULL, state TEXT)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS ${T_CHECKPOINTS} (chunk INTEGER PRIMARY KEY, line TEXT NOT NULL)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS ${T_STATE} (k TEXT PRIMARY KEY, v TEXT NOT NULL)`);
      batchState = this.lastBatchState();
    } catch (err) {
      throw new RecordingError("persist-failed", "Durable Object storage is unavailable (is the class SQLite-backed?)", { cause: err });
    }
    const row = this.sql.exec<{ v: string }>(`SELECT v FROM ${T_STATE} WHERE k = 'state'`).toArray()[0];
    // The newer of the two: the state row (written at start, seal, upload, index and end) or the
    // state carried by the last batch written after it. A batch always adds events, so on equal
    // seq the state row is the later write (a seal or upload after that batch).
    let json = row?.v;
    if (batchState !== undefined && (json === undefined || (JSON.parse(batchState) as State).seq > (JSON.parse(json) as State).seq)) json = batchState;
    if (json !== undefined) {
      const saved = JSON.parse(json) as State;
      if (saved.session !== this.sessionId) {
        throw new RecordingError("invalid-state", `this Durable Object already records session ${saved.session}`);
      }
      this.state = saved;
    } else {
      this.state = {
        session: this.sessionId,
        mode: this.mode,
        started: false,
        ended: false,
        seq: 0,
        prev: genesisHashSync(this.sessionId),
        chunk: 0,
        chunkFirst: 0,
        chunkEvents: 0,
        chunkBytes: 0,
        closing: [],
        sealed: 0,
        uploaded: 0,
        totalBytes: 0,
        startTs: 0,
        lastQueryTs: null,
        statements: {},
        denied: 0,
        approved: 0,
        rows: 0,
        limitHit: false,
        omitted: 0,
        lost: 0,
        indexed: false,
      };
    }
    this.committed = { json: JSON.stringify(this.state), lostSinceMarker: this.lostSinceMarker };
    return this.state;
  }

  /** The state the last written batch carried (its last row), if any. */
  private lastBatchState(): string | undefined {
    try {
      return this.sql.exec<{ state: string }>(`SELECT state FROM ${T_EVENTS} WHERE state IS NOT NULL ORDER BY seq DESC LIMIT 1`).toArray()[0]?.state;
    } catch {
      // A table written before batches carried the state (no such column): its state row is
      // authoritative; add the column so this recorder's batches can carry it.
      this.sql.exec(`ALTER TABLE ${T_EVENTS} ADD COLUMN state TEXT`);
      return undefined;
    }
  }

  private requireActive(): State {
    const st = this.load();
    if (!st.started) throw new RecordingError("invalid-state", "event before session.start");
    if (st.ended) throw new RecordingError("invalid-state", `session ${this.sessionId} already ended`);
    if (this.broken) throw this.broken;
    return st;
  }

  private saveState(): void {
    const json = JSON.stringify(this.state);
    this.sql.exec(`INSERT OR REPLACE INTO ${T_STATE} (k, v) VALUES ('state', ?)`, json);
    if (this.pending.length === 0) this.committed = { json, lostSinceMarker: this.lostSinceMarker };
  }

  /** session.start data, kept apart from the per-batch state row so it is written once. */
  private startData(): SessionStartData | undefined {
    const row = this.sql.exec<{ v: string }>(`SELECT v FROM ${T_STATE} WHERE k = 'start'`).toArray()[0];
    return row ? (JSON.parse(row.v) as SessionStartData) : undefined;
  }

  private saveStateQuietly(): void {
    try {
      this.saveState();
    } catch {
      // The trail and index already say what happened; a stale state row only matters on resume.
    }
  }

  /** fail-closed: remember and throw. best-effort: swallow (the caller records the consequence). */
  private failOrCount(err: RecordingError, markBroken: boolean): void {
    if (this.mode === "fail-closed") {
      if (markBroken) this.broken = err;
      throw err;
    }
  }

  /**
   * Bound, encode once, check the limits, chain (synchronous SHA-256) and buffer. Returns whether
   * the event itself was buffered (false: omitted after a "truncate" limit). Throws
   * RecordingLimitError (after buffering the limit marker) for an "end-session" limit.
   */
  private appendSync(event: UnchainedEvent, opts: { terminal?: boolean } = {}): boolean {
    const st = this.state!;
    if (this.lostSinceMarker > 0 && !opts.terminal) {
      const lost = this.lostSinceMarker;
      this.writeSync(
        encodeBoundedEvent(
          {
            type: "truncated",
            ts: event.ts,
            data: { reason: "persist-failed", action: "continue", omitted_events: lost, message: `${lost} event(s) could not be persisted (best-effort recording)` },
          },
          this.bounds,
        ),
        false,
      );
      st.lost += lost;
      this.lostSinceMarker = 0;
    }
    const encoded = encodeBoundedEvent(event, this.bounds);
    const size = encoded.bytes + ENVELOPE_BYTES;
    if (!opts.terminal && event.type !== "session.start") {
      // Two slots stay reserved for the limit marker and session.end.
      const overEvents = st.seq + 1 > this.limits.sessionMaxEvents - 2;
      const overBytes = st.totalBytes + size > this.limits.sessionMaxBytes;
      if (st.limitHit || overEvents || overBytes) {
        if (!st.limitHit) {
          st.limitHit = true;
          const what = overEvents ? `${this.limits.sessionMaxEvents} events` : `${this.limits.sessionMaxBytes} bytes`;
          this.writeSync(encodeBoundedEvent({ type: "truncated", ts: event.ts, data: { reason: "session-limit", action: this.limits.onLimit, message: `recording limit of ${what} reached` } }, this.bounds), true);
        }
        if (this.limits.onLimit === "end-session") throw new RecordingLimitError(`the session reached its recording limit; ending the session`);
        st.omitted++;
        return false;
      }
    }
    this.writeSync(encoded, true);
    return true;
  }

  /** Chain onto the in-memory head and buffer; close the chunk when it is full. */
  private writeSync(encoded: EncodedEvent, counts: boolean): void {
    const st = this.state!;
    const { hash, line } = chainEncoded(encoded, st.seq, st.prev);
    const bytes = utf8Length(line) + 1;
    if (this.pending.length === 0) this.pendingSince = Date.now();
    this.pending.push({ seq: st.seq, chunk: st.chunk, type: encoded.type, line, counts });
    st.seq++;
    st.prev = hash;
    st.chunkEvents++;
    st.chunkBytes += bytes;
    st.totalBytes += bytes;
    // session.end is sealed by onSessionEnd with the final checkpoint, never by the size trigger.
    if (encoded.type !== "session.end" && (st.chunkEvents >= this.limits.chunkMaxEvents || st.chunkBytes >= this.limits.chunkMaxBytes)) this.closeChunk(false);
  }

  /**
   * Write the buffered events, the state riding in the last row: one INSERT statement (atomic by
   * itself, so no transaction around it, no second statement, no state-row rewrite per batch);
   * more than ROWS_PER_INSERT events are several INSERTs in one transaction. On failure the
   * in-memory chain rolls back to what is durable (so the next event, or session.end, chains onto
   * the last written one), the loss is counted (best-effort) or the recorder is broken (fail-closed).
   */
  private writePending(): RecordingError | undefined {
    if (this.pending.length === 0) return undefined;
    const rows = this.pending;
    this.pending = [];
    this.pendingSince = undefined;
    this.forwardGate = false;
    const st = this.state!;
    const json = JSON.stringify(st);
    const insert = (from: number, to: number) => {
      const args: (string | number | null)[] = [];
      for (let i = from; i < to; i++) {
        const r = rows[i]!;
        args.push(r.seq, r.chunk, r.line);
      }
      args.push(to === rows.length ? json : null); // the state rides only in the batch's last row
      this.sql.exec(insertStatement(to - from), ...args);
    };
    try {
      if (rows.length <= ROWS_PER_INSERT) insert(0, rows.length);
      else {
        this.storage.transactionSync(() => {
          for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) insert(i, Math.min(rows.length, i + ROWS_PER_INSERT));
        });
      }
    } catch (err) {
      const first = rows[0]!;
      const last = rows[rows.length - 1]!;
      const what = rows.length === 1 ? `event ${first.seq} (${first.type})` : `events ${first.seq}–${last.seq} (${first.type} … ${last.type})`;
      const failure = new RecordingError("persist-failed", `${what} could not be written to Durable Object storage`, { cause: err });
      const committed = this.committed!;
      this.state = JSON.parse(committed.json) as State;
      this.lostSinceMarker = committed.lostSinceMarker + rows.filter((r) => r.counts).length;
      if (this.mode === "fail-closed") this.broken = failure;
      return failure;
    }
    this.committed = { json, lostSinceMarker: this.lostSinceMarker };
    return undefined;
  }

  private closeChunk(final: boolean): void {
    const st = this.state!;
    st.closing.push({ chunk: st.chunk, first_seq: st.chunkFirst, last_seq: st.seq - 1, last_hash: st.prev, final, ts: this.now() });
    st.chunk++;
    st.chunkFirst = st.seq;
    st.chunkEvents = 0;
    st.chunkBytes = 0;
  }

  /** Sign what is closed, then upload; fail-closed throws the first problem. */
  private async sealAndUpload(): Promise<void> {
    const sealError = await this.sealClosed();
    if (sealError) this.failOrCount(sealError, false);
    const err = await this.uploadPending();
    if (err) this.failOrCount(err, false);
  }

  /** Sign each closed chunk's checkpoint (kept in DO storage until R2 has the chunk). */
  private async sealClosed(): Promise<RecordingError | undefined> {
    const st = this.state!;
    if (st.closing.length === 0) return undefined;
    // Rows of the closed chunks must be durable before their checkpoint.
    const failure = this.writePending();
    if (failure) return failure;
    let signer: Awaited<ReturnType<typeof loadAuditKeys>>["signer"];
    try {
      signer = (await loadAuditKeys(this.env)).signer;
    } catch (err) {
      return new RecordingError("key-unavailable", "no usable audit signing key; chunk left unsigned", { cause: err });
    }
    while (st.closing.length > 0) {
      const draft = st.closing[0]!;
      const cp = await signCheckpoint(signer, { session: this.sessionId, ...draft });
      let json = "";
      try {
        this.storage.transactionSync(() => {
          this.sql.exec(`INSERT OR REPLACE INTO ${T_CHECKPOINTS} (chunk, line) VALUES (?, ?)`, cp.chunk, canonicalize(cp));
          st.closing.shift();
          st.sealed = Math.max(st.sealed, draft.chunk + 1);
          json = JSON.stringify(st);
          this.sql.exec(`INSERT OR REPLACE INTO ${T_STATE} (k, v) VALUES ('state', ?)`, json);
        });
      } catch (err) {
        return new RecordingError("persist-failed", `the checkpoint of chunk ${draft.chunk} could not be written to Durable Object storage`, { cause: err });
      }
      if (this.pending.length === 0) this.committed = { json, lostSinceMarker: this.lostSinceMarker };
    }
    return undefined;
  }

  /** Write every sealed-but-not-uploaded chunk to R2, in order; trim each from DO storage once R2 has it. */
  private async uploadPending(): Promise<RecordingError | undefined> {
    const st = this.state!;
    let uploadedAny = false;
    while (st.uploaded < st.sealed) {
      const c = st.uploaded;
      const lines = this.sql.exec<{ line: string }>(`SELECT line FROM ${T_EVENTS} WHERE chunk = ? ORDER BY seq`, c).toArray();
      const cp = this.sql.exec<{ line: string }>(`SELECT line FROM ${T_CHECKPOINTS} WHERE chunk = ?`, c).toArray()[0];
      if (!cp || lines.length === 0) return new RecordingError("invalid-state", `chunk ${c} is missing from Durable Object storage`);
      const body = lines.map((l) => l.line).join("\n") + "\n" + cp.line + "\n";
      const meta = JSON.parse(cp.line) as { first_seq: number; last_seq: number; final: boolean };
      let lastErr: unknown;
      let ok = false;
      for (let attempt = 0; attempt < 2 && !ok; attempt++) {
        try {
          await putChunk(this.env.RECORDINGS, { session: this.sessionId, chunk: c, first_seq: meta.first_seq, last_seq: meta.last_seq, final: meta.final }, body);
          ok = true;
        } catch (err) {
          lastErr = err;
        }
      }
      if (!ok) return new RecordingError("upload-failed", `chunk ${c} could not be written to R2 (kept in Durable Object storage)`, { cause: lastErr });
      try {
        this.storage.transactionSync(() => {
          this.sql.exec(`DELETE FROM ${T_EVENTS} WHERE chunk = ?`, c);
          this.sql.exec(`DELETE FROM ${T_CHECKPOINTS} WHERE chunk = ?`, c);
          st.uploaded = c + 1;
          this.sql.exec(`INSERT OR REPLACE INTO ${T_STATE} (k, v) VALUES ('state', ?)`, JSON.stringify(st));
        });
      } catch {
        st.uploaded = c + 1; // R2 has it; the DO copy is trimmed at the next upload or never (harmless)
      }
      if (this.pending.length === 0) this.committed = { json: JSON.stringify(st), lostSinceMarker: this.lostSinceMarker };
      uploadedAny = true;
    }
    if (uploadedAny && st.indexed && !st.ended) {
      // Progress in the index is a convenience; the trail is authoritative, so a failure here is not fatal.
      await indexSessionProgress(this.env.DB, this.sessionId, this.progress(st)).catch(() => undefined);
    }
    return undefined;
  }

  private progress(st: State) {
    return {
      statements: st.statements,
      denied: st.denied,
      approved: st.approved,
      rows: st.rows,
      events: st.seq,
      chunks: st.uploaded,
      last_hash: st.seq > 0 ? st.prev : null,
    };
  }
}

function asRecordingError(err: unknown, fallback: "persist-failed"): RecordingError {
  return err instanceof RecordingError ? err : new RecordingError(fallback, String(err), { cause: err });
}

function validateLimits(l: RecorderLimits): void {
  const positive = (n: number, name: string, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(n) || n < 1 || n > max) throw new TypeError(`SessionRecorder: limits.${name} must be an integer in 1..${max}`);
  };
  positive(l.chunkMaxEvents, "chunkMaxEvents", 100_000);
  positive(l.chunkMaxBytes, "chunkMaxBytes", 64 * 1024 * 1024);
  positive(l.sessionMaxEvents, "sessionMaxEvents");
  if (l.sessionMaxEvents < 3) throw new TypeError("SessionRecorder: limits.sessionMaxEvents must be at least 3 (start, marker, end)");
  positive(l.sessionMaxBytes, "sessionMaxBytes");
  positive(l.maxFieldBytes, "maxFieldBytes", 1024 * 1024);
  // A DO SQLite row holds at most 2 MB; stay well below.
  positive(l.maxEventBytes, "maxEventBytes", 1024 * 1024);
  if (!Number.isInteger(l.maxSampleRows) || l.maxSampleRows < 0 || l.maxSampleRows > 10_000) throw new TypeError("SessionRecorder: limits.maxSampleRows must be an integer in 0..10000");
  if (l.onLimit !== "truncate" && l.onLimit !== "end-session") throw new TypeError('SessionRecorder: limits.onLimit must be "truncate" or "end-session"');
}
