/**
 * MySQL rows masked by the PostgreSQL masker (the real WASM module): for the same value and rule,
 * the MySQL text and binary protocol cells carry byte-for-byte what a PostgreSQL DataRow of that
 * column carries after PostgreSQL's own plan (RowDescription by column name) — redact, partial,
 * hash (the same tenant key), detectors and patterns; derived columns of a tainted statement are
 * redacted, numbers under a rule NULL.
 */
import { describe, expect, it } from "vitest";
import { createMasker } from "../../../wasm/loader/mask.ts";
import { maskModule } from "../../../worker/wasm-modules.ts";
import type { MaskingConfig } from "../../../parsers/masking/config.ts";
import { RowMasker } from "./row-masker.ts";
import { analyzeTaint } from "../sql/taint.ts";
import { MysqlCatalog, type Relation } from "./catalog.ts";
import { GeneratedExpressionCache, expressionNames, viewDefinitionNames } from "./generated-expressions.ts";
import { TYPE } from "../codec/constants.ts";
import type { ColumnDefinition } from "../codec/resultset.ts";
import { Writer, utf8Bytes, utf8Text } from "../codec/bytes.ts";
import { binaryCellString } from "../codec/resultset.ts";
import type { Dialect } from "../sql/dialect.ts";

const MODULE = maskModule;
const CONFIG: MaskingConfig = {
  hashKey: "tenant-key-for-tests-0123456789abcdef",
  rules: [
    { name: "pii", columns: ["email", "card_number"], style: "partial", keep: 4 },
    { name: "secret", columns: ["customers.api_token"], style: "redact" },
    { name: "joinable", columns: ["customer_ref"], style: "hash" },
    { name: "tickets", patterns: ["TICKET-[0-9]{6}"], style: "redact" },
    { name: "detect", detectors: ["all"], style: "redact" },
  ],
};

const col = (name: string, type: number = TYPE.VAR_STRING, orgName = name, table = "customers"): ColumnDefinition => ({ schema: "demo", table, orgTable: table, name, orgName, charset: 45, length: 200, type, flags: 0, decimals: 0 });

/** What PostgreSQL's masker makes of one text value in a column of that name (its own plan, table OID 1 = customers). */
function pgMasked(column: string, value: string): string | null {
  const m = createMasker(MODULE, CONFIG);
  m.setTables({ 1: "customers" });
  const name = utf8Bytes(column);
  const rd = new Uint8Array(1 + 4 + 2 + name.length + 1 + 18);
  const dv = new DataView(rd.buffer);
  rd[0] = 0x54;
  dv.setInt32(1, rd.length - 1);
  dv.setInt16(5, 1);
  rd.set(name, 7);
  let o = 7 + name.length + 1;
  dv.setInt32(o, 1);
  dv.setInt16(o + 4, 1);
  dv.setInt32(o + 6, 25);
  dv.setInt16(o + 10, -1);
  dv.setInt32(o + 12, -1);
  dv.setInt16(o + 16, 0);
  const v = utf8Bytes(value);
  const dr = new Uint8Array(1 + 4 + 2 + 4 + v.length);
  const dd = new DataView(dr.buffer);
  dr[0] = 0x44;
  dd.setInt32(1, dr.length - 1);
  dd.setInt16(5, 1);
  dd.setInt32(7, v.length);
  dr.set(v, 11);
  const both = new Uint8Array(rd.length + dr.length);
  both.set(rd);
  both.set(dr, rd.length);
  const out = m.process(both);
  const row = out.subarray(rd.length);
  const l = new DataView(row.buffer, row.byteOffset).getInt32(7);
  return l < 0 ? null : utf8Text(row.subarray(11, 11 + l));
}

const rowMasker = () => new RowMasker(createMasker(MODULE, CONFIG), CONFIG);
const lenenc = (s: string) => new Writer().lenencBytes(utf8Bytes(s)).finish();
const DIALECT: Dialect = { flavor: "mariadb", version: 101100, ansiQuotes: false, noBackslashEscapes: false };

describe("MySQL row masking = PostgreSQL masking of the same value", () => {
  const cases: [string, string][] = [
    ["email", "ada.lovelace1@example.com"],
    ["card_number", "4111 1111 1111 1111"],
    ["api_token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"],
    ["customer_ref", "cust-000042"],
    ["note", "call TICKET-123456 or mail grace@example.org, card 5555555555554444"],
    ["note", "nothing to see"],
  ];
  for (const [column, value] of cases) {
    it(`${column}: text and binary protocol give PostgreSQL's output`, () => {
      const expected = pgMasked(column, value);
      const cols = [col(column)];
      const text = rowMasker().mask(cols, [utf8Bytes(value)], null, false).cells[0];
      expect(text === null ? null : utf8Text(text)).toBe(expected);
      const bin = rowMasker().mask(cols, [lenenc(value)], null, true).cells[0];
      expect(bin === null ? null : utf8Text(binaryCellString(bin))).toBe(expected);
    });
  }

  it("an alias keeps its original column's rule; hash is keyed and stable", () => {
    const m = rowMasker();
    const a = m.mask([col("x", TYPE.VAR_STRING, "customer_ref")], [utf8Bytes("cust-000042")], null, false).cells[0]!;
    expect(utf8Text(a)).toBe(pgMasked("customer_ref", "cust-000042"));
    expect(utf8Text(a)).toMatch(/^h:[0-9a-f]{16}$/);
    const other = new RowMasker(createMasker(MODULE, { ...CONFIG, hashKey: "another-tenant-key-0123456789abcdef" }), { ...CONFIG, hashKey: "another-tenant-key-0123456789abcdef" });
    expect(utf8Text(other.mask([col("customer_ref")], [utf8Bytes("cust-000042")], null, false).cells[0]!)).not.toBe(utf8Text(a));
  });

  it("a number under a rule or with a detector hit is NULL (it cannot carry the marker); an unrelated number passes", () => {
    const cols = [col("card_number", TYPE.LONGLONG), col("amount", TYPE.LONGLONG), col("big", TYPE.LONGLONG)];
    const out = rowMasker().mask(cols, [utf8Bytes("4111111111111111"), utf8Bytes("42"), utf8Bytes("5555555555554444")], null, false).cells;
    expect(out.map((c) => (c === null ? null : utf8Text(c)))).toEqual([null, "42", null]);
  });

  it("derived columns of a tainted statement are redacted; stored columns of a plain statement are not", () => {
    const m = rowMasker();
    const namesMasked = (w: string) => m.namesMasked(w);
    const plain = analyzeTaint("select id, lower(email) from customers", DIALECT, namesMasked)!;
    expect(plain).toMatchObject({ plain: true, sources: ["column email"] });
    const cols = [col("id", TYPE.VAR_STRING), { ...col("lower(email)"), orgName: "", orgTable: "", table: "" }];
    const out = m.mask(cols, [utf8Bytes("7"), utf8Bytes("ada@example.com")], plain, false).cells.map((c) => (c === null ? null : utf8Text(c)));
    expect(out).toEqual(["7", "[REDACTED]"]);
    // A sub-query: `t.e` looks stored, but MySQL cannot tell a derived table from a base table.
    const sub = analyzeTaint("select * from (select id, lower(email) e from customers) t", DIALECT, namesMasked)!;
    expect(sub.plain).toBe(false);
    const subCols = [col("id", TYPE.VAR_STRING, "id", "t"), col("e", TYPE.VAR_STRING, "e", "t")];
    expect(m.mask(subCols, [utf8Bytes("7"), utf8Bytes("ada@example.com")], sub, false).cells.map((c) => (c === null ? null : utf8Text(c)))).toEqual(["[REDACTED]", "[REDACTED]"]);
    expect(analyzeTaint("select email from customers union select 'x'", DIALECT, namesMasked)!.plain).toBe(false);
    expect(analyzeTaint("select `EMAIL` from customers", DIALECT, namesMasked)).not.toBeNull();
    expect(analyzeTaint("select id, name from customers", DIALECT, namesMasked)).toBeNull();
    expect(m.counts["(derived-from-masked)"]).toBe(3);
  });

  it("value statistics tables (MariaDB mysql.column_stats, MySQL 8 COLUMN_STATISTICS) taint as a masked view, in any spelling", () => {
    const m = rowMasker();
    const namesMasked = (w: string) => m.namesMasked(w);
    for (const sql of [
      "SELECT min_value FROM mysql.column_stats",
      "select MIN_VALUE from MYSQL.COLUMN_STATS",
      "SELECT min_value FROM `mysql`.`Column_Stats`",
      "SELECT min_value FROM column_stats",
      "SELECT histogram FROM information_schema.COLUMN_STATISTICS",
      "/*!SELECT min_value FROM mysql.column_stats*/",
    ]) {
      const taint = analyzeTaint(sql, DIALECT, namesMasked);
      expect(taint, sql).toMatchObject({ maskedView: true });
      expect(taint!.sources[0], sql).toMatch(/^value statistics column_stat(s|istics)$/);
      // a stored-looking column of that table (org_table column_stats) is derived: redacted
      const cols = [col("min_value", TYPE.VAR_STRING, "min_value", "column_stats")];
      expect(m.mask(cols, [utf8Bytes("ada@example.com")], taint, false).cells.map((c) => (c === null ? null : utf8Text(c))), sql).toEqual(["[REDACTED]"]);
    }
    // the index statistics hold no column values: not tainted
    expect(analyzeTaint("SELECT avg_frequency FROM mysql.index_stats", DIALECT, namesMasked)).toBeNull();
  });

  it("statement texts of sessions (processlists, performance_schema statement events, sys views, logs) taint as a masked view; SET SESSION does not", () => {
    const m = rowMasker();
    const namesMasked = (w: string) => m.namesMasked(w);
    for (const sql of [
      "SHOW FULL PROCESSLIST",
      "SELECT INFO FROM information_schema.PROCESSLIST",
      "SELECT sql_text FROM performance_schema.events_statements_history_long",
      "SELECT SQL_TEXT FROM `performance_schema`.`EVENTS_STATEMENTS_CURRENT`",
      "SELECT processlist_info FROM performance_schema.threads",
      "SELECT query_sample_text FROM performance_schema.events_statements_summary_by_digest",
      "SELECT current_statement FROM sys.session",
      "SELECT last_statement FROM sys.x$session",
      "select * from session",
      "SELECT trx_query FROM information_schema.INNODB_TRX",
      "SELECT argument FROM mysql.general_log",
      "SELECT sql_text FROM mysql.slow_log",
      "SELECT statement_text FROM information_schema.QUERY_CACHE_INFO",
      "SHOW BINLOG EVENTS",
      "show relaylog events in 'r.000001'",
    ]) {
      const taint = analyzeTaint(sql, DIALECT, namesMasked);
      expect(taint, sql).toMatchObject({ maskedView: true });
      expect(taint!.sources.join(), sql).toMatch(/^statement texts /);
    }
    for (const sql of ["SET SESSION sql_mode = 'STRICT_TRANS_TABLES'", "SET SESSION TRANSACTION READ ONLY", "SELECT @@session.sql_mode", "ANALYZE NO_WRITE_TO_BINLOG TABLE t", "SELECT @@sql_log_bin"]) expect(analyzeTaint(sql, DIALECT, namesMasked), sql).toBeNull();
  });

  it("views: a view reading a masked column (directly, through another view, or unreadable) makes its columns derived", () => {
    const m = rowMasker();
    m.setViews(
      [
        { schema: "demo", name: "v_outer", definition: "select `demo`.`v_contacts`.`contact` AS `c2` from `demo`.`v_contacts`" },
        { schema: "demo", name: "v_contacts", definition: "select lcase(`demo`.`customers`.`email`) AS `contact` from `demo`.`customers`" },
        { schema: "demo", name: "v_names", definition: "select `demo`.`customers`.`name` AS `name` from `demo`.`customers`" },
        { schema: "demo", name: "v_hidden", definition: "" },
      ],
      DIALECT,
    );
    const namesMasked = (w: string) => m.namesMasked(w);
    for (const v of ["v_outer", "v_contacts", "v_hidden"]) {
      const t = analyzeTaint(`select * from ${v}`, DIALECT, namesMasked);
      expect(t, v).not.toBeNull();
      const cols = [col("c", TYPE.VAR_STRING, "c", v)];
      expect(utf8Text(m.mask(cols, [utf8Bytes("x")], t, false).cells[0]!), v).toBe("[REDACTED]");
    }
    expect(analyzeTaint("select * from v_names", DIALECT, namesMasked)).toBeNull();
  });

  it("with a catalog, only a known base table's or unmasked view's column is stored; other origins are derived", () => {
    const m = rowMasker();
    const catalog = new MysqlCatalog();
    catalog.replaceAll([
      { schema: "demo", name: "customers", type: "BASE TABLE", definition: "" },
      { schema: "demo", name: "v_names", type: "VIEW", definition: "select `demo`.`customers`.`name` AS `n` from `demo`.`customers`" },
      { schema: "demo", name: "v_mail", type: "VIEW", definition: "select `demo`.`customers`.`email` AS `name` from `demo`.`customers`" },
    ]);
    m.setCatalog(catalog, DIALECT);
    const one = (c: ReturnType<typeof col>, sql: string) => {
      const t = analyzeTaint(sql, DIALECT, (w) => m.namesMasked(w), (w) => m.isMaskedView(w));
      const cell = m.mask([c], [utf8Bytes("Ada Lovelace")], t, false).cells[0];
      return cell === null ? null : utf8Text(cell);
    };
    const at = (name: string, orgTable: string, schema: string) => ({ ...col(name, TYPE.VAR_STRING, name, orgTable), schema });
    // a base table's column without a rule: exact
    expect(one(at("name", "customers", "demo"), "select name from customers")).toBe("Ada Lovelace");
    // an unmasked view's columns (stored, and computed without a schema): exact
    expect(one(at("n", "v_names", "demo"), "select n from v_names")).toBe("Ada Lovelace");
    expect(one(at("n", "v_names", ""), "select n from v_names")).toBe("Ada Lovelace");
    // a relation the snapshot does not know (created after it), an alias, a derived table: derived
    expect(one(at("c", "v_new", "demo"), "select c from v_new")).toBe("[REDACTED]");
    expect(one(at("n", "z", "demo"), "select n from v_names z")).toBe("[REDACTED]");
    // a TEMPTABLE view reports the base table without a schema: derived
    expect(one(at("name", "customers", ""), "select name from v_tmp")).toBe("[REDACTED]");
    // a masked view named: every column derived, also one that looks like the base table's
    expect(one(at("name", "customers", "demo"), "select name from v_mail")).toBe("[REDACTED]");
    // information_schema (SHOW TABLES reports TABLE_NAMES): exact
    expect(one(at("Tables_in_demo", "TABLE_NAMES", "information_schema"), "show tables")).toBe("Ada Lovelace");
  });
});

describe("generated columns: each expression is lexed once, across catalog refreshes", () => {
  const generated = (column: string, expression: string): Relation => ({ schema: "demo", name: "customers", type: `GENERATED COLUMN ${column}`, definition: expression });
  const catalogOf = (...columns: Relation[]) => {
    const c = new MysqlCatalog();
    c.replaceAll([{ schema: "demo", name: "customers", type: "BASE TABLE", definition: "" }, ...columns]);
    return c;
  };
  /** A RowMasker whose expression analyses are counted (the lexing the cache saves). */
  const counted = (max?: number) => {
    const analysed: string[] = [];
    const cache = new GeneratedExpressionCache((e, d) => {
      analysed.push(e);
      return expressionNames(e, d);
    }, max);
    return { m: new RowMasker(createMasker(MODULE, CONFIG), CONFIG, cache), analysed };
  };

  it("a refresh with unchanged expressions lexes nothing; a changed expression is analysed again and its verdict follows", () => {
    const { m, analysed } = counted();
    // dom comes first and reads email_lower: masked only in the second round, which lexes nothing either.
    const before = [generated("dom", "substring_index(`email_lower`,'@',-1)"), generated("email_lower", "lcase(`email`)"), generated("name_upper", "ucase(`name`)")];
    m.setCatalog(catalogOf(...before), DIALECT);
    expect(analysed).toEqual(["substring_index(`email_lower`,'@',-1)", "lcase(`email`)", "ucase(`name`)"]);
    expect([m.namesMasked("dom"), m.namesMasked("email_lower"), m.namesMasked("name_upper")]).toEqual([true, true, false]);

    m.setCatalog(catalogOf(...before), DIALECT);
    m.setCatalog(catalogOf(...before), DIALECT);
    expect(analysed).toHaveLength(3);
    expect([m.namesMasked("dom"), m.namesMasked("email_lower"), m.namesMasked("name_upper")]).toEqual([true, true, false]);

    // Another session's ALTER TABLE: name_upper now computed from email.
    m.setCatalog(catalogOf(before[0]!, before[1]!, generated("name_upper", "ucase(`email`)")), DIALECT);
    expect(analysed.slice(3)).toEqual(["ucase(`email`)"]);
    expect(m.namesMasked("name_upper")).toBe(true);
    // And back: the first spelling is still known, its verdict taken afresh from today's names.
    m.setCatalog(catalogOf(...before), DIALECT);
    expect(analysed).toHaveLength(4);
    expect(m.namesMasked("name_upper")).toBe(false);
  });

  it("views too: a refresh with unchanged definitions lexes nothing; verdicts (through other views, opaque bodies) follow each refresh", () => {
    const analysed: string[] = [];
    const views = new GeneratedExpressionCache((e, d) => {
      analysed.push(e);
      return viewDefinitionNames(e, d);
    });
    const m = new RowMasker(createMasker(MODULE, CONFIG), CONFIG, undefined, views);
    const view = (name: string, definition: string): Relation => ({ schema: "demo", name, type: "VIEW", definition });
    const outer = view("v_outer", "select `demo`.`v_inner`.`c` AS `c2` from `demo`.`v_inner`");
    const inner = (body: string) => view("v_inner", body);
    const called = view("v_called", "select `demo`.`f`(`demo`.`customers`.`name`) AS `n` from `demo`.`customers`");
    const plain = inner("select `demo`.`customers`.`name` AS `c` from `demo`.`customers`");
    const c = new MysqlCatalog();
    c.replaceAll([{ schema: "demo", name: "customers", type: "BASE TABLE", definition: "" }, outer, plain, called]);
    m.setCatalog(c, DIALECT);
    m.setCatalog(c, DIALECT);
    expect(analysed).toHaveLength(3);
    // A stored function call is opaque: masked whole, whatever it reads.
    expect([m.isMaskedView("v_outer"), m.isMaskedView("v_inner"), m.isMaskedView("v_called")]).toEqual([false, false, true]);
    // v_inner redefined over email: it and the view over it are masked; only the new text is lexed.
    const c2 = new MysqlCatalog();
    c2.replaceAll([{ schema: "demo", name: "customers", type: "BASE TABLE", definition: "" }, outer, inner("select lcase(`demo`.`customers`.`email`) AS `c` from `demo`.`customers`"), called]);
    m.setCatalog(c2, DIALECT);
    expect(analysed).toHaveLength(4);
    expect([m.isMaskedView("v_outer"), m.isMaskedView("v_inner")]).toEqual([true, true]);
    m.setCatalog(c, DIALECT);
    expect(analysed).toHaveLength(4);
    expect([m.isMaskedView("v_outer"), m.isMaskedView("v_inner"), m.isMaskedView("v_called")]).toEqual([false, false, true]);
  });

  it("the same text under another dialect is analysed again (quotes and version comments lex differently)", () => {
    const { m, analysed } = counted();
    const columns = [generated("x", '"email"')];
    m.setCatalog(catalogOf(...columns), DIALECT);
    expect(m.namesMasked("x")).toBe(false); // a string constant
    m.setCatalog(catalogOf(...columns), { ...DIALECT, ansiQuotes: true });
    expect(analysed).toHaveLength(2);
    expect(m.namesMasked("x")).toBe(true); // the column email
  });

  it("is bounded: past its size the least recently used expression is forgotten and analysed again", () => {
    const { m, analysed } = counted(2);
    const a = generated("a", "lcase(`email`)");
    const b = generated("b", "ucase(`name`)");
    const c = generated("c", "reverse(`name`)");
    m.setCatalog(catalogOf(a, b), DIALECT);
    m.setCatalog(catalogOf(a, c), DIALECT); // b is the least recently used: gone
    m.setCatalog(catalogOf(a), DIALECT);
    expect(analysed).toEqual(["lcase(`email`)", "ucase(`name`)", "reverse(`name`)"]);
    m.setCatalog(catalogOf(b), DIALECT);
    expect(analysed.slice(3)).toEqual(["ucase(`name`)"]);
    expect(m.namesMasked("a")).toBe(false);
  });

  it("is bounded in text too: large expressions push older ones out, and one larger than the budget is never kept", () => {
    const analysed: string[] = [];
    const cache = new GeneratedExpressionCache((e, d) => {
      analysed.push(e);
      return expressionNames(e, d);
    }, 4096, 3000);
    const big = (c: string) => `concat(\`name\`, '${c.repeat(1200)}')`;
    cache.get(big("a"), DIALECT);
    cache.get(big("b"), DIALECT);
    cache.get(big("c"), DIALECT); // over 3,000 characters with a and b: a goes
    expect(cache.heldChars).toBeLessThanOrEqual(3000);
    cache.get(big("b"), DIALECT);
    cache.get(big("a"), DIALECT);
    expect(analysed.map((e) => e.at(-4))).toEqual(["a", "b", "c", "a"]);
    const huge = `concat(\`email\`, '${"x".repeat(5000)}')`;
    expect(cache.get(huge, DIALECT)).toEqual(expressionNames(huge, DIALECT));
    cache.get(huge, DIALECT);
    expect(analysed.filter((e) => e === huge)).toHaveLength(2);
    expect(cache.heldChars).toBeLessThanOrEqual(3000);
  });

  it.each([
    ["lcase(`email`)", ["email"], true],
    ["concat(`name`,'email')", ["name"], false],
    ["/*!lcase(email)*/ 1", ["email"], true],
    ["'unterminated", null, true],
    ["(select max(`min_value`) from `mysql`.`column_stats`)", null, true],
  ])("the cached names answer as analyzeTaint does: %s", (expression, names, masked) => {
    const e = expressionNames(expression, DIALECT);
    const namesMasked = (w: string) => ["email", "email_lower"].includes(w.toLowerCase());
    if (names) expect(e).toMatchObject({ always: false, names: expect.arrayContaining(names) });
    else expect(e).toEqual({ always: true });
    expect(e.always || (!e.always && e.names.some(namesMasked))).toBe(masked);
    expect(analyzeTaint(expression, DIALECT, namesMasked) !== null).toBe(masked);
  });
});

describe("masked tables and the rule of masking.derived", () => {
  const m = new RowMasker(createMasker(MODULE, CONFIG), CONFIG);
  it("names the tables of table.column rules only (bare column rules follow a renamed table by themselves)", () => {
    expect(m.namesMaskedTable("customers")).toBe(true);
    expect(m.namesMaskedTable("CUSTOMERS")).toBe(true);
    expect(m.namesMaskedTable("orders")).toBe(false);
    expect(m.namesMaskedTable("email")).toBe(false);
  });
  it("gives the rule of the first masked column or table among the sources, else the first rule with columns", () => {
    expect(m.ruleForSources(["column api_token"])).toBe("secret");
    expect(m.ruleForSources(["view v", "column email"])).toBe("pii");
    expect(m.ruleForSources(["table customers"])).toBe("secret");
    expect(m.ruleForSources(["all columns (*) written"])).toBe("pii");
  });
});
