/** Builds the masker for one session from the policy's masking rules (none → no masking pass). */
import type { EngineHost } from "../engines/engine.ts";

export interface SessionMasker {
  process(messages: Uint8Array): Uint8Array;
  counts(): Record<string, number>;
}

export function createSessionMasker(host: EngineHost): SessionMasker | undefined {
  const rules = host.policy.maskingRules();
  if (rules.length === 0) return undefined;
  // Wired to the WASM masker in the masking change; until then rules cannot be honoured, so refuse to run unmasked.
  throw new Error("masking rules are configured but the masking engine is not available");
}
