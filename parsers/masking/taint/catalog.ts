/**
 * What the taint analysis needs to know about the target, read once per session (before the
 * client's first statement) with one catalogue query the gateway sends itself:
 *
 *  - every relation: OID, schema, name, kind — base tables (r, p, f, t) are the only relations
 *    whose RowDescription columns are taken as plain stored values; views and materialized views
 *    may compute anything;
 *  - every column (OID + attribute number → name), so `email AS x` is still known to be `email`;
 *  - the names of functions outside pg_catalog / information_schema (user and extension code).
 *
 * Views and materialized views in user schemas always taint (fail closed: their definition may
 * read a masked column through any function); so do the statistics views that show column
 * values (pg_stats, pg_stats_ext, pg_stats_ext_exprs) and the views that show statement text of
 * other sessions (pg_stat_activity, pg_stat_statements): an application's `… where api_token =
 * '…'` carries the masked value as a literal. Other system views are clean.
 */
import type { TaintCatalog } from "./analyze.ts";
import type { PgTypeInfo } from "../binary-values.ts";

/**
 * The catalogue query for the server whose login reported `serverVersion` (ParameterStatus
 * server_version). Every arm answers 5 text columns; the 'att' arm's fifth is `attgenerated`
 * ('' for a plain column), a column from PostgreSQL 12 on: read directly there. Any other version
 * (older, or one that does not start with a major number) gets the form that is right on any
 * server, at the cost of a jsonb conversion of every attribute row: a server claiming an old
 * version (a fork, a proxy) may still have generated columns, and the catalogue must not miss one
 * on a guess. Only servers out of support pay for it.
 */
export function catalogQuery(serverVersion: string | undefined): string {
  const major = serverMajorVersion(serverVersion);
  const generated = major !== undefined && major >= 12 ? `a.attgenerated::${T}` : GENERATED_ON_ANY_VERSION;
  // Every operator and type schema-qualified: a search path that lists pg_catalog after a schema
  // the session can write to (a role's or database's default) would otherwise let a user's `=`,
  // `<>`, `>` or `text` answer here, and a relation, column or function vanish from the catalogue.
  return [
    `SELECT 'rel', c.oid::${T}, n.nspname::${T}, c.relname::${T}, c.relkind::${T} FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid ${EQ} c.relnamespace WHERE c.relkind ${EQ} ANY (${RELKINDS})`,
    `SELECT 'att', a.attrelid::${T}, a.attnum::${T}, a.attname::${T}, ${generated} FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid ${EQ} a.attrelid WHERE a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped AND c.relkind ${EQ} ANY (${RELKINDS})`,
    `SELECT 'fn', p.proname::${T}, n.nspname::${T}, '', '' FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid ${EQ} p.pronamespace WHERE n.nspname OPERATOR(pg_catalog.<>) ALL ('{pg_catalog,information_schema}'::pg_catalog.name[])`,
    // operators that run code which may read tables (not C or internal functions): `1 === 1` calls it unnamed
    `SELECT 'op', o.oprname::${T}, n.nspname::${T}, '', '' FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid ${EQ} o.oprnamespace JOIN pg_catalog.pg_proc p ON p.oid ${EQ} o.oprcode JOIN pg_catalog.pg_language l ON l.oid ${EQ} p.prolang WHERE n.nspname OPERATOR(pg_catalog.<>) ALL ('{pg_catalog,information_schema}'::pg_catalog.name[]) AND l.lanname OPERATOR(pg_catalog.<>) ALL ('{c,internal}'::pg_catalog.name[])`,
    // relations with rules other than a view's own (`CREATE RULE … ON INSERT TO t DO ALSO SELECT …`):
    // a statement on them runs the rule's action, which it does not show
    `SELECT 'rule', r.ev_class::${T}, '', '', '' FROM pg_catalog.pg_rewrite r WHERE r.rulename OPERATOR(pg_catalog.<>) '_RETURN'`,
    // relations with row-level-security policies (an inline policy expression runs unseen)
    `SELECT 'pol', p.polrelid::${T}, '', '', '' FROM pg_catalog.pg_policy p`,
    // this session's backend: a notification from any other one carries data of unknown origin
    `SELECT 'pid', pg_catalog.pg_backend_pid()::${T}, '', '', ''`,
    // types, for binary containers: kind, array element, domain base / range subtype
    `SELECT 'typ', t.oid::${T}, t.typtype::${T}, t.typelem::${T}, COALESCE(r.rngsubtype, t.typbasetype)::${T} FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_range r ON r.rngtypid ${EQ} t.oid`,
  ].join(";\n");
}

const T = "pg_catalog.text";
const EQ = "OPERATOR(pg_catalog.=)";
const RELKINDS = `'{r,p,f,v,m,t}'::pg_catalog."char"[]`;

/**
 * Before PostgreSQL 12 the column does not exist and to_jsonb's object has no such key: NULL → ''.
 * Schema-qualified: a user's `public.to_jsonb(pg_attribute)` (an exact argument match beats
 * pg_catalog's `anyelement`) or `->>` operator would otherwise answer '' for every column.
 */
const GENERATED_ON_ANY_VERSION = "COALESCE(pg_catalog.to_jsonb(a) OPERATOR(pg_catalog.->>) 'attgenerated', '')";

/**
 * The major version at the start of `server_version` ("18.1", "18beta1", "18devel",
 * "15.19 (Debian 15.19-0+deb12u1)", "9.6.24" → 9), or undefined when it does not start that way.
 */
function serverMajorVersion(serverVersion: string | undefined): number | undefined {
  const match = /^(\d{1,4})(?!\d)/.exec(serverVersion ?? "");
  return match ? Number(match[1]) : undefined;
}

const SYSTEM_SCHEMAS = new Set(["pg_catalog", "information_schema", "pg_toast"]);
/** System relations whose values may be copies of masked values: column statistics, other sessions' statement text. */
const VALUE_STATISTICS_VIEWS = new Set([
  "pg_stats", "pg_stats_ext", "pg_stats_ext_exprs", "pg_statistic", "pg_statistic_ext_data",
  "pg_stat_activity", "pg_stat_statements",
]);
const BASE_TABLE_KINDS = new Set(["r", "p", "f", "t"]);

export interface Relation {
  schema: string;
  name: string;
  kind: string;
  columns: Map<number, string>;
}

export interface SessionCatalog extends TaintCatalog {
  relations: ReadonlyMap<number, Relation>;
  /** A base table whose column values are stored values (not computed). */
  isBaseTable(oid: number): boolean;
  /** A relation the gateway does not trust to hold plain values (view, unknown OID, statistics). */
  isOpaqueRelation(oid: number): boolean;
  /** pg_type facts for binary containers (undefined: unknown type). */
  type(oid: number): PgTypeInfo | undefined;
  /** A generated column of a table with a masked column (its value may be computed from one). */
  isMaskedGenerated(oid: number, attnum: number): boolean;
  /** The process ID of this session's backend (pg_backend_pid()), if the catalogue read it. */
  backendPid: number | undefined;
}

/** Rows of catalogQuery's query (5 text columns each) → the session's catalogue. */
export function buildCatalog(rows: ReadonlyArray<ReadonlyArray<string | null>>, ruleFor: (column: string, table?: string) => number): SessionCatalog {
  const relations = new Map<number, Relation>();
  const userFunctions = new Set<string>();
  const userOperators = new Set<string>();
  let backendPid: number | undefined;
  const types = new Map<number, PgTypeInfo>();
  /** `oid:attnum` of generated columns (`GENERATED ALWAYS AS (…) STORED`, and virtual ones from PostgreSQL 18). */
  const generated = new Set<string>();
  /** OIDs of relations with rules of their own (not a view's _RETURN). */
  const ruled = new Set<number>();
  /** OIDs of relations with row-level-security policies. */
  const policed = new Set<number>();
  for (const [tag, a, b, c, d] of rows) {
    if (tag === "typ") types.set(Number(a), { typtype: b ?? "", elem: Number(c), base: Number(d) });
    if (tag === "rel") relations.set(Number(a), { schema: b ?? "", name: c ?? "", kind: d ?? "", columns: new Map() });
    else if (tag === "att") {
      relations.get(Number(a))?.columns.set(Number(b), c ?? "");
      if (d) generated.add(`${a}:${b}`);
    }
    else if (tag === "fn" && a) userFunctions.add(a);
    else if (tag === "op" && a) userOperators.add(a);
    else if (tag === "pid" && a && /^\d+$/.test(a)) backendPid = Number(a);
    else if (tag === "rule" && a) ruled.add(Number(a));
    else if (tag === "pol" && a) policed.add(Number(a));
  }
  const maskedTables = new Map<string, number>();
  const taintingRelations = new Set<string>();
  const knownRelations = new Set<string>();
  const policyRelations = new Set<string>();
  let defaultRule = -1;
  const columnRules = new Map<string, number>();
  // A generated column of a table with a masked column (`email_lower text GENERATED ALWAYS AS
  // (lower(email)) STORED`) holds a masked value under a name no rule names. Its expression is not
  // read: fail closed, every generated column of such a table is masked — its values derived, its
  // name tainting a statement as the masked column's does (name → the table's rule).
  const maskedGenerated = new Set<string>();
  const generatedNames = new Map<string, number>();
  for (const [oid, rel] of relations) {
    knownRelations.add(rel.name);
    let tableRule = -1;
    for (const column of rel.columns.values()) {
      const rule = ruleFor(column, `${rel.schema}.${rel.name}`);
      if (rule < 0) continue;
      if (tableRule < 0) tableRule = rule;
      if (!maskedTables.has(rel.name)) maskedTables.set(rel.name, rule);
      if (defaultRule < 0 || rule < defaultRule) defaultRule = rule;
    }
    if (tableRule >= 0) {
      for (const [attnum, column] of rel.columns) {
        if (!generated.has(`${oid}:${attnum}`) || ruleFor(column, `${rel.schema}.${rel.name}`) >= 0) continue;
        maskedGenerated.add(`${oid}:${attnum}`);
        if (!generatedNames.has(column)) generatedNames.set(column, tableRule);
      }
    }
    if (policed.has(oid)) policyRelations.add(rel.name);
    const system = SYSTEM_SCHEMAS.has(rel.schema);
    // A table with a rule taints like a view: `insert into t` ran `DO ALSO SELECT api_token::int
    // from customers` and its error quoted the token (and a DO ALSO SELECT returns computed rows).
    if ((!system && (!BASE_TABLE_KINDS.has(rel.kind) || ruled.has(oid))) || VALUE_STATISTICS_VIEWS.has(rel.name)) taintingRelations.add(rel.name);
  }
  const columnsByName = new Map<string, Set<string>>();
  for (const rel of relations.values()) {
    let names = columnsByName.get(rel.name);
    if (!names) columnsByName.set(rel.name, (names = new Set()));
    for (const column of rel.columns.values()) names.add(column);
  }
  return {
    relations,
    maskedTables,
    relationColumns: (relation) => columnsByName.get(relation),
    taintingRelations,
    knownRelations,
    policyRelations,
    userFunctions,
    userOperators,
    backendPid,
    defaultRule: defaultRule < 0 ? 0 : defaultRule,
    columnRule: (column) => {
      // every identifier of every statement is looked up: remember the answers (bounded)
      let rule = columnRules.get(column);
      if (rule === undefined) {
        rule = ruleFor(column);
        if (rule < 0) rule = generatedNames.get(column) ?? -1;
        if (columnRules.size < 10_000) columnRules.set(column, rule);
      }
      return rule;
    },
    isBaseTable: (oid) => {
      const rel = relations.get(oid);
      return rel !== undefined && BASE_TABLE_KINDS.has(rel.kind) && !VALUE_STATISTICS_VIEWS.has(rel.name);
    },
    type: (oid) => types.get(oid),
    isMaskedGenerated: (oid, attnum) => maskedGenerated.has(`${oid}:${attnum}`),
    isOpaqueRelation: (oid) => {
      const rel = relations.get(oid);
      return rel === undefined || (!BASE_TABLE_KINDS.has(rel.kind) && (!SYSTEM_SCHEMAS.has(rel.schema) || VALUE_STATISTICS_VIEWS.has(rel.name)));
    },
  };
}
