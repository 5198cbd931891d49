/**
 * SCRAM-SHA-256 (RFC 5802 / RFC 7677) as a PostgreSQL server speaks it, verifying the local client
 * against the listener's per-run secret. Pure: no sockets. The listener never learns whether a
 * wrong secret was "close"; the proof is compared in constant time.
 *
 * PostgreSQL's flavour: the user name in `n=` is ignored (libpq sends it empty), no channel
 * binding on loopback (gs2 flag `n` or `y`; `p=` is refused — there is no TLS to bind to).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

export const SCRAM_MECHANISM = "SCRAM-SHA-256";
const ITERATIONS = 4096;
/** Printable, no comma (RFC 5802 `printable`). */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

export class ScramError extends Error {
  override name = "ScramError";
}

export interface ScramVerifier {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, text: string): Buffer => createHmac("sha256", key).update(text).digest();

/** Derive the stored verifier once per listener: the secret itself is not needed per connection. */
export function scramVerifier(secret: string, iterations = ITERATIONS): ScramVerifier {
  const salt = randomBytes(16);
  const salted = pbkdf2Sync(secret, salt, iterations, 32, "sha256");
  const clientKey = hmac(salted, "Client Key");
  return { salt, iterations, storedKey: createHash("sha256").update(clientKey).digest(), serverKey: hmac(salted, "Server Key") };
}

/** One exchange: `first()` answers the client-first-message, `final()` checks the proof. */
export class ScramExchange {
  private clientFirstBare = "";
  private serverFirst = "";
  private nonce = "";
  private gs2 = "";

  constructor(private readonly verifier: ScramVerifier) {}

  first(clientFirst: string): string {
    const m = /^([ny]),(a=[^,]*)?,(.*)$/.exec(clientFirst);
    if (!m) {
      if (clientFirst.startsWith("p=")) throw new ScramError("channel binding is not available on the local listener (no TLS); use sslmode=disable or prefer");
      throw new ScramError("malformed SCRAM client-first-message");
    }
    this.gs2 = `${m[1]},${m[2] ?? ""},`;
    this.clientFirstBare = m[3]!;
    // A mandatory extension (`m=`) we do not know must be refused (RFC 5802 §5.1).
    const attrs = /^n=[^,]*,r=([^,]+)(?:,.*)?$/.exec(this.clientFirstBare);
    if (!attrs) throw new ScramError("malformed SCRAM client-first-message");
    const clientNonce = attrs[1]!;
    if (!NONCE.test(clientNonce) || clientNonce.length > 512) throw new ScramError("invalid SCRAM nonce");
    this.nonce = clientNonce + randomBytes(18).toString("base64");
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString("base64")},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  /** Returns the server-final-message (`v=…`) when the proof is right; throws otherwise. */
  final(clientFinal: string): string {
    const m = /^c=([^,]*),r=([^,]*),(?:.*,)?p=([A-Za-z0-9+/=]+)$/.exec(clientFinal);
    if (!m || !this.serverFirst) throw new ScramError("malformed SCRAM client-final-message");
    if (m[1] !== Buffer.from(this.gs2).toString("base64")) throw new ScramError("SCRAM channel binding mismatch");
    if (m[2] !== this.nonce) throw new ScramError("SCRAM nonce mismatch");
    const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(",p="));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const proof = Buffer.from(m[3]!, "base64");
    const signature = hmac(this.verifier.storedKey, authMessage);
    if (proof.length !== signature.length) throw new ScramError("wrong password");
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    const candidate = createHash("sha256").update(clientKey).digest();
    if (!timingSafeEqual(candidate, this.verifier.storedKey)) throw new ScramError("wrong password");
    return `v=${hmac(this.verifier.serverKey, authMessage).toString("base64")}`;
  }
}
