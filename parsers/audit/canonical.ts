/**
 * Canonical JSON: the exact bytes that are hashed and signed.
 *
 * - object keys sorted by UTF-16 code units (Array.prototype.sort's default order), recursively;
 * - no whitespace; strings and numbers as JSON.stringify writes them (ECMAScript number-to-string);
 * - keys whose value is `undefined` are omitted (as JSON.stringify does); `undefined` in an array,
 *   NaN, ±Infinity, bigint, functions and symbols are refused rather than silently rewritten.
 *
 * For the values Gatehouse records (strings, finite numbers, booleans, null, arrays, plain
 * objects) this is byte-for-byte RFC 8785 (JCS), so a third party can use any JCS library.
 */
export class CanonicalJsonError extends Error {
  override name = "CanonicalJsonError";
}

export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, "$", 0);
  return out.join("");
}

const MAX_DEPTH = 64;

function write(value: unknown, out: string[], path: string, depth: number): void {
  if (depth > MAX_DEPTH) throw new CanonicalJsonError(`nesting deeper than ${MAX_DEPTH} at ${path}`);
  if (value === null) {
    out.push("null");
    return;
  }
  switch (typeof value) {
    case "string":
      out.push(JSON.stringify(value));
      return;
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(value)) throw new CanonicalJsonError(`non-finite number at ${path}`);
      out.push(JSON.stringify(value));
      return;
    case "object":
      break;
    default:
      throw new CanonicalJsonError(`unsupported ${typeof value} at ${path}`);
  }
  if (Array.isArray(value)) {
    out.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(",");
      const item = value[i];
      if (item === undefined) throw new CanonicalJsonError(`undefined array item at ${path}[${i}]`);
      write(item, out, `${path}[${i}]`, depth + 1);
    }
    out.push("]");
    return;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError(`not a plain object at ${path}`);
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort();
  out.push("{");
  keys.forEach((k, i) => {
    if (i > 0) out.push(",");
    out.push(JSON.stringify(k), ":");
    write(record[k], out, `${path}.${k}`, depth + 1);
  });
  out.push("}");
}
