/**
 * Opens the byte stream to a PostgreSQL target: TCP, then (per `tls.mode`) SSLRequest and a TLS
 * handshake on the same socket, as libpq does. Used for sessions and for CancelRequests alike.
 */
import { connect as netConnect, isIP, type Socket } from "node:net";
import { connect as tlsConnect, checkServerIdentity, type ConnectionOptions, type TLSSocket } from "node:tls";
import { serialize } from "pg-protocol";
import { TargetError } from "../../../connector/errors.ts";
import type { PostgresResourceConfig } from "./config.ts";

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface TransportOptions {
  /** Covers TCP connect + SSL negotiation (default 10 s). */
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

function unreachable(resource: PostgresResourceConfig, reason: string): TargetError {
  return new TargetError("08001", `gatehouse: resource ${resource.name}: could not connect to target: ${reason}`);
}

/**
 * Resolve with the connected socket (possibly paused: the caller attaches its reader and calls
 * resume()); reject with a TargetError 08001 naming the resource.
 */
export async function openTransport(resource: PostgresResourceConfig, opts: TransportOptions = {}): Promise<Socket | TLSSocket> {
  const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const socket = netConnect({ host: resource.host, port: resource.port });
  socket.setNoDelay(true);
  let current: Socket | TLSSocket = socket;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<Socket | TLSSocket>((resolve, reject) => {
      const fail = (err: Error) => {
        current.destroy();
        socket.destroy();
        reject(err);
      };
      timer = setTimeout(() => fail(unreachable(resource, `timed out after ${timeoutMs} ms`)), timeoutMs);
      onAbort = () => fail(unreachable(resource, "aborted"));
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("error", (err: NodeJS.ErrnoException) => fail(unreachable(resource, err.code ?? err.message)));
      socket.once("connect", () => {
        if (resource.tls.mode === "disable") return resolve(socket);
        socket.write(serialize.requestSsl());
        socket.once("data", (chunk: Buffer) => {
          socket.pause();
          // Exactly one byte may precede the TLS handshake; more is a buffer-stuffing attack (CVE-2021-23222).
          if (chunk.length !== 1) return fail(new TargetError("08P01", `gatehouse: resource ${resource.name}: target sent unexpected data after SSLRequest`));
          const answer = String.fromCharCode(chunk[0]!);
          if (answer === "S") {
            const tlsSocket = tlsConnect(tlsOptions(resource, socket));
            current = tlsSocket;
            tlsSocket.once("error", (err: NodeJS.ErrnoException) =>
              fail(unreachable(resource, `TLS handshake failed: ${err.code ?? err.message}`)),
            );
            tlsSocket.once("secureConnect", () => resolve(tlsSocket));
            return;
          }
          if (answer === "N" || answer === "E") {
            if (resource.tls.mode === "prefer") {
              // A pre-9.x 'E' answer would be followed by an error message; such servers are not supported anyway.
              if (answer === "E") return fail(unreachable(resource, "server rejected SSLRequest"));
              return resolve(socket);
            }
            return fail(unreachable(resource, `server does not support TLS (tls.mode is ${resource.tls.mode})`));
          }
          return fail(new TargetError("08P01", `gatehouse: resource ${resource.name}: invalid answer to SSLRequest`));
        });
      });
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) opts.signal?.removeEventListener("abort", onAbort);
    // The error listeners stay: a later error destroys the socket, and its owner sees 'close'.
  }
}

function tlsOptions(resource: PostgresResourceConfig, socket: Socket): ConnectionOptions {
  const { mode, ca } = resource.tls;
  const servername = resource.tls.servername ?? resource.host;
  // libpq: `require` with a CA behaves like verify-ca.
  const verifyChain = mode === "verify-ca" || mode === "verify-full" || (mode === "require" && ca !== undefined);
  const options: ConnectionOptions = {
    socket,
    minVersion: "TLSv1.2",
    rejectUnauthorized: verifyChain,
    ...(ca !== undefined ? { ca } : {}),
    // SNI must not be an IP address.
    ...(isIP(servername) === 0 ? { servername } : {}),
    checkServerIdentity: mode === "verify-full" ? (_host, cert) => checkServerIdentity(servername, cert) : () => undefined,
  };
  return options;
}
