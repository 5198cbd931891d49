/** Dial a PostgreSQL resource: transport (TCP/TLS) then authentication. */
import { openTransport, type TransportOptions } from "./transport.ts";
import { authenticate, filterStartupParameters, type AuthenticatedSession, type SessionLogin, type StartupOptions } from "./startup.ts";
import type { PostgresResourceConfig } from "./config.ts";

export type DialOptions = TransportOptions & StartupOptions;

/**
 * @param clientStartup the worker's `open.startup` object; only allow-listed parameters are used,
 *   `database` always comes from the resource configuration.
 * @param login the role for this session's access level (login.ts).
 */
export async function dialPostgres(resource: PostgresResourceConfig, clientStartup: unknown, login: SessionLogin, opts: DialOptions = {}): Promise<AuthenticatedSession> {
  const socket = await openTransport(resource, opts);
  // Pipeline sessions get pg_catalog first in search_path before the worker sees them (startup.ts, SEARCH_PATH_PIN).
  return await authenticate(socket, resource, filterStartupParameters(clientStartup), login, { ...opts, pinSearchPath: true });
}
