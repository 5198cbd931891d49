/** Kubernetes' connector part: the HTTP connector stream with the cluster credential and Kubernetes' header policy. */
import type { ConnectorProtocol } from "../../../connector/connector-protocol.ts";
import { KubeTunnelStream } from "./kube-stream.ts";

export const kubernetesConnector: ConnectorProtocol = {
  name: "kubernetes",
  createStream: (ctx, session, resource, refusal) => new KubeTunnelStream(ctx, session, resource, refusal),
};
