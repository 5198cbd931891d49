/**
 * exec/attach recorded as a terminal: the upgraded WebSocket stream is read passively in both
 * directions (codec/websocket-frames.ts → codec/channel.ts ChannelReader) and its stdin, stdout,
 * stderr and resize become the trail's `term.input`/`term.output`/`term.resize` events — the same
 * events SSH records, so `gatehouse sessions replay` plays them — plus `k8s.exec.exit` with the
 * exit code from the error channel. With content detectors in the session, the API server's side
 * is masked in flight (kube-exec-output.ts) and the trail records the masked messages relayed —
 * exactly what kubectl gets; typed input is recorded through its own detector window. Unreadable framing or
 * channel messages throw (the engine then ends the stream).
 *
 * Durable before relayed: `push` resolves once the events describing the bytes are recorded, and
 * for kubectl's side marks them for the engine's commit before forward, so typed input is durable
 * before the API server gets it (one write per message kubectl sends with stdin); what the
 * input's detector window still holds is recorded as a placeholder (`held`, its byte count) until
 * a later `term.input` carries it masked. A failed write rejects: nothing of the bytes is relayed.
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
  /** The first write that failed: the session ends, nothing more is relayed. */
  private failure: Error | undefined;
  private exitRecorded = false;
  /** Typed bytes relayed that the input window still holds, as last recorded. */
  private inputHeld = 0;
  /**
   * Events recorded so far (both directions). A push counts its own as the difference across its
   * synchronous part: client and upstream pushes run on separate chains and interleave at their
   * awaits, so a shared per-push counter reset by one would hide the other's events.
   */
  private recordedCount = 0;
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

  /**
   * One side's bytes before they are relayed: the client's as they are; the server's masked when
   * detectors apply. Resolves once the events describing them are recorded (kubectl's: marked to
   * be durable before they are forwarded); rejects when a write failed.
   */
  async push(from: "client" | "upstream", bytes: Uint8Array): Promise<UpgradedVerdict> {
    let verdict: UpgradedVerdict = undefined;
    const recordedBefore = this.recordedCount;
    if (from === "upstream" && this.output) verdict = { replace: this.output.push(bytes) };
    else {
      const reader = from === "client" ? this.up : this.down;
      for (const m of reader.push(bytes)) {
        if (!m.binary) continue; // v5/v4 carry everything in binary messages; text frames carry nothing the reader needs
        if (from === "upstream") this.read(this.channels.fromServer(m.data));
        else this.fromClient(m.data);
      }
    }
    // kubectl's events of this push must be durable before its bytes are relayed.
    const recordedHere = this.recordedCount - recordedBefore;
    await this.recording;
    if (this.failure) throw this.failure;
    if (from === "client" && recordedHere > 0) {
      this.host.audit.holdForwardUntilCommitted?.();
    }
    return verdict;
  }

  /**
   * kubectl's message (relayed as it is). Typed input is recorded through its own detector window
   * (as SSH records it): a secret typed in pieces, one message per keystroke, is still masked.
   */
  private fromClient(message: Uint8Array): void {
    const typed = this.typed;
    if (message.length === 0) return;
    if (message[0] === CH_STDIN) {
      const chunk = message.subarray(1);
      const released = typed ? typed.push(chunk) : chunk;
      this.typedInput(released.length > 0 ? this.channels.fromClient(channelMessage(CH_STDIN, released)) : [], typed?.heldBytes ?? 0, chunk.length > 0);
      return;
    }
    // stdin closed (v5): what the window holds first.
    if (message[0] === CH_CLOSE && message[1] === CH_STDIN) this.flushTyped();
    this.read(this.channels.fromClient(message));
  }

  private flushTyped(): void {
    const typed = this.typed;
    if (!typed) return;
    const rest = typed.end();
    this.typedInput(rest.length > 0 ? this.channels.fromClient(channelMessage(CH_STDIN, rest)) : [], 0, false);
  }

  /**
   * Typed input as the window settled it (masked), with the placeholder for what it still holds:
   * every stdin message kubectl sent is described by an event before it is relayed.
   */
  private typedInput(events: ChannelEvent[], held: number, sent: boolean): void {
    let described = false;
    for (const e of events) {
      if (e.type !== "term.input") {
        this.onEvent(e);
        continue;
      }
      this.record("term.input", { ch: 0, data: e.data, ...(held > 0 ? { held } : {}) });
      described = true;
    }
    if (!described && (sent || held !== this.inputHeld)) this.record("term.input", { ch: 0, data: "", ...(held > 0 ? { held } : {}) });
    this.inputHeld = held;
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
    this.recordedCount++;
    this.recording = this.recording.then(() => this.host.audit.onEvent(type, data)).catch((e: Error) => {
      if (this.failure) return;
      this.failure = new Error(`recording the exec stream failed (${e.message})`);
      this.host.end({ status: "error", reason: `gatehouse: ${this.failure.message}`, code: "audit" });
    });
  }

  async close(): Promise<void> {
    this.flushTyped();
    if (!this.exitRecorded) this.record("k8s.exec.exit", { code: null, status: "Unknown", reason: "the stream ended without an exit status" });
    await this.recording;
  }
}
