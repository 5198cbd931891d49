/**
 * Kubernetes' runtime-neutral descriptor. NOT yet listed in protocols/modules.ts: a listed
 * protocol must have its worker engine and connector dialer, and those are still to be built on
 * the HTTP module (docs/KUBERNETES.md § What remains). Listing it is then one line there (plus
 * protocols/kubernetes/{worker,connector,client}/index.ts and npm run gen:protocols); the CLI's
 * listener engine meanwhile is served from client/engines/registry.ts as a pending module.
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
