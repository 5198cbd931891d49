/** HTTP's connector part: request frames in, one upstream request per allowed request out, credential injected here. */
import type { ConnectorProtocol } from "../../../connector/connector-protocol.ts";
import { HttpTunnelStream } from "./http-stream.ts";

export const httpConnector: ConnectorProtocol = {
  name: "http",
  createStream: (ctx, session, resource, refusal) => new HttpTunnelStream(ctx, session, resource, refusal),
};
