/**
 * Masks free text (SQL of a request, bind parameters, approval display text) with the same WASM
 * detectors and custom patterns as results, so the audit trail and approvers never see what the
 * client would not. Uses the masker's stateless text entry point: it never touches the row shape
 * of a result that may still be streaming.
 */
import type { SessionMasker } from "./session-masker.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function maskTexts(masker: SessionMasker, texts: readonly string[]): string[] {
  return texts.map((t) => decoder.decode(masker.maskText(encoder.encode(t))));
}
