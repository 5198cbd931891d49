/**
 * Where the CLI gets the OIDC identity token it presents to the gateway.
 *
 * Order (first that applies wins):
 *   1. `GATEHOUSE_TOKEN` — a token you already have (e.g. from `gatehouse dev token`; those are
 *      renewed from the local development key, client/auth/dev-token-source.ts).
 *   2. GitHub Actions — `ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`
 *      (the job needs `permissions: id-token: write`); requested for our audience and
 *      re-requested when it nears expiry, so a long-running `connect` never sends an expired token.
 *   3. GitLab CI — the job's `id_tokens:` variable (name from `--gitlab-id-token-var` /
 *      `GATEHOUSE_GITLAB_ID_TOKEN_VAR`, default `GATEHOUSE_ID_TOKEN`).
 *   4. A person's stored sign-in (`gatehouse login`, client/signin/credentials.ts), renewed with
 *      its refresh token.
 */
import { decodeJwt } from "jose";
import { TokenError, describeError } from "../errors.ts";
import { readBodyBounded } from "../gateway/api.ts";
import { devRenewingTokenSource } from "./dev-token-source.ts";
import { existsSync } from "node:fs";
import { credentialsFile, storedLoginTokenSource } from "../signin/credentials.ts";

export interface TokenSource {
  /** Human-readable origin, for logs ("GATEHOUSE_TOKEN", "GitHub Actions OIDC", …). Never the token. */
  readonly kind: string;
  /** A token that is valid now (fetches or refreshes as needed). */
  getToken(): Promise<string>;
}

export const DEFAULT_AUDIENCE = "gatehouse";
export const DEFAULT_GITLAB_ID_TOKEN_VAR = "GATEHOUSE_ID_TOKEN";
/** Largest token endpoint response we read; a token is a few KB. */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;

/** `exp` of a JWT in seconds, or undefined when absent/undecodable (decoding only; the gateway verifies). */
export function tokenExpiry(token: string): number | undefined {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === "number" ? exp : undefined;
  } catch {
    return undefined;
  }
}

/** `sub` of a JWT for display (connection strings), or undefined. Not verified — display only. */
export function tokenSubject(token: string): string | undefined {
  try {
    const sub = decodeJwt(token).sub;
    return typeof sub === "string" && sub.length > 0 ? sub : undefined;
  } catch {
    return undefined;
  }
}

function checkLooksLikeJwt(token: string, origin: string): string {
  const t = token.trim();
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(t)) throw new TokenError(`${origin} does not hold a JWT`);
  return t;
}

/** A token handed to us as-is; it cannot be refreshed. */
export function staticTokenSource(token: string, kind: string): TokenSource {
  const value = checkLooksLikeJwt(token, kind);
  return {
    kind,
    async getToken() {
      return value;
    },
  };
}

export interface CachingOptions {
  /** Seconds since epoch; injectable for tests. */
  now?: () => number;
}

/**
 * Caches a fetched token and fetches a new one once less than a quarter of its lifetime
 * (at least 60 s) is left. Concurrent callers share one request.
 */
export function cachingTokenSource(kind: string, fetchToken: () => Promise<string>, opts: CachingOptions = {}): TokenSource {
  const now = opts.now ?? (() => Date.now() / 1000);
  let cached: { token: string; refreshAt: number } | undefined;
  let inflight: Promise<string> | undefined;
  return {
    kind,
    getToken() {
      if (cached && now() < cached.refreshAt) return Promise.resolve(cached.token);
      inflight ??= (async () => {
        try {
          const token = checkLooksLikeJwt(await fetchToken(), kind);
          const fetchedAt = now();
          const exp = tokenExpiry(token);
          const lifetime = exp === undefined ? 0 : exp - fetchedAt;
          // A token without exp (or already expired) is used once and fetched again next time.
          const refreshAt = lifetime > 0 ? exp! - Math.max(60, lifetime / 4) : fetchedAt;
          cached = { token, refreshAt: Math.max(fetchedAt, refreshAt) };
          return token;
        } finally {
          inflight = undefined;
        }
      })();
      return inflight;
    },
  };
}

export interface GitHubActionsOptions {
  requestUrl: string;
  requestToken: string;
  audience: string;
  /** Per-request timeout. */
  timeoutMs?: number;
  now?: () => number;
}

/** Requests the job's OIDC token from the GitHub Actions runtime for `audience`. */
export function githubActionsTokenSource(opts: GitHubActionsOptions): TokenSource {
  let url: URL;
  try {
    url = new URL(opts.requestUrl);
  } catch {
    throw new TokenError("ACTIONS_ID_TOKEN_REQUEST_URL is not a URL");
  }
  url.searchParams.set("audience", opts.audience);
  const kind = "GitHub Actions OIDC";
  return cachingTokenSource(
    kind,
    async () => {
      let lastError = "";
      // The runtime's token service is occasionally flaky; two retries on network/5xx errors.
      for (let attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 250 * attempt));
        let res: Response;
        try {
          res = await fetch(url, {
            headers: { authorization: `bearer ${opts.requestToken}`, accept: "application/json; api-version=2.0" },
            signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
          });
        } catch (err) {
          lastError = describeError(err);
          continue;
        }
        const body = await readBodyBounded(res, MAX_TOKEN_RESPONSE_BYTES, () => new TokenError("token response too large"));
        if (res.status >= 500) {
          lastError = `HTTP ${res.status}`;
          continue;
        }
        if (!res.ok) throw new TokenError(`${kind}: token request failed with HTTP ${res.status} (does the job have "permissions: id-token: write"?)`);
        let value: unknown;
        try {
          value = (JSON.parse(body) as { value?: unknown }).value;
        } catch {
          throw new TokenError(`${kind}: token response is not JSON`);
        }
        if (typeof value !== "string") throw new TokenError(`${kind}: token response has no "value"`);
        return value;
      }
      throw new TokenError(`${kind}: token request failed: ${lastError}`);
    },
    { now: opts.now },
  );
}

export interface ResolveOptions {
  env: NodeJS.ProcessEnv;
  audience?: string;
  gitlabIdTokenVar?: string;
}

/** Pick the token source for this environment (see the module comment for the order). */
export function resolveTokenSource(opts: ResolveOptions): TokenSource {
  const env = opts.env;
  const audience = opts.audience ?? env.GATEHOUSE_AUDIENCE ?? DEFAULT_AUDIENCE;
  if (env.GATEHOUSE_TOKEN) return devRenewingTokenSource(staticTokenSource(env.GATEHOUSE_TOKEN, "GATEHOUSE_TOKEN"), env);
  if (env.ACTIONS_ID_TOKEN_REQUEST_URL && env.ACTIONS_ID_TOKEN_REQUEST_TOKEN) {
    return githubActionsTokenSource({ requestUrl: env.ACTIONS_ID_TOKEN_REQUEST_URL, requestToken: env.ACTIONS_ID_TOKEN_REQUEST_TOKEN, audience });
  }
  const gitlabVar = opts.gitlabIdTokenVar ?? env.GATEHOUSE_GITLAB_ID_TOKEN_VAR ?? DEFAULT_GITLAB_ID_TOKEN_VAR;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(gitlabVar)) throw new TokenError(`invalid variable name ${JSON.stringify(gitlabVar)}`);
  const gitlabToken = env[gitlabVar];
  if (gitlabToken) return staticTokenSource(gitlabToken, `GitLab id_tokens variable ${gitlabVar}`);
  const stored = credentialsFile(env);
  if (stored !== undefined && existsSync(stored)) return storedLoginTokenSource(stored);
  const hints = [
    "sign in: gatehouse login (people), or",
    "set GATEHOUSE_TOKEN (locally: export GATEHOUSE_TOKEN=$(gatehouse dev token --sub alice))",
    'in GitHub Actions grant the job "permissions: id-token: write"',
    `in GitLab CI declare "id_tokens: ${gitlabVar}: aud: ${audience}"`,
  ];
  if (env.GITHUB_ACTIONS === "true") hints.unshift("running in GitHub Actions but ACTIONS_ID_TOKEN_REQUEST_URL is not set");
  if (env.GITLAB_CI === "true") hints.unshift(`running in GitLab CI but $${gitlabVar} is not set`);
  throw new TokenError(`no identity token available:\n  - ${hints.join("\n  - ")}`);
}
