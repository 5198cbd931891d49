/**
 * RFC 8785 — JSON Canonicalization Scheme (JCS): the one canonical JSON of Gatehouse. The audit
 * chain hashes and signs it (parsers/audit/), the policy hash is computed over it
 * (parsers/policy/hash.ts), and any JCS library reproduces it byte for byte.
 *
 * - §3.2.3: object members sorted by their names as arrays of UTF-16 code units, recursively;
 *   arrays keep their order.
 * - §3.2.2.3: numbers as ECMAScript Number::toString writes them (shortest round-trip digits;
 *   `1e+21`, `1e-7`, `-0` → `0`). NaN and ±Infinity have no JSON form and are refused.
 * - §3.2.2.2: strings with only `"`, `\` and U+0000–U+001F escaped — `\b \t \n \f \r` in short
 *   form, the others as `\u00xx` in lower case — everything else written as is.
 * - §3.2.1 / §3.1: no whitespace; input is I-JSON (RFC 7493 §2.1), so a string or member name
 *   holding a lone surrogate (U+D800–U+DFFF without its pair, not representable in UTF-8) is
 *   refused rather than escaped.
 *
 * The input is a JavaScript value, so the mapping to the JSON data model is part of the contract:
 * plain objects (prototype Object.prototype or null), arrays, strings, finite numbers, booleans and
 * null. A member whose value is `undefined` is absent (as in JSON.stringify). Everything else —
 * `undefined` as a value or array item, functions, symbols, bigint, Map, Set, Date, class
 * instances, cyclic or deeper than MAX_JCS_DEPTH structures — throws JcsError, never a silent
 * rewrite, because a rewrite would make two different values hash alike.
 */

/** Nesting limit: deeper input is refused (the Python verifier and other parsers have limits too). */
export const MAX_JCS_DEPTH = 64;

export type JcsProblem = "non-finite-number" | "lone-surrogate" | "unsupported-type" | "not-plain-object" | "cyclic" | "too-deep";

export class JcsError extends Error {
  override name = "JcsError";
  constructor(
    readonly problem: JcsProblem,
    /** Where in the input: object member names and array indexes from the root. */
    readonly path: readonly (string | number)[],
    message: string,
  ) {
    super(`${message} at ${formatPath(path)}`);
    this.path = [...path]; // a snapshot: the serializer reuses its path stack
  }
}

/** The canonical JSON text of `value` (a string; hash or sign its UTF-8 bytes). */
export function canonicalize(value: unknown): string {
  return write(value, [], []);
}

/**
 * The canonical text of `value`, built by string concatenation (V8 ropes: no array of parts to
 * join). `path` is one mutable stack (pushed and popped around each member): JcsError copies it,
 * nothing else allocates. `ancestors` is the stack of objects being written (at most
 * MAX_JCS_DEPTH, so a linear search is cheaper than a Set's add and delete per object).
 */
function write(value: unknown, path: (string | number)[], ancestors: object[]): string {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return quote(value, path);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new JcsError("non-finite-number", path, `${String(value)} has no JSON form`);
      // ECMAScript Number::toString is exactly the serialization §3.2.2.3 requires (and gives "0" for -0).
      return String(value);
    case "object":
      break;
    default:
      throw new JcsError("unsupported-type", path, `a ${typeof value} is not JSON data`);
  }
  const obj = value as object;
  if (ancestors.includes(obj)) throw new JcsError("cyclic", path, "cyclic structure");
  if (ancestors.length >= MAX_JCS_DEPTH) throw new JcsError("too-deep", path, `nesting deeper than ${MAX_JCS_DEPTH}`);
  ancestors.push(obj);
  let out: string;
  if (Array.isArray(obj)) {
    out = "[";
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out += ",";
      path.push(i);
      if (obj[i] === undefined) throw new JcsError("unsupported-type", path, "an undefined array item is not JSON data");
      out += write(obj[i], path, ancestors);
      path.pop();
    }
    out += "]";
  } else {
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      throw new JcsError("not-plain-object", path, `a ${proto?.constructor?.name ?? "non-plain"} object is not JSON data`);
    }
    const record = obj as Record<string, unknown>;
    // Default sort() compares strings as sequences of UTF-16 code units: exactly §3.2.3.
    const keys = Object.keys(record).sort();
    out = "{";
    let first = true;
    for (const k of keys) {
      const v = record[k];
      if (v === undefined) continue; // absent, as in JSON.stringify
      if (!first) out += ",";
      first = false;
      out += quote(k, path) + ":";
      path.push(k);
      out += write(v, path, ancestors);
      path.pop();
    }
    out += "}";
  }
  ancestors.pop();
  return out;
}

const SHORT_ESCAPES: Record<number, string> = { 0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0c: "\\f", 0x0d: "\\r", 0x22: '\\"', 0x5c: "\\\\" };
/** Characters that need work: escapes, or a surrogate to pair-check. */
const NEEDS_CARE = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(s: string, path: readonly (string | number)[]): string {
  if (!NEEDS_CARE.test(s)) return `"${s}"`;
  // Copy the runs between special code units in one slice each (query texts are long, with newlines).
  let out = '"';
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c !== 0x22 && c !== 0x5c && (c < 0xd800 || c > 0xdfff)) continue;
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++; // a surrogate pair: one code point, written as is
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      throw new JcsError("lone-surrogate", path, `lone surrogate U+${c.toString(16).toUpperCase()} (not Unicode text) in ${JSON.stringify(s.slice(Math.max(0, i - 20), i + 20))}`);
    }
    out += s.slice(run, i) + (SHORT_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, "0")}`);
    run = i + 1;
  }
  return out + s.slice(run) + '"';
}

function formatPath(path: readonly (string | number)[]): string {
  return "$" + path.map((p) => (typeof p === "number" ? `[${p}]` : /^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`)).join("");
}

/** Lone surrogates replaced by U+FFFD: how producers turn arbitrary JS strings into Unicode text before canonicalizing. */
export function toWellFormed(s: string): string {
  if (!/[\ud800-\udfff]/.test(s)) return s;
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      out += s[i]! + s[i + 1]!;
      i++;
    } else out += c >= 0xd800 && c <= 0xdfff ? "\ufffd" : s[i]!;
  }
  return out;
}
