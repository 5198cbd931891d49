/**
 * Optimizer hints (`SELECT /*+ MAX_EXECUTION_TIME(3600000) SET_VAR(max_execution_time = 0) *\/ …`):
 * a comment to the gateway's lexer, but code to MySQL 8 (and MariaDB 12's MAX_EXECUTION_TIME).
 * `SET_VAR(x = v)` sets a session variable for one statement, as MariaDB's `SET STATEMENT x = v
 * FOR` does, and `MAX_EXECUTION_TIME(N)` replaces the session's statement timeout for one SELECT
 * (N ms; 0 keeps the session's). The classifier treats SET_VAR of a pinned or server setting as it
 * treats SET STATEMENT; the engine checks the pinned limits (timeout, read-only) against both.
 */
import { lex, LexError, type HintComment, type Token } from "./lexer.ts";
import type { Dialect } from "./dialect.ts";

export interface StatementHints {
  /** SET_VAR assignments: lower-case variable name, literal value (null when not one token). */
  setVars: { name: string; value: string | null }[];
  /** MAX_EXECUTION_TIME arguments in ms (null when not a plain number). */
  maxExecutionTime: (number | null)[];
  /** A hint comment the gateway cannot read (fail closed: treat as setting anything). */
  unreadable: boolean;
}

/** The hints among `comments` that lie in [start, end), or undefined when there are none. */
export function hintsIn(comments: readonly HintComment[], start: number, end: number, dialect: Dialect): StatementHints | undefined {
  const mine = comments.filter((c) => c.start >= start && c.start < end);
  if (!mine.length) return undefined;
  const out: StatementHints = { setVars: [], maxExecutionTime: [], unreadable: false };
  for (const c of mine) {
    let toks: Token[];
    try {
      toks = lex(c.text, dialect);
    } catch (e) {
      if (!(e instanceof LexError)) throw e;
      out.unreadable = true;
      continue;
    }
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i]!;
      if (t.type !== "word" || toks[i + 1]?.type !== "op" || toks[i + 1]!.text !== "(") continue;
      const close = toks.findIndex((x, k) => k > i && x.type === "op" && x.text === ")");
      const args = toks.slice(i + 2, close < 0 ? toks.length : close);
      if (close < 0) out.unreadable = true;
      if (t.text === "SET_VAR") {
        const eq = args.findIndex((x) => x.type === "op" && x.text === "=");
        const name = args[0];
        if (eq !== 1 || !name || (name.type !== "word" && name.type !== "ident")) {
          out.unreadable = true;
          continue;
        }
        const v = args.slice(2);
        out.setVars.push({ name: name.value.toLowerCase(), value: v.length === 1 && (v[0]!.type === "number" || v[0]!.type === "word" || v[0]!.type === "string") ? v[0]!.value : null });
      } else if (t.text === "MAX_EXECUTION_TIME") {
        out.maxExecutionTime.push(args.length === 1 && args[0]!.type === "number" && /^[0-9]+$/.test(args[0]!.text) ? Number(args[0]!.text) : null);
      }
    }
  }
  return out;
}
