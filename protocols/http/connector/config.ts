/**
 * The `type: http` resource: the upstream base URL, how to trust it, and the credential only the
 * connector holds (by reference), injected into every request the worker let through.
 *
 *   - name: billing-api
 *     type: http
 *     url: https://billing.internal:8443/api     # requests go to <url path> + <request path>
 *     ca: file:/etc/gatehouse/billing-ca.pem       # optional: trust this CA (PEM) instead of the system's
 *     client_cert: file:/etc/gatehouse/gw.crt      # optional mutual TLS (with client_key)
 *     client_key: file:/etc/gatehouse/gw.key
 *     credential:                                   # exactly one of:
 *       bearer: env:BILLING_TOKEN                   #   Authorization: Bearer …
 *       # basic: { username: deploy, password: env:BILLING_PASSWORD }
 *       # header: { name: X-Api-Key, value: env:BILLING_KEY }
 *       # jwt: { private_key: file:/etc/gatehouse/jwt.pem, alg: ES256, audience: billing, ttl: 60 }
 *     drop_cookies: true                            # never forward the client's Cookie (default false)
 *     identity_headers: true                        # add X-Gatehouse-Identity and X-Gatehouse-Session
 */
import { ConfigError } from "../../../connector/errors.ts";
import { expectLabels, expectObject, expectOnlyKeys, expectString } from "../../../connector/config-fields.ts";
import { parseCaBundle, parseSecretRef, type SecretRefContext } from "../../../connector/secrets.ts";

export type HttpCredential =
  | { kind: "bearer"; token: () => string | Promise<string> }
  | { kind: "basic"; username: string; password: () => string | Promise<string> }
  | { kind: "header"; name: string; value: () => string | Promise<string> }
  | { kind: "jwt"; privateKey: () => string | Promise<string>; alg: "EdDSA" | "ES256" | "RS256"; audience: string; issuer: string; ttlSeconds: number }
  | { kind: "none" };

/** What the HTTP connector stream needs of any resource it serves (HTTP itself, Kubernetes). */
export interface HttpUpstreamConfig {
  name: string;
  labels: Record<string, string>;
  url: URL;
  ca?: () => string | Promise<string>;
  clientCert?: () => string | Promise<string>;
  clientKey?: () => string | Promise<string>;
  credential: HttpCredential;
  dropCookies: boolean;
  identityHeaders: boolean;
  /** Never set: the credential is `credential` (present so code over every resource type can ask). */
  password?: undefined;
}

export interface HttpResourceConfig extends HttpUpstreamConfig {
  type: "http";
}

const FIELDS = ["name", "type", "labels", "url", "ca", "client_cert", "client_key", "credential", "drop_cookies", "identity_headers"] as const;
const HEADER_NAME = /^[A-Za-z0-9-]{1,64}$/;

function bool(field: string, v: unknown, fallback: boolean): boolean {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== "boolean") throw new ConfigError(field, "must be true or false");
  return v;
}

export function parseHttpResource(field: string, raw: Record<string, unknown>, name: string, ctx: SecretRefContext): HttpResourceConfig {
  expectOnlyKeys(field, raw, FIELDS);
  const url = parseUpstreamUrl(`${field}.url`, raw.url, ["http:", "https:"]);
  const resource: HttpResourceConfig = {
    name,
    type: "http",
    labels: expectLabels(`${field}.labels`, raw.labels),
    url,
    credential: parseCredential(`${field}.credential`, raw.credential, ctx, name),
    dropCookies: bool(`${field}.drop_cookies`, raw.drop_cookies, false),
    identityHeaders: bool(`${field}.identity_headers`, raw.identity_headers, false),
  };
  if (raw.ca !== undefined) resource.ca = parseCaBundle(`${field}.ca`, raw.ca, ctx);
  if ((raw.client_cert === undefined) !== (raw.client_key === undefined)) throw new ConfigError(field, "client_cert and client_key go together");
  if (raw.client_cert !== undefined) {
    if (url.protocol !== "https:") throw new ConfigError(`${field}.client_cert`, "only applies to an https:// url");
    resource.clientCert = parseSecretRef(`${field}.client_cert`, raw.client_cert, ctx, "client certificate");
    resource.clientKey = parseSecretRef(`${field}.client_key`, raw.client_key, ctx, "client key");
  }
  return resource;
}

/** An upstream base URL: one of `protocols`, no credentials (they go in credential:), no query or fragment. */
export function parseUpstreamUrl(field: string, value: unknown, protocols: readonly ("http:" | "https:")[]): URL {
  const text = expectString(field, value, { maxLength: 2048 });
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(field, `is not a valid URL: ${JSON.stringify(text)}`);
  }
  if (!(protocols as readonly string[]).includes(url.protocol)) throw new ConfigError(field, `must be an ${protocols.map((p) => `${p}//`).join(" or ")} URL`);
  if (url.username || url.password) throw new ConfigError(field, "must not contain credentials (use credential:)");
  if (url.search || url.hash) throw new ConfigError(field, "must not contain a query or fragment");
  return url;
}

function parseCredential(field: string, value: unknown, ctx: SecretRefContext, resourceName: string): HttpCredential {
  if (value === undefined || value === null) return { kind: "none" };
  const obj = expectObject(field, value);
  const keys = Object.keys(obj);
  if (keys.length !== 1) throw new ConfigError(field, "exactly one of bearer, basic, header or jwt");
  const kind = keys[0]!;
  switch (kind) {
    case "bearer":
      return { kind: "bearer", token: parseSecretRef(`${field}.bearer`, obj.bearer, ctx, "bearer token") };
    case "basic": {
      const b = expectObject(`${field}.basic`, obj.basic);
      expectOnlyKeys(`${field}.basic`, b, ["username", "password"]);
      const username = expectString(`${field}.basic.username`, b.username, { pattern: /^[^:\r\n]{1,128}$/, patternHint: "no ':' and at most 128 characters" });
      return { kind: "basic", username, password: parseSecretRef(`${field}.basic.password`, b.password, ctx, "password") };
    }
    case "header": {
      const h = expectObject(`${field}.header`, obj.header);
      expectOnlyKeys(`${field}.header`, h, ["name", "value"]);
      const name = expectString(`${field}.header.name`, h.name, { pattern: HEADER_NAME, patternHint: "a header name (letters, digits, -)" });
      if (["host", "content-length", "transfer-encoding", "connection", "cookie"].includes(name.toLowerCase())) throw new ConfigError(`${field}.header.name`, `cannot be ${name}`);
      return { kind: "header", name, value: parseSecretRef(`${field}.header.value`, h.value, ctx, "API key") };
    }
    case "jwt": {
      const j = expectObject(`${field}.jwt`, obj.jwt);
      expectOnlyKeys(`${field}.jwt`, j, ["private_key", "alg", "audience", "issuer", "ttl"]);
      const alg = (j.alg ?? "ES256") as string;
      if (!["EdDSA", "ES256", "RS256"].includes(alg)) throw new ConfigError(`${field}.jwt.alg`, "must be EdDSA, ES256 or RS256");
      const ttl = j.ttl ?? 60;
      if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 5 || ttl > 3600) throw new ConfigError(`${field}.jwt.ttl`, "seconds, 5..3600");
      return {
        kind: "jwt",
        privateKey: parseSecretRef(`${field}.jwt.private_key`, j.private_key, ctx, "JWT signing key"),
        alg: alg as "EdDSA" | "ES256" | "RS256",
        audience: expectString(`${field}.jwt.audience`, j.audience ?? resourceName, { maxLength: 256 }),
        issuer: expectString(`${field}.jwt.issuer`, j.issuer ?? "gatehouse-connector", { maxLength: 256 }),
        ttlSeconds: ttl,
      };
    }
    default:
      throw new ConfigError(`${field}.${kind}`, "unknown credential kind (bearer, basic, header or jwt)");
  }
}
