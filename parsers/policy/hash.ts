/**
 * The policy hash: SHA-256 (hex) over a canonical form of the document's DATA, so it changes
 * whenever what the policy says changes, and not when only formatting does.
 *
 * Canonical form: the document as plain JSON data (aliases expanded), objects with keys sorted by
 * UTF-16 code units, no whitespace, prefixed with a domain tag. Hence comments, indentation,
 * quoting style, flow vs block style, key order and anchors/aliases do not change the hash; list
 * order (rule order!) and every value do. Values are hashed as written, not as interpreted:
 * `timeout: 60m` and `timeout: 1h` hash differently even though they mean the same.
 */
export const POLICY_HASH_DOMAIN = "gatehouse-policy-v1\n";

export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return JSON.stringify(String(value)); // .inf / .nan have no JSON form
    return JSON.stringify(value);
  }
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value instanceof Map) {
    const obj: Record<string, unknown> = {};
    for (const [k, v] of value) obj[String(k)] = v;
    return canonicalJson(obj);
  }
  if (value instanceof Set) return canonicalJson([...value]);
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const keys = Object.keys(obj).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
  }
  return JSON.stringify(String(value));
}

export async function policyHash(data: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(POLICY_HASH_DOMAIN + canonicalJson(data));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}
