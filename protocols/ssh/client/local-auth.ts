/**
 * The SSH listener's own authentication: publickey with the listener's per-run key
 * (client/listener-auth/local-auth.ts), nothing else. ssh2 asks twice per key: once without a
 * signature ("would you accept this key?") and once with the signature over the session data.
 */
import { timingSafeEqual } from "node:crypto";
import type { AuthContext } from "ssh2";
import type { SshClientKey } from "../../../client/listener-auth/local-auth.ts";

/** Accepts (and returns true) only the listener's key with a valid signature; rejects everything else. */
export function authenticateSshClient(auth: AuthContext, key: SshClientKey): boolean {
  if (auth.method === "publickey" && auth.key.algo === key.parsed.type) {
    const expected = key.parsed.getPublicSSH();
    const offered = auth.key.data;
    if (offered.length === expected.length && timingSafeEqual(offered, expected)) {
      if (!auth.signature) {
        auth.accept();
        return true;
      }
      if (key.parsed.verify(auth.blob!, auth.signature, auth.hashAlgo) === true) {
        auth.accept();
        return true;
      }
    }
  }
  auth.reject(["publickey"]);
  return false;
}
