/**
 * Request-target normalisation: one canonical spelling that the policy checks and that the
 * upstream receives, byte for byte (the engine forwards `normalised.target`, never the original).
 *
 *  - percent-encoded unreserved characters (ALPHA DIGIT - . _ ~) are decoded (`%61dmin` = `admin`,
 *    `%2e%2e` = `..`); every other escape is kept, upper-cased (`%c3%a9` → `%C3%A9`);
 *  - refused (400): an encoded slash `%2F` or backslash `%5C` (upstreams disagree on them), a raw
 *    backslash, `%00`, malformed escapes, a fragment, a `;` path parameter (matrix parameters are
 *    cut off by some frameworks: `/admin;x` = `/admin`);
 *  - dot segments are resolved (RFC 3986 §5.2.4, `..` above the root stays at the root);
 *  - empty segments collapse (`//a///b` = `/a/b`);
 *  - the trailing slash is kept as sent (`/a/` ≠ `/a` to the upstream) but ignored by matching
 *    (`matchPath`), so a rule on `/a` also governs `/a/`;
 *  - case is kept; policy matching decides case rules (parsers in policy/).
 * The query string is kept as sent (its bytes were checked by the head parser) and decoded
 * separately for matching (`queryParams`).
 */
import { HttpCodecError } from "./errors.ts";

export interface NormalisedTarget {
  /** Canonical path (starts with "/"). */
  path: string;
  /** Query without "?", as sent; null when the target had no "?". */
  query: string | null;
  /** path + ("?" + query): what the upstream receives. */
  target: string;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
const HEX = /^[0-9A-Fa-f]{2}$/;

export function normaliseTarget(target: string): NormalisedTarget {
  if (!target.startsWith("/")) throw new HttpCodecError(400, "request target must start with /");
  if (target.includes("#")) throw new HttpCodecError(400, "request target contains a fragment (#)");
  const q = target.indexOf("?");
  const rawPath = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? null : target.slice(q + 1);
  if (query !== null) checkQuery(query);
  const path = normalisePath(rawPath);
  return { path, query, target: query === null ? path : `${path}?${query}` };
}

function checkQuery(query: string): void {
  for (let i = 0; i < query.length; i++) {
    if (query[i] !== "%") continue;
    if (!HEX.test(query.slice(i + 1, i + 3))) throw new HttpCodecError(400, "malformed percent-escape in the query");
  }
}

export function normalisePath(raw: string): string {
  if (raw.includes("\\")) throw new HttpCodecError(400, "backslash in the path (some servers read it as /)");
  if (raw.includes(";")) throw new HttpCodecError(400, "';' path parameters are not accepted (some frameworks cut the path there)");
  let decoded = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== "%") {
      decoded += c;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX.test(hex)) throw new HttpCodecError(400, "malformed percent-escape in the path");
    const byte = parseInt(hex, 16);
    const ch = String.fromCharCode(byte);
    if (byte === 0x2f) throw new HttpCodecError(400, "encoded slash (%2F) in the path: upstreams disagree on its meaning");
    if (byte === 0x5c) throw new HttpCodecError(400, "encoded backslash (%5C) in the path");
    if (byte === 0) throw new HttpCodecError(400, "encoded NUL (%00) in the path");
    if (byte === 0x25) {
      // %25 stays encoded; a double-encoded escape (%252e) is never decoded twice here, and refused
      // as ambiguous: an upstream that decodes twice would see a different path.
      if (HEX.test(raw.slice(i + 3, i + 5))) throw new HttpCodecError(400, "double-encoded escape (%25XX) in the path");
    }
    decoded += byte < 0x80 && UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
    i += 2;
  }
  // Checked again on what is forwarded: `%25%32%65` decodes its unreserved escapes to `%252e`, a
  // double-encoded escape built from single ones (an upstream that decodes twice reads `.`).
  if (/%25[0-9A-Fa-f]{2}/.test(decoded)) throw new HttpCodecError(400, "double-encoded escape (%25XX) in the path");
  const out: string[] = [];
  const segments = decoded.split("/").slice(1);
  const trailing = segments.length > 0 && (segments[segments.length - 1] === "" || segments[segments.length - 1] === "." || segments[segments.length - 1] === "..");
  for (const seg of segments) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      out.pop();
      continue;
    }
    out.push(seg);
  }
  const path = `/${out.join("/")}`;
  return trailing && out.length > 0 ? `${path}/` : path;
}

/** The path as rules match it: the trailing slash does not change which rule applies. */
export function matchPath(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** Decode one query component (`+` is a space in form encoding). Throws on bad UTF-8 → refused. */
function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    throw new HttpCodecError(400, "query parameter is not valid percent-encoded UTF-8");
  }
}

/** Query parameters in order, decoded (duplicates kept: a rule must hold for every value). */
export function queryParams(query: string | null): Array<[string, string]> {
  if (query === null || query === "") return [];
  return query
    .split("&")
    .filter((p) => p.length > 0)
    .map((pair) => {
      const eq = pair.indexOf("=");
      return eq < 0 ? [decodeComponent(pair), ""] : [decodeComponent(pair.slice(0, eq)), decodeComponent(pair.slice(eq + 1))];
    });
}
