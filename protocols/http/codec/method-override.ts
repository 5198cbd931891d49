/**
 * Method (and path) overrides: a request that asks the upstream to run another method than its
 * own — or to serve another path (`X-Original-URL`, `X-Rewrite-URL`). Rails
 * (Rack::MethodOverride), Express (method-override), Hono (hono/method-override), Symfony, Laravel
 * and ASP.NET read `X-HTTP-Method-Override` (ASP.NET also `X-HTTP-Method`, `X-Method-Override`) or a
 * `_method` parameter on a POST and run the handler of the method it names. The policy decides the
 * request line's method, so a POST allowed by a rule could run as a DELETE a rule denies: such a
 * request is refused (400) before anything is forwarded.
 *
 * Header names are compared with `_` read as `-`: CGI-style servers (Rack, WSGI, PHP) see
 * `X_HTTP_Method_Override` as the same HTTP_X_HTTP_METHOD_OVERRIDE variable. Query names are
 * compared decoded and case-insensitively.
 *
 * Form bodies (`application/x-www-form-urlencoded`, `multipart/form-data`) carry `_method` too
 * (Rails and Hono read it there by default): the engine reads such a body whole (bounded) before
 * deciding, and `bodyMethodField` finds the field — field names read as PHP reads them (leading
 * blanks dropped, ` `, `.`, `[` as `_`), `;` as a separator as Rack 2 reads it; in a multipart body
 * any part named so (a match anywhere in the body, fail closed). Laravel reads `_method` from a
 * JSON body too (its input source for a request whose Content-Type contains `/json` or `+json`;
 * Symfony's getMethod then overrides a POST): a POST so labelled is read whole as well and refused
 * when its top-level object has such a key — or, when the gateway cannot parse it, when the text
 * names one anywhere (fail closed). Overrides apply to POST only in every framework above, so
 * other methods' JSON bodies stream as before. Not covered: an application's own parameter names.
 */
import { HttpCodecError } from "./errors.ts";
import { cgiHeaderName, mediaType, type HttpHeader } from "./head.ts";

const OVERRIDE_HEADERS = new Set(["x-http-method-override", "x-http-method", "x-method-override"]);
/** Headers some stacks (IIS URL Rewrite with ASP.NET, Zend/Laminas, Symfony before 3.4.14) read as the request's path. */
const PATH_OVERRIDE_HEADERS = new Set(["x-original-url", "x-rewrite-url"]);

export function refuseMethodOverride(headers: readonly HttpHeader[], query: string | null): void {
  for (const h of headers) {
    const name = cgiHeaderName(h.name);
    if (PATH_OVERRIDE_HEADERS.has(name)) throw new HttpCodecError(400, `${h.rawName} is not accepted: the upstream could serve another path than the one the policy decided`);
    if (OVERRIDE_HEADERS.has(name)) throw new HttpCodecError(400, `${h.rawName} is not accepted: the upstream could run another method than the one the policy decided`);
  }
  // Read as a form is (`;` as a separator too: Rack 2, PHP with `arg_separator.input = ";&"`).
  const name = query === null ? null : urlencodedMethodField(query);
  if (name !== null) throw new HttpCodecError(400, `the query parameter ${JSON.stringify(name.slice(0, 64))} is not accepted: the upstream could read it as another method than the one the policy decided`);
}

export type OverrideBodyKind = "urlencoded" | "multipart" | "json";

/** The kind of a request body a framework may read `_method` from, or null. */
export function overrideBodyKind(method: string, headers: readonly HttpHeader[]): OverrideBodyKind | null {
  let kind: OverrideBodyKind | null = null;
  for (const h of headers) {
    if (h.name.toLowerCase() !== "content-type") continue;
    const t = mediaType(h.value);
    if (t === "application/x-www-form-urlencoded") kind = "urlencoded";
    else if (t.startsWith("multipart/")) kind = kind ?? "multipart";
    // Laravel's isJson(): the whole header value containing `/json` or `+json`, parameters included.
    else if (method === "POST" && /[/+]json/i.test(h.value)) kind = kind ?? "json";
  }
  return kind;
}

const FIELD = "_method";
/** A field name as PHP files it (leading blanks dropped; blank, '.' and '[' become '_'), lower-cased. */
const fieldKey = (name: string) => name.replace(/^[\s]+/, "").replace(/[ .[]/g, "_").toLowerCase();

/** `_method`, as PHP, Rack and the others would file the (decoded) name. */
function isMethodField(decoded: string): boolean {
  const key = fieldKey(decoded);
  return key === FIELD || key.startsWith(`${FIELD}_`);
}

function decodeForm(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    // Undecodable: the escapes of an ASCII name decoded one by one, the rest kept.
    return s.replace(/\+/g, " ").replace(/%([0-9A-Fa-f]{2})/g, (m, h: string) => (parseInt(h, 16) < 0x80 ? String.fromCharCode(parseInt(h, 16)) : m));
  }
}

/**
 * A JSON body's override key, or null. PHP's json_decode (Laravel) files the top-level object's
 * keys as input fields; a body this parser refuses may still be read by another one (depth,
 * duplicate keys, a BOM), so then any string spelling the field anywhere counts.
 */
function jsonMethodField(body: Uint8Array): string | null {
  const text = new TextDecoder().decode(body);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    const unescaped = text.replace(/\\u([0-9a-fA-F]{4})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    const m = /"[\s.[_]method[^"]*"/i.exec(unescaped);
    return m ? m[0] : null;
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
  return Object.keys(parsed).find(isMethodField) ?? null;
}

/** An urlencoded text's method-override field name as sent, or null. */
function urlencodedMethodField(text: string): string | null {
  for (const pair of text.split(/[&;]/)) {
    const eq = pair.indexOf("=");
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (isMethodField(decodeForm(name))) return name;
  }
  return null;
}

/** The body's method-override field name as sent, or null when there is none. */
export function bodyMethodField(kind: OverrideBodyKind, body: Uint8Array): string | null {
  if (kind === "json") return jsonMethodField(body);
  let text = "";
  for (let i = 0; i < body.length; i += 8192) text += String.fromCharCode(...body.subarray(i, i + 8192));
  if (kind === "urlencoded") return urlencodedMethodField(text);
  // multipart: any name= / name*= parameter spelling the field, in any part's headers (or content).
  const m = /name\*?\s*=\s*(?:"|[a-z0-9-]*'[a-z-]*')?\s*[\s.[_]method\b/i.exec(text);
  return m ? m[0] : null;
}
