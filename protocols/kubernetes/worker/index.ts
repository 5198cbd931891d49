/** Kubernetes' worker part (protocols/registry-worker.ts): the HTTP engine with Kubernetes' hooks (kube-hooks.ts). */
import type { WorkerProtocol } from "../../../worker/engines/engine.ts";
import { createSessionMasker } from "../../../worker/masking/session-masker.ts";
import { kubernetesModule } from "../module.ts";
import { HttpEngine } from "../../http/worker/http-engine.ts";
import { createResponseMasking, type ResponseMasking } from "../../http/worker/response-masking.ts";
import { KubeHooks } from "./kube-hooks.ts";

export const kubernetesWorker: WorkerProtocol = {
  module: kubernetesModule,
  createEngine: (host) => {
    // The content detectors for logs and exec output, built once per session when a masking rule applies.
    let built = false;
    let masking: ResponseMasking | undefined;
    const textMasking = () => {
      if (!built) {
        built = true;
        const masker = createSessionMasker(host);
        masking = masker ? createResponseMasking(masker, host.policy.maskingConfig()) : undefined;
      }
      return masking;
    };
    return new HttpEngine(host, {
      hooks: new KubeHooks(host, textMasking),
      // The trail's request lines, reasons and approval texts through the same detectors.
      recordText: () => {
        const m = textMasking();
        return m ? (t) => m.text(t) : undefined;
      },
    });
  },
};
