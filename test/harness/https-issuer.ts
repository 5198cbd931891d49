/**
 * An OIDC issuer served over HTTPS, as production issuers are: discovery
 * (/.well-known/openid-configuration) and JWKS, with an ES256 key; `mint` signs ID tokens.
 */
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";

export interface HttpsIssuer {
  /** https://127.0.0.1:<port> — also the `iss` of its tokens. */
  issuer: string;
  /** Number of discovery + JWKS requests served (the worker fetched them over TLS). */
  requests: string[];
  mint(claims: JWTPayload & { sub: string }, audience?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startHttpsIssuer(tls: { key: string; cert: string }): Promise<HttpsIssuer> {
  const { privateKey, publicKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const requests: string[] = [];
  let issuer = "";
  const server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    requests.push(req.url ?? "");
    if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ["ES256"] }));
    } else if (req.url === "/jwks") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    requests,
    mint: (claims, audience = "gatehouse") =>
      new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1", typ: "JWT" }).setIssuer(issuer).setAudience(audience).setIssuedAt().setExpirationTime("10m").sign(privateKey),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
