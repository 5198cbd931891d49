/** Kubernetes' CLI part (protocols/registry-client.ts, generated): its HTTPS listener engine and kubeconfig. */
export { kubernetesEngine as kubernetesClient } from "./listener-engine.ts";
