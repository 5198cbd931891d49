/**
 * exec/attach recorded as a terminal: the upgraded WebSocket stream is read passively in both
 * directions (codec/websocket-frames.ts → codec/channel.ts ChannelReader) and its stdin, stdout,
 * stderr and resize become the trail's `term.input`/`term.output`/`term.resize` events — the same
 * events SSH records, so `gatehouse sessions replay` plays them — plus `k8s.exec.exit` with the
 * exit code from the error channel. With content detectors in the session, the API server's side
 * is masked in flight (kube-exec-output.ts) and the trail records the masked messages relayed —
 * exactly what kubectl gets; typed input is recorded through its own detector window. Unreadable framing or
 * channel messages throw (the engine then ends the stream).
 */
import type { EngineHost } from "../../../worker/engines/engine.ts";
import { CH_CLOSE, CH_STDIN, ChannelReader, channelMessage, type ChannelEvent, type ChannelProtocol } from "../codec/channel.ts";
import type { StreamWindow } from "../../ssh/codec/stream-window.ts";
import { WebSocketMessageReader } from "../codec/websocket-frames.ts";
import type { KubeResourceRequest } from "../codec/request.ts";
import type { UpgradedVerdict } from "../../http/worker/http-engine.ts";
import { ExecOutputMasker, type ExecOutputMasking } from "./kube-exec-output.ts";

export class KubeExecRecorder {
  private readonly up = new WebSocketMessageReader(true);
  private readonly down = new WebSocketMessageReader(false);
  private readonly channels: ChannelReader;
  private recording: Promise<void> = Promise.resolve();
  private exitRecorded = false;
  /** The server's side masked in flight; undefined when no detector applies (relayed as it came). */
  private readonly output: ExecOutputMasker | undefined;
  /** Typed input's detector window (recording only: stdin is relayed as kubectl sent it). */
  private readonly typed: StreamWindow | undefined;

  constructor(
    private readonly host: EngineHost,
    private readonly request: KubeResourceRequest,
    /** The protocol the API server chose (from its 101 answer). */
    protocol: ChannelProtocol,
    masking: ExecOutputMasking | undefined,
    opts: { sameLength?: boolean } = {},
  ) {
    this.channels = new ChannelReader(protocol);
    this.output = masking ? new ExecOutputMasker(masking, (m) => this.read(this.channels.fromServer(m)), opts) : undefined;
    this.typed = masking?.window({ input: true });
    this.record("k8s.exec.start", { verb: request.verb, namespace: request.namespace, pod: request.name, container: request.container, command: request.command, tty: request.streams.tty, protocol });
    if (request.streams.tty) this.record("term.resize", { ch: 0, cols: 80, rows: 24 });
  }

  /** One side's bytes before they are relayed: the client's as they are; the server's masked when detectors apply. */
  push(from: "client" | "upstream", bytes: Uint8Array): UpgradedVerdict {
    if (from === "upstream" && this.output) return { replace: this.output.push(bytes) };
    const reader = from === "client" ? this.up : this.down;
    for (const m of reader.push(bytes)) {
      if (!m.binary) continue; // v5/v4 carry everything in binary messages; text frames carry nothing the reader needs
      if (from === "upstream") this.read(this.channels.fromServer(m.data));
      else this.fromClient(m.data);
    }
  }

  /**
   * kubectl's message (relayed as it is). Typed input is recorded through its own detector window
   * (as SSH records it): a secret typed in pieces, one message per keystroke, is still masked.
   */
  private fromClient(message: Uint8Array): void {
    const typed = this.typed;
    if (!typed || message.length === 0) return this.read(this.channels.fromClient(message));
    if (message[0] === CH_STDIN) {
      const released = typed.push(message.subarray(1));
      if (released.length > 0) this.read(this.channels.fromClient(channelMessage(CH_STDIN, released)));
      return;
    }
    // stdin closed (v5): what the window holds first.
    if (message[0] === CH_CLOSE && message[1] === CH_STDIN) this.flushTyped();
    this.read(this.channels.fromClient(message));
  }

  private flushTyped(): void {
    const rest = this.typed?.end();
    if (rest && rest.length > 0) this.read(this.channels.fromClient(channelMessage(CH_STDIN, rest)));
  }

  /** The server's stream ended without a close frame: what the output windows still hold, masked. */
  flushOutput(): Uint8Array[] {
    return this.output?.end() ?? [];
  }

  private read(events: ChannelEvent[]): void {
    for (const e of events) this.onEvent(e);
  }


  private onEvent(e: ChannelEvent): void {
    switch (e.type) {
      case "term.input":
        this.record("term.input", { ch: 0, data: e.data });
        break;
      case "term.output":
        this.record("term.output", { ch: 0, data: e.data, ...(e.stream === "stderr" ? { stream: "stderr" } : {}) });
        break;
      case "term.resize":
        this.record("term.resize", { ch: 0, cols: e.cols, rows: e.rows });
        break;
      case "exec.exit":
        // The Status as relayed: its message already went through the detectors (kube-exec-output.ts).
        this.exitRecorded = true;
        this.record("k8s.exec.exit", { code: e.code, status: e.status, ...(e.reason ? { reason: e.reason } : {}), ...(e.message ? { message: e.message } : {}) });
        break;
      case "stream.close":
        break;
    }
  }

  /** Events are chained in order; a failed write ends the session (nothing recorded is lost silently). */
  private record(type: string, data: Record<string, unknown>): void {
    this.recording = this.recording.then(() => this.host.audit.onEvent(type, data)).catch((e: Error) => {
      this.host.end({ status: "error", reason: `gatehouse: recording the exec stream failed (${e.message})`, code: "audit" });
    });
  }

  async close(): Promise<void> {
    this.flushTyped();
    if (!this.exitRecorded) this.record("k8s.exec.exit", { code: null, status: "Unknown", reason: "the stream ended without an exit status" });
    await this.recording;
  }
}
