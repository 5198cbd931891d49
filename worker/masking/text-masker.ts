/**
 * Masks free text (SQL of a request, bind parameters, approval display text) with the same WASM
 * detectors and custom patterns as results, so the audit trail and approvers never see what the
 * client would not. Uses the masker's stateless text entry point: it never touches the row shape
 * of a result that may still be streaming. One call per statement (the trail's request text), so
 * no TextEncoder/TextDecoder arrays: the masker encodes straight into its memory and gives the same
 * string back when nothing matched (maskString).
 */
import type { SessionMasker } from "./session-masker.ts";

export function maskTexts(masker: SessionMasker, texts: readonly string[]): string[] {
  return texts.map((t) => masker.maskString(t));
}
