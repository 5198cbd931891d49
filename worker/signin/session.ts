/**
 * The console's session cookie and CSRF defence.
 *
 * Cookie: a random 256-bit id (D1 holds only its hash) — hosted mode: followed by a MAC checked
 * before any read (sessionCookieValue) —, `HttpOnly`, `SameSite=Lax`, `Path=/`,
 * `Secure` with the `__Host-` prefix everywhere except plain-http loopback (npm start), where a
 * browser would drop a Secure cookie.
 * Hosted mode (docs/TENANCY.md): the cookies are the tenant's — named after it, and, when the
 * tenant is named by the `/t/<tenant>` path prefix, sent by the browser only under that prefix
 * (`__Secure-` instead of `__Host-`, which requires Path=/); a tenant on its own host name gets a
 * host-only `__Host-` cookie. The server-side session carries the tenant too (store.ts).
 * CSRF: every state-changing request must (a) carry the session's synchronizer token in the form
 * field `csrf` (or header `x-csrf-token`), compared in constant time, and (b) come from our own
 * origin when the browser says where it comes from (Origin / Sec-Fetch-Site). SameSite=Lax alone
 * would still let a same-site sibling post; the token does not.
 */
import { createMiddleware } from "hono/factory";
import { getCookie, setCookie, deleteCookie } from "hono/cookie";
import type { Context } from "hono";
import type { AppEnv } from "../auth/bearer-identity.ts";
import { ForbiddenError } from "../errors.ts";
import { isLoopbackHttp } from "../config/gateway-config.ts";
import type { Env } from "../env.ts";
import { RefusedByRateLimit, chargeAnonymousCall, chargeAuthenticatedCall } from "../limits/api-rate.ts";
import { base64url, readConsoleSession, sameSecret, type ConsoleSession } from "./store.ts";

export type ConsoleEnv = { Bindings: AppEnv["Bindings"]; Variables: AppEnv["Variables"] & { consoleSession: ConsoleSession; consoleSessionId: string } };

/** The tenant this request is served as ('' on a single-tenant deployment). */
export function tenantOf(c: Context): string {
  return (c.env as { TENANT?: { name: string } } | undefined)?.TENANT?.name ?? "";
}

/** The browser-side path under which the worker's `/` is served: `/t/<tenant>` when the path named the tenant. */
export function pathBase(c: Context): string {
  const t = (c.env as { TENANT?: { name: string; via: string } } | undefined)?.TENANT;
  return t && t.via === "path" ? `/t/${t.name}` : "";
}

interface CookieScope {
  name: string;
  path: string;
  secure: boolean;
}

/** Name, path and Secure flag of the console session cookie for this request's tenant. */
export function sessionCookieScope(c: Context): CookieScope {
  const loopback = isLoopbackHttp(new URL(c.req.url));
  const tenant = tenantOf(c);
  const base = pathBase(c);
  const plain = tenant ? `gatehouse_console_${tenant}` : "gatehouse_console";
  if (loopback) return { name: plain, path: base || "/", secure: false };
  return { name: base ? `__Secure-${plain}` : `__Host-${plain}`, path: base || "/", secure: true };
}

export async function setSessionCookie(c: Context, id: string, maxAgeSeconds: number): Promise<void> {
  const scope = sessionCookieScope(c);
  setCookie(c, scope.name, await sessionCookieValue(c.env as CookieKeyEnv, tenantOf(c), id), { httpOnly: true, secure: scope.secure, sameSite: "Lax", path: scope.path, maxAge: maxAgeSeconds });
}

type CookieKeyEnv = { TENANT?: { name: string }; GATEHOUSE_MASKING_KEY?: string };

/**
 * Hosted mode: the cookie is `<id>.<tag>`, the tag an HMAC of the tenant and the session id under
 * a key derived from the tenant's secret masking key (HKDF, its own label: the key is never used
 * for both). The tag is checked before the tenant's database is read, so a junk cookie costs no
 * read (docs/TENANCY.md "API rate limit"); whether the session exists is still the database's
 * answer. Single-tenant deployments (no API limit) keep the plain id.
 */
const macKeys = new Map<string, Promise<CryptoKey>>();

function macKey(secret: string): Promise<CryptoKey> {
  let key = macKeys.get(secret);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: new TextEncoder().encode("gatehouse console session cookie v1") },
          base,
          { name: "HMAC", hash: "SHA-256", length: 256 },
          false,
          ["sign"],
        ),
      );
    macKeys.set(secret, key);
    if (macKeys.size > 1000) macKeys.delete(macKeys.keys().next().value!);
  }
  return key;
}

async function cookieTag(secret: string, tenant: string, id: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await macKey(secret), new TextEncoder().encode(`${tenant}\n${id}`));
  return base64url(new Uint8Array(mac).slice(0, 16));
}

/** Whether cookies of this deployment carry a tag (hosted mode, with the tenant's key). */
function tagged(env: CookieKeyEnv): string | null {
  return env.TENANT && env.GATEHOUSE_MASKING_KEY ? env.GATEHOUSE_MASKING_KEY : null;
}

/** The cookie's value for session `id` (tests sign a browser in with it too). */
export async function sessionCookieValue(env: CookieKeyEnv, tenant: string, id: string): Promise<string> {
  const secret = tagged(env);
  return secret === null ? id : `${id}.${await cookieTag(secret, tenant, id)}`;
}

export function clearSessionCookie(c: Context): void {
  const scope = sessionCookieScope(c);
  deleteCookie(c, scope.name, { path: scope.path, secure: scope.secure });
}

/**
 * The session id the cookie names, once its tag is right (hosted mode); undefined otherwise — a
 * cookie without a good tag is never looked up. A tenant without a key (none is made so) pays for
 * the lookup from the anonymous bucket first, by its client address (fail closed).
 */
export async function sessionIdOf(c: Context): Promise<string | undefined> {
  const value = getCookie(c, sessionCookieScope(c).name);
  if (value === undefined) return undefined;
  const env = c.env as CookieKeyEnv;
  const secret = tagged(env);
  if (secret === null) {
    if (env.TENANT) {
      const refused = await chargeAnonymousCall(c.env as Env, c.req.raw, c.req.path);
      if (refused) throw new RefusedByRateLimit(refused);
    }
    return value;
  }
  const dot = value.indexOf(".");
  if (dot < 0) return undefined;
  const id = value.slice(0, dot);
  return sameSecret(value.slice(dot + 1), await cookieTag(secret, tenantOf(c), id)) ? id : undefined;
}

/** Where to send a browser that is not signed in: the sign-in page, coming back here afterwards. */
export function signinRedirect(c: Context): Response {
  const u = new URL(c.req.url);
  const back = c.req.method === "GET" ? u.pathname + u.search : "/console/";
  return c.redirect(`/signin?return_to=${encodeURIComponent(back)}`, 303);
}

/** Admits a request with a live console session; sets `identity` (what the API's bearer middleware sets). */
export function consoleIdentity() {
  return createMiddleware<ConsoleEnv>(async function consoleIdentityMiddleware(c, next) {
    const id = await sessionIdOf(c);
    const session = id ? await readConsoleSession(c.env.DB, tenantOf(c), id) : null;
    if (!session || !id) {
      if (c.req.method !== "GET" && c.req.method !== "HEAD") throw new ForbiddenError("not signed in (or the session expired): sign in again");
      return signinRedirect(c);
    }
    c.set("consoleSession", session);
    c.set("consoleSessionId", id);
    c.set("identity", session.identity);
    // A signed-in person's page or action is a call of the tenant's API (hosted mode: rate-limited).
    const refused = await chargeAuthenticatedCall(c.env, session.identity, c.req.method, c.req.path);
    if (refused) return refused;
    await next();
  });
}

/** Refuses a cross-site request by what the browser reports about it. */
export function assertSameOrigin(c: Context): void {
  const own = new URL(c.req.url).origin;
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== own) throw new ForbiddenError(`cross-origin request refused (Origin ${origin})`);
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none") throw new ForbiddenError(`cross-site request refused (Sec-Fetch-Site ${site})`);
}

/** CSRF check for a state-changing request; returns the parsed form. */
export async function checkedForm(c: Context<ConsoleEnv>): Promise<Record<string, string>> {
  assertSameOrigin(c);
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\b/.test(type) && !/^multipart\/form-data\b/.test(type)) throw new ForbiddenError("state-changing console requests must be form posts");
  const form = await c.req.parseBody();
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(form)) if (typeof v === "string") fields[k] = v;
  const token = fields.csrf ?? c.req.header("x-csrf-token") ?? "";
  if (!sameSecret(token, c.var.consoleSession.csrf)) throw new ForbiddenError("missing or wrong CSRF token: reload the page and try again");
  return fields;
}

/**
 * Login CSRF: a sign-in finishes only in the browser that started it. The start sets a random
 * binding cookie (HttpOnly, SameSite=Lax, 10 minutes, path /signin); the pending sign-in keeps its
 * hash; the finishing GET (a top-level navigation, so Lax cookies are sent) must present it.
 */
function bindingCookieScope(c: Context): CookieScope {
  const tenant = tenantOf(c);
  return { name: tenant ? `gatehouse_signin_${tenant}` : "gatehouse_signin", path: `${pathBase(c)}/signin`, secure: !isLoopbackHttp(new URL(c.req.url)) };
}

export function setBindingCookie(c: Context, value: string): void {
  const scope = bindingCookieScope(c);
  setCookie(c, scope.name, value, { httpOnly: true, secure: scope.secure, sameSite: "Lax", path: scope.path, maxAge: 600 });
}

export function bindingCookieOf(c: Context): string | undefined {
  return getCookie(c, bindingCookieScope(c).name);
}

export function clearBindingCookie(c: Context): void {
  const scope = bindingCookieScope(c);
  deleteCookie(c, scope.name, { path: scope.path, secure: scope.secure });
}
