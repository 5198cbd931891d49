import { afterEach, describe, expect, it } from "vitest";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { mintDevToken, startDevIssuer, type DevIssuer } from "./issuer.ts";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function tempKeyFile(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "gh-issuer-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, "dev", "issuer-key.json");
}

async function issuer(keyFile: string): Promise<DevIssuer> {
  const i = await startDevIssuer({ port: 0, keyFile });
  cleanups.push(() => i.close());
  return i;
}

describe("development OIDC issuer", () => {
  it("serves discovery and a JWKS that verifies its tokens (jose createRemoteJWKSet)", async () => {
    const dev = await issuer(await tempKeyFile());
    const discovery = (await (await fetch(`${dev.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(discovery.issuer).toBe(dev.url);
    expect(discovery.jwks_uri).toBe(`${dev.url}/.well-known/jwks.json`);
    expect(discovery.id_token_signing_alg_values_supported).toEqual(["ES256"]);

    const jwks = (await (await fetch(discovery.jwks_uri as string)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(jwks.keys[0]).not.toHaveProperty("d");

    const token = await dev.mint({ sub: "alice", claims: { groups: ["approvers"] }, ttlSeconds: 300 });
    const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri as string)), {
      issuer: dev.url,
      audience: "gatehouse",
      algorithms: ["ES256"],
    });
    expect(protectedHeader.kid).toBe(jwks.keys[0]!.kid);
    expect(payload).toMatchObject({ sub: "alice", groups: ["approvers"], iss: dev.url, aud: "gatehouse" });
    expect(payload.exp! - payload.iat!).toBe(300);
    expect(payload.nbf).toBe(payload.iat);
    expect(typeof payload.jti).toBe("string");
  });

  it("persists the key (0600) and reuses it across restarts; offline minting uses the recorded issuer URL", async () => {
    const keyFile = await tempKeyFile();
    const first = await issuer(keyFile);
    const firstJwks = await (await fetch(first.jwksUri)).json();
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(keyFile, "utf8")).warning).toMatch(/DEVELOPMENT ONLY/);
    await first.close();

    const second = await issuer(keyFile);
    expect(await (await fetch(second.jwksUri)).json()).toEqual(firstJwks);

    // Signed without the server, but verifiable against it.
    const token = await mintDevToken({ sub: "bob", keyFile });
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(second.jwksUri)), { issuer: second.url, audience: "gatehouse" });
    expect(payload.sub).toBe("bob");
    expect(decodeProtectedHeader(token).alg).toBe("ES256");
  });

  it("refuses to let claims override registered claims", async () => {
    await expect(mintDevToken({ sub: "x", keyFile: await tempKeyFile(), claims: { exp: 1 } })).rejects.toThrow(/claim exp is set by the issuer/);
  });
});
