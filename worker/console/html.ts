/**
 * Server-rendered HTML for the console: one escape function every interpolation goes through,
 * one layout, one strict Content-Security-Policy (no inline script or style at all; scripts and
 * styles only from /console/assets/). Pages work without JavaScript; only the replay player needs it.
 */
import type { Context } from "hono";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Marks text already escaped (built by `html`), so nesting does not escape twice. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function esc(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (value === null || value === undefined || value === false) return "";
  if (Array.isArray(value)) return value.map(esc).join("");
  return String(value).replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);
}

/** Tagged template: every `${}` is escaped unless it is Html (or an array of Html). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += esc(values[i]) + strings[i + 1]!;
  return new Html(out);
}

export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join("; ");

export function securityHeaders(): Record<string, string> {
  return {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
  };
}

export interface LayoutOptions {
  title: string;
  /** Signed-in person: label shown, sign-out form with the CSRF token. */
  who?: { label: string; csrf: string; roles: string[] };
  body: Html;
  /** Extra script under /console/assets/. */
  script?: string;
}

export function page(c: Context, o: LayoutOptions, status: 200 | 400 | 403 | 404 | 409 | 500 | 503 = 200): Response {
  const nav = o.who
    ? html`<nav aria-label="Console"><ul>
<li><a href="/console/approvals">Approvals</a></li>
<li><a href="/console/sessions">Sessions</a></li>
<li><a href="/console/review">Access review</a></li>
</ul>
<form method="post" action="/signout" class="signout"><input type="hidden" name="csrf" value="${o.who.csrf}"><span class="me">${o.who.label}${o.who.roles.length ? ` (${o.who.roles.join(", ")})` : ""}</span> <button type="submit">Sign out</button></form></nav>`
    : html``;
  const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${o.title} · Gatehouse</title><link rel="stylesheet" href="/console/assets/console.css">${o.script ? html`<script src="/console/assets/${o.script}" defer></script>` : ""}</head>
<body><header><a class="brand" href="/console/">Gatehouse</a>${nav}</header>
<main id="main"><h1>${o.title}</h1>
${o.body}</main></body></html>`;
  return c.body(doc.text, status, { "content-type": "text/html; charset=utf-8", ...securityHeaders() });
}

export function relativeTime(ms: number, now = Date.now()): string {
  const s = Math.round((ms - now) / 1000);
  const a = Math.abs(s);
  const text = a < 60 ? `${a}s` : a < 3600 ? `${Math.floor(a / 60)}m ${a % 60}s` : `${Math.floor(a / 3600)}h ${Math.floor((a % 3600) / 60)}m`;
  return s >= 0 ? `in ${text}` : `${text} ago`;
}

export function isoTime(ms: number | null | undefined): Html {
  if (ms === null || ms === undefined) return html``;
  const iso = new Date(ms).toISOString();
  return html`<time datetime="${iso}">${iso.replace("T", " ").replace(/\.\d+Z$/, "Z")}</time>`;
}
