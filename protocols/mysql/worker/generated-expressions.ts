/**
 * The names a generated column's expression (or a view's definition) uses, lexed once per (text,
 * dialect): the catalog is refreshed before statements and after DDL, and its generated columns
 * and views mostly stay the same, so RowMasker.setGenerated and setViews ask this cache instead of
 * lexing every text again.
 *
 * What is cached does not depend on the masking rules or on which views are masked at the time:
 * only the identifiers, and whether the expression taints whatever they name. Which names are
 * masked is asked afresh on every refresh (they change as generated columns and views do).
 */
import { analyzeTaint } from "../sql/taint.ts";
import { classifyMysql, opaquePart } from "../sql/classify.ts";
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

/**
 * The same for a view's definition, which is also masked whole when any part of it is opaque to
 * the gateway (a stored function call, a compound statement): that verdict depends on the text
 * alone, so it is cached with the names.
 */
export function viewDefinitionNames(definition: string, dialect: Dialect): ExpressionNames {
  return opaquePart(classifyMysql(definition, dialect)) ? { always: true } : expressionNames(definition, dialect);
}

/**
 * Bounded in entries and in text: the expressions come from the server's catalog, which other
 * sessions' DDL can grow, and an expression may be tens of kilobytes — a count alone would let
 * someone who keeps rewriting large expressions pin hundreds of MB in the session's isolate.
 */
export const MAX_CACHED_EXPRESSIONS = 4096;
/** Characters of keys and names held at most (UTF-16 code units, ~2 bytes each). */
export const MAX_CACHED_CHARS = 2 * 1024 * 1024;

export class GeneratedExpressionCache {
  private readonly entries = new Map<string, ExpressionNames>();
  private chars = 0;

  constructor(
    private readonly analyze: (expression: string, dialect: Dialect) => ExpressionNames = expressionNames,
    private readonly max = MAX_CACHED_EXPRESSIONS,
    private readonly maxChars = MAX_CACHED_CHARS,
  ) {}

  /** Characters an entry holds (for the budget). */
  private static size(key: string, names: ExpressionNames): number {
    let n = key.length;
    if (!names.always) for (const w of names.names) n += w.length;
    return n;
  }

  /** Characters held now (for tests). */
  get heldChars(): number {
    return this.chars;
  }

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
    const size = GeneratedExpressionCache.size(key, names);
    // An expression larger than the whole budget is analysed every time, never kept.
    if (size > this.maxChars) return names;
    this.entries.set(key, names);
    this.chars += size;
    while (this.entries.size > this.max || this.chars > this.maxChars) {
      const [oldest, held] = this.entries.entries().next().value!;
      this.entries.delete(oldest);
      this.chars -= GeneratedExpressionCache.size(oldest, held);
    }
    return names;
  }
}
