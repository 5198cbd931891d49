/** SSH's worker part (protocols/registry-worker.ts, generated): the engine (ssh-engine.ts) and its masking hook. */
import type { EngineHost, WorkerProtocol } from "../../../worker/engines/engine.ts";
import { createSessionMasker } from "../../../worker/masking/session-masker.ts";
import { sshModule } from "../module.ts";
import { SshEngine } from "./ssh-engine.ts";
import { textMaskFromSessionMasker, type SshTextMasker } from "./text-mask.ts";

export { SshEngine } from "./ssh-engine.ts";

/** The session's masking rules as a text masker (undefined = no rule applies; throws = invalid configuration). */
export function sshTextMask(host: EngineHost): SshTextMasker | undefined {
  const masker = createSessionMasker(host);
  return masker ? textMaskFromSessionMasker(masker, host.policy.maskingConfig()) : undefined;
}

export const sshWorker: WorkerProtocol = {
  module: sshModule,
  createEngine: (host) => new SshEngine(host, { textMask: () => sshTextMask(host) }),
};
