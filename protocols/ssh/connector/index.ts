/** SSH's connector part: structured frames in, one SSH connection to the host (host key pinned) out. */
import type { ConnectorProtocol } from "../../../connector/connector-protocol.ts";
import { SshTunnelStream } from "./ssh-stream.ts";

export const sshConnector: ConnectorProtocol = {
  name: "ssh",
  createStream: (ctx, session, resource, refusal) => new SshTunnelStream(ctx, session, resource, refusal),
};
