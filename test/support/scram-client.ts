/** The client half of SCRAM-SHA-256 (RFC 5802/7677), as libpq runs it, for the raw wire test client. */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";

export interface ScramClientFirst {
  message: string;
  bare: string;
  nonce: string;
}

export function scramClientFirst(): ScramClientFirst {
  const nonce = randomBytes(18).toString("base64");
  const bare = `n=,r=${nonce}`;
  return { message: `n,,${bare}`, bare, nonce };
}

export function scramClientFinal(first: ScramClientFirst, serverFirst: string, password: string): { message: string; expectedServerFinal: string } {
  const attrs = Object.fromEntries(serverFirst.split(",").map((kv) => [kv[0], kv.slice(2)]));
  if (!attrs.r?.startsWith(first.nonce)) throw new Error("server nonce does not extend ours");
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, "base64"), Number(attrs.i), 32, "sha256");
  const hmac = (key: Buffer, text: string) => createHmac("sha256", key).update(text).digest();
  const clientKey = hmac(salted, "Client Key");
  const storedKey = createHash("sha256").update(clientKey).digest();
  const withoutProof = `c=biws,r=${attrs.r}`;
  const authMessage = `${first.bare},${serverFirst},${withoutProof}`;
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!));
  return {
    message: `${withoutProof},p=${proof.toString("base64")}`,
    expectedServerFinal: `v=${hmac(hmac(salted, "Server Key"), authMessage).toString("base64")}`,
  };
}
