/**
 * Taint masking for one PostgreSQL session (docs/MASKING.md, "Derived values"). Glue between the
 * engine, the lexical analysis (parsers/masking/taint/analyze.ts), the session's catalogue and the
 * WASM masker:
 *
 *  - before the client's first statement, the catalogue is read (catalogQuery, answers swallowed);
 *  - each statement is analysed before it is forwarded (refusals: writes or sinks fed with masked
 *    data, `predicates: refuse`);
 *  - each RowDescription gets per-column verdicts: a plain reference to a base-table column keeps
 *    (or gains, through an alias) that column's own rule; a column of a view or of a relation the
 *    catalogue does not know, and a computed column of a tainted statement, get the derived rule
 *    (redacted / NULL);
 *  - binary container values (arrays, records, ranges, domains, enums) of the current plan are
 *    decoded, scanned and re-encoded after the WASM masker (parsers/masking/binary-values.ts);
 *  - while a tainted statement runs, error/notice texts, notification payloads and free-text
 *    settings are replaced (they may echo a masked value in any form).
 */
import { analyzeTaint, type Taint, type TaintVerdict } from "../../../parsers/masking/taint/analyze.ts";
import { buildCatalog, catalogQuery, type SessionCatalog } from "../../../parsers/masking/taint/catalog.ts";
import { decodeDataRow, type ColumnDescription } from "../../../protocols/postgres/codec/results.ts";
import { concat, cstring, message } from "../../../protocols/postgres/codec/codec.ts";
import { DERIVED_RULE, type PgMasker } from "../../../wasm/loader/mask.ts";
import type { MaskingConfig } from "../../../parsers/masking/config.ts";
import { maskBinaryValue, needsBinaryPass } from "../../../parsers/masking/binary-values.ts";

export { catalogQuery };
export type { Taint };

/** Messages that end the masker's row plan (PortalSuspended keeps it); a RowDescription starts a new one. */
const PLAN_ENDS = new Set([0x43, 0x49, 0x6e, 0x32, 0x45, 0x5a, 0x54]);

/** Reported settings whose values are from a fixed vocabulary (cannot carry a masked value). */
const FIXED_SETTINGS = new Set([
  "client_encoding", "server_encoding", "datestyle", "intervalstyle", "integer_datetimes", "standard_conforming_strings",
  "is_superuser", "server_version", "in_hot_standby", "default_transaction_read_only", "scram_iterations",
]);
/** Error fields kept while a tainted statement runs: severity, SQLSTATE, position, source location. */
const KEPT_ERROR_FIELDS = new Set(["S", "V", "C", "P", "F", "L", "R"]);
const REDACTED = "[REDACTED]";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class SessionTaint {
  private catalog: SessionCatalog | null = null;
  private readonly catalogRows: Array<Array<string | null>> = [];
  readonly refusePredicates: boolean;
  private readonly detectors: boolean;
  private readonly columnRules: boolean;
  /** A tainted statement ran code the gateway cannot see (DO, CALL, a function, a view…) in this session. */
  opaqueRan = false;
  /** A tainted statement may have declared a WITH HOLD cursor: a COMMIT runs its query (its errors are tainted). */
  private holdCursors = false;
  /** Binary container columns of the current plan (decoded and scanned here; the WASM masker passes them). */
  private binaryPass: Array<{ k: number; oid: number }> | null = null;
  private planColumns = 0;
  /** The verdicts of the last untainted plan, for the same columns again (planFor). */
  private lastPlan: { columns: readonly ColumnDescription[]; catalog: SessionCatalog | null; rules: number[] | null; binaryPass: Array<{ k: number; oid: number }> | null } | null = null;

  constructor(
    private readonly masker: PgMasker,
    config: Pick<MaskingConfig, "rules">,
  ) {
    this.refusePredicates = config.rules.some((r) => r.mask?.predicates === "refuse");
    // Without column rules nothing is masked by column, so nothing can be derived from one; the
    // catalogue is still read for the binary-container pass of the detectors.
    this.columnRules = config.rules.some((r) => (r.columns?.length ?? 0) > 0);
    this.detectors = config.rules.some((r) => (r.detectors?.length ?? 0) > 0 || (r.patterns?.length ?? 0) > 0);
  }

  /** Functions outside pg_catalog the catalogue knew, plus those created in this session (undefined until it is read). */
  get userFunctions(): ReadonlySet<string> | undefined {
    return this.catalog?.userFunctions;
  }

  /** Whether any rule masks by column (values are then masked whole, by their column). */
  get hasColumnRules(): boolean {
    return this.columnRules;
  }

  /** Feed one backend message answering the catalogue query. Returns true once ReadyForQuery arrived. */
  catalogMessage(type: number, body: Uint8Array): boolean {
    if (type === 0x44) this.catalogRows.push(decodeDataRow(body, undefined, 1 << 20));
    else if (type === 0x45) throw new Error(`the catalogue query failed: ${decoder.decode(body).replace(/\0/g, " ").trim()}`);
    else if (type === 0x5a) {
      this.catalog = buildCatalog(this.catalogRows, (c, t) => this.masker.ruleFor(c, t));
      this.catalogRows.length = 0;
      return true;
    }
    return false;
  }

  analyze(sql: string, kinds: readonly string[], standardConformingStrings: boolean): TaintVerdict {
    if (!this.columnRules) return { taint: null, refusal: null };
    if (!this.catalog) return { taint: { rule: 0, sources: ["catalogue not read"] }, refusal: null };
    const verdict = analyzeTaint(sql, this.catalog, { standardConformingStrings, kinds, refusePredicates: this.refusePredicates, settingsTainted: this.opaqueRan, holdCursors: this.holdCursors });
    if (verdict.taint && !verdict.refusal && verdict.holdCursor) this.holdCursors = true;
    // Code the gateway cannot see into (a DO body, a function, a prepared statement) may have put
    // a masked value into a setting or a pending notification; from now on, reading settings is a
    // derived read and notification payloads are masked (worker engine).
    if (verdict.taint && !verdict.refusal && verdict.taint.sources.some((s) => OPAQUE_SOURCE.test(s))) this.opaqueRan = true;
    // A function created (or renamed) in this session is a user function like those in the catalogue.
    if (!verdict.refusal) for (const name of verdict.defines ?? []) (this.catalog.userFunctions as Set<string>).add(name);
    return verdict;
  }

  /**
   * Per-column verdicts for a RowDescription's columns (see overridePlan); null: nothing to change.
   * Without a taint the verdicts depend only on the columns and the catalogue (read once per
   * session), so the same columns (RowDescriptionMemo hands back the same array for the same bytes)
   * get the previous verdicts without asking the masker's globs again.
   */
  planFor(columns: readonly ColumnDescription[], taint: Taint | null): number[] | null {
    const last = this.lastPlan;
    if (taint === null && last !== null && last.columns === columns && last.catalog === this.catalog) {
      this.binaryPass = last.binaryPass;
      this.planColumns = columns.length;
      return last.rules;
    }
    const rules = columns.map((c) => this.columnRule(c, taint));
    // columns no rule claims (a rule nulls an opaque binary value in the masker)
    const pass = columns.flatMap((c, k) => (rules[k] === KEEP && this.binaryContainer(c) && this.masker.ruleFor(c.name) < 0 ? [{ k, oid: c.typeOid }] : []));
    this.binaryPass = pass.length > 0 ? pass : null;
    this.planColumns = columns.length;
    const verdicts = rules.some((r) => r !== KEEP) ? rules : null;
    this.lastPlan = taint === null ? { columns, catalog: this.catalog, rules: verdicts, binaryPass: this.binaryPass } : null;
    return verdicts;
  }

  /**
   * Masker output → the same with binary container values of the current plan decoded, scanned
   * and re-encoded (parsers/masking/binary-values.ts). The plan ends where the masker's does.
   */
  /** Whether postProcess() may rewrite rows now (it then calls the masker's maskText). */
  get rewritesRows(): boolean {
    return this.binaryPass !== null;
  }

  postProcess(out: Uint8Array): Uint8Array {
    if (!this.binaryPass) return out;
    const parts: Uint8Array[] = [];
    let copied = 0;
    let off = 0;
    while (off + 5 <= out.length) {
      const type = out[off]!;
      const end = off + 1 + new DataView(out.buffer, out.byteOffset + off + 1, 4).getInt32(0);
      if (type === 0x44 && this.binaryPass) {
        const row = this.maskRow(out.subarray(off + 5, end));
        if (row) {
          parts.push(out.subarray(copied, off), message("D", row));
          copied = end;
        }
      } else if (PLAN_ENDS.has(type)) this.binaryPass = null;
      off = end;
    }
    if (copied === 0) return out;
    parts.push(out.subarray(copied));
    return concat(parts);
  }

  private maskRow(body: Uint8Array): Uint8Array | null {
    const dv = new DataView(body.buffer, body.byteOffset, body.length);
    const n = dv.getInt16(0);
    if (n !== this.planColumns) return null; // unknown shape: the masker already nulled it
    const targets = new Map(this.binaryPass!.map((p) => [p.k, p.oid]));
    const fields: Array<Uint8Array | null> = [];
    let off = 2;
    let changed = false;
    for (let k = 0; k < n; k++) {
      const len = dv.getInt32(off);
      off += 4;
      if (len < 0) {
        fields.push(null);
        continue;
      }
      const value = body.subarray(off, off + len);
      off += len;
      const oid = targets.get(k);
      const masked = oid === undefined ? value : maskBinaryValue(oid, value, (t) => this.catalog?.type(t), (text) => this.masker.maskText(text));
      if (masked !== value) changed = true;
      fields.push(masked);
    }
    if (!changed) return null;
    const parts: Uint8Array[] = [body.subarray(0, 2)];
    for (const f of fields) {
      const len = new Uint8Array(4);
      new DataView(len.buffer).setInt32(0, f === null ? -1 : f.length);
      parts.push(len);
      if (f) parts.push(f);
    }
    return concat(parts);
  }

  private binaryContainer(c: ColumnDescription): boolean {
    return c.format === 1 && this.detectors && needsBinaryPass(c.typeOid, (t) => this.catalog?.type(t));
  }

  /** Rules for the fields of a COPY … TO STDOUT: from its probed shape, else by what it is. */
  copyRules(shape: ColumnDescription[] | undefined, columnCount: number, queryForm: boolean, taint: Taint | null, binary = false): number[] | undefined {
    // Binary COPY fields are scanned as raw bytes by the masker: exact for text types; a
    // container's length words could hide a token start, so containers are NULL there.
    if (shape) return shape.map((c) => (binary && this.binaryContainer({ ...c, format: 1 }) && this.masker.ruleFor(c.name) < 0 ? DERIVED_RULE : this.columnRule(c, taint)));
    if (taint && !taint.messagesOnly && queryForm) return new Array<number>(columnCount).fill(DERIVED_RULE);
    return undefined;
  }

  private columnRule(c: ColumnDescription, taint: Taint | null): number {
    if (!this.columnRules) return KEEP;
    const catalog = this.catalog;
    if (catalog && c.tableOid !== 0 && c.columnIndex > 0 && catalog.isBaseTable(c.tableOid)) {
      // A stored column, maybe renamed by an alias: its own rule applies.
      const rel = catalog.relations.get(c.tableOid)!;
      const real = rel.columns.get(c.columnIndex);
      const rule = real === undefined ? DERIVED_RULE : this.masker.ruleFor(real, `${rel.schema}.${rel.name}`);
      if (rule >= 0) return rule;
      // A generated column computed from a masked one (catalog.ts): derived.
      if (catalog.isMaskedGenerated(c.tableOid, c.columnIndex)) return DERIVED_RULE;
      return KEEP;
    }
    if (!catalog || (c.tableOid !== 0 && catalog.isOpaqueRelation(c.tableOid)) || (taint && !taint.messagesOnly)) return DERIVED_RULE;
    return KEEP;
  }

  /** ErrorResponse/NoticeResponse body with every free-text and name field replaced. */
  maskedErrorBody(body: Uint8Array): Uint8Array {
    const parts: Uint8Array[] = [];
    let off = 0;
    while (off < body.length && body[off] !== 0) {
      const code = String.fromCharCode(body[off]!);
      const z = body.indexOf(0, off + 1);
      if (z < 0) break;
      const value = KEPT_ERROR_FIELDS.has(code) ? body.subarray(off + 1, z) : encoder.encode(code === "M" ? `${REDACTED} (gatehouse: message of a statement reading masked data)` : REDACTED);
      parts.push(new Uint8Array([body[off]!]), value, new Uint8Array([0]));
      off = z + 1;
    }
    parts.push(new Uint8Array([0]));
    return concat(parts);
  }

  /**
   * A NotificationResponse sent by another session (its process ID is not this session's
   * backend's): a trigger's `pg_notify('changes', row_to_json(NEW)::text)` in the application puts
   * any column of any row in the payload, and nothing tells which. With column rules it is
   * replaced whole, as rows of unknown shape are NULLed (fail closed); also before the catalogue
   * gave the backend's process ID.
   */
  foreignNotification(body: Uint8Array): boolean {
    if (!this.columnRules) return false;
    const pid = body.length >= 4 ? new DataView(body.buffer, body.byteOffset, 4).getInt32(0) : -1;
    return this.catalog?.backendPid === undefined || pid !== this.catalog.backendPid;
  }

  /**
   * An ErrorResponse/NoticeResponse raised inside a function (its context field names one:
   * `PL/pgSQL function f() line 3 at RAISE`, `SQL function "f" statement 1`): code the statement
   * does not show — a trigger, a row-level-security policy's function, a user type's cast — may
   * read a masked column and put it in the text (`raise notice '%', (select api_token …)`, a failed
   * cast of it) while the statement itself names nothing masked. With column rules its text is
   * replaced like that of a tainted statement (SQLSTATE kept); the statement's own errors keep theirs.
   */
  raisedInFunction(body: Uint8Array): boolean {
    if (!this.columnRules) return false;
    let off = 0;
    while (off < body.length && body[off] !== 0) {
      const z = body.indexOf(0, off + 1);
      if (z < 0) return true; // malformed: fail closed
      if (body[off] === 0x57 /* W */ && /\bfunction\b/i.test(decoder.decode(body.subarray(off + 1, z)))) return true;
      off = z + 1;
    }
    return false;
  }

  /** NotificationResponse body with its payload replaced (pid and channel kept). */
  maskedNotificationBody(body: Uint8Array): Uint8Array {
    const z = body.indexOf(0, 4);
    if (z < 0) return body;
    return concat([body.subarray(0, z + 1), cstring(REDACTED)]);
  }

  /** ParameterStatus body: free-text settings (application_name…) replaced; fixed vocabularies kept. */
  maskedParameterStatusBody(body: Uint8Array): Uint8Array {
    const z = body.indexOf(0);
    if (z < 0) return body;
    const name = decoder.decode(body.subarray(0, z));
    if (FIXED_SETTINGS.has(name.toLowerCase())) return body;
    return concat([body.subarray(0, z + 1), cstring(REDACTED)]);
  }
}

const OPAQUE_SOURCE = /^(?:DO|CALL|EXECUTE|FETCH|MOVE) statement|^function |^view |^unreadable SQL/;

/** Commands that make, drop or replace prepared statements and portals by name. */
const NAMING_COMMANDS = /^(?:PREPARE|DECLARE|DEALLOCATE|DISCARD|CLOSE|DO|CALL|EXECUTE)\b/;

/**
 * May this statement (or code it runs) create, drop or replace a prepared statement or portal
 * under a name the protocol uses (SQL PREPARE/DECLARE, a function opening a named cursor)? Then
 * the protocol-level taints of names can no longer be trusted (see ResponseOrder).
 */
export function mayRenameProtocolNames(commands: readonly string[], taint: Taint | null | undefined): boolean {
  return commands.some((c) => NAMING_COMMANDS.test(c) && !c.startsWith("PREPARE TRANSACTION")) || (taint?.sources.some((s) => OPAQUE_SOURCE.test(s)) ?? false);
}

/** overridePlan: keep the rule the masker found by name. */
const KEEP = -2;
