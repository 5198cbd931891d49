/**
 * Masking of text with the session's masker (same rules, same content detectors and same counts
 * as SQL results), shared by the protocols that mask free text: SSH (terminal output, commands,
 * paths) and HTTP (text bodies, header values, the trail). Column rules cannot apply to free
 * text; detectors and patterns do.
 *
 * - `window()`: one per stream that arrives in pieces (an SSH output stream, an HTTP text body);
 * - `text()`: one complete text (command lines, paths, reasons, approval text, header values).
 *
 * Both run through the streaming window (protocols/ssh/codec/stream-window.ts: the same views —
 * terminal, reversed, base64/hex — for every text). That window and its match shapes still live
 * in the SSH codec folder; they have no SSH dependency and can move under parsers/masking/.
 */
import type { SessionMasker } from "./session-masker.ts";
import { compileConfig, type MaskingConfig } from "../../parsers/masking/config.ts";
import { shapesFor, type Shape } from "../../protocols/ssh/codec/match-shapes.ts";
import { StreamWindow, type StreamWindowOptions } from "../../protocols/ssh/codec/stream-window.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface TextMasker {
  window(opts?: Omit<StreamWindowOptions, "shapes">): StreamWindow;
  text(value: string): string;
  /** Values masked so far per rule name (never the values). */
  counts(): Record<string, number>;
  /** The match shapes of the session's detectors and patterns (for maskers of other framings). */
  readonly shapes: readonly Shape[];
}

export function textMaskFromSessionMasker(masker: SessionMasker, config: MaskingConfig): TextMasker {
  const compiled = compileConfig(config);
  const shapes: Shape[] = shapesFor(compiled.detectorRule, compiled.customs);
  return {
    shapes,
    window: (opts = {}) => new StreamWindow(masker, { ...opts, shapes }),
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
