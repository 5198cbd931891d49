/**
 * The session's snapshot of the server's relations (information_schema.TABLES with the views'
 * definitions), which masking needs because MySQL's column definitions cannot tell a view's column
 * from a base table's: a merge view reports its own name (or the alias it was given) as
 * `org_table`, a TEMPTABLE view reports the *base* table under the view's column name with an empty
 * schema (`CREATE ALGORITHM=TEMPTABLE VIEW v AS SELECT email AS name FROM customers` gives
 * `customers`.`name`), a derived table or CTE reports its alias (measured on MariaDB 10.11).
 *
 * So a result column is a stored value with its own rule only when its schema and `org_table` name
 * a base table of the snapshot, a view the snapshot knows as unmasked, or information_schema;
 * anything else is redacted (row-masker.ts). The engine keeps the snapshot current: read whole
 * before the first statement and after DDL, and re-read for the names each statement uses before
 * it runs (engine-core.ts `refreshCatalog`): another session's `CREATE OR REPLACE VIEW`, `DROP
 * TABLE t; CREATE VIEW t …` or `RENAME TABLE` is seen before the statement that reads it.
 */

export interface Relation {
  schema: string;
  name: string;
  /** information_schema.TABLES.TABLE_TYPE: `BASE TABLE`, `VIEW`, `SYSTEM VIEW`, `SEQUENCE`, … */
  type: string;
  /** VIEW_DEFINITION for views ("" when the account may not see it: no SHOW VIEW). */
  definition: string;
}

const SELECT_RELATIONS =
  "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, t.TABLE_TYPE, v.VIEW_DEFINITION FROM information_schema.TABLES t " +
  "LEFT JOIN information_schema.VIEWS v ON v.TABLE_SCHEMA = t.TABLE_SCHEMA AND v.TABLE_NAME = t.TABLE_NAME " +
  "WHERE t.TABLE_SCHEMA <> 'information_schema'";

/**
 * Generated columns (`email_lower VARCHAR(200) AS (LOWER(email)) STORED`, `dom AS
 * (SUBSTRING_INDEX(email, '@', -1))`): the server keeps or computes a masked column's value under
 * another column name of a base table, which no rule names. They travel in the relations' answer
 * (same width) as `TABLE_TYPE` = `GENERATED COLUMN <name>` with the expression as the definition.
 * MariaDB reports NULL, MySQL 8 '' for a column that is not generated: both fail `<> ''`.
 */
const GENERATED_PREFIX = "GENERATED COLUMN ";
const SELECT_GENERATED =
  `SELECT TABLE_SCHEMA, TABLE_NAME, CONCAT('${GENERATED_PREFIX}', COLUMN_NAME), GENERATION_EXPRESSION FROM information_schema.COLUMNS ` +
  "WHERE TABLE_SCHEMA <> 'information_schema' AND GENERATION_EXPRESSION <> ''";

/** Every relation the session's account can see, and every generated column. */
export const CATALOG_QUERY = `${SELECT_RELATIONS} UNION ALL ${SELECT_GENERATED}`;

/** Above this many names a statement re-reads the whole catalog instead of the names it uses. */
export const MAX_TARGETED_NAMES = 200;

/**
 * The relations with these names, in every schema, and their generated columns: two SELECTs, each
 * with the names as one `TABLE_NAME IN (…)` list. MariaDB filters the names of each schema's
 * tables with the list before it opens one, and opens only the relations named (measured
 * on MariaDB 10.11 against one `TABLE_NAME = <name>` lookup per name, UNION ALL: the same distinct
 * rows, hostile names and letter-case variants included; ≈ 2× faster for 6 names and ≈ 10× for
 * 200 on a server of ~1,000 tables; docs/MYSQL.md "Bench"). What made an earlier `IN (…)`
 * lookup slow was its join with information_schema.VIEWS, which opens every view of the server:
 * view definitions are not read here, a view among the answers makes the engine re-read the whole
 * catalog (definitions included) anyway. The server resolves a name exactly as the statement
 * spells it (case-sensitive file names unless lower_case_table_names); the list compares without
 * letter case, so it may also answer other spellings, which MysqlCatalog.replaceNames expects.
 * Names travel as hex literals with a character set introducer, so no quoting rule of any sql_mode
 * (ANSI_QUOTES, NO_BACKSLASH_ESCAPES) applies. At least one name.
 */
export function catalogQueryFor(names: readonly string[]): string {
  const hex = (s: string) => `_utf8mb4 0x${Array.from(new TextEncoder().encode(s), (b) => b.toString(16).padStart(2, "0")).join("")}`;
  const list = names.map(hex).join(", ");
  return `SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, NULL FROM information_schema.TABLES WHERE TABLE_SCHEMA <> 'information_schema' AND TABLE_NAME IN (${list}) UNION ALL ${SELECT_GENERATED} AND TABLE_NAME IN (${list})`;
}

export function relationsFromRows(rows: readonly (string | null)[][]): Relation[] {
  return rows.map(([schema, name, type, definition]) => ({ schema: schema ?? "", name: name ?? "", type: type ?? "", definition: definition ?? "" }));
}

/** A generated column of a base table and the expression the server computes it from. */
export interface GeneratedColumn {
  schema: string;
  table: string;
  column: string;
  expression: string;
}

export class MysqlCatalog {
  /** Lower-cased name → every relation of that name (any schema, any letter case). */
  private byName = new Map<string, Relation[]>();
  /** Lower-cased table name → its generated columns (any schema). */
  private generatedByTable = new Map<string, GeneratedColumn[]>();

  replaceAll(relations: readonly Relation[]): void {
    this.byName = new Map();
    this.generatedByTable = new Map();
    for (const r of relations) this.add(r);
  }

  /** The answer for exactly these names: what was known under them is forgotten first (dropped, renamed). */
  replaceNames(names: readonly string[], relations: readonly Relation[]): void {
    for (const n of names) {
      this.byName.delete(n.toLowerCase());
      this.generatedByTable.delete(n.toLowerCase());
    }
    for (const r of relations) {
      // The server compares case-insensitively: it may answer for a name the statement spelt otherwise.
      this.byName.delete(r.name.toLowerCase());
      this.generatedByTable.delete(r.name.toLowerCase());
    }
    for (const r of relations) this.add(r);
  }

  /** Every generated column of the snapshot. */
  generatedColumns(): GeneratedColumn[] {
    return [...this.generatedByTable.values()].flat();
  }

  private add(r: Relation): void {
    if (r.type.startsWith(GENERATED_PREFIX)) {
      const g = { schema: r.schema, table: r.name, column: r.type.slice(GENERATED_PREFIX.length), expression: r.definition };
      const k = r.name.toLowerCase();
      this.generatedByTable.set(k, [...(this.generatedByTable.get(k) ?? []), g]);
      return;
    }
    const k = r.name.toLowerCase();
    const list = this.byName.get(k);
    if (list) list.push(r);
    else this.byName.set(k, [r]);
  }

  /** Whether any relation of the snapshot (any schema) has this name. */
  knows(name: string): boolean {
    return this.byName.has(name.toLowerCase());
  }

  /** Whether a view (any schema) has this name. */
  isViewName(name: string): boolean {
    return (this.byName.get(name.toLowerCase()) ?? []).some((r) => r.type === "VIEW");
  }

  /** Exactly this schema and name (as the server reports them in a column definition). */
  find(schema: string, name: string): Relation | undefined {
    return (this.byName.get(name.toLowerCase()) ?? []).find((r) => r.schema === schema && r.name === name);
  }

  /** Every relation of this name (any schema, any letter case). */
  named(name: string): Relation[] {
    return this.byName.get(name.toLowerCase()) ?? [];
  }

  views(): Relation[] {
    return [...this.byName.values()].flat().filter((r) => r.type === "VIEW");
  }
}
