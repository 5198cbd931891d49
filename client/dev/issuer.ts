/**
 * ⚠ DEVELOPMENT ONLY — the local OIDC issuer used by `npm start`, the tests and `gatehouse dev token`.
 *
 * It mints tokens for ANY subject and claims you ask for. It exists so the gateway can be tried
 * and tested end-to-end with real signature verification (ES256, a real key pair, JWKS and OIDC
 * discovery) without a cloud identity provider. Never list it as a trusted issuer of a production
 * gateway (the worker marks it `dev: true`).
 *
 * The key pair is persisted as a private JWK (mode 0600) so tokens survive restarts; the file also
 * remembers the issuer URL last served, so `gatehouse dev token` signs with the right `iss`
 * without the issuer running.
 */
import http from "node:http";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { gatehouseHome, readIfExists, writeSecretFile } from "./home.ts";
import { createAuthorizeHandler } from "./issuer-authorize.ts";

export const DEV_ISSUER_DEFAULT_PORT = 8788;
export const DEV_ISSUER_ALG = "ES256";
export const DEV_DEFAULT_AUDIENCE = "gatehouse";
/** Default token lifetime: 1 hour, the most the local gateway accepts from its dev issuer; `gatehouse connect` renews it (client/auth/dev-token-source.ts). */
export const DEV_DEFAULT_TTL_SECONDS = 3600;

export function defaultIssuerKeyFile(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(gatehouseHome(env), "dev", "issuer-key.json");
}

export function defaultIssuerUrl(env: NodeJS.ProcessEnv = process.env): string {
  return env.GATEHOUSE_ISSUER_URL ?? `http://127.0.0.1:${env.GATEHOUSE_ISSUER_PORT ?? DEV_ISSUER_DEFAULT_PORT}`;
}

interface KeyFileContents {
  /** Marks the file for anyone who opens it. */
  warning: string;
  /** Issuer URL this key was last served under (hint for offline minting). */
  issuer?: string;
  key: JWK;
}

export interface IssuerKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  /** Issuer URL recorded in the key file, if any. */
  issuer?: string;
}

async function readKeyFile(file: string): Promise<KeyFileContents | undefined> {
  const text = await readIfExists(file);
  if (!text) return undefined;
  const parsed = JSON.parse(text) as KeyFileContents;
  if (!parsed.key || parsed.key.kty !== "EC" || !parsed.key.d) throw new Error(`${file} is not a development issuer key file`);
  return parsed;
}

async function toIssuerKey(contents: KeyFileContents): Promise<IssuerKey> {
  const { d: _d, ...publicJwk } = contents.key;
  const privateKey = (await importJWK(contents.key, DEV_ISSUER_ALG)) as CryptoKey;
  return { kid: contents.key.kid!, privateKey, publicJwk: { ...publicJwk, use: "sig", alg: DEV_ISSUER_ALG }, issuer: contents.issuer };
}

/** Load the development issuer key, creating (and persisting, 0600) a new ES256 key pair when missing. */
export async function loadOrCreateIssuerKey(file = defaultIssuerKeyFile()): Promise<IssuerKey> {
  const existing = await readKeyFile(file);
  if (existing) return toIssuerKey(existing);
  const { privateKey } = await generateKeyPair(DEV_ISSUER_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  jwk.kid = await calculateJwkThumbprint(jwk);
  jwk.alg = DEV_ISSUER_ALG;
  const contents: KeyFileContents = { warning: "DEVELOPMENT ONLY gatehouse dev issuer key — never trust it in production", key: jwk };
  await writeSecretFile(file, `${JSON.stringify(contents, null, 2)}\n`);
  return toIssuerKey(contents);
}

/** The key id of the development key in `file`, or undefined when there is none (never creates one). */
export async function readIssuerKeyId(file: string): Promise<string | undefined> {
  return (await readKeyFile(file))?.key.kid;
}

async function recordIssuerUrl(file: string, issuer: string): Promise<void> {
  const existing = await readKeyFile(file);
  if (!existing || existing.issuer === issuer) return;
  await writeSecretFile(file, `${JSON.stringify({ ...existing, issuer }, null, 2)}\n`);
}

export interface MintOptions {
  sub: string;
  /** Extra claims (groups, repository, …). `iss`, `aud`, `iat`, `nbf`, `exp`, `jti` are set here. */
  claims?: Record<string, unknown>;
  audience?: string | string[];
  ttlSeconds?: number;
  keyFile?: string;
  /**
   * `iss`; default: GATEHOUSE_ISSUER_URL or http://127.0.0.1:$GATEHOUSE_ISSUER_PORT when either is
   * set, else the URL the issuer last served under (recorded in the key file), else http://127.0.0.1:8788.
   */
  issuer?: string;
}

/**
 * The `iss` the local development issuer's tokens carry: GATEHOUSE_ISSUER_URL or
 * http://127.0.0.1:$GATEHOUSE_ISSUER_PORT when either is set, else the URL the issuer last served
 * under (recorded in the key file), else http://127.0.0.1:8788.
 */
export async function localDevIssuerId(env: NodeJS.ProcessEnv = process.env, keyFile = defaultIssuerKeyFile(env)): Promise<string> {
  if (env.GATEHOUSE_ISSUER_URL || env.GATEHOUSE_ISSUER_PORT) return defaultIssuerUrl(env);
  const recorded = await readKeyFile(keyFile).catch(() => undefined);
  return recorded?.issuer ?? defaultIssuerUrl(env);
}

const RESERVED_CLAIMS = new Set(["iss", "sub", "aud", "iat", "nbf", "exp", "jti"]);

/** ⚠ DEVELOPMENT ONLY: sign a token with the local development issuer key. */
export async function mintDevToken(opts: MintOptions): Promise<string> {
  if (!opts.sub) throw new Error("sub is required");
  const ttl = opts.ttlSeconds ?? DEV_DEFAULT_TTL_SECONDS;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error("ttlSeconds must be a positive integer");
  const key = await loadOrCreateIssuerKey(opts.keyFile ?? defaultIssuerKeyFile());
  const claims: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts.claims ?? {})) {
    if (RESERVED_CLAIMS.has(k)) throw new Error(`claim ${k} is set by the issuer; use the dedicated option`);
    claims[k] = v;
  }
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: DEV_ISSUER_ALG, kid: key.kid, typ: "JWT" })
    .setIssuer(opts.issuer ?? (process.env.GATEHOUSE_ISSUER_URL || process.env.GATEHOUSE_ISSUER_PORT ? defaultIssuerUrl() : (key.issuer ?? defaultIssuerUrl())))
    .setSubject(opts.sub)
    .setAudience(opts.audience ?? DEV_DEFAULT_AUDIENCE)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + ttl)
    .setJti(randomUUID())
    .sign(key.privateKey);
}

export interface DevIssuerOptions {
  /** Default 127.0.0.1 (loopback only). */
  host?: string;
  /**
   * The issuer identifier (`iss`, discovery `issuer`). Default: the URL it is served at. The test
   * harness pins it to http://127.0.0.1:8788 while serving on an ephemeral port, so policies
   * written for the development issuer (examples/policies/demo.yaml) match; the worker is given
   * the real `jwks_uri`, so it never needs to resolve the identifier.
   */
  issuer?: string;
  /** Default 8788; 0 picks a free port. */
  port?: number;
  keyFile?: string;
  /**
   * Redirect origins accepted besides loopback http (exact https origins). Tests only: the browser
   * test of tenants on their own host names (test/console/tenant-hosts.test.ts). Not settable
   * from any variable or flag.
   */
  redirectOrigins?: string[];
}

export interface DevIssuer {
  /** The issuer identifier (`iss` of its tokens), e.g. http://127.0.0.1:8788 */
  issuer: string;
  /** Where it is served, e.g. http://127.0.0.1:8788 (differs from `issuer` only when pinned). */
  url: string;
  port: number;
  jwksUri: string;
  keyFile: string;
  jwks: { keys: JWK[] };
  mint(opts: Omit<MintOptions, "keyFile" | "issuer">): Promise<string>;
  close(): Promise<void>;
}

/** ⚠ DEVELOPMENT ONLY: serve OIDC discovery and the JWKS of the development issuer key. */
export async function startDevIssuer(opts: DevIssuerOptions = {}): Promise<DevIssuer> {
  const host = opts.host ?? "127.0.0.1";
  const keyFile = opts.keyFile ?? defaultIssuerKeyFile();
  const key = await loadOrCreateIssuerKey(keyFile);
  const jwks = { keys: [key.publicJwk] };
  let issuerUrl = "";
  let baseUrl = "";

  // People's sign-in (console, `gatehouse login`): a login page with any name and groups (issuer-authorize.ts).
  const authorize = createAuthorizeHandler({
    mint: (sub, claims, audience) => mintDevToken({ sub, claims, audience, keyFile, issuer: issuerUrl }),
    ttlSeconds: DEV_DEFAULT_TTL_SECONDS,
    redirectOrigins: opts.redirectOrigins,
  });

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", "x-gatehouse-dev-issuer": "development-only" });
      res.end(JSON.stringify(body));
    };
    try {
      if (await authorize(req, res, url)) return;
    } catch (e) {
      if (!res.headersSent) return send(400, { error: "invalid_request", error_description: (e as Error).message });
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, { error: "method_not_allowed" });
    switch (url.pathname) {
      case "/.well-known/openid-configuration":
        return send(200, {
          issuer: issuerUrl,
          jwks_uri: `${baseUrl}/.well-known/jwks.json`,
          authorization_endpoint: `${baseUrl}/authorize`,
          token_endpoint: `${baseUrl}/token`,
          code_challenge_methods_supported: ["S256"],
          grant_types_supported: ["authorization_code", "refresh_token"],
          id_token_signing_alg_values_supported: [DEV_ISSUER_ALG],
          response_types_supported: ["code", "id_token"],
          subject_types_supported: ["public"],
          claims_supported: ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "groups"],
          gatehouse_development_only: true,
          // Which stack this is, so `gatehouse dev token` run with another GATEHOUSE_HOME can say so.
          gatehouse_home: path.dirname(path.dirname(path.resolve(keyFile))),
        });
      case "/.well-known/jwks.json":
        return send(200, jwks);
      default:
        return send(404, { error: "not_found" });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port: opts.port ?? DEV_ISSUER_DEFAULT_PORT, exclusive: true }, () => resolve());
  });
  const port = (server.address() as import("node:net").AddressInfo).port;
  baseUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  issuerUrl = opts.issuer ?? baseUrl;
  await recordIssuerUrl(keyFile, issuerUrl);

  return {
    issuer: issuerUrl,
    url: baseUrl,
    port,
    jwksUri: `${baseUrl}/.well-known/jwks.json`,
    keyFile,
    jwks,
    mint: (m) => mintDevToken({ ...m, keyFile, issuer: issuerUrl }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
