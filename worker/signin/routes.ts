/**
 * Sign-in for people (web console):
 *   GET  /signin                          choose a provider
 *   GET  /signin/oidc/:id                 → the provider's authorization endpoint (code + PKCE)
 *   GET  /signin/oidc/:id/callback        code → ID token → console session
 *   GET  /signin/saml/:id                 → the IdP (SP-initiated, HTTP-Redirect AuthnRequest)
 *   POST /signin/saml/:id/acs             signed SAML Response → console session
 *   GET  /signin/saml/:id/metadata        SP metadata for the IdP administrator
 *   GET  /signin/providers                the providers as public JSON (`gatehouse login` discovery)
 *   POST /signout                         (CSRF-checked) ends the session
 * Every refusal is a page with one sentence of reason; nothing half-signs anyone in.
 */
import { Hono } from "hono";
import { gatewayConfig } from "../config/gateway-config.ts";
import { GatewayError } from "../errors.ts";
import { html, page } from "../console/html.ts";
import { signinConfig } from "./config.ts";
import { finishOidc, SigninRefused, startOidc } from "./oidc.ts";
import { deleteConsoleSession, readConsoleSession, savePendingSignin, sameSecret, takePendingSignin } from "./store.ts";
import { assertSameOrigin, clearSessionCookie, sessionIdOf, tenantOf, type ConsoleEnv } from "./session.ts";
import { samlRoutes } from "./saml-routes.ts";
import { newBinding, publicOrigin, refused, safeReturnTo, sameBrowser, signedIn } from "./finish.ts";
import { signinProvidersHandler } from "./providers.ts";


export const signinRoutes = new Hono<ConsoleEnv>()
  .get("/signin", (c) => {
    const config = signinConfig(c.env);
    const back = encodeURIComponent(safeReturnTo(c.req.query("return_to")));
    const providers = [...config.oidc, ...config.saml];
    const body =
      providers.length === 0
        ? html`<p role="alert">No sign-in provider is configured (GATEHOUSE_SIGNIN, or the tenant's signin: docs/CONSOLE.md).</p>`
        : html`<p>Sign in with your organisation's identity provider.</p><ul class="providers">${providers.map(
            (p) => html`<li><a class="button" href="/signin/${p.kind}/${p.id}?return_to=${back}">Sign in with ${p.label}</a></li>`,
          )}</ul>`;
    return page(c, { title: "Sign in", body });
  })
  .get("/signin/providers", signinProvidersHandler)
  .get("/signin/oidc/:id", async (c) => {
    const provider = signinConfig(c.env).oidc.find((p) => p.id === c.req.param("id"));
    if (!provider) return refused(c, "unknown sign-in provider");
    const start = await startOidc(provider, `${publicOrigin(c)}/signin/oidc/${provider.id}/callback`, safeReturnTo(c.req.query("return_to")), await newBinding(c));
    await savePendingSignin(c.env.DB, start.state, { ...start.pending, tenant: tenantOf(c) });
    return c.redirect(start.location, 302);
  })
  .get("/signin/oidc/:id/callback", async (c) => {
    const provider = signinConfig(c.env).oidc.find((p) => p.id === c.req.param("id"));
    if (!provider) return refused(c, "unknown sign-in provider");
    const error = c.req.query("error");
    if (error) return refused(c, `the identity provider refused the sign-in: ${error}`);
    const state = c.req.query("state") ?? "";
    const code = c.req.query("code") ?? "";
    const pending = await takePendingSignin(c.env.DB, tenantOf(c), state);
    // An unknown, reused, expired, other-provider or other-tenant state is one answer: start again.
    if (!pending || pending.provider !== provider.id) return refused(c, "this sign-in link is unknown, expired or already used: start again");
    if (!code) return refused(c, "the identity provider returned no code");
    if (!(await sameBrowser(c, pending))) return refused(c, "this sign-in was started in another browser: start again here", 403);
    try {
      const identity = await finishOidc({ provider, issuers: gatewayConfig(c.env).issuers, code, redirectUri: `${publicOrigin(c)}/signin/oidc/${provider.id}/callback`, pending });
      return signedIn(c, identity, `oidc:${provider.id}`, pending.returnTo);
    } catch (e) {
      if (e instanceof SigninRefused) return refused(c, e.message);
      throw e;
    }
  })

  .route("/signin/saml", samlRoutes)
  .post("/signout", async (c) => {
    assertSameOrigin(c);
    const id = await sessionIdOf(c);
    const session = id ? await readConsoleSession(c.env.DB, tenantOf(c), id) : null;
    if (session && id) {
      const form = await c.req.parseBody();
      if (typeof form.csrf !== "string" || !sameSecret(form.csrf, session.csrf)) throw new GatewayError(403, "forbidden", "missing or wrong CSRF token");
      await deleteConsoleSession(c.env.DB, tenantOf(c), id);
    }
    clearSessionCookie(c);
    return c.redirect("/signin", 303);
  });
