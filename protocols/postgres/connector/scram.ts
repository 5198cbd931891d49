/**
 * SCRAM-SHA-256 client (RFC 5802 / RFC 7677) as PostgreSQL uses it (no channel binding: gs2
 * header "n,,"; the user name is taken from the startup message, so the SCRAM one is empty).
 *
 * The server's final signature is verified: without that, a server impersonating the target
 * could accept any proof and harvest the session.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

export class ScramError extends Error {
  override name = "ScramError";
}

const GS2_HEADER = "n,,";
/** PostgreSQL uses 4096; refuse absurd counts a hostile server could use to burn our CPU. */
const MAX_ITERATIONS = 1_000_000;
/** Salted passwords kept (a role's salt and count stay the same across logins); the oldest go first. */
const MAX_CACHED_SALTED_PASSWORDS = 64;

/**
 * SaltedPassword = PBKDF2(password, salt, i) is the expensive step of every login (4096 HMAC rounds,
 * synchronous) and depends only on the password and the role's stored salt and count, so it is
 * remembered per (password digest, salt, count) — as PgBouncer does. The proof still uses the
 * server's fresh nonce each time and the server's signature is still checked: nothing about the
 * exchange is reused. Kept in this process only, which holds the password itself anyway; keyed by
 * a digest, so the cache holds no extra copy of it. Bounded: a server sending ever new salts costs
 * what it cost before, not memory.
 */
const saltedPasswords = new Map<string, Buffer>();

function saltedPassword(password: string, salt: string, iterations: number): Buffer {
  const key = `${iterations}:${salt}:${sha256(Buffer.from(password, "utf8")).toString("base64")}`;
  const known = saltedPasswords.get(key);
  if (known) return known;
  const derived = pbkdf2Sync(Buffer.from(password, "utf8"), Buffer.from(salt, "base64"), iterations, 32, "sha256");
  if (saltedPasswords.size >= MAX_CACHED_SALTED_PASSWORDS) saltedPasswords.delete(saltedPasswords.keys().next().value!);
  saltedPasswords.set(key, derived);
  return derived;
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash("sha256").update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Parse "k=v,k=v" attributes; values may contain '='. */
function parseAttributes(message: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of message.split(",")) {
    if (part.length < 2 || part[1] !== "=") throw new ScramError("malformed SCRAM message");
    attrs.set(part[0]!, part.slice(2));
  }
  return attrs;
}

const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface ScramClientOptions {
  /** Client nonce (printable, no ','), for test vectors; random by default. */
  nonce?: string;
  /** SCRAM user name (PostgreSQL ignores it; default empty). */
  username?: string;
}

export class ScramSha256Client {
  private readonly clientNonce: string;
  private readonly clientFirstBare: string;
  private expectedServerSignature?: Buffer;
  private state: "initial" | "first-sent" | "final-sent" | "done" = "initial";

  constructor(
    private readonly password: string,
    opts: ScramClientOptions = {},
  ) {
    this.clientNonce = opts.nonce ?? randomBytes(18).toString("base64");
    if (!PRINTABLE.test(this.clientNonce)) throw new ScramError("invalid client nonce");
    const user = (opts.username ?? "").replace(/=/g, "=3D").replace(/,/g, "=2C");
    this.clientFirstBare = `n=${user},r=${this.clientNonce}`;
  }

  /** client-first-message (sent in SASLInitialResponse). */
  clientFirstMessage(): string {
    if (this.state !== "initial") throw new ScramError("SCRAM exchange already started");
    this.state = "first-sent";
    return GS2_HEADER + this.clientFirstBare;
  }

  /** Answer server-first-message (AuthenticationSASLContinue) with client-final-message. */
  clientFinalMessage(serverFirst: string): string {
    if (this.state !== "first-sent") throw new ScramError("unexpected SCRAM server-first-message");
    const attrs = parseAttributes(serverFirst);
    const nonce = attrs.get("r");
    const salt = attrs.get("s");
    const iterations = Number(attrs.get("i"));
    if (!nonce || !nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length || !PRINTABLE.test(nonce)) {
      throw new ScramError("server nonce does not extend the client nonce");
    }
    if (!salt || !BASE64.test(salt)) throw new ScramError("invalid SCRAM salt");
    if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) throw new ScramError("invalid SCRAM iteration count");

    const salted = saltedPassword(this.password, salt, iterations);
    const clientKey = hmac(salted, "Client Key");
    const storedKey = sha256(clientKey);
    const clientFinalWithoutProof = `c=${Buffer.from(GS2_HEADER).toString("base64")},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    const proof = xor(clientKey, clientSignature);
    const serverKey = hmac(salted, "Server Key");
    this.expectedServerSignature = hmac(serverKey, authMessage);
    this.state = "final-sent";
    return `${clientFinalWithoutProof},p=${proof.toString("base64")}`;
  }

  /** Check server-final-message (AuthenticationSASLFinal). Throws unless the server proved it knows the verifier. */
  verifyServerFinal(serverFinal: string): void {
    if (this.state !== "final-sent" || !this.expectedServerSignature) throw new ScramError("unexpected SCRAM server-final-message");
    const attrs = parseAttributes(serverFinal);
    if (attrs.has("e")) throw new ScramError(`server rejected SCRAM exchange: ${attrs.get("e")}`);
    const v = attrs.get("v");
    if (!v || !BASE64.test(v)) throw new ScramError("server-final-message has no signature");
    const signature = Buffer.from(v, "base64");
    if (signature.length !== this.expectedServerSignature.length || !timingSafeEqual(signature, this.expectedServerSignature)) {
      throw new ScramError("server signature does not match: the target may not be who it claims to be");
    }
    this.state = "done";
  }

  get completed(): boolean {
    return this.state === "done";
  }
}
