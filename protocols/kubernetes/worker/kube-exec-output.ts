/**
 * The API server's side of an exec/attach stream, masked in flight: what kubectl prints is what
 * the trail records. The server's WebSocket messages are read whole (codec/websocket-frames.ts),
 * and each is relayed again as one unmasked server frame:
 *
 *   stdout (1), stderr (2)  payload through the session's streaming detector window, one window
 *                           per channel (the SSH rule, protocols/ssh/codec/stream-window.ts: a byte
 *                           leaves only once no later byte can make it part of a secret, so a
 *                           value split across two messages is still masked; the held tail is
 *                           bounded). A message whose bytes are all held back is not sent yet.
 *   error (3)               the windows are flushed first (it is the exit: nothing follows); the
 *                           Status `message` (kubectl prints it) through the detectors.
 *   close (255, v5)         the named channel's window is flushed before the close is relayed.
 *   close frame             both windows flushed, then the close frame.
 *   ping/pong               relayed as they came.
 *
 * `tar` (what `kubectl cp` runs: `tar cf - …` in the pod) writes an archive whose framing counts
 * bytes: its matches become as many `*` bytes (as SSH masks scp), so the archive stays valid and
 * the file contents are masked.
 *
 * A text message is refused (the channel protocols carry everything in binary messages; an
 * unread text message would reach kubectl unmasked). A window that throws ends the session
 * before anything of the message is relayed (the engine's upgraded hook: fail closed).
 */
import type { StreamWindow } from "../../ssh/codec/stream-window.ts";
import { CH_CLOSE, CH_ERROR, CH_STDERR, CH_STDOUT, channelMessage } from "../codec/channel.ts";
import { serverFrame, WebSocketMessageReader } from "../codec/websocket-frames.ts";

const BINARY = 0x2;
const CLOSE = 0x8;
const enc = new TextEncoder();

export interface ExecOutputMasking {
  window(opts?: { input?: boolean; sameLength?: boolean }): StreamWindow;
  text(value: string): string;
}

export class ExecOutputMasker {
  private readonly reader = new WebSocketMessageReader(false, { keepControl: true });
  private readonly windows: Map<number, StreamWindow>;

  constructor(
    private readonly masking: ExecOutputMasking,
    /** Each channel message relayed (masked), in order: the recorder reads exactly what kubectl gets. */
    private readonly relayed: (message: Uint8Array) => void,
    /** A match becomes as many `*` as it has bytes (`tar` output: kubectl cp's archive framing counts bytes). */
    opts: { sameLength?: boolean } = {},
  ) {
    this.windows = new Map([
      [CH_STDOUT, masking.window(opts)],
      [CH_STDERR, masking.window(opts)],
    ]);
  }

  /** The API server's bytes → the frames to relay in their place (possibly none yet). */
  push(bytes: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const m of this.reader.push(bytes)) {
      if (m.control !== undefined) {
        if (m.control === CLOSE) this.flushAll(out);
        out.push(serverFrame(m.control, m.data));
        continue;
      }
      if (!m.binary) throw new Error("the API server sent a text message on an exec stream (the channel protocols use binary messages only)");
      const data = m.data;
      if (data.length === 0) {
        out.push(serverFrame(BINARY, data));
        continue;
      }
      const ch = data[0]!;
      const window = this.windows.get(ch);
      if (window) {
        const masked = window.push(data.subarray(1));
        if (masked.length > 0) this.send(out, channelMessage(ch, masked));
        continue;
      }
      if (ch === CH_ERROR) {
        this.flushAll(out);
        this.send(out, this.maskStatus(data));
        continue;
      }
      if (ch === CH_CLOSE && data.length === 2) this.flush(data[1]!, out);
      this.send(out, data);
    }
    return out;
  }

  /** The stream ended without a close frame: what the windows still hold, masked. */
  end(): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.flushAll(out);
    return out;
  }

  private send(out: Uint8Array[], message: Uint8Array): void {
    this.relayed(message);
    out.push(serverFrame(BINARY, message));
  }

  private flush(ch: number, out: Uint8Array[]): void {
    const window = this.windows.get(ch);
    if (!window) return;
    const rest = window.end();
    if (rest.length > 0) this.send(out, channelMessage(ch, rest));
  }

  private flushAll(out: Uint8Array[]): void {
    this.flush(CH_STDOUT, out);
    this.flush(CH_STDERR, out);
  }

  /**
   * The error channel's Status with its `message` through the detectors (kubectl prints it for a
   * failure that is not an exit code). Unchanged when nothing is masked; not JSON: as it came
   * (the channel reader then refuses it).
   */
  private maskStatus(message: Uint8Array): Uint8Array {
    let status: Record<string, unknown>;
    try {
      status = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(message.subarray(1))) as Record<string, unknown>;
    } catch {
      return message;
    }
    if (typeof status !== "object" || status === null || typeof status.message !== "string") return message;
    const masked = this.masking.text(status.message);
    if (masked === status.message) return message;
    return channelMessage(CH_ERROR, enc.encode(JSON.stringify({ ...status, message: masked })));
  }
}
