/**
 * Anchored glob patterns for claim values, resource names, labels and SQL command names.
 *
 *   `*`   any run of characters except `/` (so `acme/*` matches `acme/api` but not `acme/api/x`)
 *   `**`  any run of characters including `/`
 *   `?`   exactly one character except `/`
 *   `\x`  the character x literally (e.g. `\*`, `\?`, `\\`)
 *
 * Patterns always match the WHOLE value (`acme/api` never matches `acme/api-evil`), comparisons are
 * case-sensitive, and `[ ] { }` are reserved (an error unless escaped) so a pattern copied from a
 * shell or from gitignore does not silently mean something else.
 *
 * Matching simulates the pattern as a small NFA, so it runs in O(pattern × value) time whatever the
 * pattern looks like: an attacker-controlled claim value cannot trigger regex backtracking.
 */
import { PolicySyntaxError } from "./errors.ts";

export const MAX_GLOB_LENGTH = 1024;

type Token =
  | { t: "lit"; c: string } // one UTF-16 code unit
  | { t: "one" } // ?
  | { t: "star" } // *
  | { t: "globstar" }; // **

export interface Glob {
  /** The pattern as written. */
  readonly source: string;
  /** True when the pattern has no wildcard: matching is string equality. */
  readonly literal: boolean;
  matches(value: string): boolean;
}

const RESERVED = new Set(["[", "]", "{", "}"]);

/** Compiles a pattern; throws PolicySyntaxError with a precise message when it is malformed. */
export function compileGlob(pattern: string): Glob {
  if (pattern.length === 0) throw new PolicySyntaxError("empty pattern (it would only match an empty value)");
  if (pattern.length > MAX_GLOB_LENGTH) throw new PolicySyntaxError(`pattern longer than ${MAX_GLOB_LENGTH} characters`);
  const tokens: Token[] = [];
  let literalText = "";
  let literal = true;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "\\") {
      if (i + 1 >= pattern.length) throw new PolicySyntaxError(`pattern '${pattern}' ends with a lone '\\' (write '\\\\' for a backslash)`);
      const next = pattern[++i]!;
      tokens.push({ t: "lit", c: next });
      literalText += next;
      continue;
    }
    if (c === "*") {
      let run = 1;
      while (pattern[i + run] === "*") run++;
      if (run > 2) throw new PolicySyntaxError(`pattern '${pattern}' has '${"*".repeat(run)}': use '*' (within one path segment) or '**' (across '/')`);
      tokens.push(run === 2 ? { t: "globstar" } : { t: "star" });
      i += run - 1;
      literal = false;
      continue;
    }
    if (c === "?") {
      tokens.push({ t: "one" });
      literal = false;
      continue;
    }
    if (RESERVED.has(c)) {
      throw new PolicySyntaxError(`pattern '${pattern}' uses '${c}', which is reserved in Gatehouse globs (escape it as '\\${c}' to match it literally)`);
    }
    tokens.push({ t: "lit", c });
    literalText += c;
  }
  if (literal) {
    const text = literalText;
    return { source: pattern, literal: true, matches: (value) => value === text };
  }
  return { source: pattern, literal: false, matches: (value) => simulate(tokens, value) };
}

function simulate(tokens: readonly Token[], value: string): boolean {
  const m = tokens.length;
  let cur = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  cur[0] = 1;
  closure(tokens, cur);
  for (let k = 0; k < value.length; k++) {
    const ch = value[k]!;
    next.fill(0);
    let alive = false;
    for (let i = 0; i < m; i++) {
      if (!cur[i]) continue;
      const tok = tokens[i]!;
      switch (tok.t) {
        case "lit":
          if (ch === tok.c) (next[i + 1] = 1), (alive = true);
          break;
        case "one":
          if (ch !== "/") (next[i + 1] = 1), (alive = true);
          break;
        case "star":
          if (ch !== "/") (next[i] = 1), (alive = true);
          break;
        case "globstar":
          next[i] = 1;
          alive = true;
          break;
      }
    }
    if (!alive) return false;
    closure(tokens, next);
    const swap = cur;
    cur = next;
    next = swap;
  }
  return cur[m] === 1;
}

/** A star can match zero characters: being at a star also means being just past it. */
function closure(tokens: readonly Token[], states: Uint8Array): void {
  for (let i = 0; i < tokens.length; i++) {
    if (states[i] && (tokens[i]!.t === "star" || tokens[i]!.t === "globstar")) states[i + 1] = 1;
  }
}

/** Any-of list of globs (a YAML scalar or a list of scalars). */
export class GlobSet {
  constructor(readonly globs: readonly Glob[]) {}
  matches(value: string): boolean {
    for (const g of this.globs) if (g.matches(value)) return true;
    return false;
  }
  get sources(): string[] {
    return this.globs.map((g) => g.source);
  }
}
