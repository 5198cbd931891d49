/**
 * Kubernetes' runtime-neutral descriptor. NOT yet listed in protocols/registry.ts: the registry
 * is typed so that a listed protocol must have its worker engine and connector dialer, and those
 * are still to be built on the HTTP module (docs/KUBERNETES.md § What remains). Listing it is then
 * one line there plus one per deployable registry; the CLI's listener engine meanwhile is served
 * from client/engines/registry.ts as a pending module.
 */
import type { ProtocolModule } from "../types.ts";
import { kubernetesActionKind } from "./policy/rules.ts";

export const kubernetesModule = {
  name: "kubernetes",
  actionNamespace: "k8s",
  policy: kubernetesActionKind,
  // The CLI's HTTPS listener answers kubectl with a Status when the tunnel is refused or closes
  // before any response (protocols/kubernetes/client/listener-engine.ts).
  refusalAtStart: () => [],
} as const satisfies ProtocolModule;
