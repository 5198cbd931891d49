/**
 * The person's stored sign-in (`gatehouse login`): one JSON file, mode 0600, in
 * $GATEHOUSE_CREDENTIALS or $XDG_CONFIG_HOME/gatehouse/credentials.json (~/.config/…). It holds
 * the ID token the gateway accepts and, when the identity provider gave one, a refresh token to
 * renew it without a browser. The token source renews a token that is about to expire.
 */
import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { writeSecretFile } from "../dev/home.ts";
import { TokenError } from "../errors.ts";
import type { TokenSource } from "../auth/token-source.ts";
import { decodeJwt } from "jose";

function tokenExpiry(token: string): number | undefined {
  try {
    const exp = decodeJwt(token).exp;
    return typeof exp === "number" ? exp : undefined;
  } catch {
    return undefined;
  }
}

export interface StoredCredentials {
  issuer: string;
  token_endpoint: string;
  client_id: string;
  id_token: string;
  refresh_token?: string;
}

/** Renew this long before `exp` (a command, or a tunnel's next renewal, must not race the expiry). */
const RENEW_BEFORE_SECONDS = 120;

/**
 * Where a person's sign-in is kept: $GATEHOUSE_CREDENTIALS, else $XDG_CONFIG_HOME or $HOME/.config.
 * Without any of them there is no place for it (a bare CI container): login says so, and token
 * resolution simply has no stored sign-in. (No node:os lookup: this module is also loaded by the
 * CLI code the workerd tests exercise, where node:os is not available.)
 */
export function credentialsFile(env: NodeJS.ProcessEnv): string | undefined {
  if (env.GATEHOUSE_CREDENTIALS) return path.resolve(env.GATEHOUSE_CREDENTIALS);
  const config = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, ".config") : undefined);
  return config === undefined ? undefined : path.join(config, "gatehouse", "credentials.json");
}

export async function readCredentials(file: string): Promise<StoredCredentials | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const c = JSON.parse(text) as StoredCredentials;
  if (typeof c.id_token !== "string" || typeof c.token_endpoint !== "string" || typeof c.client_id !== "string") throw new TokenError(`${file} is not a gatehouse credentials file`);
  return c;
}

export function writeCredentials(file: string, c: StoredCredentials): Promise<void> {
  return writeSecretFile(file, `${JSON.stringify(c, null, 2)}\n`);
}

export async function removeCredentials(file: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  await rm(file, { force: true });
  return true;
}

export interface TokenResponse {
  id_token: string;
  refresh_token?: string;
}

/** POST to the token endpoint (authorization_code or refresh_token grant); the ID token is what the gateway takes. */
export async function tokenRequest(endpoint: string, params: Record<string, string>, fetcher: typeof fetch = fetch): Promise<TokenResponse> {
  let res: Response;
  try {
    res = await fetcher(endpoint, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" }, body: new URLSearchParams(params), signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new TokenError(`the identity provider's token endpoint is unreachable (${endpoint}): ${(e as Error).message}`);
  }
  const text = await res.text();
  let json: { id_token?: unknown; refresh_token?: unknown; error?: unknown; error_description?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    throw new TokenError(`the token endpoint answered HTTP ${res.status} without JSON`);
  }
  if (!res.ok) throw new TokenError(`the token endpoint refused: ${String(json.error ?? res.status)}${json.error_description ? ` (${String(json.error_description)})` : ""}`);
  if (typeof json.id_token !== "string") throw new TokenError("the token endpoint returned no id_token");
  return { id_token: json.id_token, refresh_token: typeof json.refresh_token === "string" ? json.refresh_token : undefined };
}

/** The stored sign-in as a token source: renews (refresh token) when the ID token is about to expire. */
export function storedLoginTokenSource(file: string, now: () => number = () => Math.floor(Date.now() / 1000)): TokenSource {
  return {
    kind: `gatehouse login (${file})`,
    async getToken() {
      const c = await readCredentials(file);
      if (!c) throw new TokenError("not signed in: run `gatehouse login`");
      const exp = tokenExpiry(c.id_token) ?? 0;
      if (exp - now() > RENEW_BEFORE_SECONDS) return c.id_token;
      if (!c.refresh_token) {
        if (exp > now()) return c.id_token;
        throw new TokenError("the stored sign-in expired and cannot be renewed: run `gatehouse login` again");
      }
      const renewed = await tokenRequest(c.token_endpoint, { grant_type: "refresh_token", refresh_token: c.refresh_token, client_id: c.client_id });
      await writeCredentials(file, { ...c, id_token: renewed.id_token, refresh_token: renewed.refresh_token ?? c.refresh_token });
      return renewed.id_token;
    },
  };
}
