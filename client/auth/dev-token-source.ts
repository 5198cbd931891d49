/**
 * GATEHOUSE_TOKEN holding a token from the local development issuer (`gatehouse dev token`) is
 * renewed like a CI token: when less than a quarter of its lifetime is left, a new one with the
 * same subject, audience, claims and lifetime is signed with the same local key — so the
 * walkthrough's `gatehouse connect` outlives its first token. Only when the token's key id is the
 * local development key's (whoever holds that key can mint any token anyway); any other token is
 * used as it is and never renewed.
 */
import { decodeJwt, decodeProtectedHeader } from "jose";
import { defaultIssuerKeyFile, mintDevToken, readIssuerKeyId } from "../dev/issuer.ts";
import type { TokenSource } from "./token-source.ts";

const RESERVED = new Set(["iss", "sub", "aud", "iat", "nbf", "exp", "jti"]);
const MIN_LEFT_SECONDS = 60;

export function devRenewingTokenSource(inner: TokenSource, env: NodeJS.ProcessEnv): TokenSource {
  let current: string | undefined;
  let localKey: Promise<boolean> | undefined;
  const signedByLocalKey = async (token: string) => {
    const kid = decodeProtectedHeader(token).kid;
    return typeof kid === "string" && kid === (await readIssuerKeyId(defaultIssuerKeyFile(env)).catch(() => undefined));
  };
  return {
    kind: inner.kind,
    async getToken() {
      current ??= await inner.getToken();
      let claims;
      try {
        claims = decodeJwt(current);
      } catch {
        return current;
      }
      const { iat, exp, sub, aud, iss } = claims;
      if (typeof iat !== "number" || typeof exp !== "number" || typeof sub !== "string" || typeof iss !== "string" || aud === undefined) return current;
      const lifetime = exp - iat;
      const left = exp - Math.floor(Date.now() / 1000);
      if (lifetime <= 0 || left > Math.max(MIN_LEFT_SECONDS, lifetime / 4)) return current;
      localKey ??= signedByLocalKey(current).catch(() => false);
      if (!(await localKey)) return current;
      const extra = Object.fromEntries(Object.entries(claims).filter(([k]) => !RESERVED.has(k)));
      current = await mintDevToken({ sub, claims: extra, audience: aud, ttlSeconds: lifetime, issuer: iss, keyFile: defaultIssuerKeyFile(env) });
      return current;
    },
  };
}
