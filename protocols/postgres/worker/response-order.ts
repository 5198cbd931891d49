/**
 * Which request each backend message answers. PostgreSQL answers frontend messages strictly in
 * order (Parse → ParseComplete, Bind → BindComplete, Describe → [ParameterDescription] RowDescription
 * | NoData, Execute → rows … CommandComplete, Close → CloseComplete, Sync/Query → … ReadyForQuery),
 * and after an error in the extended protocol it skips everything up to the next Sync. Keeping the
 * same queue lets the masking engine:
 *
 *  - swallow the answers to messages the gateway adds itself: the `Describe` (portal) it puts in
 *    front of an `Execute` the client did not describe (pgjdbc's Bind+Execute re-executions), and
 *    the COPY shape probe before a `COPY … TO STDOUT`;
 *  - hand the masker the COPY format of exactly the statement whose CopyOutResponse arrives (per
 *    COPY statement of a simple query, per named/unnamed prepared statement and portal), so a
 *    format — its HEADER in particular — never applies to another statement's output.
 *
 * Only the engine's masking path uses it. A backend message that does not fit the queue throws
 * ResponseOrderError: the engine ends the session rather than guess which request rows belong to.
 */
import type { CopyOutFormat } from "../codec/copy-options.ts";
import { decodeRowDescription, type ColumnDescription } from "../codec/results.ts";
import type { Taint } from "../../../parsers/masking/taint/analyze.ts";

/** A COPY format with the columns the probe described (table OIDs for the taint verdicts). */
export type ProbedCopyFormat = CopyOutFormat & { shape?: ColumnDescription[] };

export type Request =
  /** renames: the statement's SQL (or code it runs) may PREPARE/DECLARE/DEALLOCATE/CLOSE names. */
  | { kind: "parse"; name: string; copy: CopyOutFormat | null; taint?: Taint | null; renames?: boolean }
  | { kind: "bind"; portal: string; statement: string }
  | { kind: "describe"; injected: boolean; target?: { kind: "S" | "P"; name: string } }
  | { kind: "execute"; portal: string }
  | { kind: "close"; target: "S" | "P"; name: string }
  | { kind: "sync" }
  /** copies: formats of the COPY … TO STDOUT statements in order (null: unknown); resets: DISCARD/DEALLOCATE. */
  | { kind: "query"; copies: Array<CopyOutFormat | null>; resets: boolean; taint?: Taint | null; renames?: boolean }
  /** The gateway's Parse+Describe+Sync before a COPY query: answers swallowed, columns into `format`. */
  | { kind: "probe"; format: CopyOutFormat }
  /** The client sent CopyDone/CopyFail (no answer of its own; ends a COPY FROM STDIN). */
  | { kind: "copyEnd" };

/** What to do with one backend message. */
export type Verdict =
  | "forward"
  /** Neither the masker nor the client sees it (answers to the COPY probe). */
  | "drop"
  /** The masker must see it (it sets the row shape), the client must not (answer to an injected Describe). */
  | "plan"
  /** A CopyOutResponse: forward it, and give the masker this format first (null: none known). */
  | { copy: CopyOutFormat | null };

export class ResponseOrderError extends Error {}

/** The taint of a statement or portal the client did not make through the protocol (see `parsed`). */
const UNKNOWN_NAME: Taint = { rule: 0, sources: ["statement or portal made or replaced by SQL (PREPARE, DECLARE, a function's cursor)"] };

/** Beyond this many unanswered requests the session ends (a client pipelining without reading). */
export const MAX_OUTSTANDING = 100_000;

type Entry = Request & { copyIndex?: number };

const M = {
  ParseComplete: 0x31, // 1
  BindComplete: 0x32, // 2
  CloseComplete: 0x33, // 3
  CommandComplete: 0x43, // C
  DataRow: 0x44, // D
  ErrorResponse: 0x45, // E
  CopyInResponse: 0x47, // G
  CopyOutResponse: 0x48, // H
  EmptyQuery: 0x49, // I
  NoticeResponse: 0x4e, // N
  ParameterStatus: 0x53, // S
  RowDescription: 0x54, // T
  NotificationResponse: 0x41, // A
  ReadyForQuery: 0x5a, // Z
  CopyDone: 0x63, // c
  CopyData: 0x64, // d
  NoData: 0x6e, // n
  PortalSuspended: 0x73, // s
  ParameterDescription: 0x74, // t
} as const;

export class ResponseOrder {
  private queue: Entry[] = [];
  private head = 0;
  /** An extended-protocol error with no Sync queued yet: the server skips what comes until one. */
  private skipping = false;
  /** The server is in COPY FROM STDIN and no CopyDone/CopyFail was sent yet: it ignores Sync. */
  private copyInOpen = false;
  /** Formats of prepared COPY … TO STDOUT statements and of the portals bound from them. */
  private readonly statements = new Map<string, CopyOutFormat>();
  private readonly portals = new Map<string, CopyOutFormat>();
  /** Taint of prepared statements and portals the server has (derived-value masking). */
  private readonly statementTaints = new Map<string, Taint>();
  private readonly portalTaints = new Map<string, Taint>();
  /**
   * Names the client made through the protocol (Parse, Bind) since SQL last could have replaced
   * them. Any other name was made by SQL — PREPARE, DECLARE, a cursor a function opened — or may
   * have been replaced by it (DEALLOCATE s; PREPARE s AS …): its rows were never analysed under
   * that name, so it is treated as tainted (UNKNOWN_NAME).
   */
  private readonly parsed = new Set<string>();
  private readonly bound = new Set<string>();
  /** Statements (and portals bound from them) whose execution may replace names. */
  private readonly renamingStatements = new Set<string>();
  private readonly renamingPortals = new Set<string>();
  /** Taint of the portals executed since the last Sync (answers to that Sync carry it). */
  private syncTaint: Taint | null = null;

  /**
   * The taint of the request the server is answering now: a simple query or Parse by its own SQL,
   * a Bind by its statement, a Describe by the statement or portal it names, an Execute by its
   * portal; a Sync by the portals its batch executed (a notification or a deferred error at the
   * implicit commit may carry their values).
   */
  currentTaint(): Taint | null {
    const e = this.peek();
    if (!e) return null;
    switch (e.kind) {
      case "query":
      case "parse":
        return e.taint ?? null;
      case "bind":
        return this.statementTaint(e.statement);
      case "describe":
        // a Describe without a known target is never sent; fail closed anyway
        if (!e.target) return { rule: 0, sources: ["describe of an unknown target"] };
        return e.target.kind === "S" ? this.statementTaint(e.target.name) : this.portalTaint(e.target.name);
      case "execute":
        return this.portalTaint(e.portal);
      case "sync":
        return this.syncTaint;
      default:
        return null;
    }
  }

  private statementTaint(name: string): Taint | null {
    return this.parsed.has(name) ? (this.statementTaints.get(name) ?? null) : UNKNOWN_NAME;
  }

  private portalTaint(name: string): Taint | null {
    return this.bound.has(name) ? (this.portalTaints.get(name) ?? null) : UNKNOWN_NAME;
  }

  /** SQL may have made, dropped or replaced statements and portals: no protocol name is known any more. */
  private forgetNames(): void {
    this.parsed.clear();
    this.bound.clear();
  }

  get outstanding(): number {
    return this.queue.length - this.head;
  }

  /** A request forwarded to the server, in forwarding order. */
  sent(request: Request): void {
    if (this.copyInOpen) {
      if (request.kind === "sync") return; // ignored by the server during COPY FROM STDIN
      if (request.kind === "copyEnd") {
        this.copyInOpen = false;
        return;
      }
    }
    if (this.skipping) {
      // Skipped by the server until a Sync (the probe carries one).
      if (request.kind !== "sync" && request.kind !== "probe") return;
      this.skipping = false;
    }
    if (this.outstanding >= MAX_OUTSTANDING) throw new ResponseOrderError(`more than ${MAX_OUTSTANDING} requests without an answer`);
    this.queue.push(request);
  }

  /**
   * One backend message: its type and where it is (`bytes[start]` is the type byte, `end` is
   * exclusive; the body is only read for a few types, so rows cost no allocation here).
   */
  received(type: number, bytes: Uint8Array, start: number, end: number): Verdict {
    // Asynchronous messages may arrive at any point and belong to no request.
    if (type === M.NoticeResponse || type === M.ParameterStatus || type === M.NotificationResponse) return "forward";
    let e = this.peek();
    while (e?.kind === "copyEnd") {
      this.pop(); // the server ignores a CopyDone/CopyFail outside COPY
      e = this.peek();
    }
    if (!e) {
      if (type === M.ErrorResponse) return "forward"; // e.g. FATAL on shutdown
      throw this.unexpected(type, "no request is waiting for an answer");
    }
    switch (e.kind) {
      case "probe":
        // The probe's columns name the COPY's fields (unless the statement listed them itself).
        if (type === M.RowDescription) {
          const shape = decodeRowDescription(bytes.subarray(start + 5, end));
          e.format.columns ??= shape.map((c) => c.name);
          (e.format as ProbedCopyFormat).shape = shape;
        }
        else if (type === M.ReadyForQuery) this.pop();
        return "drop";
      case "parse":
        if (type === M.ParseComplete) {
          this.pop();
          if (e.copy) this.statements.set(e.name, e.copy);
          else this.statements.delete(e.name);
          if (e.taint) this.statementTaints.set(e.name, e.taint);
          else this.statementTaints.delete(e.name);
          this.parsed.add(e.name);
          if (e.renames) this.renamingStatements.add(e.name);
          else this.renamingStatements.delete(e.name);
          return "forward";
        }
        break;
      case "bind":
        if (type === M.BindComplete) {
          this.pop();
          const copy = this.statements.get(e.statement);
          if (copy) this.portals.set(e.portal, copy);
          else this.portals.delete(e.portal);
          const taint = this.statementTaint(e.statement);
          if (taint) this.portalTaints.set(e.portal, taint);
          else this.portalTaints.delete(e.portal);
          this.bound.add(e.portal);
          if (this.renamingStatements.has(e.statement)) this.renamingPortals.add(e.portal);
          else this.renamingPortals.delete(e.portal);
          return "forward";
        }
        break;
      case "describe":
        if (type === M.ParameterDescription && !e.injected) return "forward";
        if (type === M.RowDescription || type === M.NoData) {
          this.pop();
          return e.injected ? "plan" : "forward";
        }
        break;
      case "execute":
        if (type === M.DataRow || type === M.CopyData || type === M.CopyDone) return "forward";
        if (type === M.CommandComplete || type === M.EmptyQuery || type === M.PortalSuspended) {
          this.syncTaint = this.portalTaint(e.portal) ?? this.syncTaint;
          if (this.renamingPortals.has(e.portal)) this.forgetNames();
          this.pop();
          return "forward";
        }
        if (type === M.CopyOutResponse) {
          const copy = e.copyIndex === undefined ? (this.portals.get(e.portal) ?? null) : null;
          e.copyIndex = 1; // one COPY per Execute
          return { copy };
        }
        if (type === M.CopyInResponse) {
          this.copyIn();
          return "forward";
        }
        break;
      case "close":
        if (type === M.CloseComplete) {
          this.pop();
          (e.target === "S" ? this.statements : this.portals).delete(e.name);
          (e.target === "S" ? this.statementTaints : this.portalTaints).delete(e.name);
          (e.target === "S" ? this.parsed : this.bound).delete(e.name);
          (e.target === "S" ? this.renamingStatements : this.renamingPortals).delete(e.name);
          return "forward";
        }
        break;
      case "sync":
        if (type === M.ReadyForQuery) {
          this.syncTaint = null;
          this.pop();
          this.readyForQuery(bytes[start + 5]);
          return "forward";
        }
        if (type === M.ErrorResponse) return "forward"; // e.g. a deferred constraint failing at commit
        throw this.unexpected(type, "waiting for ReadyForQuery");
      case "query":
        if (type === M.ReadyForQuery) {
          this.pop();
          // A simple query replaces the unnamed statement and portal; DISCARD/DEALLOCATE drop more.
          this.statements.delete("");
          this.portals.delete("");
          // (taints of named statements stay after DISCARD/DEALLOCATE: masking more, never less)
          this.statementTaints.delete("");
          this.portalTaints.delete("");
          this.parsed.delete("");
          this.bound.delete("");
          if (e.renames) this.forgetNames();
          if (e.resets) {
            this.statements.clear();
            this.portals.clear();
          }
          this.readyForQuery(bytes[start + 5]);
          return "forward";
        }
        if (type === M.CopyOutResponse) {
          const k = e.copyIndex ?? 0;
          e.copyIndex = k + 1;
          return { copy: e.copies[k] ?? null };
        }
        if (type === M.CopyInResponse) this.copyIn();
        return "forward";
    }
    if (type === M.ErrorResponse) {
      this.failed(e);
      return "forward";
    }
    throw this.unexpected(type, `waiting for the answer to ${e.kind}`);
  }

  private peek(): Entry | undefined {
    return this.queue[this.head];
  }

  private pop(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** An extended-protocol request failed: the server skips everything up to the next Sync. */
  private failed(e: Entry): void {
    this.forget(e);
    this.pop();
    for (let next = this.peek(); next && next.kind !== "sync" && next.kind !== "probe"; next = this.peek()) {
      this.forget(next);
      this.pop();
    }
    if (!this.peek()) this.skipping = true;
  }

  /** A Parse, Bind or Close that did not run: stop trusting what we knew about its name. */
  private forget(e: Entry): void {
    if (e.kind === "parse") (this.statements.delete(e.name), this.parsed.delete(e.name));
    else if (e.kind === "bind") (this.portals.delete(e.portal), this.bound.delete(e.portal));
    // an Execute that failed may have run part of its SQL (DEALLOCATE and PREPARE are not undone)
    else if (e.kind === "execute" && this.renamingPortals.has(e.portal)) this.forgetNames();
    else if (e.kind === "close") (e.target === "S" ? this.statements : this.portals).delete(e.name);
  }

  private readyForQuery(status: number | undefined): void {
    // Back to idle: the transaction is over, and with it every portal the protocol created.
    if (status === 0x49) {
      this.portals.clear();
      this.portalTaints.clear();
      this.bound.clear();
    }
  }

  /**
   * COPY FROM STDIN started: until the client's CopyDone/CopyFail, the server ignores Sync (libpq
   * sends one after Execute without knowing it is a COPY). Drop the queued ones, or keep ignoring
   * new ones until the client ends the COPY.
   */
  private copyIn(): void {
    for (let k = this.head + 1; k < this.queue.length; k++) {
      const e = this.queue[k]!;
      if (e.kind === "copyEnd") {
        this.queue.splice(k, 1);
        return;
      }
      if (e.kind === "sync") this.queue.splice(k--, 1);
      else throw new ResponseOrderError(`the client sent ${e.kind} during COPY FROM STDIN`);
    }
    this.copyInOpen = true;
  }

  private unexpected(type: number, why: string): ResponseOrderError {
    return new ResponseOrderError(`unexpected backend message ${JSON.stringify(String.fromCharCode(type))} (${why})`);
  }
}
