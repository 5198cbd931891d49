/**
 * Where `gatehouse login` sends the person's browser and the authorization code: the endpoints the
 * issuer itself publishes in its OIDC discovery document (`<issuer>/.well-known/openid-configuration`,
 * OpenID Connect Discovery 1.0 §4). A gateway only names the issuer: endpoints it names are
 * compared with the issuer's and refused when they differ, so a hostile or misconfigured gateway
 * cannot collect codes (and PKCE verifiers) for the person's account at the identity provider.
 */
import { CliError, describeError } from "../errors.ts";
import { readBodyBounded } from "../gateway/api.ts";
import { checkEndpoint, isLoopback, shown, type GatewayOidcProvider } from "./gateway-providers.ts";

export interface IssuerEndpoints {
  /** The document's `issuer`, or the URL discovery was asked at when the document has none. */
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
}

const MAX_DOCUMENT_BYTES = 256 * 1024;

/** `<issuer>/.well-known/openid-configuration` (§4: the issuer's trailing "/" removed first). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

/**
 * Reads the issuer's discovery document. The issuer must be https (http on loopback only: the
 * development issuer), and so must its endpoints unless the issuer itself is on loopback.
 * `exactIssuer`: the document's `issuer` must be `issuer` exactly (§4.3); the person's own
 * `--issuer` is taken as typed (a trailing "/" or the development issuer's pinned identifier).
 */
export async function discoverIssuer(issuer: string, opts: { exactIssuer: boolean }): Promise<IssuerEndpoints> {
  const base = new URL(checkEndpoint("the issuer", issuer));
  // An issuer identifier has no query, fragment or user info (OIDC Core §2 / Discovery §4.1): with
  // one, the document would be fetched from a URL other than the identifier names (`https://idp/x#`).
  if (base.search || base.hash || issuer.includes("#") || issuer.includes("?") || base.username || base.password) {
    throw new CliError(`the issuer ${shown(issuer)} is not an issuer identifier: it may not have a query, a fragment or user info`);
  }
  const url = discoveryUrl(issuer);
  let res: Response;
  try {
    // Not followed: a redirect (to plain http, to another host) would let someone other than the
    // issuer supply the document its endpoints are taken from.
    res = await fetch(url, { headers: { accept: "application/json" }, redirect: "error", signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new CliError(`cannot reach the issuer's discovery document at ${shown(url)}: ${shown(describeError(e))}`);
  }
  const text = await readBodyBounded(res, MAX_DOCUMENT_BYTES, () => new CliError(`the issuer's discovery document (${shown(url)}) is larger than ${MAX_DOCUMENT_BYTES} bytes`));
  if (!res.ok) throw new CliError(`issuer discovery failed: HTTP ${res.status} from ${shown(url)}`);
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CliError(`the issuer's discovery document (${shown(url)}) is not JSON`);
  }
  if (doc === null || typeof doc !== "object") throw new CliError(`the issuer's discovery document (${shown(url)}) is not a JSON object`);
  if (opts.exactIssuer && doc.issuer !== issuer) {
    throw new CliError(`the discovery document at ${shown(url)} is for issuer ${JSON.stringify(shown(doc.issuer))}, not ${JSON.stringify(shown(issuer))}: it is not that issuer's own`);
  }
  if (typeof doc.authorization_endpoint !== "string" || typeof doc.token_endpoint !== "string") throw new CliError(`the issuer at ${shown(issuer)} offers no authorization code flow (no authorization_endpoint / token_endpoint)`);
  return {
    issuer: typeof doc.issuer === "string" ? doc.issuer : issuer,
    authorization_endpoint: issuerEndpoint(base, "authorization_endpoint", doc.authorization_endpoint),
    token_endpoint: issuerEndpoint(base, "token_endpoint", doc.token_endpoint),
  };
}

/**
 * An endpoint from the discovery document of `issuer`: https; plain http only on loopback and only
 * for a loopback issuer (the development issuer) — an https issuer's code sent to a plain-http
 * port, even a local one, is readable by whoever listens there.
 */
export function issuerEndpoint(issuer: URL, k: "authorization_endpoint" | "token_endpoint", value: unknown): string {
  const checked = checkEndpoint(`the issuer's discovery document (${k})`, value);
  if (!isLoopback(issuer) && new URL(checked).protocol !== "https:") throw new CliError(`refusing a non-https ${k} from the discovery document of an issuer off loopback: ${shown(checked)}`);
  return checked;
}

/**
 * The gateway's provider with the endpoints its issuer publishes — or a refusal when the issuer's
 * discovery document cannot be read, is another issuer's, or names other endpoints than the gateway.
 */
export async function confirmedByIssuer(provider: GatewayOidcProvider): Promise<GatewayOidcProvider> {
  const who = `the gateway's sign-in provider ${shown(provider.id)} (issuer ${shown(provider.issuer)})`;
  let published: IssuerEndpoints;
  try {
    published = await discoverIssuer(provider.issuer, { exactIssuer: true });
  } catch (e) {
    throw new CliError(`refusing to sign in with ${who}: ${(e as Error).message}; the CLI signs in only at the endpoints the issuer itself publishes`);
  }
  for (const k of ["authorization_endpoint", "token_endpoint"] as const) {
    if (provider[k] !== published[k]) {
      throw new CliError(
        `refusing to sign in with ${who}: the gateway names ${k} ${shown(provider[k])}, but the issuer publishes ${shown(published[k])} (${shown(discoveryUrl(provider.issuer))}). ` +
          `No sign-in was started. The gateway's sign-in configuration is wrong or not to be trusted: tell its operator, or sign in with --issuer ${shown(provider.issuer)} --client-id ${shown(provider.client_id)}`,
      );
    }
  }
  return { ...provider, authorization_endpoint: published.authorization_endpoint, token_endpoint: published.token_endpoint };
}
