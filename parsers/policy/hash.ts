/**
 * The policy hash: SHA-256 (hex) over a canonical form of the document's DATA, so it changes
 * whenever what the policy says changes, and not when only formatting does.
 *
 * Canonical form: the document as plain JSON data (aliases expanded) in RFC 8785 canonical JSON
 * (parsers/encoding/jcs.ts: keys sorted by UTF-16 code units, no whitespace), prefixed with a
 * domain tag. Hence comments, indentation, quoting style, flow vs block style, key order and
 * anchors/aliases do not change the hash; list order (rule order!) and every value do. Values are
 * hashed as written, not as interpreted: `timeout: 60m` and `timeout: 1h` hash differently even
 * though they mean the same. Data JCS cannot encode (a lone surrogate escape such as "\uD800",
 * .inf/.nan) throws JcsError; the loader turns that into a policy error at its position.
 */
import { canonicalize } from "../encoding/jcs.ts";
import { toHex } from "../encoding/hex-base64.ts";

export const POLICY_HASH_DOMAIN = "gatehouse-policy-v1\n";

export async function policyHash(data: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(POLICY_HASH_DOMAIN + canonicalize(data));
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}
