/**
 * The PostgreSQL listener's own authentication step, between the client's StartupMessage and
 * the tunnel: SCRAM-SHA-256 against the listener's per-run secret (client/listener-auth/).
 * Only after it succeeds is the tunnel opened (the gateway then sends AuthenticationOk, which
 * follows our AuthenticationSASLFinal exactly as a PostgreSQL server's would).
 * A failure is a FATAL ErrorResponse 28P01, like PostgreSQL's own.
 */
import type { Socket } from "node:net";
import { concat, cstring, message, readCString } from "../codec/codec.ts";
import { SCRAM_MECHANISM, ScramError, ScramExchange, type ScramVerifier } from "../../../client/listener-auth/scram.ts";
import { PgProtocolError } from "./wire.ts";

/** A SASL message is tiny; anything larger is not a client we talk to. */
const MAX_AUTH_MESSAGE_BYTES = 8192;

function authRequest(code: number, data: Uint8Array): Uint8Array {
  const head = new Uint8Array(4);
  new DataView(head.buffer).setInt32(0, code);
  return message("R", concat([head, data]));
}

const utf8 = new TextEncoder();
const text = new TextDecoder("utf-8", { fatal: true });

/** Reads exactly one typed frontend message; rejects anything but a password-family message ('p'). */
function readPasswordMessage(socket: Socket, timeoutMs: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.off("error", onEnd);
      clearTimeout(timer);
      socket.pause();
    };
    const fail = (e: PgProtocolError) => {
      cleanup();
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 5) return;
      if (buf[0] !== 0x70 /* 'p' */) return fail(new PgProtocolError("expected a password message during authentication", "28000"));
      const len = buf.readInt32BE(1);
      if (len < 4 || len > MAX_AUTH_MESSAGE_BYTES) return fail(new PgProtocolError(`invalid authentication message length ${len}`));
      if (buf.length < 1 + len) return;
      // Nothing may follow before we answer: a client does not pipeline its authentication.
      if (buf.length > 1 + len) return fail(new PgProtocolError("unexpected data after an authentication message"));
      cleanup();
      resolve(buf.subarray(5, 1 + len));
    };
    const onEnd = () => fail(new PgProtocolError("client closed the connection during authentication", "08006"));
    const timer = setTimeout(() => fail(new PgProtocolError("authentication timed out", "08006")), timeoutMs);
    socket.on("data", onData);
    socket.on("end", onEnd);
    socket.on("close", onEnd);
    socket.on("error", onEnd);
    socket.resume();
  });
}

/**
 * Run SCRAM-SHA-256 with the local client. Resolves when it proved knowledge of the listener's
 * secret; rejects with a PgProtocolError whose SQLSTATE is 28P01 for a wrong or missing password.
 */
export async function authenticateLocalClient(socket: Socket, verifier: ScramVerifier, user: string, timeoutMs: number): Promise<void> {
  // The name is the client's (any bytes): quoted, escaped and bounded before it reaches a log line.
  const refused = (why: string) => new PgProtocolError(`password authentication failed for user ${JSON.stringify(user.slice(0, 64))} (${why})`, "28P01");
  socket.write(authRequest(10, concat([cstring(SCRAM_MECHANISM), new Uint8Array([0])])));
  const initial = await readPasswordMessage(socket, timeoutMs);
  let mechanism: string;
  let off: number;
  try {
    [mechanism, off] = readCString(initial, 0);
  } catch {
    throw refused("malformed SASLInitialResponse");
  }
  if (mechanism !== SCRAM_MECHANISM) throw refused(`the client offered ${JSON.stringify(mechanism.slice(0, 40))}, the listener requires ${SCRAM_MECHANISM}`);
  if (initial.length < off + 4) throw refused("malformed SASLInitialResponse");
  const n = new DataView(initial.buffer, initial.byteOffset + off, 4).getInt32(0);
  if (n < 0 || off + 4 + n !== initial.length) throw refused("malformed SASLInitialResponse");
  const exchange = new ScramExchange(verifier);
  try {
    const serverFirst = exchange.first(text.decode(initial.subarray(off + 4)));
    socket.write(authRequest(11, utf8.encode(serverFirst)));
    const response = await readPasswordMessage(socket, timeoutMs);
    const serverFinal = exchange.final(text.decode(response));
    socket.write(authRequest(12, utf8.encode(serverFinal)));
  } catch (err) {
    if (err instanceof PgProtocolError) throw err;
    throw refused(err instanceof ScramError ? err.message : "malformed SCRAM message");
  }
}
