/**
 * A small typed reader over the `yaml` AST that records errors with file/line/column instead of
 * throwing, so one pass reports every problem in a policy. Compile code asks it for "a map with
 * these keys", "a string", "a glob or list of globs"… and gets null (plus a recorded error) when
 * the node is not that.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair, type YAMLMap, type YAMLSeq, type Scalar } from "yaml";
import { compileGlob, GlobSet, type Glob } from "./glob.ts";
import { parseDuration } from "./duration.ts";
import { PolicySyntaxError, type PolicyError } from "./errors.ts";

/** Bound on nodes visited while compiling, so alias fan-out ("billion laughs") cannot blow up the loader. */
export const MAX_POLICY_NODES = 200_000;
/** Bound on list lengths anywhere in a policy. */
export const MAX_LIST_LENGTH = 10_000;

export class PolicyTooLargeError extends Error {
  override name = "PolicyTooLargeError";
}

export interface Position {
  line: number;
  column: number;
}

export class PolicyReader {
  readonly errors: PolicyError[] = [];
  private visited = 0;
  /** "mapOffset:key" for every key suggested by a "did you mean" hint. */
  private readonly suggested = new Set<string>();

  constructor(
    readonly file: string,
    private readonly lineCounter: LineCounter,
    private readonly doc: Document.Parsed,
    /** What `issuer: dev` resolves to (LoadPolicyOptions.devIssuers). */
    readonly devIssuers: readonly string[] = [],
  ) {}

  positionOf(offset: number): Position {
    const { line, col } = this.lineCounter.linePos(offset);
    // linePos reports line 0 before the first newline was seen (single-line documents).
    return line === 0 ? { line: 1, column: offset + 1 } : { line, column: col };
  }

  nodePosition(node: Node | Pair | null | undefined, fallback?: Node | null): Position {
    const target = node && "range" in node && node.range ? node : fallback && fallback.range ? fallback : null;
    if (target && target.range) return this.positionOf(target.range[0]);
    return { line: 1, column: 1 };
  }

  error(node: Node | null | undefined, message: string, fallback?: Node | null): void {
    const { line, column } = this.nodePosition(node, fallback);
    this.errors.push({ file: this.file, line, column, message });
  }

  /** Follows aliases; counts visited nodes against MAX_POLICY_NODES. */
  resolve(node: unknown): Node | null {
    if (++this.visited > MAX_POLICY_NODES) throw new PolicyTooLargeError(`policy too large: more than ${MAX_POLICY_NODES} nodes after expanding aliases`);
    let current = node;
    for (let hops = 0; isAlias(current); hops++) {
      if (hops > 32) return null;
      current = current.resolve(this.doc);
    }
    if (current === undefined || current === null) return null;
    return current as Node;
  }

  /** The plain JS value of a node (aliases expanded), as kept for consumers such as the masker. */
  toJS(node: Node | null): unknown {
    const n = this.resolve(node);
    return n ? n.toJS(this.doc, { maxAliasCount: 1000 }) : null;
  }

  map(node: Node | null, what: string, fallback?: Node | null): YAMLMap | null {
    const n = this.resolve(node);
    if (n && isMap(n)) return n;
    this.error(n ?? node, `${what} must be a mapping (key: value), got ${describe(n)}`, fallback);
    return null;
  }

  seq(node: Node | null, what: string, fallback?: Node | null): YAMLSeq | null {
    const n = this.resolve(node);
    if (n && isSeq(n)) {
      if (n.items.length > MAX_LIST_LENGTH) {
        this.error(n, `${what} has ${n.items.length} entries (at most ${MAX_LIST_LENGTH})`);
        return null;
      }
      return n;
    }
    this.error(n ?? node, `${what} must be a list, got ${describe(n)}`, fallback);
    return null;
  }

  /**
   * The entries of a mapping, keyed by their string key. Unknown keys are errors (with a
   * "did you mean" hint) so that a typo never silently drops a condition.
   */
  entries(map: YAMLMap, what: string, allowed: readonly string[] | null): Map<string, { key: Scalar; value: Node | null }> {
    const out = new Map<string, { key: Scalar; value: Node | null }>();
    for (const pair of map.items) {
      const key = this.resolve(pair.key);
      if (!key || !isScalar(key) || typeof key.value !== "string") {
        this.error(key ?? map, `${what}: keys must be strings, got ${describe(key)}`);
        continue;
      }
      const name = key.value;
      if (allowed && !allowed.includes(name)) {
        const hint = suggest(name, allowed);
        if (hint) this.suggested.add(`${map.range?.[0] ?? -1}:${hint}`);
        this.error(key, `${what}: unknown key '${name}'${hint ? ` (did you mean '${hint}'?)` : ""}; expected one of ${allowed.join(", ")}`);
        continue;
      }
      out.set(name, { key, value: (pair.value as Node | null) ?? null });
    }
    return out;
  }

  /** A required key: records "missing" at the mapping when absent. */
  required<T>(entries: Map<string, T>, key: string, map: YAMLMap, what: string): T | null {
    const e = entries.get(key);
    // A misspelt key already produced "unknown key 'efect' (did you mean 'effect'?)": don't repeat it as "missing".
    if (!e && !this.suggested.has(`${map.range?.[0] ?? -1}:${key}`)) this.error(map, `${what}: missing required key '${key}'`);
    return e ?? null;
  }

  string(node: Node | null, what: string, fallback?: Node | null): string | null {
    const n = this.resolve(node);
    if (n && isScalar(n) && typeof n.value === "string") return n.value;
    this.error(n ?? node, `${what} must be a string, got ${describe(n)}`, fallback);
    return null;
  }

  /** One of a fixed set of strings. */
  oneOf<T extends string>(node: Node | null, what: string, choices: readonly T[], fallback?: Node | null): T | null {
    const n = this.resolve(node);
    if (n && isScalar(n) && typeof n.value === "string" && (choices as readonly string[]).includes(n.value)) return n.value as T;
    const got = n && isScalar(n) && typeof n.value === "string" ? `'${n.value}'` : describe(n);
    const hint = n && isScalar(n) && typeof n.value === "string" ? suggest(n.value, choices) : null;
    this.error(n ?? node, `${what} must be one of ${choices.join(", ")}, got ${got}${hint ? ` (did you mean '${hint}'?)` : ""}`, fallback);
    return null;
  }

  /**
   * A scalar compared as a string. Booleans and integers are accepted and converted to their text
   * ("true", "42") because claim values are compared as strings: `ref_protected: true` and
   * `ref_protected: "true"` mean the same.
   */
  patternText(node: Node | null, what: string, fallback?: Node | null): string | null {
    const n = this.resolve(node);
    if (n && isScalar(n)) {
      if (typeof n.value === "string") return n.value;
      if (typeof n.value === "boolean") return n.value ? "true" : "false";
      if (typeof n.value === "number") {
        if (Number.isSafeInteger(n.value)) return String(n.value);
        this.error(n, `${what}: quote non-integer numbers ('${n.source ?? n.value}') so they are compared exactly as written`);
        return null;
      }
    }
    this.error(n ?? node, `${what} must be a string (or a list of strings), got ${describe(n)}`, fallback);
    return null;
  }

  glob(node: Node | null, what: string, transform?: (s: string) => string, fallback?: Node | null): Glob | null {
    const text = this.patternText(node, what, fallback);
    if (text === null) return null;
    try {
      return compileGlob(transform ? transform(text) : text);
    } catch (e) {
      if (e instanceof PolicySyntaxError) {
        this.error(this.resolve(node) ?? node, `${what}: ${e.message}`, fallback);
        return null;
      }
      throw e;
    }
  }

  /** A pattern or a non-empty list of patterns (any-of). */
  globSet(node: Node | null, what: string, transform?: (s: string) => string, fallback?: Node | null, check?: (glob: Glob, node: Node) => string | null): GlobSet | null {
    const n = this.resolve(node);
    const items: (Node | null)[] = n && isSeq(n) ? (this.seq(n, what)?.items as (Node | null)[] | undefined) ?? [] : [n ?? node];
    if (n && isSeq(n) && items.length === 0) {
      this.error(n, `${what}: empty list (it would never match)`);
      return null;
    }
    const globs: Glob[] = [];
    let ok = true;
    for (const item of items) {
      const g = this.glob(item, what, transform, n ?? fallback);
      if (!g) {
        ok = false;
        continue;
      }
      const problem = check ? check(g, this.resolve(item) ?? (n as Node)) : null;
      if (problem) {
        this.error(this.resolve(item) ?? n, `${what}: ${problem}`, fallback);
        ok = false;
        continue;
      }
      globs.push(g);
    }
    return ok ? new GlobSet(globs) : null;
  }

  /** A string or a list of strings, each from a fixed set. */
  setOf<T extends string>(node: Node | null, what: string, choices: readonly T[]): Set<T> | null {
    const n = this.resolve(node);
    const items: (Node | null)[] = n && isSeq(n) ? (this.seq(n, what)?.items as (Node | null)[] | undefined) ?? [] : [n ?? node];
    if (n && isSeq(n) && items.length === 0) {
      this.error(n, `${what}: empty list (it would never match)`);
      return null;
    }
    const out = new Set<T>();
    let ok = true;
    for (const item of items) {
      const v = this.oneOf(item, what, choices, n);
      if (v === null) ok = false;
      else out.add(v);
    }
    return ok ? out : null;
  }

  /** A list of strings (no patterns). */
  stringList(node: Node | null, what: string): string[] | null {
    const n = this.resolve(node);
    const items: (Node | null)[] = n && isSeq(n) ? (this.seq(n, what)?.items as (Node | null)[] | undefined) ?? [] : [n ?? node];
    const out: string[] = [];
    let ok = true;
    for (const item of items) {
      const v = this.string(item, what, n);
      if (v === null) ok = false;
      else out.push(v);
    }
    return ok ? out : null;
  }

  duration(node: Node | null, what: string, fallback?: Node | null): number | null {
    const n = this.resolve(node);
    if (n && isScalar(n) && typeof n.value === "number") {
      this.error(n, `${what}: duration '${n.source ?? n.value}' needs a unit (ms, s, m, h, d), e.g. '30s', '5m', '8h'`);
      return null;
    }
    const text = this.string(n ?? node, what, fallback);
    if (text === null) return null;
    if (text.length > 64) {
      this.error(n, `${what}: duration too long`);
      return null;
    }
    try {
      return parseDuration(text);
    } catch (e) {
      if (e instanceof PolicySyntaxError) {
        this.error(n, `${what}: ${e.message}`, fallback);
        return null;
      }
      throw e;
    }
  }
}

/** What a node is, for "expected X, got Y" messages. */
export function describe(node: Node | null | undefined): string {
  if (!node) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) {
    const v = node.value;
    if (v === null) return "nothing (null)";
    if (typeof v === "string") return `the string '${v.length > 60 ? v.slice(0, 57) + "..." : v}'`;
    if (typeof v === "boolean") return `the boolean ${v}`;
    if (typeof v === "number") return `the number ${node.source ?? v}`;
    return `a ${typeof v}`;
  }
  return "an unsupported YAML node";
}

/** The closest allowed word within edit distance 2, for "did you mean" hints. */
export function suggest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = c;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}
