/**
 * The MySQL engine's protocol core (command phase), runtime-neutral: client bytes in → policy →
 * forward or refuse; server bytes in → decode → masking → client. The host (worker engine
 * adapter, or the Node relay in tests) owns sockets, recording sinks and the approval workflow.
 *
 * Ordering: one client command is in flight at a time. Later client bytes queue (the host stops
 * returning credit) until the server's response to the current command is complete, so a refusal
 * ERR, an approval wait or a settings re-read can never be overtaken — the same rule as a held
 * PostgreSQL statement.
 *
 * Refusals never reach the server. Unlike PostgreSQL, a failed statement in MySQL does not change
 * transaction state (no aborted-transaction mode), so answering ERR locally leaves client and
 * server state identical without a sentinel statement; a refused multi-statement query is refused
 * whole (nothing of it is sent), which is what the client sees when a first statement fails.
 */
import { PacketFramer, encodePacket, type Packet } from "../codec/packets.ts";
import { CLIENT, COM, SERVER_STATUS } from "../codec/constants.ts";
import { decodeCommand, decodePrepareOk, encodeQuery, isLocalInfileRequest, type Command } from "../codec/commands.ts";
import { decodeEof, decodeErr, decodeOk, encodeErr, encodeOk, isEof, isErr, refusal } from "../codec/responses.ts";
import { lex, type Token } from "../sql/lexer.ts";
import { binaryCellString, decodeBinaryRow, decodeColumnCount, decodeColumnDefinition, decodeTextRow, encodeBinaryRow, encodeTextRow, isStringType, type ColumnDefinition } from "../codec/resultset.ts";
import { MysqlCodecError } from "../codec/errors.ts";
import { utf8TextStrict, utf8Text } from "../codec/bytes.ts";
import { classifyMysql, opaquePart, type MysqlStatement } from "../sql/classify.ts";
import { SessionPin, type PinnedState } from "../sql/session.ts";
import { dialectFromServerVersion } from "../sql/dialect.ts";
import type { RowMasker } from "./row-masker.ts";
import { analyzeTaint, ddlNamingMaskedTable, expandsEveryColumn, namedIdentifiers, withQueryPlan, type Taint } from "../sql/taint.ts";
import { CATALOG_QUERY, MAX_TARGETED_NAMES, MysqlCatalog, catalogQueryFor, relationsFromRows } from "./catalog.ts";

/** `rateLimited`: refused by the tenant's request rate (ER 1226), not by a rule. */
export type Verdict = { effect: "allow" } | { effect: "deny"; reason: string; rateLimited?: true } | { effect: "approve"; reason: string };

export interface MysqlEngineHost {
  sendToClient(bytes: Uint8Array): void;
  sendToServer(bytes: Uint8Array): void;
  /**
   * Policy for one query's statements (all of them; a query is allowed only as a whole). The host
   * records the request and its decision (durably, before anything is forwarded).
   */
  decide(statements: MysqlStatement[], sql: string, message: "query" | "prepare" | "execute"): Verdict | Promise<Verdict>;
  /**
   * Hosted mode: the tenant's request rate, asked before a query, prepare or execute is classified.
   * A message = refused and already counted in the trail (ER 1226, nothing more recorded).
   */
  refuseBeforeParse?(): Promise<string | null> | null;
  /**
   * Wait for human approval of exactly this text (and, for an execute, these parameter bytes);
   * resolves true when approved.
   */
  approve(sql: string, statements: MysqlStatement[], reason: string, parameters?: Uint8Array): Promise<boolean>;
  record(event: MysqlEngineEvent): void;
  /** Record `masking.derived` for a statement about to run; awaited before it is forwarded (durable first). */
  recordDerived(event: MaskingDerived): Promise<void>;
  /** End the session (protocol violation, desync). The engine has already told the client. */
  end(reason: string): void;
  /** Cancel the running statement of this identity's session whose listener greeting gave this thread id (threads.ts). */
  killQuery?(threadId: number): Promise<boolean>;
}

export type MysqlEngineEvent =
  | { type: "query"; sql: string; statements: { kind: string; command: string; objects: string[] }[]; verdict: "refused"; guard: Guard; reason: string; derived?: MaskingDerived }
  | { type: "prepare"; sql: string; statementId?: number; verdict: "refused"; guard: Guard; reason: string; derived?: MaskingDerived }
  | { type: "execute"; statementId: number; sql: string }
  | { type: "result"; rows: number; masked: number; columns?: string[]; sample?: (string | null)[][]; affectedRows?: number; error?: { code: number; sqlState: string; message: string } }
  | { type: "command"; command: string; verdict: "allow" | "refused"; reason?: string };

/** The trail's `masking.derived` payload (parsers/audit/types.ts MaskingDerivedData): the rule, the sources, never values. */
export interface MaskingDerived {
  rule: string | null;
  sources: string[];
  refused: boolean;
}

/** Which of the gateway's own guards refused a request before policy: pinned session state, LOAD DATA LOCAL, or undecodable text. */
export type Guard = "pin" | "local-infile" | "decode" | "masking";

export interface MysqlEngineOptions {
  /** Capabilities the client and the server session agreed on (same on both sides). */
  capabilities: number;
  serverVersion: string;
  pinned: PinnedState;
  masker: RowMasker | null;
  /** LOAD DATA LOCAL INFILE is refused unless the resource allows it (it reads files on the pipeline host). */
  allowLocalInfile?: boolean;
  /**
   * The session runs at the `read` access level: the connector set `SESSION TRANSACTION READ ONLY`
   * (the second wall behind the classifier, as PostgreSQL's default_transaction_read_only). It is
   * pinned: statements that lift it are refused, and the re-read after opaque statements checks it.
   */
  readOnly?: boolean;
  /**
   * The policy's statement timeout, which the connector set as the server's own
   * (`max_statement_time` / `max_execution_time`): pinned while set, so a statement that changes
   * it is refused (`SET max_statement_time = 0` would lift the policy's limit).
   */
  statementTimeoutMs?: number | null;
  /** Bound for one logical packet from either side. */
  maxPacket?: number;
}

interface Classified {
  sql: string;
  statements: MysqlStatement[];
  refusal?: string;
  guard?: Guard;
  taint: Taint | null;
  /** Why masking refused a statement that names no masked column (a masked table's DDL), for the trail. */
  sources?: string[];
}

interface Prepared {
  sql: string;
  statements: MysqlStatement[];
  columns: ColumnDefinition[];
  params: number;
  approved: boolean;
  verdict: Verdict;
  taint: Taint | null;
}

type Pending =
  | { kind: "query"; statements: MysqlStatement[]; binary: false; columns?: undefined; taint: Taint | null }
  | { kind: "execute"; statements: MysqlStatement[]; binary: true; columns: ColumnDefinition[]; taint: Taint | null }
  | { kind: "prepare"; sql: string; statements: MysqlStatement[]; verdict: Verdict; taint: Taint | null }
  | { kind: "simple" } // OK/ERR only: ping, init-db, stmt-reset, set-option
  | { kind: "internal" }; // the gateway's own settings re-read

type ResultPhase = "head" | "columns" | "columns-eof" | "rows" | "prepare-params" | "prepare-params-eof" | "prepare-columns" | "prepare-columns-eof";

export class MysqlEngineCore {
  readonly pin: SessionPin;
  private clientFramer: PacketFramer;
  private serverFramer: PacketFramer;
  private queued: Packet[] = [];
  private busy = false;
  private pending: Pending | null = null;
  private phase: ResultPhase = "head";
  private columns: ColumnDefinition[] = [];
  private expectedColumns = 0;
  private prepareOk: { statementId: number; columns: number; params: number } | null = null;
  private prepareParamsLeft = 0;
  private rows = 0;
  private masked = 0;
  /** The first rows of the current result as the client sees them (masked), for the trail. */
  private sample: (string | null)[][] = [];
  private prepared = new Map<number, Prepared>();
  private ended = false;
  private internalRows: (string | null)[][] = [];
  /** The relations masking needs to know (catalog.ts); read whole before the first statement and after DDL. */
  private readonly catalog = new MysqlCatalog();
  private catalogRead = false;
  /**
   * The server's diagnostics list may hold masked values: a statement that read masked data ran
   * (`CAST(email AS SIGNED)` warns "Truncated incorrect INTEGER value: 'ada@…'"), and the list has
   * not been reset since. It survives statements that use no table (`SELECT 1`, `SET`, `DO`) and
   * the OK/EOF warning count does not tell (measured on MariaDB 10.11); the gateway's own catalog
   * query uses a table, so it resets the list — only then is the state clean again. Under column
   * rules any write taints it too: a duplicate key turned into a warning (`INSERT IGNORE … ON
   * DUPLICATE KEY UPDATE tenant = 1` against UNIQUE (tenant, email)) quotes the whole key, masked
   * column included, though the statement names none (measured) — as its ERR 1062 does. So does
   * any `*` expansion: it computes virtual generated columns the statement does not name, and a
   * DBA's `e_num INT AS (CAST(email AS SIGNED)) VIRTUAL` warns `Truncated incorrect INTEGER value:
   * 'ada@…'` on every `SELECT * FROM customers` (measured).
   */
  private diagnosticsTainted = false;

  /** Whether statements of a text may leave masked values in the diagnostics list (see diagnosticsTainted). */
  private echoesUnnamedValues(statements: readonly MysqlStatement[]): boolean {
    return !!this.opts.masker?.hasColumnRules && statements.some((s) => WRITE_KINDS.has(s.kind) || s.expandsStar);
  }
  /** The gateway's own query in flight: its answer is consumed here, never sent to the client. */
  private internal: ((p: Packet) => void) | null = null;
  private readonly deprecateEof: boolean;

  constructor(private readonly host: MysqlEngineHost, private readonly opts: MysqlEngineOptions) {
    this.pin = new SessionPin(dialectFromServerVersion(opts.serverVersion), opts.pinned);
    this.clientFramer = new PacketFramer(opts.maxPacket ?? 64 * 1024 * 1024);
    this.serverFramer = new PacketFramer(opts.maxPacket ?? 256 * 1024 * 1024);
    this.deprecateEof = (opts.capabilities & CLIENT.DEPRECATE_EOF) !== 0;
  }

  get idle(): boolean {
    return !this.busy && this.queued.length === 0;
  }

  // ---------------- client → server ----------------

  async onClientData(bytes: Uint8Array): Promise<void> {
    if (this.ended) return;
    let packets: Packet[];
    try {
      packets = this.clientFramer.push(bytes);
    } catch (e) {
      return this.fatal(e instanceof MysqlCodecError && e.code === "too-large" ? "tooLarge" : "malformed", (e as Error).message, 0);
    }
    this.queued.push(...packets);
    await this.drain();
  }

  private async drain(): Promise<void> {
    while (!this.busy && !this.ended && this.queued.length) {
      const p = this.queued.shift()!;
      this.busy = true;
      try {
        await this.onCommand(p);
      } catch (e) {
        this.fatal("malformed", (e as Error).message, (p.lastSeq + 1) & 0xff);
      }
    }
  }

  private refuse(p: Packet, kind: "denied" | "notSupported" | "malformed" | "tooLarge" | "rateLimited", message: string): void {
    this.host.sendToClient(encodePacket((p.lastSeq + 1) & 0xff, refusal(kind, message)));
    this.busy = false;
  }

  private forward(p: Packet, pending: Pending | null): void {
    this.pending = pending;
    this.phase = "head";
    this.rows = 0;
    this.masked = 0;
    this.host.sendToServer(encodePacket(p.seq, p.payload));
    if (!pending) this.busy = false;
  }

  private async onCommand(p: Packet): Promise<void> {
    if (p.seq !== 0) return this.fatal("malformed", `command packet with sequence id ${p.seq}`, 0);
    const cmd: Command = decodeCommand(p.payload);
    if (cmd.type === "query" || cmd.type === "stmt-prepare" || cmd.type === "stmt-execute") {
      const early = this.host.refuseBeforeParse?.();
      const refused = early === undefined || early === null ? null : await early;
      if (this.ended) return;
      if (refused) return this.refuse(p, "rateLimited", refused);
    }
    switch (cmd.type) {
      case "quit":
        this.host.sendToServer(encodePacket(0, p.payload));
        this.ended = true;
        this.host.end("client quit");
        return;
      case "ping":
      case "stmt-reset":
        return this.forward(p, { kind: "simple" });
      case "init-db":
        return this.onInitDb(p, cmd.database);
      case "set-option":
        if (cmd.option !== 0 && cmd.option !== 1) return this.refuse(p, "notSupported", `COM_SET_OPTION ${cmd.option} is not supported`);
        return this.forward(p, { kind: "simple" });
      case "stmt-close":
        this.prepared.delete(cmd.statementId);
        return this.forward(p, null); // no response
      case "stmt-send-long-data":
        if (!this.prepared.has(cmd.statementId)) return this.refuseSilently(p, "COM_STMT_SEND_LONG_DATA for a statement the gateway did not see prepared");
        return this.forward(p, null);
      case "query":
        return this.onQuery(p, cmd.sql);
      case "stmt-prepare":
        return this.onPrepare(p, cmd.sql);
      case "stmt-execute":
        return this.onExecute(p, cmd.statementId, cmd.flags);
      case "stmt-fetch":
        this.host.record({ type: "command", command: "COM_STMT_FETCH", verdict: "refused" });
        return this.refuse(p, "notSupported", "server-side cursors (COM_STMT_FETCH) are not supported through the gateway");
      case "change-user":
        this.host.record({ type: "command", command: "COM_CHANGE_USER", verdict: "refused" });
        return this.refuse(p, "notSupported", "COM_CHANGE_USER is refused: the session's identity and credentials are fixed at connect");
      case "reset-connection":
        this.host.record({ type: "command", command: "COM_RESET_CONNECTION", verdict: "refused" });
        return this.refuse(p, "notSupported", "COM_RESET_CONNECTION is refused: it resets settings the gateway pins");
      case "field-list":
      case "statistics":
        this.host.record({ type: "command", command: cmd.type === "field-list" ? "COM_FIELD_LIST" : "COM_STATISTICS", verdict: "refused" });
        return this.refuse(p, "notSupported", `${cmd.type === "field-list" ? "COM_FIELD_LIST" : "COM_STATISTICS"} is not supported; use SHOW COLUMNS / SHOW STATUS`);
      case "refused":
        this.host.record({ type: "command", command: cmd.name, verdict: "refused" });
        return this.refuse(p, "notSupported", `${cmd.name} is refused by the gateway`);
      case "unknown":
        this.host.record({ type: "command", command: `0x${cmd.command.toString(16)}`, verdict: "refused" });
        return this.refuse(p, "notSupported", `unknown command 0x${cmd.command.toString(16)}`);
    }
  }

  /** Commands without a response cannot be answered with ERR (the client would desync): end the session. */
  private refuseSilently(_p: Packet, reason: string): void {
    this.fatal("malformed", reason, 1);
  }

  private classify(sqlBytes: Uint8Array): Classified {
    const sql = utf8TextStrict(sqlBytes);
    const statements = classifyMysql(sql, this.pin.dialect);
    // The text's tokens for the checks below, lexed at most once (when a check needs them), not once per check.
    let lexed: readonly Token[] | null | undefined;
    const toks = () => (lexed === undefined ? (lexed = wordsOf(sql, this.pin.dialect)) : lexed);
    const m = this.opts.masker;
    const analyzed = m ? analyzeTaint(sql, this.pin.dialect, (w) => m.namesMasked(w), (w) => m.isMaskedView(w), m.hasColumnRules) : null;
    // A query plan quotes values the optimizer read from const tables, whatever the statement names
    // (the classifier's `queryPlan`). Without column rules the detectors scan it like any value.
    const planned = m?.hasColumnRules ? statements.find((s) => s.queryPlan) : undefined;
    const plan = planned?.queryPlan;
    // A plan stored in a variable (MySQL 8.1's `EXPLAIN FORMAT=JSON INTO @v …`) would come back
    // later as a plain `SELECT @v`: a plan-showing statement that assigns is refused like a
    // statement naming masked data that assigns (below).
    const taint = plan ? withQueryPlan(analyzed, plan, assignsVariable(sql.slice(planned!.start, planned!.end), this.pin.dialect)) : analyzed;
    const limitMs = this.opts.statementTimeoutMs;
    const pinRefusal = this.pin.check(statements) ?? (this.opts.readOnly ? (liftsReadOnly(toks()) ?? hintLiftsReadOnly(statements)) : null) ?? (limitMs ? (changesStatementTimeout(toks()) ?? hintChangesTimeout(statements, limitMs)) : null);
    if (pinRefusal) return { sql, statements, refusal: pinRefusal, guard: "pin", taint };
    const local = statements.find((s) => s.command.startsWith("LOAD DATA LOCAL") || s.command.startsWith("LOAD XML LOCAL"));
    if (local && !this.opts.allowLocalInfile) return { sql, statements, refusal: `${local.command} is refused: it would read a file on the client's host`, guard: "local-infile", taint };
    // As PostgreSQL (docs/MASKING.md): a write that names a masked column would store its value where
    // a later plain read no longer sees it as masked (`insert into t select email from customers`).
    const write = taint && statements.find((s) => WRITE_KINDS.has(s.kind));
    if (write) return { sql, statements, refusal: `${write.command} reads masked data (${taint.sources.join(", ")}) and writes: refused, the value would leave masking`, guard: "masking", taint };
    // As PostgreSQL refuses DDL over a table with masked columns: a table a `table.column` rule names,
    // renamed (RENAME TABLE, ALTER TABLE … RENAME), exchanged (EXCHANGE PARTITION … WITH TABLE) or
    // copied (CREATE TABLE … LIKE / AS SELECT), would hold its masked columns under a name no rule speaks for.
    const moved = m?.hasColumnRules ? ddlNamingMaskedTable(sql, this.pin.dialect, statements, (w) => m.namesMaskedTable(w)) : null;
    if (moved) {
      const sources = [...(taint?.sources ?? []), `table ${moved.table.toLowerCase()}`];
      return { sql, statements, refusal: `${moved.command} names the masked table ${moved.table}: refused, DDL on a table that masking rules name by table.column could move its masked columns out of the rules' names`, guard: "masking", taint, sources };
    }
    if (m && (taint || this.diagnosticsTainted || this.echoesUnnamedValues(statements)) && hasWordIn(toks(), "DIAGNOSTICS")) return { sql, statements, refusal: "GET DIAGNOSTICS after (or with) a statement that read masked data is refused: its message texts may hold masked values", guard: "masking", taint, sources: taint?.sources ?? DIAGNOSTICS_TAINT.sources };
    // A view stores no values (reading it is masked through the catalog); a table or row written from `*` does.
    const starWrite = m?.hasColumnRules && statements.find((s) => WRITE_KINDS.has(s.kind) && !/\bVIEW\b/.test(s.command));
    if (starWrite && expandsEveryColumnOrUnlexable(toks())) return { sql, statements, refusal: `${starWrite.command} with * reads every column (masked ones among them) and writes: refused, the values would leave masking`, guard: "masking", taint, sources: [...(taint?.sources ?? []), "all columns (*) written"] };
    // The same for a variable: `SELECT * FROM customers WHERE id = 1 INTO @a, @b, @c` names no masked
    // column (the server expands the star), and a later `SELECT @c` names nothing masked either.
    if (m?.hasColumnRules && selectsStarInto(toks())) return { sql, statements, refusal: "SELECT … INTO with * reads every column (masked ones among them) into variables: refused, the values would leave masking", guard: "masking", taint, sources: [...(taint?.sources ?? []), "all columns (*) selected INTO variables"] };
    if (taint?.predicate && m?.refusePredicates) return { sql, statements, refusal: `statement refused by masking: masked data in a predicate or ordering clause (${taint.predicate}); this policy refuses them`, guard: "masking", taint };
    if (taint?.assigns) return { sql, statements, refusal: `a statement that reads masked data (${taint.sources.join(", ")}) assigns a variable or selects INTO: refused, the value would leave masking`, guard: "masking", taint };
    // Code the gateway cannot read: SQL-level PREPARE … FROM / EXECUTE / EXECUTE IMMEDIATE (the SQL
    // is in a string or a variable), CALL and stored functions (their bodies) may read masked
    // columns and hand the values out under another name or through a variable, and the taint
    // analysis sees none of it. With column rules they are refused (docs/MYSQL.md "Masking").
    const opaque = m?.hasColumnRules ? opaquePart(statements) : undefined;
    if (opaque) {
      const what = opaque.command === "FUNCTION CALL" ? `the stored function ${opaque.functions[0] ?? ""}` : opaque.command;
      return { sql, statements, refusal: `${what} runs SQL the gateway cannot read, and masking rules apply to this resource: refused (use the protocol's prepared statements, which the gateway reads, and built-in functions)`, guard: "masking", taint, sources: [...(taint?.sources ?? []), opaque.command === "FUNCTION CALL" ? `function ${opaque.functions[0] ?? ""}` : `${opaque.command} statement`] };
    }
    return { sql, statements, taint };
  }

  /** The `masking.derived` part of a refusal by masking (its sources; a refusal for another reason has none). */
  private derivedOf(c: Classified): { derived?: MaskingDerived } {
    const sources = c.guard === "masking" ? (c.sources ?? c.taint?.sources) : undefined;
    if (!sources?.length) return {};
    return { derived: { rule: this.opts.masker?.ruleForSources(sources) ?? null, sources, refused: true } };
  }

  /**
   * A statement that reads masked data is recorded as such (`masking.derived`, as PostgreSQL) after
   * its decision and before it runs; false when the session ended meanwhile.
   */
  private async recordDerived(taint: Taint | null): Promise<boolean> {
    if (!taint) return true;
    await this.host.recordDerived({ rule: this.opts.masker?.ruleForSources(taint.sources) ?? null, sources: taint.sources, refused: false });
    return !this.ended;
  }

  private summary(statements: MysqlStatement[]) {
    return statements.map((s) => ({ kind: s.kind, command: s.command, objects: s.objects }));
  }

  private async onQuery(p: Packet, sqlBytes: Uint8Array): Promise<void> {
    const kill = killStatement(sqlBytes, this.pin.dialect);
    if (kill) return this.onKill(p, kill);
    if (!(await this.refreshCatalog(p, sqlBytes))) return;
    let c: ReturnType<MysqlEngineCore["classify"]>;
    try {
      c = this.classify(sqlBytes);
    } catch (e) {
      this.host.record({ type: "query", sql: "(statement text not valid UTF-8)", statements: [], verdict: "refused", guard: "decode", reason: (e as Error).message });
      return this.refuse(p, "malformed", (e as Error).message);
    }
    if (c.refusal) {
      this.host.record({ type: "query", sql: c.sql, statements: this.summary(c.statements), verdict: "refused", guard: c.guard ?? "pin", reason: c.refusal, ...this.derivedOf(c) });
      return this.refuse(p, "denied", c.refusal);
    }
    const verdict = await this.host.decide(c.statements, c.sql, "query");
    // SHOW WARNINGS / SHOW ERRORS while the diagnostics may hold masked values: every column derived.
    if (!c.taint && (this.diagnosticsTainted || this.echoesUnnamedValues(c.statements)) && namesDiagnosticsList(c.sql, this.pin.dialect)) c.taint = DIAGNOSTICS_TAINT;
    if (this.ended) return;
    if (verdict.effect === "deny") return this.refuse(p, verdict.rateLimited ? "rateLimited" : "denied", verdict.reason);
    if (verdict.effect === "approve") {
      const ok = await this.host.approve(c.sql, c.statements, verdict.reason);
      if (this.ended) return;
      if (!ok) return this.refuse(p, "denied", `not approved: ${verdict.reason}`);
    }
    if (!(await this.recordDerived(c.taint))) return;
    this.forward(p, { kind: "query", statements: c.statements, binary: false, taint: c.taint });
  }

  /**
   * KILL never reaches the server: its thread ids are the server's (other users' connections). The
   * only KILL the gateway serves is `KILL QUERY <id>` of a thread id a listener greeting gave
   * another session of the same identity (Ctrl-C in the mariadb client): that session's statement
   * is cancelled. Any other KILL is refused with MySQL's "Unknown thread id" (1094).
   */
  private async onKill(p: Packet, kill: { query: boolean; threadId: number | null; text: string }): Promise<void> {
    const ok = kill.query && kill.threadId !== null && this.host.killQuery ? await this.host.killQuery(kill.threadId) : false;
    if (this.ended) return;
    this.host.record({ type: "command", command: kill.text, verdict: ok ? "allow" : "refused", ...(ok ? {} : { reason: "KILL of a thread that is not a running query of this identity's gateway sessions" }) });
    if (!ok) {
      this.host.sendToClient(encodePacket((p.lastSeq + 1) & 0xff, encodeErr({ code: 1094, sqlState: "HY000", message: `gatehouse: Unknown thread id: ${kill.threadId ?? "?"} (only KILL QUERY of a connection of this listener's identity is served)` })));
      this.busy = false;
      return;
    }
    this.host.sendToClient(encodePacket((p.lastSeq + 1) & 0xff, encodeOk({ status: SERVER_STATUS.AUTOCOMMIT })));
    this.busy = false;
  }

  /** COM_INIT_DB is `USE db` by another name: decided (and recorded) as that statement. */
  private async onInitDb(p: Packet, database: string): Promise<void> {
    const sql = `USE \`${database.replace(/`/g, "``")}\``;
    const statements = classifyMysql(sql, this.pin.dialect);
    const verdict = await this.host.decide(statements, sql, "query");
    if (this.ended) return;
    if (verdict.effect !== "allow") return this.refuse(p, "denied", verdict.effect === "deny" ? verdict.reason : `COM_INIT_DB cannot be held for approval: ${verdict.reason}`);
    this.forward(p, { kind: "simple" });
  }

  private async onPrepare(p: Packet, sqlBytes: Uint8Array): Promise<void> {
    if (!(await this.refreshCatalog(p, sqlBytes))) return;
    let c: ReturnType<MysqlEngineCore["classify"]>;
    try {
      c = this.classify(sqlBytes);
    } catch (e) {
      this.host.record({ type: "query", sql: "(statement text not valid UTF-8)", statements: [], verdict: "refused", guard: "decode", reason: (e as Error).message });
      return this.refuse(p, "malformed", (e as Error).message);
    }
    if (c.refusal) {
      this.host.record({ type: "prepare", sql: c.sql, verdict: "refused", guard: c.guard ?? "pin", reason: c.refusal, ...this.derivedOf(c) });
      return this.refuse(p, "denied", c.refusal);
    }
    if (c.statements.length !== 1) return this.refuse(p, "denied", "a prepared statement must be exactly one statement");
    // Prepare only parses; the decision applies at every execute, approval with the bound parameters.
    const verdict = await this.host.decide(c.statements, c.sql, "prepare");
    if (this.ended) return;
    if (verdict.effect === "deny") return this.refuse(p, verdict.rateLimited ? "rateLimited" : "denied", verdict.reason);
    if (!(await this.recordDerived(c.taint))) return;
    this.forward(p, { kind: "prepare", sql: c.sql, statements: c.statements, verdict, taint: c.taint });
  }

  private async onExecute(p: Packet, id: number, flags: number): Promise<void> {
    const st = this.prepared.get(id);
    if (!st) return this.refuse(p, "denied", `statement ${id} was not prepared through the gateway`);
    if (flags !== 0) return this.refuse(p, "notSupported", "server-side cursors are not supported through the gateway");
    // The relations may have changed since the prepare (the server re-prepares transparently):
    // read them again and take the taint from the current snapshot.
    const sqlBytes = new TextEncoder().encode(st.sql);
    if (!(await this.refreshCatalog(p, sqlBytes))) return;
    const c = this.classify(sqlBytes);
    if (c.refusal) {
      this.host.record({ type: "query", sql: c.sql, statements: this.summary(c.statements), verdict: "refused", guard: c.guard ?? "pin", reason: c.refusal, ...this.derivedOf(c) });
      return this.refuse(p, "denied", c.refusal);
    }
    st.taint = !c.taint && this.diagnosticsTainted && namesDiagnosticsList(c.sql, this.pin.dialect) ? DIAGNOSTICS_TAINT : c.taint;
    const verdict = await this.host.decide(st.statements, st.sql, "execute");
    if (this.ended) return;
    if (verdict.effect === "deny") return this.refuse(p, verdict.rateLimited ? "rateLimited" : "denied", verdict.reason);
    if (verdict.effect === "approve") {
      // The approval binds the text and these exact parameter bytes (everything after the statement id).
      const ok = await this.host.approve(st.sql, st.statements, verdict.reason, p.payload.subarray(5));
      if (!ok) return this.refuse(p, "denied", `not approved: ${verdict.reason}`);
    }
    if (!(await this.recordDerived(st.taint))) return;
    this.forward(p, { kind: "execute", statements: st.statements, binary: true, columns: st.columns, taint: st.taint });
  }

  // ---------------- server → client ----------------

  onServerData(bytes: Uint8Array): void {
    if (this.ended) return;
    let packets: Packet[];
    try {
      packets = this.serverFramer.push(bytes);
    } catch (e) {
      return this.fatal("malformed", `server: ${(e as Error).message}`, 0);
    }
    for (const p of packets) {
      if (this.ended) return;
      try {
        this.onServerPacket(p);
      } catch (e) {
        return this.fatal("malformed", `server response the gateway cannot decode: ${(e as Error).message}`, (p.lastSeq + 1) & 0xff);
      }
    }
  }

  private toClient(p: Packet, payload = p.payload): void {
    if (this.pending?.kind === "internal") return;
    this.host.sendToClient(encodePacket(p.seq, payload));
  }

  private onServerPacket(p: Packet): void {
    if (this.internal) return this.internal(p);
    const pend = this.pending;
    if (!pend) return this.fatal("malformed", "server sent a packet the client did not ask for", 0);
    const b = p.payload;
    if (pend.kind === "simple") {
      if (!isErr(b) && !(b[0] === 0x00)) return this.fatal("malformed", "unexpected response", (p.lastSeq + 1) & 0xff);
      if (!isErr(b) && !this.checkStatus(decodeOk(b).status)) return;
      this.toClient(p);
      return this.complete();
    }
    if (pend.kind === "prepare") return this.onPrepareResponse(p, pend);
    switch (this.phase) {
      case "head": {
        if (isErr(b)) return this.onError(p, pend.kind === "internal" ? null : (pend.taint ?? (this.echoesUnnamedValues(pend.statements) ? UNNAMED_VALUES_TAINT : null)));
        if (b[0] === 0x00) {
          const ok = decodeOk(b);
          // The OK of a tracked change (`SET sql_mode = 'NO_BACKSLASH_ESCAPES'`, the only statement
          // of its text: SessionPin.check) already carries the new mode's status flag.
          if (pend.kind !== "internal" && pend.statements.length === 1 && pend.statements[0]!.pins) this.pin.apply(pend.statements[0]!);
          if (!this.checkStatus(ok.status)) return;
          this.toClient(p);
          this.recordResult(undefined, ok.affectedRows);
          if (ok.status & SERVER_STATUS.MORE_RESULTS_EXISTS) return; // next result follows
          return this.complete();
        }
        if (isLocalInfileRequest(b)) {
          // The connector never offers LOCAL INFILE; a server asking anyway is not trusted.
          return this.fatal("malformed", "the server asked for a local file", (p.lastSeq + 1) & 0xff);
        }
        this.expectedColumns = decodeColumnCount(b);
        this.columns = [];
        this.sample = [];
        this.phase = "columns";
        this.toClient(p);
        return;
      }
      case "columns": {
        const col = decodeColumnDefinition(b);
        this.columns.push(col);
        this.toClient(p);
        if (this.columns.length === this.expectedColumns) this.phase = this.deprecateEof ? "rows" : "columns-eof";
        return;
      }
      case "columns-eof":
        if (!isEof(b)) return this.fatal("malformed", "expected EOF after column definitions", (p.lastSeq + 1) & 0xff);
        this.toClient(p);
        this.phase = "rows";
        return;
      case "rows": {
        if (isErr(b)) return this.onError(p, pend.kind === "internal" ? null : (pend.taint ?? (this.echoesUnnamedValues(pend.statements) ? UNNAMED_VALUES_TAINT : null)));
        if (b[0] === 0xfe && b.length < 0xffffff) {
          const end = this.deprecateEof ? decodeOk(b) : decodeEof(b);
          const status = end.status;
          if (!this.checkStatus(status)) return;
          this.toClient(p);
          this.recordResult();
          if (status & SERVER_STATUS.MORE_RESULTS_EXISTS) {
            this.phase = "head";
            return;
          }
          return this.complete();
        }
        this.rows++;
        const row = this.maskRow(b, pend.kind === "execute", pend.kind === "internal" ? null : pend.taint);
        if (this.sample.length < SAMPLE_ROWS && this.pending?.kind !== "internal") this.sample.push(sampleRow(row, this.columns, pend.kind === "execute"));
        this.toClient(p, row);
        return;
      }
      default:
        return this.fatal("malformed", `unexpected phase ${this.phase}`, 0);
    }
  }

  /**
   * The server's ERR ends the command. For a statement that read masked data the message may echo
   * a value (`Incorrect integer value: 'ada@…'`, `Duplicate entry '…'`): the code and SQLSTATE
   * are kept, the text is replaced — for the client and the trail alike.
   */
  private onError(p: Packet, statementTaint: Taint | null): void {
    const err = decodeErr(p.payload);
    // A duplicate-key error quotes the whole key, whatever the statement named: `UPDATE customers
    // SET tenant = 1 …` against UNIQUE (tenant, email) answers `Duplicate entry '1-ada@…'`.
    const taint = statementTaint ?? (this.opts.masker?.hasColumnRules && KEY_VALUE_ERRORS.has(err.code) ? KEY_VALUE_TAINT : null);
    if (taint) {
      const out = withheld(err, taint);
      this.host.sendToClient(encodePacket(p.seq, out));
      this.recordResult(decodeErr(out));
    } else {
      this.toClient(p);
      this.recordResult(err);
    }
    return this.complete();
  }

  /** One result (of possibly several in a multi-statement answer) for the trail: masked sample, counts, or the server's error. */
  private recordResult(err?: { code: number; sqlState: string; message: string }, affectedRows?: number): void {
    if (this.pending?.kind === "internal") return;
    const columns = this.columns.length && !err && affectedRows === undefined ? this.columns.map((c) => c.name) : undefined;
    this.host.record({ type: "result", rows: this.rows, masked: this.masked, ...(columns ? { columns, sample: this.sample } : {}), ...(affectedRows !== undefined ? { affectedRows } : {}), ...(err ? { error: err } : {}) });
    this.rows = 0;
    this.masked = 0;
    this.columns = [];
    this.sample = [];
  }

  private maskRow(row: Uint8Array, binary: boolean, taint: Taint | null): Uint8Array {
    const m = this.opts.masker;
    if (!m || !m.touches(this.columns, taint, binary)) return row;
    if (binary) {
      const cells = decodeBinaryRow(row, this.columns.map((c) => c.type));
      const { cells: out, changed } = m.mask(this.columns, cells, taint, true);
      this.masked += changed;
      return changed ? encodeBinaryRow(out) : row;
    }
    const cells = decodeTextRow(row, this.columns.length);
    const { cells: out, changed } = m.mask(this.columns, cells, taint, false);
    this.masked += changed;
    return changed ? encodeTextRow(out) : row;
  }

  private onPrepareResponse(p: Packet, pend: Extract<Pending, { kind: "prepare" }>): void {
    const b = p.payload;
    if (this.phase === "head") {
      if (isErr(b)) {
        if (pend.taint) {
          this.diagnosticsTainted = true;
          this.host.sendToClient(encodePacket(p.seq, withheld(decodeErr(b), pend.taint)));
        } else this.toClient(p);
        return this.complete();
      }
      this.prepareOk = decodePrepareOk(b);
      this.columns = [];
      this.prepareParamsLeft = this.prepareOk.params;
      this.prepared.set(this.prepareOk.statementId, { sql: pend.sql, statements: pend.statements, columns: [], params: this.prepareOk.params, approved: false, verdict: pend.verdict, taint: pend.taint });
      this.toClient(p);
      this.phase = this.prepareOk.params ? "prepare-params" : this.prepareOk.columns ? "prepare-columns" : "head";
      if (this.phase === "head") return this.complete();
      return;
    }
    const ok = this.prepareOk!;
    const st = this.prepared.get(ok.statementId)!;
    this.toClient(p);
    switch (this.phase) {
      case "prepare-params":
        decodeColumnDefinition(b);
        if (--this.prepareParamsLeft === 0) this.phase = this.deprecateEof ? (ok.columns ? "prepare-columns" : "head") : "prepare-params-eof";
        break;
      case "prepare-params-eof":
        if (!isEof(b)) throw new MysqlCodecError("malformed", "expected EOF after parameter definitions");
        this.phase = ok.columns ? "prepare-columns" : "head";
        break;
      case "prepare-columns":
        st.columns.push(decodeColumnDefinition(b));
        if (st.columns.length === ok.columns) this.phase = this.deprecateEof ? "head" : "prepare-columns-eof";
        break;
      case "prepare-columns-eof":
        if (!isEof(b)) throw new MysqlCodecError("malformed", "expected EOF after column definitions");
        this.phase = "head";
        break;
    }
    if (this.phase === "head") this.complete();
  }

  private checkStatus(status: number): boolean {
    const why = this.pin.confirmStatus(status);
    if (why) {
      this.fatal("malformed", `session state desynchronised: ${why}`, 0);
      return false;
    }
    return true;
  }

  /** The response to the current command is complete: apply tracked settings, re-read unknown ones, take the next command. */
  private complete(): void {
    const pend = this.pending;
    this.pending = null;
    this.phase = "head";
    if (pend && (pend.kind === "query" || pend.kind === "execute")) {
      if (pend.taint || this.echoesUnnamedValues(pend.statements)) this.diagnosticsTainted = true;
      for (const s of pend.statements) this.pin.apply(s);
      this.pin.markUnconfirmed(pend.statements);
    }
    if (pend && (pend.kind === "query" || pend.kind === "execute") && pend.statements.some((s) => s.kind === "ddl")) this.catalogRead = false;
    if (!this.pin.confirmed && pend?.kind !== "internal") return this.reconfirm();
    this.busy = false;
    void this.drain();
  }

  /**
   * Keep the relations masking relies on current before a statement runs (catalog.ts): the whole
   * catalog before the first statement and after DDL; then, for every statement, the relations
   * named like any of its identifiers (one targeted query), and the whole catalog again when a view
   * is among them (a view over a view another session replaced). Another session's DDL between
   * this read and the statement's execution is the remaining race (docs/MYSQL.md). False when the
   * statement was refused (the catalog cannot be read: fail closed).
   */
  private async refreshCatalog(p: Packet, sqlBytes: Uint8Array): Promise<boolean> {
    const m = this.opts.masker;
    if (!m?.hasColumnRules) return true;
    let sql: string;
    try {
      sql = utf8TextStrict(sqlBytes);
    } catch {
      return true; // classify() refuses it
    }
    try {
      let full = !this.catalogRead;
      const names = full ? null : namedIdentifiers(sql, this.pin.dialect);
      if (names && names.size > MAX_TARGETED_NAMES) full = true;
      if (!full && names && names.size) {
        const list = [...names];
        const viewBefore = list.some((n) => this.catalog.isViewName(n));
        const rows = relationsFromRows(await this.internalQuery(catalogQueryFor(list), 4));
        if (this.ended) return false;
        this.catalog.replaceNames(list, rows);
        if (viewBefore || rows.some((r) => r.type === "VIEW")) full = true;
        else m.setCatalog(this.catalog, this.pin.dialect);
      }
      if (full) {
        this.catalog.replaceAll(relationsFromRows(await this.internalQuery(CATALOG_QUERY, 4)));
        if (this.ended) return false;
        this.catalogRead = true;
        m.setCatalog(this.catalog, this.pin.dialect);
      }
      return true;
    } catch (e) {
      if (this.ended) return false;
      this.refuse(p, "denied", `cannot read the relations masking needs (information_schema): ${(e as Error).message}`);
      return false;
    }
  }

  /** Run the gateway's own query (text protocol); its answer never reaches the client. */
  private internalQuery(sql: string, width: number): Promise<(string | null)[][]> {
    return new Promise((resolve, reject) => {
      const rows: (string | null)[][] = [];
      let phase: "head" | "cols" | "eof" | "rows" = "head";
      let cols = 0;
      this.internal = (p: Packet) => {
        const b = p.payload;
        if (isErr(b)) {
          this.internal = null;
          return reject(new Error(decodeErr(b).message));
        }
        if (phase === "head") {
          cols = decodeColumnCount(b);
          if (cols !== width) {
            this.internal = null;
            return this.fatal("malformed", `the gateway's own query got ${cols} columns, not ${width}`, 1);
          }
          phase = "cols";
          return;
        }
        if (phase === "cols") {
          if (--cols <= 0) phase = this.deprecateEof ? "rows" : "eof";
          return;
        }
        if (phase === "eof") {
          phase = "rows";
          return;
        }
        if (b[0] === 0xfe && b.length < 0xffffff) {
          const end = this.deprecateEof ? decodeOk(b) : decodeEof(b);
          const status = end.status;
          this.internal = null;
          if (!this.checkStatus(status)) return;
          // It read information_schema tables: the server's diagnostics list is now its own (empty).
          if (end.warnings === 0) this.diagnosticsTainted = false;
          return resolve(rows);
        }
        rows.push(decodeTextRow(b, width).map((c) => (c === null ? null : utf8Text(c))));
      };
      this.host.sendToServer(encodePacket(0, encodeQuery(sql)));
    });
  }

  /** Re-read pinned settings with the gateway's own query; the client's next command waits. */
  private reconfirm(): void {
    this.pending = { kind: "internal" };
    this.internalRows = [];
    const original = this.onServerPacket.bind(this);
    // A small dedicated parser for the one-row answer.
    let phase: "head" | "cols" | "eof" | "rows" = "head";
    let cols = 0;
    this.onServerPacket = (p: Packet) => {
      const b = p.payload;
      if (phase === "head") {
        if (isErr(b)) return this.fatal("malformed", `cannot re-read session settings: ${decodeErr(b).message}`, 1);
        cols = decodeColumnCount(b);
        phase = "cols";
        return;
      }
      if (phase === "cols") {
        if (--cols === 0 || (cols < 0)) phase = this.deprecateEof ? "rows" : "eof";
        return;
      }
      if (phase === "eof") {
        phase = "rows";
        return;
      }
      if (b[0] === 0xfe && b.length < 0xffffff) {
        this.onServerPacket = original;
        const row = this.internalRows[0];
        let why = row ? this.pin.confirm({ sqlMode: row[0] ?? "", charsetClient: row[1] ?? "", charsetResults: row[2] ?? "", charsetConnection: row[3] ?? "" }) : "no answer";
        for (const [i, extra] of extras.entries()) why ||= extra.lifted(row?.[4 + i] ?? null);
        if (why) return this.fatal("denied", `session settings changed behind the gateway: ${why}`, 1);
        this.pending = null;
        this.busy = false;
        void this.drain();
        return;
      }
      this.internalRows.push(decodeTextRow(b, 4 + extras.length).map((c) => (c === null ? null : utf8Text(c))));
    };
    const extras = this.pinnedLimits();
    this.host.sendToServer(encodePacket(0, encodeQuery(`SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.character_set_results, @@SESSION.character_set_connection${extras.map((e) => `, ${e.column}`).join("")}`)));
  }

  /**
   * The session limits the connector set for the policy, re-read with the pinned settings after a
   * statement the gateway could not follow (dynamic SQL, a procedure): `lifted` says why the value
   * read no longer holds them. Statements that name them are refused up front (liftsReadOnly,
   * changesStatementTimeout); this catches `PREPARE s FROM CONCAT('SET max_statement', '_time = 0')`.
   */
  private pinnedLimits(): { column: string; lifted: (value: string | null) => string | null }[] {
    const mysql = this.pin.dialect.flavor === "mysql";
    const out: { column: string; lifted: (value: string | null) => string | null }[] = [];
    // MariaDB names the session's access mode tx_read_only (transaction_read_only from 11.1), MySQL 8 transaction_read_only.
    if (this.opts.readOnly) out.push({ column: mysql ? "@@SESSION.transaction_read_only" : "@@SESSION.tx_read_only", lifted: (v) => (v === "1" ? null : "the read-only transaction mode of a read-level session was lifted") });
    const limitMs = this.opts.statementTimeoutMs;
    if (limitMs) {
      // MariaDB: seconds (0: none); MySQL: milliseconds (0: none). A lower limit still holds the policy's.
      const ms = (v: string | null) => (v === null ? Number.NaN : mysql ? Number(v) : Number(v) * 1000);
      out.push({
        column: mysql ? "@@SESSION.max_execution_time" : "@@SESSION.max_statement_time",
        lifted: (v) => (ms(v) > 0 && ms(v) <= limitMs + 1 ? null : "the policy's statement timeout was lifted"),
      });
    }
    return out;
  }

  /** Tell the client (ERR with the next sequence id) and end the session. */
  private fatal(kind: "malformed" | "tooLarge" | "denied", message: string, seq: number): void {
    if (this.ended) return;
    this.ended = true;
    this.host.sendToClient(encodePacket(seq, refusal(kind, message)));
    this.host.end(message);
  }
}

const WRITE_KINDS = new Set(["write", "ddl", "privilege", "copy_external"]);

/**
 * Server errors whose text quotes a unique key's values (MariaDB/MySQL): 1062 ER_DUP_ENTRY, 1586
 * ER_DUP_ENTRY_WITH_KEY_NAME, 1557 ER_FOREIGN_DUPLICATE_KEY, 1761/1762 ER_FOREIGN_DUPLICATE_KEY_WITH(OUT)_CHILD_INFO.
 * A key may hold a masked column next to the ones a statement names, so under column rules their text is withheld.
 */
const KEY_VALUE_ERRORS = new Set([1062, 1586, 1557, 1761, 1762]);
const KEY_VALUE_TAINT: Taint = { plain: false, sources: ["a unique key's values, which may hold a masked column"], maskedView: false, assigns: false, predicate: null };
/**
 * An ERR answering a write or a `*` expansion under column rules: the server may quote values the
 * statement does not name — a DBA's stored `e_st INT AS (CAST(email AS SIGNED))` made `UPDATE
 * customers SET name = 'x' WHERE id = 1` fail with `Truncated incorrect INTEGER value: 'ada@…'`
 * (ERR 1292, measured) — so its text is withheld, code and SQLSTATE kept.
 */
const UNNAMED_VALUES_TAINT: Taint = { plain: false, sources: ["a write or * expansion, whose errors may quote columns it does not name"], maskedView: false, assigns: false, predicate: null };
/** Results of SHOW WARNINGS / SHOW ERRORS while the diagnostics may hold masked values: every column derived. */
const DIAGNOSTICS_TAINT: Taint = { plain: false, sources: ["diagnostics of a statement that read masked data"], maskedView: false, assigns: false, predicate: null };

/** The server's error with its text withheld (code and SQLSTATE kept). */
function withheld(err: { code: number; sqlState: string; message: string }, taint: Taint): Uint8Array {
  return encodeErr({ code: err.code, sqlState: err.sqlState, message: `gatehouse: the server's message for error ${err.code} is withheld: the statement reads masked data (${taint.sources.join(", ")})` });
}

function wordsOf(sql: string, dialect: Parameters<typeof lex>[1]) {
  try {
    return lex(sql, dialect);
  } catch {
    return null;
  }
}

/**
 * A KILL statement (`KILL [HARD | SOFT] [QUERY | CONNECTION] <id>`, any KILL at all when it is one
 * of several statements or has another shape), or null when the text does not start with KILL.
 */
function killStatement(sqlBytes: Uint8Array, dialect: Parameters<typeof lex>[1]): { query: boolean; threadId: number | null; text: string } | null {
  let sql: string;
  try {
    sql = utf8TextStrict(sqlBytes);
  } catch {
    return null;
  }
  const toks = wordsOf(sql, dialect);
  if (!toks || !toks.some((t) => t.type === "word" && t.text === "KILL")) return null;
  const words = toks.filter((t, i) => !(t.type === "semicolon" && i === toks.length - 1));
  let i = 0;
  if (words[i]?.type !== "word" || words[i]!.text !== "KILL") return { query: false, threadId: null, text: "KILL" };
  i++;
  if (words[i]?.type === "word" && (words[i]!.text === "HARD" || words[i]!.text === "SOFT")) i++;
  let query = false;
  if (words[i]?.type === "word" && words[i]!.text === "QUERY") {
    query = true;
    i++;
  } else if (words[i]?.type === "word" && words[i]!.text === "CONNECTION") i++;
  const n = words[i];
  const id = n?.type === "number" && /^[0-9]{1,10}$/.test(n.text) ? Number(n.text) : null;
  const whole = i === words.length - 1 && id !== null && id < 2 ** 31;
  return { query: query && whole, threadId: whole ? id : null, text: query ? "KILL QUERY" : "KILL" };
}

/** Whether a statement selects INTO or assigns with `:=` (unlexable text: yes, fail closed). */
function assignsVariable(sql: string, dialect: Parameters<typeof lex>[1]): boolean {
  const toks = wordsOf(sql, dialect);
  return toks === null || toks.some((t) => (t.type === "word" && t.text === "INTO") || (t.type === "op" && t.text === ":="));
}

/**
 * Whether a statement of the text selects a `*` expansion INTO something (variables, local
 * variables, a file): `INTO` not after INSERT/REPLACE and its modifiers, with a `*` in the same
 * statement. Text that cannot be lexed counts.
 */
function selectsStarInto(toks: readonly Token[] | null): boolean {
  if (toks === null) return true;
  let piece: Token[] = [];
  for (const t of [...toks, null]) {
    if (t && t.type !== "semicolon") {
      piece.push(t);
      continue;
    }
    const into = piece.some((x, i) => x.type === "word" && x.text === "INTO" && !(i > 0 && piece[i - 1]!.type === "word" && ["INSERT", "REPLACE", "IGNORE", "LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY"].includes(piece[i - 1]!.text)));
    if (into && expandsEveryColumn(piece)) return true;
    piece = [];
  }
  return false;
}

/**
 * Why a statement of the text would lift a read-level session's read-only mode, or null: a READ
 * WRITE access mode (`START TRANSACTION READ WRITE`, `SET [SESSION] TRANSACTION … READ WRITE`),
 * or an assignment to the access-mode variable (`SET tx_read_only = 0`, `@@SESSION.transaction_read_only`,
 * `SET STATEMENT tx_read_only = 0 FOR …`). Text that cannot be lexed counts.
 */
function liftsReadOnly(toks: readonly Token[] | null): string | null {
  if (toks === null) return "statement text the gateway cannot lex in a read-only session";
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.type === "word" && t.text === "READ" && toks[i + 1]?.type === "word" && toks[i + 1]!.text === "WRITE") return "READ WRITE transactions are refused: the read-only mode of a read-level session is pinned";
    const name = assignedSetting(toks, i);
    if (name !== null && /^(tx|transaction)_read_only$/.test(name)) return `SET ${name} is refused: the read-only mode of a read-level session is pinned`;
  }
  return null;
}

/**
 * Why a statement of the text would change the server-side statement timeout the connector set
 * for the policy's limit (`SET [SESSION] max_statement_time = 0`, `@@max_execution_time`, `SET
 * STATEMENT max_statement_time = 0 FOR …`), or null. Text that cannot be lexed counts.
 */
function changesStatementTimeout(toks: readonly Token[] | null): string | null {
  if (toks === null) return "statement text the gateway cannot lex in a session with a statement timeout";
  for (let i = 0; i < toks.length; i++) {
    const name = assignedSetting(toks, i);
    if (name !== null && /^max_(statement|execution)_time$/.test(name)) return `SET ${name} is refused: the policy's statement timeout is pinned`;
  }
  return null;
}

/** An optimizer hint `SET_VAR(transaction_read_only = 0)` (MySQL 8): the read-only mode for one statement. */
function hintLiftsReadOnly(statements: readonly MysqlStatement[]): string | null {
  const v = statements.flatMap((s) => s.hints?.setVars ?? []).find((x) => /^(tx|transaction)_read_only$/.test(x.name));
  return v ? `the optimizer hint SET_VAR(${v.name}) is refused: the read-only mode of a read-level session is pinned` : null;
}

/**
 * Optimizer hints that replace the policy's statement timeout for one statement (MySQL 8; MariaDB
 * 12 has MAX_EXECUTION_TIME): `SET_VAR(max_execution_time = 0)`, and `MAX_EXECUTION_TIME(N)` above
 * the limit (N ms; 0 keeps the session's limit, a lower one is kept).
 */
function hintChangesTimeout(statements: readonly MysqlStatement[], limitMs: number): string | null {
  const hints = statements.flatMap((s) => (s.hints ? [s.hints] : []));
  const v = hints.flatMap((h) => h.setVars).find((x) => /^max_(statement|execution)_time$/.test(x.name));
  if (v) return `the optimizer hint SET_VAR(${v.name}) is refused: the policy's statement timeout is pinned`;
  const n = hints.flatMap((h) => h.maxExecutionTime).find((ms) => ms === null || ms > limitMs);
  return n === undefined ? null : `the optimizer hint MAX_EXECUTION_TIME(${n ?? "…"}) is refused: the policy's statement timeout is pinned (${limitMs} ms)`;
}

/**
 * The setting token `i` assigns (lower case, without `@@`, `@@session.` …), when an `=` or `:=`
 * follows it: `SET tx_read_only = 0`, `@@SESSION.max_statement_time := 0`, `SET STATEMENT x = 1 FOR`.
 */
function assignedSetting(toks: readonly Token[], i: number): string | null {
  const t = toks[i]!;
  const next = toks[i + 1];
  if (next?.type !== "op" || (next.text !== "=" && next.text !== ":=")) return null;
  if (t.type === "variable") return t.value.replace(/^@@((global|session|local)\.)?/i, "").toLowerCase();
  return t.type === "word" || t.type === "ident" ? t.value.toLowerCase() : null;
}

/** Whether the tokens hold this (upper-case) word outside strings and comments; true when the text could not be lexed (null: fail closed). */
function hasWordIn(toks: readonly Token[] | null, word: string): boolean {
  return toks === null || toks.some((t) => t.type === "word" && t.text === word);
}

/** Whether the text names the diagnostics list (SHOW WARNINGS / SHOW ERRORS …): lexed once for both words. */
function namesDiagnosticsList(sql: string, dialect: Parameters<typeof lex>[1]): boolean {
  const toks = wordsOf(sql, dialect);
  return hasWordIn(toks, "WARNINGS") || hasWordIn(toks, "ERRORS");
}

/** A `*` that expands to every column (starExpandsAt) or MySQL 8's `TABLE t`; text that cannot be lexed counts. */
function expandsEveryColumnOrUnlexable(toks: readonly Token[] | null): boolean {
  return toks === null || expandsEveryColumn(toks);
}

const SAMPLE_ROWS = 20;

/** A (masked) row as display strings for the trail; binary cells of non-string types as hex. */
function sampleRow(row: Uint8Array, columns: ColumnDefinition[], binary: boolean): (string | null)[] {
  if (!binary) return decodeTextRow(row, columns.length).map((c) => (c === null ? null : utf8Text(c)));
  return decodeBinaryRow(row, columns.map((c) => c.type)).map((c, i) => {
    if (c === null) return null;
    if (isStringType(columns[i].type)) return utf8Text(binaryCellString(c));
    return `0x${Array.from(c, (x) => x.toString(16).padStart(2, "0")).join("")}`;
  });
}

export { COM };
