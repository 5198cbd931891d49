/** HTTP's worker part (protocols/registry-worker.ts, generated): the engine (http-engine.ts) and its response masking. */
import type { WorkerProtocol } from "../../../worker/engines/engine.ts";
import { createSessionMasker } from "../../../worker/masking/session-masker.ts";
import { httpModule } from "../module.ts";
import { HttpEngine } from "./http-engine.ts";
import { createResponseMasking } from "./response-masking.ts";

export { HttpEngine } from "./http-engine.ts";

export const httpWorker: WorkerProtocol = {
  module: httpModule,
  createEngine: (host) =>
    new HttpEngine(host, {
      masking: () => {
        const masker = createSessionMasker(host);
        return masker ? createResponseMasking(masker, host.policy.maskingConfig()) : undefined;
      },
    }),
};
