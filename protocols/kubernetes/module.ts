/** Kubernetes' runtime-neutral descriptor (protocols/modules.ts): the `k8s` rule kind; its engine rides on the HTTP engine (worker/kube-hooks.ts). */
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
