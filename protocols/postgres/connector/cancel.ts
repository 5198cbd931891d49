/**
 * CancelRequest: a separate connection to the target carrying the real backend key, which never
 * leaves the connector. It goes over the same kind of transport as the session (PostgreSQL
 * accepts a CancelRequest after SSL negotiation too), then the server closes the connection.
 */
import { serialize } from "pg-protocol";
import { openTransport, type TransportOptions } from "./transport.ts";
import type { PostgresResourceConfig } from "./config.ts";
import type { BackendKey } from "./startup.ts";

export async function sendCancelRequest(resource: PostgresResourceConfig, key: BackendKey, opts: TransportOptions = {}): Promise<void> {
  const socket = await openTransport(resource, opts);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => socket.destroy(), opts.connectTimeoutMs ?? 10_000);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.on("error", () => undefined);
    // The server answers nothing; it closes once it has read the request.
    socket.on("data", () => undefined);
    socket.resume();
    socket.end(serialize.cancel(key.processId, key.secretKey));
  });
}
