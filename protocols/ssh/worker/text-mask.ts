/**
 * Masking for SSH sessions with the session's masker (same rules, same content detectors and same
 * counts as SQL results). Column rules cannot apply to terminal output; detectors and patterns do.
 *
 * - `window()`: one per output stream (stdout and stderr of each channel, typed input), masking
 *   a stream that arrives in pieces (protocols/ssh/codec/stream-window.ts);
 * - `sftpReads()`: one per SFTP channel, masking file contents in READ replies;
 * - `text()`: one complete text for the trail (command lines, paths, reasons, approval text).
 */
import type { SessionMasker } from "../../../worker/masking/session-masker.ts";
import { compileConfig, type MaskingConfig } from "../../../parsers/masking/config.ts";
import { shapesFor, type Shape } from "../codec/match-shapes.ts";
import { StreamWindow, type StreamWindowOptions } from "../codec/stream-window.ts";
import { SftpReadMasker } from "./sftp-read-mask.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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
    // Through a window too: the same views (terminal, reversed, base64/hex) as output.
    text: (value) => {
      if (value.length === 0) return value;
      const w = new StreamWindow(masker, { shapes });
      const head = w.push(encoder.encode(value));
      const tail = w.end();
      const all = new Uint8Array(head.length + tail.length);
      all.set(head);
      all.set(tail, head.length);
      return decoder.decode(all);
    },
    counts: () => masker.counts(),
  };
}
