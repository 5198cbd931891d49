/** The worker's SSH engine (see ssh-engine.ts) and its masking hook. */
import type { EngineHost } from "../engine.ts";
import { createSessionMasker } from "../../masking/session-masker.ts";
import type { TextMaskFunction } from "../../../parsers/ssh/stream-mask.ts";
import { textMaskFromSessionMasker } from "./text-mask.ts";

export { SshEngine } from "./ssh-engine.ts";

/** The session's masking rules as a text masker (undefined = no rule applies; throws = unavailable). */
export function sshTextMask(host: EngineHost): TextMaskFunction | undefined {
  const masker = createSessionMasker(host);
  return masker ? textMaskFromSessionMasker(masker) : undefined;
}
