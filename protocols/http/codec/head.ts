/**
 * Strict HTTP/1.1 message heads (RFC 9112). Every shape two parsers could read differently — the
 * raw material of request smuggling — is refused here, before anything is forwarded:
 *
 *  - line endings other than CRLF (bare CR, bare LF), obs-fold (a line starting with SP/HTAB);
 *  - header names that are not tokens, whitespace before the colon, control bytes in values;
 *  - Content-Length that is not one plain decimal, or given twice (even with the same value);
 *  - Transfer-Encoding other than exactly `chunked` (requests), together with Content-Length,
 *    given twice, or on HTTP/1.0;
 *  - HTTP/0.9 (no version), HTTP/2 prior knowledge (`PRI * HTTP/2.0`), other versions;
 *  - CONNECT, TRACE; asterisk- and authority-form targets; absolute-form to another host;
 *  - a missing or repeated Host.
 *
 * Pure: bytes in, a description out; no sockets.
 */
import { HttpCodecError } from "./errors.ts";

export type HttpVersion = "HTTP/1.1" | "HTTP/1.0";

/** One header as sent: `name` lower-cased for lookups, `rawName` as spelled (forwarded as spelled). */
export interface HttpHeader {
  name: string;
  rawName: string;
  value: string;
}

/**
 * A header name as CGI-style servers (Rack, WSGI, PHP) file it: lower-cased, `_` read as `-`
 * (`X_Gatehouse_Identity` and `X-Gatehouse-Identity` are the same HTTP_X_GATEHOUSE_IDENTITY).
 */
export function cgiHeaderName(name: string): string {
  return name.toLowerCase().replace(/_/g, "-");
}

/** A Content-Type value's media type (`type/subtype`, lower-cased, parameters dropped); "" for none. */
export function mediaType(contentType: string | null | undefined): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

export interface RequestHead {
  method: string;
  /** The request target as sent (origin-form after absolute-form was checked and reduced). */
  target: string;
  version: HttpVersion;
  headers: HttpHeader[];
}

export interface ResponseHead {
  version: HttpVersion;
  status: number;
  reason: string;
  headers: HttpHeader[];
}

/** How the body after a head is delimited. */
export type BodyFraming = { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" } | { kind: "until-close" };

export const MAX_HEAD_BYTES = 32 * 1024;
export const MAX_HEADERS = 100;
export const MAX_TARGET_BYTES = 8 * 1024;

/** tchar (RFC 9110 §5.6.2). */
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** field-value bytes: VCHAR, obs-text, SP, HTAB — no other controls. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const REFUSED_METHODS: Record<string, string> = {
  CONNECT: "CONNECT (tunnels) is not supported through the gateway",
  TRACE: "TRACE reflects request headers back and is not supported through the gateway",
};

/** Split a head (without its final CRLFCRLF) into lines, refusing bare CR and bare LF. */
function splitLines(head: Uint8Array): string[] {
  for (let i = 0; i < head.length; i++) {
    const c = head[i]!;
    if (c === 0x0d) {
      if (head[i + 1] !== 0x0a) throw new HttpCodecError(400, "bare CR in the message head");
      i++;
    } else if (c === 0x0a) {
      throw new HttpCodecError(400, "bare LF in the message head (lines must end with CRLF)");
    } else if (c === 0) {
      throw new HttpCodecError(400, "NUL byte in the message head");
    }
  }
  // latin1: one char per byte, so the checks below see every byte exactly.
  let text = "";
  for (let i = 0; i < head.length; i += 8192) text += String.fromCharCode(...head.subarray(i, Math.min(head.length, i + 8192)));
  return text.split("\r\n");
}

function parseHeaderLines(lines: string[]): HttpHeader[] {
  if (lines.length > MAX_HEADERS) throw new HttpCodecError(431, `more than ${MAX_HEADERS} header fields`);
  const headers: HttpHeader[] = [];
  for (const line of lines) {
    if (line.length === 0) throw new HttpCodecError(400, "empty header line");
    if (line[0] === " " || line[0] === "\t") throw new HttpCodecError(400, "obs-fold (a header line starting with whitespace) is not accepted");
    const colon = line.indexOf(":");
    if (colon <= 0) throw new HttpCodecError(400, `header line without a name and colon: ${JSON.stringify(line.slice(0, 40))}`);
    const rawName = line.slice(0, colon);
    if (!TCHAR.test(rawName)) throw new HttpCodecError(400, `invalid header name ${JSON.stringify(rawName.slice(0, 40))} (whitespace before the colon or a non-token character)`);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!FIELD_VALUE.test(value)) throw new HttpCodecError(400, `control character in the value of header ${rawName}`);
    headers.push({ name: rawName.toLowerCase(), rawName, value });
  }
  return headers;
}

export function headerValues(headers: readonly HttpHeader[], name: string): string[] {
  const out: string[] = [];
  for (const h of headers) if (h.name === name) out.push(h.value);
  return out;
}

/** The single value of a header that must appear at most once; refuses repeats. */
export function singleHeader(headers: readonly HttpHeader[], name: string): string | undefined {
  const values = headerValues(headers, name);
  if (values.length > 1) throw new HttpCodecError(400, `header ${name} given ${values.length} times`);
  return values[0];
}

function contentLength(headers: readonly HttpHeader[]): number | undefined {
  const v = singleHeader(headers, "content-length");
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,15}$/.test(v)) throw new HttpCodecError(400, `invalid Content-Length ${JSON.stringify(v.slice(0, 40))} (one decimal number expected)`);
  return Number(v);
}

/** Token list elements of a header (comma-separated, OWS trimmed, lower-cased). */
export function tokenList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
}

function parseVersion(text: string): HttpVersion {
  if (text === "HTTP/1.1" || text === "HTTP/1.0") return text;
  if (text === "HTTP/2.0" || text === "HTTP/2") throw new HttpCodecError(400, "HTTP/2 is not accepted on this listener (HTTP/1.1 only)");
  throw new HttpCodecError(400, `unsupported HTTP version ${JSON.stringify(text.slice(0, 20))}`);
}

/**
 * Parse a request head (the bytes before CRLFCRLF). `authority`: the Host the client must be
 * talking to when it uses absolute-form (the listener's own host:port, or undefined: any Host
 * header value, but absolute-form must then agree with Host).
 */
export function parseRequestHead(head: Uint8Array): { head: RequestHead; framing: BodyFraming } {
  const lines = splitLines(head);
  const requestLine = lines[0] ?? "";
  if (requestLine === "PRI * HTTP/2.0") throw new HttpCodecError(400, "HTTP/2 connection preface: HTTP/1.1 only");
  const parts = requestLine.split(" ");
  if (parts.length === 2) throw new HttpCodecError(400, "HTTP/0.9 request (no version) is not accepted");
  if (parts.length !== 3) throw new HttpCodecError(400, "malformed request line (METHOD SP target SP HTTP/1.1 expected, single spaces)");
  const [method, rawTarget, versionText] = parts as [string, string, string];
  if (!TCHAR.test(method)) throw new HttpCodecError(400, `invalid method ${JSON.stringify(method.slice(0, 20))}`);
  const version = parseVersion(versionText);
  if (REFUSED_METHODS[method.toUpperCase()]) throw new HttpCodecError(method.toUpperCase() === "CONNECT" ? 400 : 405, REFUSED_METHODS[method.toUpperCase()]!);
  if (rawTarget.length > MAX_TARGET_BYTES) throw new HttpCodecError(414, `request target longer than ${MAX_TARGET_BYTES} bytes`);
  if (!/^[\x21-\x7e]+$/.test(rawTarget)) throw new HttpCodecError(400, "request target has whitespace, control or non-ASCII bytes (percent-encode them)");
  const headers = parseHeaderLines(lines.slice(1));

  const hosts = headerValues(headers, "host");
  if (hosts.length > 1) throw new HttpCodecError(400, "Host given more than once");
  if (version === "HTTP/1.1" && hosts.length === 0) throw new HttpCodecError(400, "HTTP/1.1 request without Host");
  const host = hosts[0];
  if (host !== undefined && !/^[A-Za-z0-9.\-_~]*(\[[0-9A-Fa-f:.]+\])?(:[0-9]{1,5})?$/.test(host)) throw new HttpCodecError(400, `invalid Host ${JSON.stringify(host.slice(0, 60))}`);

  let target = rawTarget;
  if (target === "*") throw new HttpCodecError(400, "asterisk-form target (OPTIONS *) is not supported");
  if (!target.startsWith("/")) {
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^#]*)$/.exec(target);
    if (!m) throw new HttpCodecError(400, "request target must be origin-form (/path) or absolute-form for this host");
    const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
    if (!/^https?$/i.test(scheme)) throw new HttpCodecError(400, `absolute-form target with scheme ${scheme}`);
    if (authority.includes("@")) throw new HttpCodecError(400, "absolute-form target with userinfo");
    if (host === undefined || authority.toLowerCase() !== host.toLowerCase()) {
      throw new HttpCodecError(400, `absolute-form target names another host (${JSON.stringify(authority.slice(0, 60))}); this listener is not a forward proxy`);
    }
    target = rest.length === 0 ? "/" : rest.startsWith("?") ? `/${rest}` : rest;
  }

  const cl = contentLength(headers);
  const te = headerValues(headers, "transfer-encoding");
  let framing: BodyFraming = { kind: "none" };
  if (te.length > 0) {
    if (te.length > 1) throw new HttpCodecError(400, "Transfer-Encoding given more than once");
    if (cl !== undefined) throw new HttpCodecError(400, "both Content-Length and Transfer-Encoding (a request smuggling shape)");
    if (version === "HTTP/1.0") throw new HttpCodecError(400, "Transfer-Encoding on HTTP/1.0");
    const codings = tokenList(te[0]!);
    if (codings.length !== 1 || codings[0] !== "chunked" || te[0]!.trim().toLowerCase() !== "chunked") {
      throw new HttpCodecError(400, `Transfer-Encoding ${JSON.stringify(te[0]!.slice(0, 40))}: only "chunked" is accepted`);
    }
    framing = { kind: "chunked" };
  } else if (cl !== undefined && cl > 0) {
    framing = { kind: "length", length: cl };
  }
  return { head: { method, target, version, headers }, framing };
}

/** Statuses whose responses never carry a body. */
function bodyless(status: number, requestMethod: string): boolean {
  return requestMethod === "HEAD" || (status >= 100 && status < 200) || status === 204 || status === 304;
}

/** Parse a response head; `requestMethod` decides HEAD responses' framing. */
export function parseResponseHead(head: Uint8Array, requestMethod: string): { head: ResponseHead; framing: BodyFraming } {
  const lines = splitLines(head);
  const m = /^(HTTP\/1\.[01]) ([0-9]{3})(?: (.*))?$/.exec(lines[0] ?? "");
  if (!m) throw new HttpCodecError(502, "malformed status line from the upstream");
  const version = m[1] as HttpVersion;
  const status = Number(m[2]);
  const reason = m[3] ?? "";
  if (status < 100) throw new HttpCodecError(502, `invalid status ${status} from the upstream`);
  let headers: HttpHeader[];
  try {
    headers = parseHeaderLines(lines.slice(1));
  } catch (e) {
    throw e instanceof HttpCodecError ? new HttpCodecError(502, `upstream response: ${e.message}`) : e;
  }
  if (bodyless(status, requestMethod)) return { head: { version, status, reason, headers }, framing: { kind: "none" } };
  const te = headerValues(headers, "transfer-encoding");
  let cl: number | undefined;
  try {
    cl = contentLength(headers);
  } catch (e) {
    throw new HttpCodecError(502, `upstream response: ${(e as Error).message}`);
  }
  if (te.length > 0) {
    const codings = te.flatMap(tokenList);
    if (codings[codings.length - 1] !== "chunked") return { head: { version, status, reason, headers }, framing: { kind: "until-close" } };
    if (codings.length !== 1) throw new HttpCodecError(502, `upstream response: Transfer-Encoding ${te.join(", ")} is not supported`);
    return { head: { version, status, reason, headers }, framing: { kind: "chunked" } };
  }
  if (cl !== undefined) return { head: { version, status, reason, headers }, framing: cl > 0 ? { kind: "length", length: cl } : { kind: "none" } };
  return { head: { version, status, reason, headers }, framing: { kind: "until-close" } };
}
