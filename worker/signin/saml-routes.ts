/**
 * SAML 2.0 service provider routes (mounted at /signin/saml):
 *   GET  /:id            AuthnRequest → the IdP (HTTP-Redirect), RelayState = one-time state
 *   POST /:id/acs        the IdP's signed Response (HTTP-POST): checked (saml/response.ts), replay
 *                        cache, then handed to /finish in this browser
 *   GET  /:id/finish     (same browser: binding cookie) → console session
 *   GET  /:id/metadata   SP metadata
 * The ACS is a cross-site POST, which carries no SameSite=Lax cookie; the finishing GET does, so
 * the browser that started the sign-in is the one that ends up signed in (login CSRF defence).
 */
import { Hono, type Context } from "hono";
import { signinConfig, type SamlProvider } from "./config.ts";
import { authnRequestXml, checkSamlResponse, newRequestId, redirectBindingUrl, SamlRefused, spMetadataXml } from "./saml/response.ts";
import { firstSightOfAssertion, randomToken, savePendingSignin, takePendingSignin } from "./store.ts";
import { tenantOf, type ConsoleEnv } from "./session.ts";
import { newBinding, publicOrigin, refused, safeReturnTo, sameBrowser, signedIn } from "./finish.ts";

function urls(c: Context, p: SamlProvider) {
  const base = `${publicOrigin(c)}/signin/saml/${p.id}`;
  return { acsUrl: `${base}/acs`, spEntityId: p.spEntityId ?? `${base}/metadata` };
}

const DONE = "saml-done:";

export const samlRoutes = new Hono<ConsoleEnv>()
  .get("/:id", async (c) => {
    const p = signinConfig(c.env).saml.find((x) => x.id === c.req.param("id"));
    if (!p) return refused(c, "unknown sign-in provider");
    const { acsUrl, spEntityId } = urls(c, p);
    const requestId = newRequestId();
    const state = randomToken();
    await savePendingSignin(c.env.DB, state, { tenant: tenantOf(c), provider: p.id, verifier: requestId, nonce: "", returnTo: safeReturnTo(c.req.query("return_to")), binding: await newBinding(c) });
    const xml = authnRequestXml({ id: requestId, issueInstant: new Date(), destination: p.ssoUrl, acsUrl, spEntityId });
    return c.redirect(await redirectBindingUrl(p.ssoUrl, xml, state), 302);
  })
  .get("/:id/metadata", (c) => {
    const p = signinConfig(c.env).saml.find((x) => x.id === c.req.param("id"));
    if (!p) return c.text("unknown provider", 404);
    const { acsUrl, spEntityId } = urls(c, p);
    return c.body(spMetadataXml(spEntityId, acsUrl), 200, { "content-type": "application/samlmetadata+xml", "x-content-type-options": "nosniff" });
  })
  .post("/:id/acs", async (c) => {
    const p = signinConfig(c.env).saml.find((x) => x.id === c.req.param("id"));
    if (!p) return refused(c, "unknown sign-in provider");
    const form = await c.req.parseBody();
    const samlResponse = typeof form.SAMLResponse === "string" ? form.SAMLResponse : "";
    const relayState = typeof form.RelayState === "string" ? form.RelayState : "";
    const pending = await takePendingSignin(c.env.DB, tenantOf(c), relayState);
    if (!pending || pending.provider !== p.id || pending.verifier.startsWith(DONE)) return refused(c, "this sign-in is unknown, expired or already used: start again");
    const { acsUrl, spEntityId } = urls(c, p);
    try {
      const result = await checkSamlResponse(samlResponse, { idpEntityId: p.idpEntityId, certificate: p.certificate, spEntityId, acsUrl, requestId: pending.verifier });
      if (!(await firstSightOfAssertion(c.env.DB, `${p.id} ${result.assertionId}`, result.notOnOrAfter))) throw new SamlRefused("this assertion was used already (replay)");
      const handoff = randomToken();
      await savePendingSignin(c.env.DB, handoff, { ...pending, verifier: DONE + JSON.stringify(result.identity) });
      return c.redirect(`/signin/saml/${p.id}/finish?state=${encodeURIComponent(handoff)}`, 303);
    } catch (e) {
      if (e instanceof SamlRefused) return refused(c, `SAML sign-in refused: ${e.message}`);
      throw e;
    }
  })
  .get("/:id/finish", async (c) => {
    const p = signinConfig(c.env).saml.find((x) => x.id === c.req.param("id"));
    if (!p) return refused(c, "unknown sign-in provider");
    const pending = await takePendingSignin(c.env.DB, tenantOf(c), c.req.query("state") ?? "");
    if (!pending || pending.provider !== p.id || !pending.verifier.startsWith(DONE)) return refused(c, "this sign-in is unknown, expired or already used: start again");
    if (!(await sameBrowser(c, pending))) return refused(c, "this sign-in was started in another browser: start again here", 403);
    return signedIn(c, JSON.parse(pending.verifier.slice(DONE.length)), `saml:${p.id}`, pending.returnTo);
  });
