/**
 * Derived-value analysis of a MySQL statement (the MySQL side of docs/MASKING.md "Derived values"),
 * lexical and fail closed. A statement is *tainted* when one of its identifiers (bare or
 * backticked, also inside executed version comments) names a masked column by any column glob, or
 * when the gateway cannot lex it. In a tainted statement every result column without its own
 * column rule is derived (always redacted) — except, in a *plain* statement (one SELECT, no
 * sub-query, no set operation), a column the server reports with an original table and column
 * (a stored value: `id` next to `email`). MySQL's column definitions cannot tell a base table
 * from a view or a derived table (`(select lower(email) e from customers) t` reports `t.e`),
 * which is why a sub-query or a set operation makes every unruled column derived.
 *
 * Not covered (docs/MYSQL.md): a view whose definition reads a masked column, queried without
 * naming that column (`select e from v`) — that needs the catalogue PostgreSQL reads at start.
 */
import { lex, LexError } from "./lexer.ts";
import type { Dialect } from "./dialect.ts";

export interface Taint {
  /** One SELECT without sub-queries or set operations: columns with an original table/column are stored values. */
  plain: boolean;
  /** What made the statement tainted (for the trail; never values). */
  sources: string[];
}

const SET_OPERATIONS = new Set(["UNION", "INTERSECT", "EXCEPT", "MINUS"]);
const QUERY_STARTS = new Set(["SELECT", "WITH", "VALUES", "TABLE"]);

export function analyzeTaint(sql: string, dialect: Dialect, namesMasked: (identifier: string) => boolean): Taint | null {
  let toks;
  try {
    toks = lex(sql, dialect);
  } catch (e) {
    if (!(e instanceof LexError)) throw e;
    return { plain: false, sources: ["statement text the gateway cannot lex"] };
  }
  const sources = new Set<string>();
  // Per statement of a multi-statement text: one SELECT each, no nesting, no set operation.
  let selects = 0;
  let nested = false;
  toks.forEach((t, i) => {
    if ((t.type === "word" || t.type === "ident") && namesMasked(t.value)) sources.add(`column ${t.value.toLowerCase()}`);
    if (t.type === "semicolon") selects = 0;
    if (t.type !== "word") return;
    if (t.text === "SELECT" && ++selects > 1) nested = true;
    if (SET_OPERATIONS.has(t.text)) nested = true;
    if (QUERY_STARTS.has(t.text) && toks[i - 1]?.type === "op" && toks[i - 1]!.text === "(") nested = true;
  });
  if (sources.size === 0) return null;
  return { plain: !nested, sources: [...sources] };
}
