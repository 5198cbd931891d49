/**
 * What one exec/shell channel holds for masking and recording: a masking window per output
 * stream (stdout and stderr separately — a secret split across the two is not joined, since
 * their interleaving on the client is not defined), one for typed input (recorded as
 * `term.input`), and a UTF-8 decoder per stream for the trail (a character split across writes
 * stays whole).
 */
import { STREAM_STDERR, STREAM_STDOUT } from "../codec/frames.ts";
import type { StreamWindow } from "../codec/stream-window.ts";
import type { SshTextMasker } from "./text-mask.ts";

export class ChannelOutput {
  private readonly decoders = [new TextDecoder("utf-8"), new TextDecoder("utf-8")];
  private readonly inputDecoder = new TextDecoder("utf-8");
  private readonly windows: StreamWindow[] | undefined;
  private readonly typed: StreamWindow | undefined;

  /** `sameLength`, `hold`: for file transfer protocols over exec (transfer-mode.ts). */
  constructor(mask: SshTextMasker | undefined, opts: { sameLength: boolean; hold: boolean }) {
    this.windows = mask ? [mask.window(opts), mask.window(opts)] : undefined;
    this.typed = mask?.window({ input: true });
  }

  /** Output bytes of stdout or stderr → the bytes to send now (masked; possibly none yet). */
  push(stream: number, bytes: Uint8Array): Uint8Array {
    return this.windows ? this.windows[stream === STREAM_STDERR ? 1 : 0]!.push(bytes) : bytes;
  }

  /** The channel's output ended: what each stream still held, masked. */
  end(): Array<{ stream: number; bytes: Uint8Array }> {
    if (!this.windows) return [];
    return [
      { stream: STREAM_STDOUT, bytes: this.windows[0]!.end() },
      { stream: STREAM_STDERR, bytes: this.windows[1]!.end() },
    ].filter((p) => p.bytes.length > 0);
  }

  /** Output bytes as text for the trail. `final`: the stream's last call (flush a partial character). */
  text(stream: number, bytes: Uint8Array, final = false): string {
    const d = this.decoders[stream === STREAM_STDERR ? 1 : 0]!;
    return d.decode(bytes, { stream: !final });
  }

  /**
   * Typed input for the trail, masked like output (a secret typed key by key is still found):
   * `text`, the input whose masking is settled, and `held`, the typed bytes the window still holds
   * back (relayed to the host all the same; the trail's placeholder for them is their count).
   */
  input(bytes: Uint8Array, final = false): { text: string; held: number } {
    const released = this.typed ? (final ? concat(this.typed.push(bytes), this.typed.end()) : this.typed.push(bytes)) : bytes;
    return { text: this.inputDecoder.decode(released, { stream: !final }), held: this.typed?.heldBytes ?? 0 };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
