/** The connector's part of each protocol (protocols/registry.ts): one line per protocol. Node only, no worker code. */
import type { ConnectorProtocol } from "../connector/connector-protocol.ts";
import { partFor, type ProtocolName } from "./registry.ts";
import { postgresConnector } from "./postgres/connector/index.ts";
import { sshConnector } from "./ssh/connector/index.ts";
import { httpConnector } from "./http/connector/index.ts";
import { kubernetesConnector } from "./kubernetes/connector/index.ts";

const CONNECTOR_PROTOCOLS: Readonly<Record<ProtocolName, ConnectorProtocol>> = {
  postgres: postgresConnector,
  ssh: sshConnector,
  http: httpConnector,
  kubernetes: kubernetesConnector,
};

export function connectorProtocol(type: string): ConnectorProtocol | undefined {
  return partFor(CONNECTOR_PROTOCOLS, type);
}

export function connectorProtocols(): ConnectorProtocol[] {
  return Object.values(CONNECTOR_PROTOCOLS);
}
