/** MySQL/MariaDB's connector part: the stream that logs in with the decided access level's account and relays bytes. */
import type { ConnectorProtocol } from "../../../connector/connector-protocol.ts";
import { MysqlTunnelStream } from "./mysql-stream.ts";

export const mysqlConnector: ConnectorProtocol = {
  name: "mysql",
  createStream: (ctx, session, resource, refusal) => new MysqlTunnelStream(ctx, session, resource, refusal),
};
