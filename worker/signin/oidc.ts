/**
 * OIDC relying party for people: authorization code flow with PKCE (S256), `state` (one use,
 * 10 minutes, stored hashed) and `nonce` (bound into the ID token). The ID token is verified by
 * the bearer-token verifier (issuer trusted in GATEHOUSE_ISSUERS, signature, audience = client_id,
 * expiry, lifetime) and then its nonce is checked; nothing from the front channel but the code and
 * state is believed.
 */
import type { Identity } from "../../parsers/identity.ts";
import type { TrustedIssuer } from "../config/gateway-config.ts";
import { TokenRejected, verifyOidcToken } from "../auth/verify-oidc-token.ts";
import type { OidcProvider } from "./config.ts";
import { base64url, randomToken, sha256, type PendingSignin } from "./store.ts";

export class SigninRefused extends Error {
  override name = "SigninRefused";
}

export interface OidcStart {
  state: string;
  pending: Omit<PendingSignin, "tenant">;
  location: string;
}

export async function startOidc(provider: OidcProvider, redirectUri: string, returnTo: string, binding: string): Promise<OidcStart> {
  const state = randomToken();
  const verifier = randomToken(48);
  const nonce = randomToken();
  const challenge = base64url(await sha256(verifier));
  const u = new URL(provider.authorizationEndpoint);
  u.searchParams.set("response_type", "code");
  u.searchParams.set("client_id", provider.clientId);
  u.searchParams.set("redirect_uri", redirectUri);
  u.searchParams.set("scope", "openid profile email groups");
  u.searchParams.set("state", state);
  u.searchParams.set("nonce", nonce);
  u.searchParams.set("code_challenge", challenge);
  u.searchParams.set("code_challenge_method", "S256");
  return { state, pending: { provider: provider.id, verifier, nonce, returnTo, binding }, location: u.toString() };
}

export interface OidcFinish {
  provider: OidcProvider;
  issuers: readonly TrustedIssuer[];
  code: string;
  redirectUri: string;
  pending: Omit<PendingSignin, "tenant">;
  fetcher?: typeof fetch;
}

export async function finishOidc(f: OidcFinish): Promise<Identity> {
  const trusted = f.issuers.find((i) => i.issuer === f.provider.issuer);
  if (!trusted) throw new SigninRefused(`sign-in provider ${f.provider.id}: issuer ${f.provider.issuer} is not a trusted issuer (GATEHOUSE_ISSUERS)`);
  if (!trusted.audiences.includes(f.provider.clientId)) throw new SigninRefused(`sign-in provider ${f.provider.id}: the trusted issuer's audiences do not include client_id ${f.provider.clientId}`);
  const body = new URLSearchParams({ grant_type: "authorization_code", code: f.code, redirect_uri: f.redirectUri, code_verifier: f.pending.verifier, client_id: f.provider.clientId });
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
  if (f.provider.clientSecret) headers.authorization = `Basic ${btoa(`${encodeURIComponent(f.provider.clientId)}:${encodeURIComponent(f.provider.clientSecret)}`)}`;
  let res: Response;
  try {
    res = await (f.fetcher ?? fetch)(f.provider.tokenEndpoint, { method: "POST", headers, body, redirect: "manual" });
  } catch (e) {
    throw new SigninRefused(`the identity provider's token endpoint is unreachable: ${(e as Error).message}`);
  }
  const text = await res.text();
  let json: { id_token?: unknown; error?: unknown; error_description?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    throw new SigninRefused(`the token endpoint answered ${res.status} without JSON`);
  }
  if (!res.ok) throw new SigninRefused(`the token endpoint refused the code: ${String(json.error ?? res.status)}${json.error_description ? ` (${String(json.error_description)})` : ""}`);
  if (typeof json.id_token !== "string") throw new SigninRefused("the token endpoint returned no id_token");
  let verified: Awaited<ReturnType<typeof verifyOidcToken>>;
  try {
    // Only this provider's issuer, and only its client id as audience: a token minted for another
    // client of the same issuer (e.g. a pipeline's) does not sign anyone in here.
    verified = await verifyOidcToken(json.id_token, { issuers: [{ ...trusted, audiences: [f.provider.clientId] }], fetcher: f.fetcher });
  } catch (e) {
    if (e instanceof TokenRejected) throw new SigninRefused(`ID token refused: ${e.message}`);
    throw e;
  }
  if (verified.claims.nonce !== f.pending.nonce) throw new SigninRefused("ID token nonce does not match this sign-in");
  const { nonce: _n, at_hash: _a, c_hash: _c, ...claims } = verified.claims;
  return { issuer: verified.issuer, subject: verified.subject, claims };
}
