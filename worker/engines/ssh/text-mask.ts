/**
 * Masking for SSH sessions with the session's masker (same rules, same content detectors and same
 * counts as SQL results). Column rules cannot apply to terminal output; detectors and patterns do.
 *
 * - `window()`: one per output stream (stdout and stderr of each channel, typed input), masking
 *   a stream that arrives in pieces (parsers/ssh/stream-window.ts);
 * - `sftpReads()`: one per SFTP channel, masking file contents in READ replies;
 * - `text()`: one complete text for the trail (command lines, paths, reasons, approval text).
 */
import type { SessionMasker } from "../../masking/session-masker.ts";
import { compileConfig, type MaskingConfig } from "../../../parsers/masking/config.ts";
import { shapesFor, type Shape } from "../../../parsers/ssh/match-shapes.ts";
import { StreamWindow, type StreamWindowOptions } from "../../../parsers/ssh/stream-window.ts";
import { maskTexts } from "../../masking/text-masker.ts";
import { SftpReadMasker } from "./sftp-read-mask.ts";

export interface SshTextMasker {
  window(opts?: Omit<StreamWindowOptions, "shapes">): StreamWindow;
  sftpReads(): SftpReadMasker;
  text(value: string): string;
  /** Values masked so far per rule name (never the values). */
  counts(): Record<string, number>;
}

export function textMaskFromSessionMasker(masker: SessionMasker, config: MaskingConfig): SshTextMasker {
  const compiled = compileConfig(config);
  const shapes: Shape[] = shapesFor(compiled.detectorRule, compiled.customs);
  return {
    window: (opts = {}) => new StreamWindow(masker, { ...opts, shapes }),
    sftpReads: () => new SftpReadMasker(masker, shapes),
    text: (value) => (value.length === 0 ? value : maskTexts(masker, [value])[0]!),
    counts: () => masker.counts(),
  };
}
