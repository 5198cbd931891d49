/** PostgreSQL's connector part: the stream that logs in with the decided access level and relays bytes. */
import type { ConnectorProtocol } from "../../../connector/connector-protocol.ts";
import { TunnelStream } from "./postgres-stream.ts";
import { sweepSessionRoles } from "./login.ts";

export const postgresConnector: ConnectorProtocol = {
  name: "postgres",
  createStream: (ctx, session, resource, refusal) => new TunnelStream(ctx, session, resource, refusal),
  async onConnectorStart(r, { connectTimeoutMs, startupTimeoutMs, logger }) {
    if (r.type !== "postgres" || r.credentials?.mode !== "dynamic") return;
    try {
      const dropped = await sweepSessionRoles(r, { connectTimeoutMs, startupTimeoutMs });
      if (dropped.length > 0) logger.info("dropped session roles left by an earlier run", { resource: r.name, roles: dropped.length });
    } catch (err) {
      logger.warn("could not sweep leftover session roles", { resource: r.name, error: (err as Error).message });
    }
  },
};
