/**
 * A trusted issuer whose signing keys are fetched over plain http (not loopback) verifies nothing,
 * end to end through the worker (wrangler dev): whoever answers that http request — anyone on the
 * path — could serve a key of their own and mint any identity for that issuer. Here the answer is
 * a real http server on this machine's non-loopback address, serving the discovery document and a
 * JWKS whose private key the test (the on-path attacker) holds. The gateway must refuse to run with
 * such an issuer (readiness 503, naming it) rather than admit the attacker's tokens.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { startTestStack, type TestStack } from "../harness/stack.ts";

let stack: TestStack;
let server: http.Server;
let issuer: string;
let attackerKey: CryptoKey;

function nonLoopbackIPv4(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  throw new Error("this test needs a non-loopback IPv4 address on the machine");
}

beforeAll(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  attackerKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const host = nonLoopbackIPv4();
  server = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.url === "/.well-known/openid-configuration") res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === "/jwks") res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end("{}");
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  issuer = `http://${host}:${(server.address() as AddressInfo).port}`;
  stack = await startTestStack({
    connector: false,
    waitForConnector: false,
    requireReady: false,
    workerVarsWithIssuer: (dev) => ({ GATEHOUSE_ISSUERS: JSON.stringify([dev, { issuer, audiences: ["gatehouse-plain"], algorithms: ["ES256"] }]) }),
  });
}, 240_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => server?.close(r));
});

describe("an issuer whose keys come over plain http", () => {
  it("keeps the gateway from admitting anyone, and says which issuer", async () => {
    const health = await fetch(`${stack.gatewayUrl}/healthz`);
    expect(health.status).toBe(503);
    const body = (await health.json()) as { errors: string[] };
    expect(body.errors.join("\n")).toContain(`GATEHOUSE_ISSUERS: issuer ${issuer} is not an https URL (plain http only on loopback)`);
  });

  it("does not admit a token signed with the key the plain-http answer served", async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: "ci", groups: ["approvers", "admins", "auditors"] })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(issuer)
      .setAudience("gatehouse-plain")
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(attackerKey);
    const r = await fetch(`${stack.gatewayUrl}/v1/approvals`, { headers: { authorization: `Bearer ${forged}` } });
    expect(r.status).not.toBe(200);
    expect(r.status).toBe(503);
  });
});
