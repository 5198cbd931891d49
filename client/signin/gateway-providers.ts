/**
 * `gatehouse login` without `--issuer`: asks the gateway (a tenant's URL in hosted mode,
 * `…/t/<tenant>` or `https://<tenant>.<base domain>`) which OIDC provider its people sign in with
 * — `GET <gateway>/signin/providers`, anonymous and public (worker/signin/providers.ts) — so the
 * CLI signs in with the tenant's own provider and client id without being told them.
 * What the gateway says is checked like an issuer's discovery document: endpoints https (http only
 * on loopback), and a provider must be chosen when there are several; a gateway with no OIDC
 * provider is a clear error, never a fallback to the development issuer. The gateway is trusted
 * with the issuer's name only: its endpoints must be the ones the issuer publishes
 * (issuer-discovery.ts, confirmedByIssuer), checked before the browser is sent anywhere.
 */
import { CliError, GatewayUnreachableError, describeError } from "../errors.ts";
import { errorFromBody, readBodyBounded } from "../gateway/api.ts";

export interface GatewayOidcProvider {
  id: string;
  label: string;
  issuer: string;
  client_id: string;
  authorization_endpoint: string;
  token_endpoint: string;
}

const MAX_BODY_BYTES = 64 * 1024;

/**
 * What a terminal would act on or show other than written: C0/C1 controls (escape sequences),
 * format characters (bidi overrides, zero-width), line and paragraph separators.
 */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/** A value from the gateway or its provider, for a message: unprintable characters shown as "?", at most 200 characters. */
export function shown(value: unknown): string {
  return String(value).replace(new RegExp(UNPRINTABLE.source, "gu"), "?").slice(0, 200);
}

export function isLoopback(u: URL): boolean {
  return u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]";
}

/** An endpoint a person's browser or the CLI will be sent to: https, or http on loopback only. */
export function checkEndpoint(where: string, value: unknown): string {
  let u: URL;
  try {
    u = new URL(String(value));
  } catch {
    throw new CliError(`${where} is not a URL: ${JSON.stringify(shown(value))}`);
  }
  if (u.protocol !== "https:" && !(u.protocol === "http:" && isLoopback(u))) throw new CliError(`refusing a non-https endpoint from ${where}: ${shown(u)}`);
  return u.toString();
}

export async function gatewayOidcProvider(gateway: URL, providerId: string | undefined): Promise<GatewayOidcProvider> {
  const url = new URL("signin/providers", gateway);
  // The answer decides where the person's browser and refresh token go: not over plain http off loopback.
  checkEndpoint("the gateway URL (it names the sign-in provider)", gateway);
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: "application/json" }, signal: AbortSignal.timeout(15_000), redirect: "error" });
  } catch (e) {
    throw new GatewayUnreachableError(gateway.toString(), describeError(e));
  }
  const text = await readBodyBounded(res, MAX_BODY_BYTES, () => new CliError(`the gateway's sign-in providers (${url}) are larger than ${MAX_BODY_BYTES} bytes`));
  if (res.status === 404) throw new CliError(`the gateway at ${gateway} does not publish its sign-in providers (${url}: 404; a gateway older than this CLI?): pass --issuer and --client-id`);
  if (!res.ok) throw errorFromBody(res.status, text);
  let doc: { oidc?: unknown; saml?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    throw new CliError(`the gateway's sign-in providers (${url}) are not JSON`);
  }
  const oidc = Array.isArray(doc.oidc) ? (doc.oidc as Record<string, unknown>[]) : [];
  const saml = Array.isArray(doc.saml) ? (doc.saml as Record<string, unknown>[]) : [];
  if (oidc.length === 0) {
    const why = saml.length > 0 ? `its people sign in with SAML only (${saml.map((p) => shown(p.id)).join(", ")}), which the CLI cannot use` : "it has no sign-in provider for people (GATEHOUSE_SIGNIN, or the tenant's signin)";
    throw new CliError(`the gateway at ${gateway} offers no OIDC sign-in: ${why}; pass --issuer and --client-id of an OIDC client registered for the CLI`);
  }
  const ids = oidc.map((p) => shown(p.id));
  let chosen: Record<string, unknown> | undefined;
  if (providerId !== undefined) {
    chosen = oidc.find((p) => p.id === providerId);
    if (!chosen) throw new CliError(`the gateway at ${gateway} has no OIDC sign-in provider ${JSON.stringify(providerId)} (it has: ${ids.join(", ")})`);
  } else if (oidc.length > 1) {
    throw new CliError(`the gateway at ${gateway} has several OIDC sign-in providers (${ids.join(", ")}): choose one with --provider`);
  } else chosen = oidc[0]!;
  for (const k of ["id", "issuer", "client_id"] as const) {
    if (typeof chosen[k] !== "string" || chosen[k] === "") throw new CliError(`the gateway's sign-in provider lacks ${k} (${url})`);
  }
  // Printed to the terminal and sent to the IdP: no control characters (escape sequences), and no
  // bidi override that would print the issuer as another, from a gateway.
  for (const k of ["id", "label", "issuer", "client_id"] as const) {
    if (typeof chosen[k] === "string" && UNPRINTABLE.test(chosen[k])) throw new CliError(`the gateway's sign-in provider has control characters in ${k} (${url})`);
  }
  return {
    id: chosen.id as string,
    label: typeof chosen.label === "string" ? chosen.label : (chosen.id as string),
    issuer: chosen.issuer as string,
    client_id: chosen.client_id as string,
    authorization_endpoint: checkEndpoint(`the gateway's provider ${String(chosen.id)} (authorization_endpoint)`, chosen.authorization_endpoint),
    token_endpoint: checkEndpoint(`the gateway's provider ${String(chosen.id)} (token_endpoint)`, chosen.token_endpoint),
  };
}
