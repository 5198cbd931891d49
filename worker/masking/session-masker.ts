/**
 * Builds the masker for one session from the policy's masking rules (none → no masking pass).
 * An invalid masking configuration (e.g. a `hash` rule without a tenant key) refuses the session:
 * never serve unmasked what the policy says to mask.
 */
import type { EngineHost } from "../engines/engine.ts";
import { createMasker, type BorrowingMasker } from "../../wasm/loader/mask.ts";
import { maskModule } from "../wasm-modules.ts";

export type SessionMasker = BorrowingMasker;

export function createSessionMasker(host: EngineHost): SessionMasker | undefined {
  const config = host.policy.maskingConfig();
  if (config.rules.length === 0) return undefined;
  return createMasker(maskModule, config);
}
