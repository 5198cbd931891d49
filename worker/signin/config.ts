/**
 * Sign-in providers for people (web console), from the worker variable GATEHOUSE_SIGNIN (JSON):
 *
 *   { "oidc": [{ "id": "corp", "label": "Corp SSO", "issuer": "https://idp.example",
 *                "client_id": "gatehouse-console", "client_secret": "…" (optional; PKCE always),
 *                "authorization_endpoint": "…", "token_endpoint": "…" }],
 *     "saml": [{ "id": "okta", "label": "Okta", "idp_entity_id": "…", "sso_url": "…",
 *                "certificate": "-----BEGIN CERTIFICATE-----…", "sp_entity_id": "…" (default <public url>/signin/saml/<id>/metadata) }],
 *     "session_hours": 8 }
 *
 * An OIDC provider's `issuer` must also be a trusted issuer (GATEHOUSE_ISSUERS) whose audiences
 * include its client_id: ID tokens are verified by the same code as bearer tokens. Invalid
 * configuration refuses sign-in (fail closed), it never falls back to something weaker.
 */
import { ConfigurationError } from "../errors.ts";

export interface OidcProvider {
  kind: "oidc";
  id: string;
  label: string;
  issuer: string;
  clientId: string;
  clientSecret?: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
}

export interface SamlProvider {
  kind: "saml";
  id: string;
  label: string;
  idpEntityId: string;
  ssoUrl: string;
  /** PEM or bare base64 DER of the IdP's signing certificate. */
  certificate: string;
  spEntityId?: string;
}

export interface SigninConfig {
  oidc: OidcProvider[];
  saml: SamlProvider[];
  sessionSeconds: number;
}

const ID = /^[a-z0-9][a-z0-9-]{0,31}$/;

function str(where: string, v: unknown, optional = false): string {
  if (v === undefined && optional) return undefined as unknown as string;
  if (typeof v !== "string" || v === "") throw new ConfigurationError(`GATEHOUSE_SIGNIN: ${where} must be a non-empty string`);
  return v;
}

function url(where: string, v: unknown): string {
  const s = str(where, v);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new ConfigurationError(`GATEHOUSE_SIGNIN: ${where} is not a URL`);
  }
  const loopback = u.hostname === "127.0.0.1" || u.hostname === "localhost" || u.hostname === "[::1]";
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) throw new ConfigurationError(`GATEHOUSE_SIGNIN: ${where} must be https (http only on loopback)`);
  return s;
}

export function parseSigninConfig(text: string | undefined): SigninConfig {
  if (!text || !text.trim()) return { oidc: [], saml: [], sessionSeconds: 8 * 3600 };
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigurationError(`GATEHOUSE_SIGNIN is not valid JSON: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new ConfigurationError("GATEHOUSE_SIGNIN must be a JSON object");
  const ids = new Set<string>();
  const idOf = (where: string, v: unknown) => {
    const id = str(`${where}.id`, v);
    if (!ID.test(id)) throw new ConfigurationError(`GATEHOUSE_SIGNIN: ${where}.id must match ${ID}`);
    if (ids.has(id)) throw new ConfigurationError(`GATEHOUSE_SIGNIN: provider id ${id} is used twice`);
    ids.add(id);
    return id;
  };
  const list = (key: string) => {
    const v = raw[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new ConfigurationError(`GATEHOUSE_SIGNIN.${key} must be an array`);
    return v as Record<string, unknown>[];
  };
  const oidc = list("oidc").map((p, i): OidcProvider => {
    const w = `oidc[${i}]`;
    return {
      kind: "oidc",
      id: idOf(w, p.id),
      label: p.label === undefined ? str(`${w}.issuer`, p.issuer) : str(`${w}.label`, p.label),
      issuer: str(`${w}.issuer`, p.issuer),
      clientId: str(`${w}.client_id`, p.client_id),
      clientSecret: p.client_secret === undefined ? undefined : str(`${w}.client_secret`, p.client_secret),
      authorizationEndpoint: url(`${w}.authorization_endpoint`, p.authorization_endpoint),
      tokenEndpoint: url(`${w}.token_endpoint`, p.token_endpoint),
    };
  });
  const saml = list("saml").map((p, i): SamlProvider => {
    const w = `saml[${i}]`;
    return {
      kind: "saml",
      id: idOf(w, p.id),
      label: p.label === undefined ? str(`${w}.idp_entity_id`, p.idp_entity_id) : str(`${w}.label`, p.label),
      idpEntityId: str(`${w}.idp_entity_id`, p.idp_entity_id),
      ssoUrl: url(`${w}.sso_url`, p.sso_url),
      certificate: str(`${w}.certificate`, p.certificate),
      spEntityId: p.sp_entity_id === undefined ? undefined : str(`${w}.sp_entity_id`, p.sp_entity_id),
    };
  });
  const hours = raw.session_hours === undefined ? 8 : raw.session_hours;
  if (typeof hours !== "number" || !(hours > 0 && hours <= 24)) throw new ConfigurationError("GATEHOUSE_SIGNIN.session_hours must be a number in (0, 24]");
  return { oidc, saml, sessionSeconds: Math.round(hours * 3600) };
}

// Parsed once per text: one entry per deployment, one per tenant in hosted mode (bounded).
const cached = new Map<string, SigninConfig>();

export function signinConfig(env: { GATEHOUSE_SIGNIN?: string }): SigninConfig {
  const text = env.GATEHOUSE_SIGNIN ?? "";
  let config = cached.get(text);
  if (!config) {
    config = parseSigninConfig(text);
    if (cached.size >= 256) cached.clear();
    cached.set(text, config);
  }
  return config;
}

/**
 * Cross-checks against the trusted issuers: an OIDC provider's issuer must be trusted with its
 * client_id as an audience (else nobody could sign in), and a SAML IdP's entity id must NOT be a
 * trusted OIDC issuer — a person signed in by SAML would otherwise carry that issuer's name (say,
 * GitHub Actions') and match policy subjects written for its tokens.
 */
export function signinIssuerProblems(config: SigninConfig, issuers: readonly { issuer: string; audiences: readonly string[] }[]): string[] {
  const problems: string[] = [];
  for (const p of config.oidc) {
    const trusted = issuers.find((i) => i.issuer === p.issuer);
    if (!trusted) problems.push(`GATEHOUSE_SIGNIN: oidc provider ${p.id}: issuer ${p.issuer} is not in GATEHOUSE_ISSUERS`);
    else if (!trusted.audiences.includes(p.clientId)) problems.push(`GATEHOUSE_SIGNIN: oidc provider ${p.id}: GATEHOUSE_ISSUERS does not list client_id ${p.clientId} as an audience of ${p.issuer}`);
  }
  for (const p of config.saml) {
    if (issuers.some((i) => i.issuer === p.idpEntityId)) problems.push(`GATEHOUSE_SIGNIN: saml provider ${p.id}: idp_entity_id ${p.idpEntityId} is also a trusted OIDC issuer; SAML identities must not share an OIDC issuer's name`);
  }
  return problems;
}
