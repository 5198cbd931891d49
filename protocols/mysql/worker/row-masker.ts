/**
 * Masking of MySQL resultsets (text and binary protocol) with the very masker PostgreSQL uses (the
 * WASM masker of wasm/loader/mask.ts, from the same `masking:` rules): column rules, content
 * detectors, custom `patterns`, the `redact`/`partial`/`hash` styles (the same tenant HMAC key, so
 * a value hashes identically through both protocols). Each row is handed to it framed as a
 * PostgreSQL DataRow of text values, after a RowDescription whose plan the gateway sets itself
 * (`overridePlan`): so the same value gives byte-for-byte the same masked output as through PostgreSQL.
 *
 * Per result column, the plan is:
 *  - the column rule matching the column by its alias or its original `table.column` (so
 *    `SELECT email AS x` is still masked);
 *  - DERIVED (always redacted) for a column of a *tainted* statement that is not a plain stored
 *    column (see taint.ts): `concat(email,'')`, `lower(email)`, a derived table, a UNION;
 *  - otherwise detectors and patterns only.
 * String-typed values carry text. A masked value of any other type (a number, a date, binary
 * protocol fixed-size cells) becomes NULL — a number cannot carry `[REDACTED]`; text-protocol
 * values of those types are still scanned by the detectors (a card number in a BIGINT), and a hit
 * makes them NULL.
 */
import { DERIVED_COUNT, DERIVED_RULE, type PgMasker } from "../../../wasm/loader/mask.ts";
import { compileConfig, type MaskingConfig } from "../../../parsers/masking/config.ts";
import type { Cell, ColumnDefinition } from "../codec/resultset.ts";
import { binaryCellString, isStringType } from "../codec/resultset.ts";
import { Writer } from "../codec/bytes.ts";
import type { Taint } from "../sql/taint.ts";
import type { Dialect } from "../sql/dialect.ts";
import type { GeneratedColumn, MysqlCatalog } from "./catalog.ts";
import { GeneratedExpressionCache, viewDefinitionNames } from "./generated-expressions.ts";
import { TYPE } from "../codec/constants.ts";

export type { Taint };

const TEXT_OID = 25;
const SEQUENCE_TABLE = /^seq_[0-9]+_to_[0-9]+(_step_[0-9]+)?$/;
/** Plan entry for a column the masker must not see at all (a fixed-size binary cell without a rule). */
const SKIP = -3;

export class RowMaskerConfigError extends Error {}

export class RowMasker {
  private readonly scans: boolean;
  /** `mask: { predicates: refuse }` on any rule: masked data in WHERE / ORDER BY / … refuses the statement. */
  readonly refusePredicates: boolean;
  private readonly columnGlobs: RegExp[];
  /** Rule index of each column glob (same order as columnGlobs). */
  private readonly columnRules: number[];
  /** Table parts of `table.column` globs: tables whose rules would not follow them under another name. */
  private readonly tableGlobs: RegExp[];
  private readonly tableRuleNames: string[];
  private readonly ruleNames: string[];
  /** Lower-cased names of views whose definitions read masked data (setViews). */
  private maskedViews = new Set<string>();
  private cache: WeakMap<ColumnDefinition[], { key: string; plan: number[] }[]> = new WeakMap<ColumnDefinition[], { key: string; plan: number[] }[]>();
  /** The plan the WASM masker holds (set by a RowDescription + overridePlan). */
  private described: number[] | null = null;

  constructor(
    private readonly masker: PgMasker,
    config: MaskingConfig,
    /** What generated columns' expressions name, kept across catalog refreshes. */
    private readonly generatedExpressions = new GeneratedExpressionCache(),
    /** What views' definitions name (and whether they are opaque), kept across catalog refreshes. */
    private readonly viewDefinitions = new GeneratedExpressionCache(viewDefinitionNames),
  ) {
    const compiled = compileConfig(config);
    this.refusePredicates = config.rules.some((r) => r.mask?.predicates === "refuse");
    this.scans = compiled.detectorRule.some((r) => r >= 0) || compiled.customs.length > 0;
    this.ruleNames = compiled.rules.map((r) => r.name);
    this.columnGlobs = compiled.rules.flatMap((r) => r.columns.map((c) => globToRegExp(c.column)));
    this.columnRules = compiled.rules.flatMap((r) => r.columns.map(() => r.index));
    // `customers.email` / `app.customers.email`: the table part's last name.
    this.tableRuleNames = compiled.rules.flatMap((r) => r.columns.flatMap((c) => (c.table === null ? [] : [r.name])));
    this.tableGlobs = compiled.rules.flatMap((r) => r.columns.flatMap((c) => (c.table === null ? [] : [globToRegExp(c.table.slice(c.table.lastIndexOf(".") + 1))])));
  }

  /** Fixed-size binary cells NULLed without the WASM masker, per rule name (or derived). */
  private readonly fixedCounts: Record<string, number> = {};

  get counts(): Record<string, number> {
    const out = this.masker.counts();
    for (const [k, v] of Object.entries(this.fixedCounts)) out[k] = (out[k] ?? 0) + v;
    return out;
  }

  /** The session's relations (set with setCatalog): a column is stored only if its origin is known. */
  private catalog: MysqlCatalog | null = null;

  /** Whether an identifier names a view whose definition reads masked data. */
  isMaskedView(identifier: string): boolean {
    return this.maskedViews.has(identifier.toLowerCase());
  }

  /** Whether an identifier of a statement names a masked column (by any column glob's column part) or a masked view. */
  namesMasked(identifier: string): boolean {
    const w = identifier.toLowerCase();
    return this.maskedViews.has(w) || this.maskedGeneratedNames.has(w) || this.columnGlobs.some((g) => g.test(w));
  }

  /** Generated columns computed from masked data: `schema.table.column` (lower case), and their bare names. */
  private maskedGenerated = new Set<string>();
  private maskedGeneratedNames = new Set<string>();

  /**
   * A generated column whose expression names masked data (`email_lower AS (LOWER(email))`, or
   * another such column) holds a masked value under a name no rule speaks for: its values are
   * derived, and naming it taints a statement as naming `email` does (a view over it is masked).
   * An expression the gateway cannot lex counts as masked. Each expression is lexed once
   * (GeneratedExpressionCache), not on every refresh nor on every round below.
   */
  private setGenerated(columns: readonly GeneratedColumn[], dialect: Dialect): void {
    this.maskedGenerated = new Set();
    this.maskedGeneratedNames = new Set();
    let grew = true;
    while (grew) {
      grew = false;
      for (const g of columns) {
        const key = `${g.schema}.${g.table}.${g.column}`.toLowerCase();
        if (this.maskedGenerated.has(key)) continue;
        if (!g.expression || this.expressionMasked(g.expression, dialect)) {
          this.maskedGenerated.add(key);
          this.maskedGeneratedNames.add(g.column.toLowerCase());
          grew = true;
        }
      }
    }
  }

  /** As `analyzeTaint(expression, dialect, namesMasked) !== null`, from the cached names. */
  private expressionMasked(expression: string, dialect: Dialect): boolean {
    const e = this.generatedExpressions.get(expression, dialect);
    return e.always || e.names.some((w) => this.namesMasked(w));
  }

  private isMaskedGenerated(c: ColumnDefinition): boolean {
    return this.maskedGenerated.size > 0 && !!c.orgName && this.maskedGenerated.has(`${c.schema}.${c.orgTable}.${c.orgName}`.toLowerCase());
  }

  /**
   * Whether an identifier names a table of a `table.column` rule. Renaming or copying such a table
   * (RENAME TABLE, ALTER TABLE … RENAME / EXCHANGE PARTITION, CREATE TABLE … LIKE / AS SELECT)
   * would put its masked columns under a table name no rule speaks for.
   */
  namesMaskedTable(identifier: string): boolean {
    const w = identifier.toLowerCase();
    return this.tableGlobs.some((g) => g.test(w));
  }

  /**
   * The rule a tainted statement's values may derive from, for the trail's `masking.derived`: the
   * rule of the first masked column among its sources, else the first rule with column globs (a
   * view, `*`, text the gateway cannot lex: opaque sources, as PostgreSQL's default rule).
   */
  ruleForSources(sources: readonly string[]): string | null {
    for (const s of sources) {
      const m = /^(?:column|table) (.+)$/.exec(s);
      if (!m) continue;
      const i = this.columnGlobs.findIndex((g) => g.test(m[1]!.toLowerCase()));
      if (i >= 0) return this.ruleNames[this.columnRules[i]!] ?? null;
      const t = this.tableGlobs.findIndex((g) => g.test(m[1]!.toLowerCase()));
      if (t >= 0) return this.tableRuleNames[t] ?? null;
    }
    return this.ruleNames[this.columnRules[0] ?? -1] ?? null;
  }

  /** Column rules need the view catalogue (a view's columns look stored); detectors alone do not. */
  get hasColumnRules(): boolean {
    return this.columnGlobs.length > 0;
  }

  /**
   * The server's views (information_schema.VIEWS): a view is *masked* when its definition names a
   * masked column or another masked view, or cannot be read (no SHOW VIEW privilege: empty) or
   * lexed. Its columns are then derived, and naming it taints a statement.
   */
  setCatalog(catalog: MysqlCatalog, dialect: Dialect): void {
    this.setGenerated(catalog.generatedColumns(), dialect);
    this.setViews(catalog.views(), dialect);
    this.catalog = catalog;
  }

  /**
   * Whether a result column's origin, as the server reports it, is a stored value the rules can
   * speak for: a base table of the snapshot (exact schema and name), information_schema, or a view
   * the snapshot knows as unmasked. A TEMPTABLE view (empty schema, the base table's name under the
   * view's column name), a view's alias, a derived table, a CTE or a relation the snapshot does not
   * know are not. Without a catalog (no column rules) every column with an origin is.
   */
  private storedOrigin(c: ColumnDefinition): boolean {
    if (!c.orgTable || !c.orgName) return false;
    if (!this.catalog) return !this.maskedViews.has(c.orgTable.toLowerCase());
    if (c.schema.toLowerCase() === "information_schema") return true;
    // MariaDB's sequence engine tables (`seq_1_to_N`) are not in information_schema: only their one
    // generated BIGINT column `seq` passes (a derived table or CTE aliased so carries other names/types).
    if (SEQUENCE_TABLE.test(c.orgTable) && c.orgName === "seq" && c.type === TYPE.LONGLONG && this.catalog.named(c.orgTable).length === 0) return true;
    if (!c.schema) {
      // A view's computed column comes without a schema (`v`.`le`), and so does a TEMPTABLE view's
      // column, under the *base* table's name: only a name that is nothing but unmasked views passes.
      const all = this.catalog.named(c.orgTable);
      return all.length > 0 && all.every((r) => r.type === "VIEW" && !this.maskedViews.has(r.name.toLowerCase()));
    }
    const r = this.catalog.find(c.schema, c.orgTable);
    if (!r) return false;
    return r.type !== "VIEW" || !this.maskedViews.has(r.name.toLowerCase());
  }

  setViews(views: readonly { schema: string; name: string; definition: string }[], dialect: Dialect): void {
    this.maskedViews = new Set();
    this.cache = new WeakMap();
    this.described = null;
    let grew = true;
    while (grew) {
      grew = false;
      for (const v of views) {
        const name = v.name.toLowerCase();
        if (this.maskedViews.has(name)) continue;
        // A view whose body calls a stored function (or anything the gateway cannot read) is masked whole.
        // As `analyzeTaint(definition, …) !== null || opaquePart(classifyMysql(definition, …))`,
        // from the names cached per definition (each lexed once, not per refresh nor per round).
        const d = v.definition ? this.viewDefinitions.get(v.definition, dialect) : null;
        if (d === null || d.always || d.names.some((w) => this.namesMasked(w))) {
          this.maskedViews.add(name);
          grew = true;
        }
      }
    }
  }

  private ruleOf(c: ColumnDefinition): number {
    for (const [n, t] of [[c.orgName, c.orgTable], [c.name, c.table], [c.orgName, c.table], [c.name, c.orgTable]] as const) {
      if (!n) continue;
      const r = this.masker.ruleFor(n, t || undefined);
      if (r >= 0) return r;
    }
    return -1;
  }

  /** The per-column plan (rule, DERIVED_RULE, -1 detectors only, SKIP). */
  plan(cols: ColumnDefinition[], taint: Taint | null, binary: boolean): number[] {
    let entries = this.cache.get(cols);
    if (!entries) this.cache.set(cols, (entries = []));
    const key = taint === null ? "clean" : taint.plain ? "plain" : "nested";
    const hit = entries.find((e) => e.key === key);
    if (hit) return hit.plan;
    const plan = cols.map((c) => {
      // In a tainted statement only a stored column of a plain SELECT keeps its own rule (or none):
      // a computed column, or any column of a sub-query/set operation, may carry a masked value
      // under another name (`select email from t where 0 union select reverse(email) from t`).
      // A masked view named anywhere makes every column derived: its columns look stored (`v`.`e`,
      // or under an alias, or a TEMPTABLE view's `customers`.`name`).
      if (taint && !(taint.plain && !taint.maskedView && this.storedOrigin(c))) return DERIVED_RULE;
      // With a catalog, a column whose origin is not a known stored value may carry anything (a
      // view created by another session after the snapshot, a derived table over masked columns).
      if (this.catalog && c.orgTable && !this.storedOrigin(c)) return DERIVED_RULE;
      if (this.isMaskedGenerated(c)) return DERIVED_RULE;
      const r = this.ruleOf(c);
      if (r >= 0) return r;
      if (binary && !isStringType(c.type)) return SKIP;
      return this.scans ? -1 : SKIP;
    });
    entries.push({ key, plan });
    return plan;
  }

  touches(cols: ColumnDefinition[], taint: Taint | null, binary: boolean): boolean {
    return this.plan(cols, taint, binary).some((r) => r !== SKIP);
  }

  /** Mask one row's cells (text protocol: every cell is text; binary: length-encoded cells are strings). */
  mask(cols: ColumnDefinition[], cells: Cell[], taint: Taint | null, binary: boolean): { cells: Cell[]; changed: number } {
    const plan = this.plan(cols, taint, binary);
    if (this.described !== plan) {
      this.masker.process(rowDescription(cols.length));
      this.masker.overridePlan(plan.map((r) => (r === SKIP ? -1 : r)));
      this.described = plan;
    }
    // A fixed-size binary cell (a number, a date) under a rule or derived is NULL without a scan.
    const fixed = (i: number) => binary && !isStringType(cols[i].type);
    const texts: (Uint8Array | null)[] = cells.map((c, i) => {
      if (c === null || plan[i] === SKIP || fixed(i)) return null;
      return binary ? binaryCellString(c) : c;
    });
    const input = dataRow(texts);
    // process() returns the input array itself when nothing changed.
    const out = this.masker.process(input);
    const nulled = cells.filter((c, i) => c !== null && plan[i] !== SKIP && fixed(i)).length;
    if (out === input && nulled === 0) return { cells, changed: 0 };
    const masked = out === input ? texts : parseDataRow(out, cells.length);
    let changed = nulled;
    if (nulled) {
      cells.forEach((c, i) => {
        if (c === null || plan[i] === SKIP || !fixed(i)) return;
        const name = plan[i] === DERIVED_RULE ? DERIVED_COUNT : (this.ruleNames[plan[i]!] ?? "(unknown)");
        this.fixedCounts[name] = (this.fixedCounts[name] ?? 0) + 1;
      });
    }
    const result = cells.map((c, i) => {
      if (c !== null && plan[i] !== SKIP && fixed(i)) return null;
      const before = texts[i];
      const after = masked[i];
      if (before === null || before === undefined) return c;
      if (after !== null && after !== undefined && equalBytes(before, after)) return c;
      changed++;
      if (after === null || after === undefined || !isStringType(cols[i].type)) return null;
      return binary ? new Writer().lenencBytes(after).finish() : after;
    });
    return { cells: result, changed };
  }
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.toLowerCase().replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
}

function rowDescription(n: number): Uint8Array {
  const body = 2 + n * (1 + 18);
  const b = new Uint8Array(1 + 4 + body);
  const v = new DataView(b.buffer);
  b[0] = 0x54;
  v.setInt32(1, 4 + body);
  v.setInt16(5, n);
  let o = 7;
  for (let i = 0; i < n; i++) {
    b[o++] = 0; // empty name: the plan is overridden
    v.setInt32(o, 0); // table OID
    v.setInt16(o + 4, 0); // attnum
    v.setInt32(o + 6, TEXT_OID);
    v.setInt16(o + 10, -1);
    v.setInt32(o + 12, -1);
    v.setInt16(o + 16, 0); // text format
    o += 18;
  }
  return b;
}

function dataRow(values: (Uint8Array | null)[]): Uint8Array {
  let len = 4 + 2;
  for (const v of values) len += 4 + (v ? v.length : 0);
  const b = new Uint8Array(1 + len);
  const dv = new DataView(b.buffer);
  b[0] = 0x44;
  dv.setInt32(1, len);
  dv.setInt16(5, values.length);
  let o = 7;
  for (const v of values) {
    dv.setInt32(o, v ? v.length : -1);
    o += 4;
    if (v) {
      b.set(v, o);
      o += v.length;
    }
  }
  return b;
}

function parseDataRow(b: Uint8Array, n: number): (Uint8Array | null)[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b[0] !== 0x44 || dv.getInt16(5) !== n) throw new Error("masker returned an unexpected message");
  const out: (Uint8Array | null)[] = [];
  let o = 7;
  for (let i = 0; i < n; i++) {
    const l = dv.getInt32(o);
    o += 4;
    if (l < 0) out.push(null);
    else {
      out.push(b.slice(o, o + l));
      o += l;
    }
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
