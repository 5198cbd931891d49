/**
 * What every sign-in method shares: where a browser may be sent afterwards, the public origin,
 * the refusal page, the browser binding (login CSRF) and the start of a console session.
 */
import type { Context } from "hono";
import type { Identity } from "../../parsers/identity.ts";
import { html, page } from "../console/html.ts";
import { signinConfig } from "./config.ts";
import { createConsoleSession, hashKey, randomToken, sameSecret, type PendingSignin } from "./store.ts";
import { bindingCookieOf, clearBindingCookie, setBindingCookie, setSessionCookie, tenantOf, type ConsoleEnv } from "./session.ts";

const RETURN_BASE = "https://gatehouse.invalid";

/**
 * Only console paths are valid destinations after sign-in (no open redirect). The path is judged
 * as the browser will resolve it: a browser treats `.%2e`, `%2e.` and `%2e%2e` as `..` (WHATWG URL
 * dot segments), so `/console/.%2e/.%2e/t/<other tenant>/signin/…` would leave the console — and, on
 * a shared origin, the tenant. What is returned is the resolved form, so what was checked is what
 * the browser asks for.
 */
export function safeReturnTo(value: string | undefined): string {
  if (!value || !value.startsWith("/console/") || /[\\\s]|\.\.|%2e%2e|%5c/i.test(value)) return "/console/";
  let resolved: URL;
  try {
    resolved = new URL(value, RETURN_BASE);
  } catch {
    return "/console/";
  }
  if (resolved.origin !== RETURN_BASE || !resolved.pathname.startsWith("/console/")) return "/console/";
  return resolved.pathname + resolved.search;
}

/**
 * Where this deployment (or tenant) is reached: redirect URIs, the SAML ACS and entity id. A
 * tenant's is its own — `<public url>/t/<tenant>` (its GATEHOUSE_PUBLIC_URL), or, when the request
 * named it by its host `<tenant>.<base domain>`, that host (the boundary resolved the tenant from
 * it, so it is the tenant's; and the sign-in's cookies live on that host).
 */
export function publicOrigin(c: Context): string {
  const env = c.env as { GATEHOUSE_PUBLIC_URL?: string; TENANT?: { via: string } };
  if (env.TENANT?.via === "host") return new URL(c.req.url).origin;
  return (env.GATEHOUSE_PUBLIC_URL || new URL(c.req.url).origin).replace(/\/+$/, "");
}

export function refused(c: Context, message: string, status: 400 | 403 = 400): Response {
  return page(c, { title: "Sign-in refused", body: html`<p role="alert">${message}</p><p><a href="/signin">Try again</a></p>` }, status);
}

/** A new browser binding for a sign-in about to start: the cookie goes to the browser, the hash to D1. */
export async function newBinding(c: Context): Promise<string> {
  const value = randomToken();
  setBindingCookie(c, value);
  return hashKey(value);
}

/** The finishing request comes from the browser that started the sign-in (login CSRF). */
export async function sameBrowser(c: Context, pending: PendingSignin): Promise<boolean> {
  const cookie = bindingCookieOf(c);
  return !!cookie && sameSecret(await hashKey(cookie), pending.binding);
}

/** Starts a console session for a verified person and sends the browser on. */
export async function signedIn(c: Context<ConsoleEnv>, identity: Identity, method: string, returnTo: string): Promise<Response> {
  const config = signinConfig(c.env);
  clearBindingCookie(c);
  const { id } = await createConsoleSession(c.env.DB, tenantOf(c), identity, method, config.sessionSeconds);
  await setSessionCookie(c, id, config.sessionSeconds);
  return c.redirect(safeReturnTo(returnTo), 303);
}

