import { describe, it, expect, beforeAll } from "vitest";
import { SignJWT, generateKeyPair, exportJWK, type JWK } from "jose";
import { verifyOidcToken, TokenRejected } from "./verify-oidc-token.ts";
import { parseIssuers, type TrustedIssuer } from "../config/gateway-config.ts";
import { verifyConnectorAssertion } from "./verify-connector-assertion.ts";

const ISSUER = "https://issuer.example.test";
let privateKey: CryptoKey;
let otherKey: CryptoKey;
let jwk: JWK;
let issuers: TrustedIssuer[];
const now = Math.floor(Date.now() / 1000);

function token(claims: Record<string, unknown> = {}, opts: { key?: CryptoKey; alg?: string; kid?: string } = {}) {
  return new SignJWT({ sub: "repo:acme/api:ref:refs/heads/main", ...claims })
    .setProtectedHeader({ alg: opts.alg ?? "ES256", kid: opts.kid ?? "k1" })
    .setIssuer((claims.iss as string) ?? ISSUER)
    .setAudience((claims.aud as string) ?? "gatehouse")
    .setIssuedAt((claims.iat as number) ?? now)
    .setExpirationTime((claims.exp as number) ?? now + 300)
    .sign(opts.key ?? privateKey);
}

beforeAll(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  privateKey = pair.privateKey;
  otherKey = (await generateKeyPair("ES256")).privateKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
  issuers = parseIssuers(JSON.stringify([{ issuer: ISSUER, jwks: { keys: [jwk] }, audiences: ["gatehouse"], algorithms: ["ES256"], max_token_lifetime_seconds: 3600 }]));
});

describe("verifyOidcToken", () => {
  it("admits a valid token and keeps every claim", async () => {
    const identity = await verifyOidcToken(await token({ repository: "acme/api" }), { issuers, now });
    expect(identity.issuer).toBe(ISSUER);
    expect(identity.subject).toBe("repo:acme/api:ref:refs/heads/main");
    expect(identity.claims.repository).toBe("acme/api");
  });

  const rejects = async (t: string | Promise<string>, pattern: RegExp) => {
    await expect(verifyOidcToken(await t, { issuers, now })).rejects.toThrow(pattern);
    await expect(verifyOidcToken(await t, { issuers, now })).rejects.toBeInstanceOf(TokenRejected);
  };

  it("rejects an untrusted issuer", () => rejects(token({ iss: "https://evil.test" }), /not trusted/));
  it("rejects a wrong audience", () => rejects(token({ aud: "other" }), /aud/));
  it("rejects an expired token", () => rejects(token({ iat: now - 4000, exp: now - 3000 }), /expired/));
  it("rejects a token signed by another key", () => rejects(token({}, { key: otherKey }), /signature/));
  it("rejects a lifetime above the issuer's bound", () => rejects(token({ exp: now + 7200 }), /lifetime/));
  it("rejects a token issued in the future", () => rejects(token({ iat: now + 600, exp: now + 900 }), /future|iat/));
  it("rejects garbage", () => rejects("not-a-jwt", /not a JWT/));

  it("rejects alg none and HMAC tokens", async () => {
    const b64 = (o: unknown) => btoa(JSON.stringify(o)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
    const claims = { iss: ISSUER, sub: "x", aud: "gatehouse", iat: now, exp: now + 60 };
    await rejects(`${b64({ alg: "none" })}.${b64(claims)}.`, /algorithm/);
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode("k".repeat(32)));
    await rejects(hs, /algorithm/);
  });

  it("refuses to configure HMAC or none for an issuer", () => {
    expect(() => parseIssuers(JSON.stringify([{ issuer: ISSUER, audiences: ["a"], algorithms: ["HS256"] }]))).toThrow(/asymmetric/);
    expect(() => parseIssuers(JSON.stringify([{ issuer: ISSUER, audiences: ["a"], algorithms: ["none"] }]))).toThrow(/asymmetric/);
    expect(() => parseIssuers(JSON.stringify([{ issuer: ISSUER, audiences: [] }]))).toThrow(/audience/);
  });

  it("discovers keys and refuses a discovery document that speaks for another issuer", async () => {
    const remote = parseIssuers(JSON.stringify([{ issuer: "https://disc.example.test", audiences: ["gatehouse"], algorithms: ["ES256"] }]));
    const fetcher = (async () => Response.json({ issuer: "https://attacker.test", jwks_uri: "https://attacker.test/jwks" })) as unknown as typeof fetch;
    const t = await token({ iss: "https://disc.example.test" });
    await expect(verifyOidcToken(t, { issuers: remote, now, fetcher })).rejects.toThrow(/discovery returned issuer/);
  });

  it("fetches an issuer's keys over https only (plain http on loopback): an on-path answer verifies nothing", async () => {
    // The issuer's own discovery document naming a plain-http key set.
    const remote = parseIssuers(JSON.stringify([{ issuer: "https://disc-http.example.test", audiences: ["gatehouse"], algorithms: ["ES256"] }]));
    let asked = 0;
    const fetcher = (async () => (asked++, Response.json({ issuer: "https://disc-http.example.test", jwks_uri: "http://disc-http.example.test/jwks" }))) as unknown as typeof fetch;
    await expect(verifyOidcToken(await token({ iss: "https://disc-http.example.test" }), { issuers: remote, now, fetcher })).rejects.toThrow(/jwks_uri "http:\/\/disc-http\.example\.test\/jwks": the issuer's keys are fetched over https only/);
    expect(asked).toBe(1);
    // A configured plain-http jwks_uri, or a plain-http issuer to discover (readiness says so too; refused here as well).
    for (const entry of [
      { issuer: "https://cfg-http.example.test", jwks_uri: "http://cfg-http.example.test/jwks" },
      { issuer: "http://plain.example.test" },
    ]) {
      const configured = parseIssuers(JSON.stringify([{ ...entry, audiences: ["gatehouse"], algorithms: ["ES256"] }]));
      await expect(verifyOidcToken(await token({ iss: entry.issuer }), { issuers: configured, now })).rejects.toThrow(/is not an https URL \(plain http only on loopback\)/);
    }
  });
});

describe("verifyConnectorAssertion", () => {
  it("admits a fresh Ed25519 assertion bound to the session and refuses others", async () => {
    const pair = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
    const publicKey = await exportJWK(pair.publicKey);
    const connectors = [{ id: "local", publicKey }];
    const sign = (claims: Record<string, unknown>, header: Record<string, unknown> = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "EdDSA", kid: "local", typ: "gatehouse-connector+jwt", ...header })
        .setIssuer("local")
        .setSubject("local")
        .setAudience("gatehouse-connector")
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .setJti(crypto.randomUUID())
        .sign(pair.privateKey);
    const sid = crypto.randomUUID();
    await expect(verifyConnectorAssertion(await sign({ sid }), connectors, { sessionId: sid, now })).resolves.toMatchObject({ connectorId: "local" });
    await expect(verifyConnectorAssertion(await sign({ sid: "other" }), connectors, { sessionId: sid, now })).rejects.toThrow(/not bound/);
    await expect(verifyConnectorAssertion(await sign({}, { kid: "ghost" }), connectors, { now })).rejects.toThrow(/unknown connector/);
    await expect(verifyConnectorAssertion(await sign({}, { typ: "JWT" }), connectors, { now })).rejects.toThrow(/typ/);
    const long = await new SignJWT({})
      .setProtectedHeader({ alg: "EdDSA", kid: "local", typ: "gatehouse-connector+jwt" })
      .setIssuer("local").setSubject("local").setAudience("gatehouse-connector")
      .setIssuedAt(now).setExpirationTime(now + 3600).setJti("j").sign(pair.privateKey);
    await expect(verifyConnectorAssertion(long, connectors, { now })).rejects.toThrow(/lifetime/);
  });
});
