/**
 * exec/attach recorded as a terminal: the upgraded WebSocket stream is read passively in both
 * directions (codec/websocket-frames.ts → codec/channel.ts ChannelReader) and its stdin, stdout,
 * stderr and resize become the trail's `term.input`/`term.output`/`term.resize` events — the same
 * events SSH records, so `gatehouse sessions replay` plays them — plus `k8s.exec.exit` with the
 * exit code from the error channel. Output goes through the session's content detectors.
 * Unreadable framing or channel messages throw (the engine then ends the stream).
 */
import type { EngineHost } from "../../../worker/engines/engine.ts";
import { ChannelReader, type ChannelEvent, type ChannelProtocol } from "../codec/channel.ts";
import { WebSocketMessageReader } from "../codec/websocket-frames.ts";
import type { KubeResourceRequest } from "../codec/request.ts";

export class KubeExecRecorder {
  private readonly up = new WebSocketMessageReader(true);
  private readonly down = new WebSocketMessageReader(false);
  private readonly channels: ChannelReader;
  private recording: Promise<void> = Promise.resolve();
  private exitRecorded = false;

  constructor(
    private readonly host: EngineHost,
    private readonly request: KubeResourceRequest,
    /** The protocol the API server chose (from its 101 answer). */
    protocol: ChannelProtocol,
    private readonly maskText: (text: string) => string,
  ) {
    this.channels = new ChannelReader(protocol);
    this.record("k8s.exec.start", { verb: request.verb, namespace: request.namespace, pod: request.name, container: request.container, command: request.command, tty: request.streams.tty, protocol });
    if (request.streams.tty) this.record("term.resize", { ch: 0, cols: 80, rows: 24 });
  }

  push(from: "client" | "upstream", bytes: Uint8Array): void {
    const reader = from === "client" ? this.up : this.down;
    for (const m of reader.push(bytes)) {
      if (!m.binary) continue; // v5/v4 carry everything in binary messages; text frames carry nothing the reader needs
      const events = from === "client" ? this.channels.fromClient(m.data) : this.channels.fromServer(m.data);
      for (const e of events) this.onEvent(e);
    }
  }

  private onEvent(e: ChannelEvent): void {
    switch (e.type) {
      case "term.input":
        this.record("term.input", { ch: 0, data: this.maskText(e.data) });
        break;
      case "term.output":
        this.record("term.output", { ch: 0, data: this.maskText(e.data), ...(e.stream === "stderr" ? { stream: "stderr" } : {}) });
        break;
      case "term.resize":
        this.record("term.resize", { ch: 0, cols: e.cols, rows: e.rows });
        break;
      case "exec.exit":
        this.exitRecorded = true;
        this.record("k8s.exec.exit", { code: e.code, status: e.status, ...(e.reason ? { reason: e.reason } : {}), ...(e.message ? { message: this.maskText(e.message) } : {}) });
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
    if (!this.exitRecorded) this.record("k8s.exec.exit", { code: null, status: "Unknown", reason: "the stream ended without an exit status" });
    await this.recording;
  }
}
