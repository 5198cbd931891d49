/**
 * The names a generated column's expression uses, lexed once per (expression text, dialect): the
 * catalog is refreshed before statements and after DDL, and its generated columns mostly stay the
 * same, so RowMasker.setGenerated asks this cache instead of lexing every expression again.
 *
 * What is cached does not depend on the masking rules or on which views are masked at the time:
 * only the identifiers, and whether the expression taints whatever they name. Which names are
 * masked is asked afresh on every refresh (they change as generated columns and views do).
 */
import { analyzeTaint } from "../sql/taint.ts";
import type { Dialect } from "../sql/dialect.ts";

export type ExpressionNames =
  /** Text the gateway cannot lex, or one reading a table the server copies values into: masked whatever it names. */
  | { always: true }
  /** Every identifier (bare or backticked) the expression uses, as analyzeTaint reads them. */
  | { always: false; names: readonly string[] };

/**
 * analyzeTaint asks `namesMasked` about every identifier it reads, whatever else it finds: with
 * nothing masked, the questions are the names, and a taint all the same is what no rule decides.
 * So the taint of the expression under any rules is `always || names.some(namesMasked)`, exactly
 * as analyzeTaint would answer them.
 */
export function expressionNames(expression: string, dialect: Dialect): ExpressionNames {
  const names = new Set<string>();
  const taint = analyzeTaint(expression, dialect, (w) => {
    names.add(w);
    return false;
  });
  return taint === null ? { always: false, names: [...names] } : { always: true };
}

/** Bounded: the expressions come from the server's catalog, which other sessions' DDL can grow. */
export const MAX_CACHED_EXPRESSIONS = 4096;

export class GeneratedExpressionCache {
  private readonly entries = new Map<string, ExpressionNames>();

  constructor(
    private readonly analyze: (expression: string, dialect: Dialect) => ExpressionNames = expressionNames,
    private readonly max = MAX_CACHED_EXPRESSIONS,
  ) {}

  get(expression: string, dialect: Dialect): ExpressionNames {
    // Every field of the dialect changes how the text lexes (quotes, escapes, version comments).
    const key = `${dialect.flavor} ${dialect.version} ${dialect.ansiQuotes ? 1 : 0}${dialect.noBackslashEscapes ? 1 : 0}\n${expression}`;
    const hit = this.entries.get(key);
    if (hit) {
      // Least recently used goes first: move a hit to the end.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const names = this.analyze(expression, dialect);
    this.entries.set(key, names);
    if (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
    return names;
  }
}
