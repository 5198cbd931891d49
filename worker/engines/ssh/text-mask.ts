/**
 * Text masking for SSH output with the session's masker (same rules, same content detectors and
 * same counts as SQL results): `PgMasker.maskText` over UTF-8 text. Column rules cannot apply to
 * terminal output; the rules' detectors and patterns do.
 */
import type { SessionMasker } from "../../masking/session-masker.ts";
import type { TextMaskFunction } from "../../../parsers/ssh/stream-mask.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface SshTextMasker {
  mask: TextMaskFunction;
  /** Values masked so far per rule name (never the values). */
  counts(): Record<string, number>;
}

export function textMaskFromSessionMasker(masker: SessionMasker): SshTextMasker {
  return {
    mask: (text: string): string => {
      const bytes = enc.encode(text);
      const out = masker.maskText(bytes);
      return out === bytes ? text : dec.decode(out);
    },
    counts: () => masker.counts(),
  };
}
