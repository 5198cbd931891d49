/**
 * Sign-in for people (web console):
 *   GET  /signin                          choose a provider
 *   GET  /signin/oidc/:id                 → the provider's authorization endpoint (code + PKCE)
 *   GET  /signin/oidc/:id/callback        code → ID token → console session
 *   GET  /signin/saml/:id                 → the IdP (SP-initiated, HTTP-Redirect AuthnRequest)
 *   POST /signin/saml/:id/acs             signed SAML Response → console session
 *   GET  /signin/saml/:id/metadata        SP metadata for the IdP administrator
 *   POST /signout                         (CSRF-checked) ends the session
 * Every refusal is a page with one sentence of reason; nothing half-signs anyone in.
 */
import { Hono, type Context } from "hono";
import type { Identity } from "../../parsers/identity.ts";
import { gatewayConfig } from "../config/gateway-config.ts";
import { GatewayError } from "../errors.ts";
import { html, page } from "../console/html.ts";
import { signinConfig } from "./config.ts";
import { finishOidc, SigninRefused, startOidc } from "./oidc.ts";
import { createConsoleSession, deleteConsoleSession, readConsoleSession, savePendingSignin, sameSecret, takePendingSignin } from "./store.ts";
import { assertSameOrigin, clearSessionCookie, setSessionCookie, sessionIdOf, type ConsoleEnv } from "./session.ts";


/** Only console paths are valid destinations after sign-in (no open redirect). */
export function safeReturnTo(value: string | undefined): string {
  if (!value || !value.startsWith("/console/") || value.startsWith("//") || /[\\\s]/.test(value)) return "/console/";
  return value;
}

export function publicOrigin(c: Context): string {
  const configured = (c.env as { GATEHOUSE_PUBLIC_URL?: string }).GATEHOUSE_PUBLIC_URL;
  return (configured || new URL(c.req.url).origin).replace(/\/+$/, "");
}

function refused(c: Context, message: string, status: 400 | 403 = 400): Response {
  return page(c, { title: "Sign-in refused", body: html`<p role="alert">${message}</p><p><a href="/signin">Try again</a></p>` }, status);
}

/** Starts a console session for a verified person and sends the browser on. */
export async function signedIn(c: Context<ConsoleEnv>, identity: Identity, method: string, returnTo: string): Promise<Response> {
  const config = signinConfig(c.env);
  const { id } = await createConsoleSession(c.env.DB, identity, method, config.sessionSeconds);
  setSessionCookie(c, id, config.sessionSeconds);
  return c.redirect(safeReturnTo(returnTo), 303);
}

export const signinRoutes = new Hono<ConsoleEnv>()
  .get("/signin", (c) => {
    const config = signinConfig(c.env);
    const back = encodeURIComponent(safeReturnTo(c.req.query("return_to")));
    const providers = [...config.oidc, ...config.saml];
    const body =
      providers.length === 0
        ? html`<p role="alert">No sign-in provider is configured (GATEHOUSE_SIGNIN, docs/CONSOLE.md).</p>`
        : html`<p>Sign in with your organisation's identity provider.</p><ul class="providers">${providers.map(
            (p) => html`<li><a class="button" href="/signin/${p.kind}/${p.id}?return_to=${back}">Sign in with ${p.label}</a></li>`,
          )}</ul>`;
    return page(c, { title: "Sign in", body });
  })
  .get("/signin/oidc/:id", async (c) => {
    const provider = signinConfig(c.env).oidc.find((p) => p.id === c.req.param("id"));
    if (!provider) return refused(c, "unknown sign-in provider");
    const start = await startOidc(provider, `${publicOrigin(c)}/signin/oidc/${provider.id}/callback`, safeReturnTo(c.req.query("return_to")));
    await savePendingSignin(c.env.DB, start.state, start.pending);
    return c.redirect(start.location, 302);
  })
  .get("/signin/oidc/:id/callback", async (c) => {
    const provider = signinConfig(c.env).oidc.find((p) => p.id === c.req.param("id"));
    if (!provider) return refused(c, "unknown sign-in provider");
    const error = c.req.query("error");
    if (error) return refused(c, `the identity provider refused the sign-in: ${error}`);
    const state = c.req.query("state") ?? "";
    const code = c.req.query("code") ?? "";
    const pending = await takePendingSignin(c.env.DB, state);
    // An unknown, reused, expired or other-provider state is one answer: start again.
    if (!pending || pending.provider !== provider.id) return refused(c, "this sign-in link is unknown, expired or already used: start again");
    if (!code) return refused(c, "the identity provider returned no code");
    try {
      const identity = await finishOidc({ provider, issuers: gatewayConfig(c.env).issuers, code, redirectUri: `${publicOrigin(c)}/signin/oidc/${provider.id}/callback`, pending });
      return signedIn(c, identity, `oidc:${provider.id}`, pending.returnTo);
    } catch (e) {
      if (e instanceof SigninRefused) return refused(c, e.message);
      throw e;
    }
  })

  .post("/signout", async (c) => {
    assertSameOrigin(c);
    const id = sessionIdOf(c);
    const session = id ? await readConsoleSession(c.env.DB, id) : null;
    if (session && id) {
      const form = await c.req.parseBody();
      if (typeof form.csrf !== "string" || !sameSecret(form.csrf, session.csrf)) throw new GatewayError(403, "forbidden", "missing or wrong CSRF token");
      await deleteConsoleSession(c.env.DB, id);
    }
    clearSessionCookie(c);
    return c.redirect("/signin", 303);
  });
