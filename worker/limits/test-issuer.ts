/**
 * A token issuer for the workerd tests of the API rate limit (imported by *.test.ts only): one
 * ES256 key, the tenant's GATEHOUSE_ISSUERS for it, a policy where its tokens may connect and read
 * and the `admins` group holds the admin role, and tokens with the given subject and groups.
 */
import { SignJWT, exportJWK, generateKeyPair } from "jose";

export interface TestIssuer {
  /** GATEHOUSE_ISSUERS trusting this issuer for `audience`. */
  issuers: string;
  /** GATEHOUSE_POLICY: everyone of this issuer connects and reads; group `admins` is admin. */
  policy: string;
  /** A 5-minute token for `sub` in `groups`, signed with this issuer's key (or `signWith`). */
  token(sub: string, groups?: string[], signWith?: CryptoKey): Promise<string>;
}

export async function testIssuer(issuer: string, audience: string): Promise<TestIssuer> {
  const pair = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
  return {
    issuers: JSON.stringify([{ issuer, jwks: { keys: [jwk] }, audiences: [audience], algorithms: ["ES256"], max_token_lifetime_seconds: 3600 }]),
    policy: `version: 1
roles:
  admin: [{ issuer: "${issuer}", claims: { groups: admins } }]
rules:
  - name: everyone
    effect: allow
    subjects: [{ issuer: "${issuer}" }]
    resources: any
    actions: [connect, sql.read]
`,
    token(sub, groups = [], signWith = pair.privateKey) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ sub, groups }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(issuer).setAudience(audience).setIssuedAt(now).setExpirationTime(now + 300).sign(signWith);
    },
  };
}
