/**
 * The connector as a PostgreSQL client: send the StartupMessage with the configured user and
 * database, answer the server's authentication request (SCRAM-SHA-256, md5, cleartext or none)
 * with the credentials only the connector holds, and collect ParameterStatus, BackendKeyData and
 * the ReadyForQuery status. Frontend messages come from pg-protocol's serializer, backend messages
 * are decoded by pg-protocol's Parser — one private copy of one whole message at a time.
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { serialize } from "pg-protocol";
import { Parser } from "pg-protocol/dist/parser.js";
import type { BackendMessage } from "pg-protocol/dist/messages.js";
import { TargetError } from "../../../connector/errors.ts";
import { resolveSecret, type SecretSource } from "../../../connector/secrets.ts";
import type { PostgresResourceConfig } from "./config.ts";
import { md5PasswordResponse } from "./md5.ts";
import { StartupMessageReader } from "./message-reader.ts";
import { ScramError, ScramSha256Client } from "./scram.ts";

export const DEFAULT_STARTUP_TIMEOUT_MS = 30_000;

/**
 * Client startup parameters the worker may forward (docs/PROTOCOL.md). `user`, `database`,
 * `options` and `replication` are never taken from the client. `client_encoding` is always UTF8:
 * pg-protocol's StartupMessage sets it, and the worker decodes SQL text as UTF-8.
 */
const FORWARDED_STARTUP_PARAMETERS = new Map(
  ["application_name", "DateStyle", "TimeZone", "IntervalStyle", "extra_float_digits"].map((name) => [name.toLowerCase(), name]),
);
const MAX_STARTUP_VALUE_LENGTH = 256;

/** Keep only allow-listed, well-formed startup parameters (defence in depth: the worker filters too). */
export function filterStartupParameters(startup: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof startup !== "object" || startup === null || Array.isArray(startup)) return out;
  for (const [key, value] of Object.entries(startup)) {
    const name = FORWARDED_STARTUP_PARAMETERS.get(key.toLowerCase());
    if (!name || typeof value !== "string") continue;
    if (value.length > MAX_STARTUP_VALUE_LENGTH || value.includes("\0")) continue;
    out[name] = value;
  }
  return out;
}

export interface BackendKey {
  processId: number;
  secretKey: number;
}

export interface AuthenticatedSession {
  /** Paused socket positioned right after ReadyForQuery. */
  socket: Socket | TLSSocket;
  /** ParameterStatus values in the order the server sent them (later ones replace earlier ones). */
  parameters: [string, string][];
  /** ReadyForQuery transaction status: I, T or E. */
  txStatus: string;
  /** The real cancel key; stays inside the connector. */
  backendKey?: BackendKey;
  /** Backend bytes that followed ReadyForQuery in the same read (normally empty); relay them first. */
  remainder: Buffer;
}

export interface StartupOptions {
  startupTimeoutMs?: number;
  signal?: AbortSignal;
  /** Pipeline sessions: put pg_catalog first in search_path before the session is handed over (SEARCH_PATH_PIN). */
  pinSearchPath?: boolean;
}

/**
 * Run once after login, before any pipeline byte: a search_path that lists pg_catalog after
 * another schema (`ALTER ROLE … SET search_path = public, pg_catalog`, or a database default)
 * makes an unqualified `lower(x)` call `public.lower(text)` — somebody's function — while the
 * classifier and the policy decide it as the built-in. PostgreSQL searches pg_catalog first only
 * when the path does not name it, so a path that names it anywhere but first gets `pg_catalog, `
 * in front: functions, operators and types resolve to the system's own, and the role's schemas are
 * still searched for relations in their order. A path that does not name pg_catalog is left as it
 * is (pg_catalog is searched first already, whatever schemas appear later). Every name in the
 * statement is schema-qualified, so the path it inspects cannot redirect it; no backslash, so it
 * reads the same whatever standard_conforming_strings is. The server reports the new value
 * (ParameterStatus, PostgreSQL 18) and the worker pins that as the session's login value.
 */
export const SEARCH_PATH_PIN =
  "SELECT pg_catalog.set_config('search_path', pg_catalog.concat('pg_catalog, ', pg_catalog.current_setting('search_path')), false)" +
  " WHERE pg_catalog.current_setting('search_path') OPERATOR(pg_catalog.~*) 'pg_catalog'" +
  " AND pg_catalog.current_setting('search_path') OPERATOR(pg_catalog.!~) '^[[:space:]]*(pg_catalog|\"pg_catalog\")[[:space:]]*(,|$)'";

/** Who the connector logs in as for one session (login.ts picks it from the access level). */
export interface SessionLogin {
  username: string;
  password?: SecretSource;
  /** Read-level sessions: `default_transaction_read_only = on`, set by the connector at startup. */
  readOnly: boolean;
}

/**
 * The startup `options` the connector itself sets; the client's `options` are never forwarded.
 * Read-level sessions start with every transaction read-only, so even a statement the gateway
 * misjudged cannot write (the login role's privileges are the other half of that wall).
 */
export function connectorStartupOptions(login: SessionLogin): Record<string, string> {
  return login.readOnly ? { options: "-c default_transaction_read_only=on" } : {};
}

type AuthMessage = BackendMessage & { mechanisms?: string[]; data?: string; salt?: Buffer };
type ErrorFields = { message?: string; code?: string; detail?: string };

export async function authenticate(
  socket: Socket | TLSSocket,
  resource: PostgresResourceConfig,
  startup: Record<string, string>,
  login: SessionLogin,
  opts: StartupOptions = {},
): Promise<AuthenticatedSession> {
  const prefix = `gatehouse: resource ${resource.name}`;
  const password = await resolveSecret(login.password);
  const reader = new StartupMessageReader(resource.name);
  const parser = new Parser();
  const parameters = new Map<string, string>();
  let backendKey: BackendKey | undefined;
  let scram: ScramSha256Client | undefined;
  let authenticated = false;
  let pin: "no" | "to-send" | "sent" = opts.pinSearchPath ? "to-send" : "no";

  const needPassword = (): string => {
    if (password === undefined) throw new TargetError("28000", `${prefix}: the target asks for a password but none is configured`);
    return password;
  };

  /** Decode one whole backend message with pg-protocol (it gets its own copy, so it cannot clobber ours). */
  const decode = (bytes: Buffer): AuthMessage => {
    let decoded: AuthMessage | undefined;
    parser.parse(Buffer.from(bytes), (msg) => {
      decoded = msg as AuthMessage;
    });
    if (!decoded) throw new TargetError("08P01", `${prefix}: could not decode a startup message from the target`);
    return decoded;
  };

  /** Returns the transaction status once ReadyForQuery arrives. */
  const handle = (code: number, bytes: Buffer): string | undefined => {
    switch (String.fromCharCode(code)) {
      case "R": {
        const msg = decode(bytes);
        switch (msg.name) {
          case "authenticationOk":
            // A server that started SCRAM must finish it with a verified signature.
            if (scram && !scram.completed) throw new TargetError("28000", `${prefix}: target skipped the SCRAM server signature`);
            authenticated = true;
            return undefined;
          case "authenticationCleartextPassword":
            socket.write(serialize.password(needPassword()));
            return undefined;
          case "authenticationMD5Password":
            socket.write(serialize.password(md5PasswordResponse(login.username, needPassword(), msg.salt!)));
            return undefined;
          case "authenticationSASL": {
            if (!msg.mechanisms?.includes("SCRAM-SHA-256")) {
              throw new TargetError("28000", `${prefix}: target offers no supported SASL mechanism (${(msg.mechanisms ?? []).join(", ")})`);
            }
            scram = new ScramSha256Client(needPassword());
            socket.write(serialize.sendSASLInitialResponseMessage("SCRAM-SHA-256", scram.clientFirstMessage()));
            return undefined;
          }
          case "authenticationSASLContinue":
            if (!scram) throw new TargetError("08P01", `${prefix}: unexpected SASL message from target`);
            socket.write(serialize.sendSCRAMClientFinalMessage(scram.clientFinalMessage(msg.data ?? "")));
            return undefined;
          case "authenticationSASLFinal":
            if (!scram) throw new TargetError("08P01", `${prefix}: unexpected SASL message from target`);
            scram.verifyServerFinal(msg.data ?? "");
            return undefined;
          default:
            throw new TargetError("28000", `${prefix}: target requested an unsupported authentication method`);
        }
      }
      case "E": {
        const err = decode(bytes) as AuthMessage & ErrorFields;
        // The session must not start with a search_path the policy's reading does not match.
        if (pin === "sent") throw new TargetError("08001", `${prefix}: could not pin search_path with pg_catalog first: ${err.message ?? "the server refused"}`);
        const message = `${prefix}: ${err.message ?? "target refused the connection"}`;
        throw new TargetError(err.code && /^[0-9A-Z]{5}$/.test(err.code) ? err.code : "08001", message, err.detail);
      }
      case "S": {
        const msg = decode(bytes) as AuthMessage & { parameterName: string; parameterValue: string };
        parameters.delete(msg.parameterName);
        parameters.set(msg.parameterName, msg.parameterValue);
        return undefined;
      }
      case "K": {
        const msg = decode(bytes) as AuthMessage & { processID: number; secretKey: number };
        backendKey = { processId: msg.processID, secretKey: msg.secretKey };
        return undefined;
      }
      case "N":
        return undefined; // NoticeResponse during startup: nothing to act on.
      case "Z": {
        if (!authenticated) throw new TargetError("08P01", `${prefix}: target sent ReadyForQuery before authentication`);
        const msg = decode(bytes) as AuthMessage & { status: string };
        if (pin === "to-send") {
          pin = "sent";
          socket.write(serialize.query(SEARCH_PATH_PIN));
          return undefined;
        }
        if (pin === "sent" && msg.status !== "I") throw new TargetError("08001", `${prefix}: the target did not finish pinning search_path (transaction status ${msg.status})`);
        return msg.status;
      }
      // The answer to SEARCH_PATH_PIN: its row, its command tag.
      case "T":
      case "D":
      case "C":
        if (pin !== "sent") throw new TargetError("08P01", `${prefix}: unexpected message '${String.fromCharCode(code)}' from target during startup`);
        return undefined;
      default:
        throw new TargetError("08P01", `${prefix}: unexpected message '${String.fromCharCode(code)}' from target during startup`);
    }
  };

  const timeoutMs = opts.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  let cleanup = () => {};
  try {
    return await new Promise<AuthenticatedSession>((resolve, reject) => {
      const fail = (err: unknown) => {
        cleanup();
        socket.destroy();
        if (err instanceof ScramError) reject(new TargetError("28000", `${prefix}: SCRAM authentication failed: ${err.message}`));
        else if (err instanceof TargetError) reject(err);
        else reject(new TargetError("08001", `${prefix}: startup failed: ${(err as Error)?.message ?? String(err)}`));
      };
      const onData = (chunk: Buffer) => {
        try {
          for (const { code, bytes } of reader.push(chunk)) {
            const txStatus = handle(code, bytes);
            if (txStatus !== undefined) {
              // Stop the flow before detaching, or bytes would be emitted to nobody.
              socket.pause();
              cleanup();
              resolve({ socket, parameters: [...parameters], txStatus, ...(backendKey ? { backendKey } : {}), remainder: reader.takeRemainder() });
              return;
            }
          }
        } catch (err) {
          fail(err);
        }
      };
      const onError = (err: NodeJS.ErrnoException) => fail(new TargetError("08001", `${prefix}: connection to target failed during startup: ${err.code ?? err.message}`));
      const onClose = () => fail(new TargetError("08001", `${prefix}: target closed the connection during startup`));
      cleanup = () => {
        socket.off("data", onData);
        socket.off("error", onError);
        socket.off("close", onClose);
      };
      timer = setTimeout(() => fail(new TargetError("08001", `${prefix}: target did not complete authentication within ${timeoutMs} ms`)), timeoutMs);
      onAbort = () => fail(new TargetError("08001", `${prefix}: aborted`));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      socket.on("data", onData);
      socket.on("error", onError);
      socket.on("close", onClose);
      const params: Record<string, string> = { ...startup, user: login.username, database: resource.database, ...connectorStartupOptions(login) };
      socket.write(serialize.startup(params));
      socket.resume();
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) opts.signal?.removeEventListener("abort", onAbort);
  }
}
