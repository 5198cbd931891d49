/**
 * Masking for SSH output with the session's masker (same rules, same content detectors and same
 * counts as SQL results): `PgMasker.maskText` over the output bytes (UTF-8 text; bytes no detector
 * matches come back unchanged). Column rules cannot apply to terminal output; detectors and
 * patterns do.
 */
import type { SessionMasker } from "../../masking/session-masker.ts";
import type { ByteMaskFunction } from "../../../parsers/ssh/stream-mask.ts";

export interface SshTextMasker {
  mask: ByteMaskFunction;
  /** Values masked so far per rule name (never the values). */
  counts(): Record<string, number>;
}

export function textMaskFromSessionMasker(masker: SessionMasker): SshTextMasker {
  return {
    mask: (bytes: Uint8Array): Uint8Array => masker.maskText(bytes),
    counts: () => masker.counts(),
  };
}
