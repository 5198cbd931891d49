/**
 * GET /signin/providers — the deployment's (or, under a tenant, the tenant's) sign-in providers
 * for people, as public JSON, so `gatehouse login` can find the provider without being told it
 * (docs/CONSOLE.md "gatehouse login"). Anonymous like the sign-in page that lists the same
 * providers, and served under `/signin/` so hosted mode charges it to the tenant's anonymous API
 * bucket (worker/limits/api-rate.ts). Only what a browser is shown or sent anyway during a sign-in:
 * ids, labels, an OIDC provider's issuer, client id and endpoints — never a client secret, and of
 * a SAML IdP only its id and label (the CLI cannot sign in with SAML).
 */
import type { Context } from "hono";
import { signinConfig } from "./config.ts";

export interface PublicSigninProviders {
  oidc: { id: string; label: string; issuer: string; client_id: string; authorization_endpoint: string; token_endpoint: string }[];
  saml: { id: string; label: string }[];
}

export function signinProvidersHandler(c: Context): Response {
  const config = signinConfig(c.env as { GATEHOUSE_SIGNIN?: string });
  const body: PublicSigninProviders = {
    oidc: config.oidc.map((p) => ({ id: p.id, label: p.label, issuer: p.issuer, client_id: p.clientId, authorization_endpoint: p.authorizationEndpoint, token_endpoint: p.tokenEndpoint })),
    saml: config.saml.map((p) => ({ id: p.id, label: p.label })),
  };
  c.header("cache-control", "no-store");
  return c.json(body);
}
