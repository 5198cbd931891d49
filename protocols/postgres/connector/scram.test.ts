import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { ScramError, ScramSha256Client } from "./scram.ts";
import { md5PasswordResponse } from "./md5.ts";

// RFC 7677 §3 test vector (user "user", password "pencil").
const CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO";
const SERVER_FIRST = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

describe("ScramSha256Client", () => {
  it("reproduces the RFC 7677 exchange and accepts the server signature", () => {
    const client = new ScramSha256Client("pencil", { nonce: CLIENT_NONCE, username: "user" });
    expect(client.clientFirstMessage()).toBe(`n,,n=user,r=${CLIENT_NONCE}`);
    expect(client.clientFinalMessage(SERVER_FIRST)).toBe(CLIENT_FINAL);
    client.verifyServerFinal(SERVER_FINAL);
    expect(client.completed).toBe(true);
  });

  it("reuses a salted password only for the same password, salt and count; the proof always follows the server's nonce", () => {
    // Twice: the second exchange takes SaltedPassword from the cache and must be the RFC's byte for byte.
    for (let k = 0; k < 2; k++) {
      const client = new ScramSha256Client("pencil", { nonce: CLIENT_NONCE, username: "user" });
      client.clientFirstMessage();
      expect(client.clientFinalMessage(SERVER_FIRST)).toBe(CLIENT_FINAL);
      client.verifyServerFinal(SERVER_FINAL);
    }
    const proof = (password: string, serverFirst: string) => {
      const c = new ScramSha256Client(password, { nonce: CLIENT_NONCE, username: "user" });
      c.clientFirstMessage();
      return c.clientFinalMessage(serverFirst).split(",p=")[1];
    };
    // Another password with the same salt and count is not answered from the cache…
    const other = proof("pencil2", SERVER_FIRST);
    expect(other).not.toBe(CLIENT_FINAL.split(",p=")[1]);
    // …nor is another salt or count for the same password (each is a different key, and the server's signature would not match).
    const salted = proof("pencil", SERVER_FIRST.replace("s=W22ZaJ0SNY7soEsUEjb6gQ==", "s=QUJDREVGR0g="));
    const counted = proof("pencil", SERVER_FIRST.replace("i=4096", "i=4097"));
    expect(new Set([CLIENT_FINAL.split(",p=")[1], other, salted, counted]).size).toBe(4);
    // A fresh server nonce gives a fresh proof with the cached key (nothing of the last exchange is replayed).
    const renonced = proof("pencil", SERVER_FIRST.replace("%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", "%anotherServerNonce"));
    expect(renonced).not.toBe(CLIENT_FINAL.split(",p=")[1]);
  });

  it("rejects a server signature that does not prove knowledge of the verifier", () => {
    const client = new ScramSha256Client("pencil", { nonce: CLIENT_NONCE, username: "user" });
    client.clientFirstMessage();
    client.clientFinalMessage(SERVER_FIRST);
    expect(() => client.verifyServerFinal("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")).toThrow(ScramError);
    expect(client.completed).toBe(false);
  });

  it("rejects a server nonce that does not extend ours, and absurd iteration counts", () => {
    const a = new ScramSha256Client("pw", { nonce: "abc" });
    a.clientFirstMessage();
    expect(() => a.clientFinalMessage("r=xyzdef,s=QUJD,i=4096")).toThrow(/nonce/);
    const b = new ScramSha256Client("pw", { nonce: "abc" });
    b.clientFirstMessage();
    expect(() => b.clientFinalMessage("r=abcdef,s=QUJD,i=99999999")).toThrow(/iteration/);
    const c = new ScramSha256Client("pw", { nonce: "abc" });
    c.clientFirstMessage();
    expect(() => c.clientFinalMessage("r=abc,s=QUJD,i=4096")).toThrow(/nonce/);
  });

  it("refuses out-of-order messages and server errors", () => {
    const client = new ScramSha256Client("pw");
    expect(() => client.verifyServerFinal(SERVER_FINAL)).toThrow(ScramError);
    const other = new ScramSha256Client("pencil", { nonce: CLIENT_NONCE });
    other.clientFirstMessage();
    other.clientFinalMessage(SERVER_FIRST);
    expect(() => other.verifyServerFinal("e=invalid-proof")).toThrow(/invalid-proof/);
  });
});

describe("md5PasswordResponse", () => {
  it("is md5(hex(md5(password || user)) || salt) with an md5 prefix", () => {
    const first = createHash("md5").update("secretpostgres").digest("hex");
    const second = createHash("md5").update(Buffer.concat([Buffer.from(first), Buffer.from([1, 2, 3, 4])])).digest("hex");
    expect(md5PasswordResponse("postgres", "secret", Uint8Array.of(1, 2, 3, 4))).toBe(`md5${second}`);
  });
});
