/** Dial a PostgreSQL resource: transport (TCP/TLS) then authentication. */
import { openTransport, type TransportOptions } from "./transport.ts";
import { authenticate, filterStartupParameters, type AuthenticatedSession, type StartupOptions } from "./startup.ts";
import type { PostgresResourceConfig } from "./config.ts";

export type DialOptions = TransportOptions & StartupOptions;

/**
 * @param clientStartup the worker's `open.startup` object; only allow-listed parameters are used,
 *   `user` and `database` always come from the resource configuration.
 */
export async function dialPostgres(resource: PostgresResourceConfig, clientStartup: unknown, opts: DialOptions = {}): Promise<AuthenticatedSession> {
  const socket = await openTransport(resource, opts);
  return await authenticate(socket, resource, filterStartupParameters(clientStartup), opts);
}
