import { describe, expect, it } from "vitest";
import { decodeProtectedHeader, importJWK, jwtVerify } from "jose";
import { signConnectorAssertion } from "./assertion.ts";
import { generateConnectorKeyPair, importConnectorPrivateKey } from "./keys.ts";

describe("connector assertions", () => {
  it("are EdDSA JWTs the worker can verify with the connector's public key", async () => {
    const { privateJwk, publicJwk } = await generateConnectorKeyPair();
    expect(publicJwk).toEqual({ kty: "OKP", crv: "Ed25519", x: privateJwk.x });
    expect("d" in publicJwk).toBe(false);
    const token = await signConnectorAssertion(await importConnectorPrivateKey(privateJwk), "dc1");
    const { payload, protectedHeader } = await jwtVerify(token, await importJWK(publicJwk, "EdDSA"), {
      algorithms: ["EdDSA"],
      audience: "gatehouse-connector",
      issuer: "dc1",
      subject: "dc1",
      typ: "gatehouse-connector+jwt",
    });
    expect(protectedHeader).toEqual({ alg: "EdDSA", kid: "dc1", typ: "gatehouse-connector+jwt" });
    expect(payload.exp! - payload.iat!).toBe(60);
    expect(payload.sid).toBeUndefined();
    expect(typeof payload.jti).toBe("string");
  });

  it("bind stream assertions to a session with sid, and are unique per dial", async () => {
    const { privateJwk, publicJwk } = await generateConnectorKeyPair();
    const key = await importConnectorPrivateKey(privateJwk);
    const a = await signConnectorAssertion(key, "dc1", { sid: "sess-1" });
    const b = await signConnectorAssertion(key, "dc1", { sid: "sess-1" });
    const pub = await importJWK(publicJwk, "EdDSA");
    const va = await jwtVerify(a, pub);
    const vb = await jwtVerify(b, pub);
    expect(va.payload.sid).toBe("sess-1");
    expect(va.payload.jti).not.toBe(vb.payload.jti);
  });

  it("honour a shorter lifetime and refuse one above 60 s", async () => {
    const { privateJwk } = await generateConnectorKeyPair();
    const key = await importConnectorPrivateKey(privateJwk);
    const now = Date.UTC(2030, 0, 1);
    const token = await signConnectorAssertion(key, "dc1", { lifetimeSeconds: 30, now: () => now });
    const payload = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));
    expect(payload.iat).toBe(now / 1000);
    expect(payload.exp).toBe(now / 1000 + 30);
    await expect(signConnectorAssertion(key, "dc1", { lifetimeSeconds: 61 })).rejects.toThrow(RangeError);
  });

  it("do not verify with another connector's key", async () => {
    const mine = await generateConnectorKeyPair();
    const theirs = await generateConnectorKeyPair();
    const token = await signConnectorAssertion(await importConnectorPrivateKey(mine.privateJwk), "dc1");
    expect(decodeProtectedHeader(token).kid).toBe("dc1");
    await expect(jwtVerify(token, await importJWK(theirs.publicJwk, "EdDSA"))).rejects.toThrow();
  });
});
