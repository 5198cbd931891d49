/**
 * Writing HTTP/1.1 heads and chunked bodies. Headers are written as given (already filtered by
 * the caller); values were validated by the parser or built by Gatehouse, and are checked again
 * here so a CR/LF can never be injected into a head we write.
 */
import type { HttpHeader } from "./head.ts";

const encoder = new TextEncoder();
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Headers that describe one hop only (RFC 9110 §7.6.1) — never forwarded. */
export const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"]);

/** Names listed in Connection are hop-by-hop too. */
export function connectionListed(headers: readonly HttpHeader[]): Set<string> {
  const out = new Set<string>();
  for (const h of headers) if (h.name === "connection") for (const t of h.value.split(",")) if (t.trim()) out.add(t.trim().toLowerCase());
  return out;
}

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

function headerLines(headers: readonly HttpHeader[]): string {
  let s = "";
  for (const h of headers) {
    if (!TCHAR.test(h.rawName) || !FIELD_VALUE.test(h.value)) throw new Error(`refusing to write an invalid header ${JSON.stringify(h.rawName)}`);
    s += `${h.rawName}: ${h.value}\r\n`;
  }
  return s;
}

export function serializeRequestHead(method: string, target: string, headers: readonly HttpHeader[]): Uint8Array {
  if (!/^[\x21-\x7e]+$/.test(target) || !TCHAR.test(method)) throw new Error("refusing to write an invalid request line");
  return latin1(`${method} ${target} HTTP/1.1\r\n${headerLines(headers)}\r\n`);
}

export function serializeResponseHead(status: number, reason: string, headers: readonly HttpHeader[]): Uint8Array {
  const safeReason = reason.replace(/[^\t\x20-\x7e]/g, "");
  return latin1(`HTTP/1.1 ${status} ${safeReason}\r\n${headerLines(headers)}\r\n`);
}

export function header(rawName: string, value: string): HttpHeader {
  return { name: rawName.toLowerCase(), rawName, value };
}

export function chunk(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 0) return new Uint8Array(0);
  const prefix = encoder.encode(`${bytes.length.toString(16)}\r\n`);
  const out = new Uint8Array(prefix.length + bytes.length + 2);
  out.set(prefix);
  out.set(bytes, prefix.length);
  out[out.length - 2] = 0x0d;
  out[out.length - 1] = 0x0a;
  return out;
}

export const LAST_CHUNK = Uint8Array.of(0x30, 0x0d, 0x0a, 0x0d, 0x0a);

export const REASONS: Record<number, string> = {
  100: "Continue",
  200: "OK",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  413: "Content Too Large",
  414: "URI Too Long",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export interface Problem {
  status: number;
  title: string;
  detail: string;
  /** The policy rule that decided, when one did. */
  rule?: string | null;
  [extra: string]: unknown;
}

/**
 * A complete `application/problem+json` response (RFC 9457) — how every refusal reaches an HTTP
 * client. `close`: the connection ends after it (framing errors, refused bodies not drained).
 */
export function problemResponse(problem: Problem, opts: { close?: boolean; extraHeaders?: HttpHeader[] } = {}): Uint8Array {
  const body = encoder.encode(`${JSON.stringify({ type: "about:blank", ...problem })}\n`);
  const headers = [
    header("Content-Type", "application/problem+json"),
    header("Content-Length", String(body.length)),
    header("Cache-Control", "no-store"),
    ...(opts.extraHeaders ?? []),
    ...(opts.close ? [header("Connection", "close")] : []),
  ];
  const head = serializeResponseHead(problem.status, REASONS[problem.status] ?? "Error", headers);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
