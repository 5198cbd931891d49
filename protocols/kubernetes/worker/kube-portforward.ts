/**
 * port-forward per-port policy, enforced in the worker on kubectl's side of the tunnel: kubectl
 * 1.35 names the pod port only inside each SPDY SYN_STREAM (header `port`, zlib-compressed with
 * the SPDY/3 dictionary) tunnelled in the WebSocket `SPDY/3.1+portforward.k8s.io`. Each stream is
 * decided by the policy with that port (the same `k8s` rules, `ports:` included) before its frame
 * is relayed. A stream whose port is not allowed is never relayed, nor is anything kubectl sends
 * after it (the API server's header decompression follows every block kubectl compressed, so the
 * gateway cannot drop one SYN_STREAM and go on relaying): the session is over for both directions.
 * So that kubectl says why, the gateway then speaks for the API server, as the kubelet answers a
 * failed forward: SYN_REPLY on kubectl's `error` stream, the refusal as its data, and a closed
 * reply to the `data` stream — kubectl prints "an error occurred forwarding L -> 5432: gatehouse:
 * port 5432 is not allowed by policy (…)" and closes. When the API server's side is not between
 * two whole frames, or the refused stream is not an `error` stream, the session just ends.
 *
 * Recorded: `k8s.portforward.stream` per stream (port, type, request id, decision and rule) and
 * `k8s.portforward.end` (ports requested, allowed, refused).
 */
import type { EngineHost } from "../../../worker/engines/engine.ts";
import { serverBinaryMessage, WebSocketMessageReader } from "../codec/websocket-frames.ts";
import { dataFrame, SpdyClientReader, SpdyFrameTracker, synReply, type SpdySynStream } from "../codec/spdy.ts";
import type { Decision } from "../../../parsers/policy/types.ts";

export const PORTFORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io";

export class PortRefused extends Error {}

export class KubePortForward {
  private readonly up = new WebSocketMessageReader(true);
  private readonly down = new WebSocketMessageReader(false);
  private readonly spdy: SpdyClientReader;
  private readonly server = new SpdyFrameTracker();
  /** A port was refused: nothing more is relayed either way; kubectl's data stream for it gets a closed reply. */
  private refusal: { requestId: string; errorStream: number; message: Uint8Array } | null = null;
  private readonly requested = new Set<number>();
  private readonly allowed = new Set<number>();
  private readonly refused = new Set<number>();
  private recording: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: EngineHost,
    /** The policy's decision for this pod with one port. */
    private readonly decide: (port: number) => Decision,
    /** The request itself was held and approved (an `approve` on a port is then already answered). */
    private readonly approved: boolean,
  ) {
    this.spdy = new SpdyClientReader((s) => this.onStream(s));
  }

  /** kubectl's bytes, before they are relayed (throws = the session ends, nothing of them goes on). */
  pushFromClient(bytes: Uint8Array): void | "withhold" {
    for (const m of this.up.push(bytes)) {
      if (!m.binary) throw new Error("a text message on a SPDY port-forward tunnel");
      this.spdy.push(m.data);
    }
    if (this.refusal) return "withhold";
  }

  /** The API server's bytes: tracked for frame boundaries; withheld once a port was refused. */
  pushFromUpstream(bytes: Uint8Array): void | "withhold" {
    if (this.refusal) return "withhold";
    for (const m of this.down.push(bytes)) {
      if (m.binary) this.server.push(m.data);
    }
  }

  private toClient(frames: Uint8Array[]): void {
    let n = 0;
    for (const f of frames) n += f.length;
    const payload = new Uint8Array(n);
    let o = 0;
    for (const f of frames) {
      payload.set(f, o);
      o += f.length;
    }
    this.host.sendToClient([serverBinaryMessage(payload)]);
  }

  private onStream(s: SpdySynStream): void {
    const requestId = (s.headers.get("requestid") ?? "").slice(0, 64);
    if (this.refusal) {
      // kubectl's data stream of the refused forward: closed at once (never relayed), so kubectl
      // reads the error stream and prints it. Any other stream after a refusal ends the session.
      if (s.streamType !== "data" || requestId !== this.refusal.requestId) throw new PortRefused("gatehouse: the port-forward session ended after a refused port");
      // As the kubelet answers a forward that failed: the data stream's reply, the error stream's
      // message and end, the data stream's end (kubectl reads the error once its data stream ends).
      this.toClient([synReply(s.id, false, false), dataFrame(this.refusal.errorStream, this.refusal.message, true), dataFrame(s.id, new Uint8Array(0), true)]);
      return;
    }
    this.requested.add(s.port);
    const d = this.decide(s.port);
    const ok = d.effect === "allow" || (d.effect === "approve" && this.approved);
    this.record("k8s.portforward.stream", { stream: s.id, type: s.streamType, port: s.port, requestId, effect: ok ? "allow" : "deny", rule: d.rule, reason: d.reason });
    if (ok) {
      this.allowed.add(s.port);
      return;
    }
    this.refused.add(s.port);
    // The session ends with this refusal (the engine does not call close() then).
    this.summary();
    const why = d.effect === "approve" ? `rule '${d.rule}' requires approval, which a port-forward stream cannot wait for` : d.reason;
    const message = `gatehouse: port ${s.port} is not allowed by policy (${why})`;
    // Speak for the API server only between its whole frames, and only on an error stream.
    if (s.streamType !== "error" || !this.down.idle() || !this.server.atBoundary()) throw new PortRefused(message);
    this.refusal = { requestId, errorStream: s.id, message: new TextEncoder().encode(message) };
    this.toClient([synReply(s.id, this.server.headerBlocks === 0, false)]);
  }

  private record(type: string, data: Record<string, unknown>): void {
    this.recording = this.recording.then(() => this.host.audit.onEvent(type, data)).catch((e: Error) => {
      this.host.end({ status: "error", reason: `gatehouse: recording the port-forward failed (${e.message})`, code: "audit" });
    });
  }

  private summarised = false;
  private summary(): void {
    if (this.summarised) return;
    this.summarised = true;
    this.record("k8s.portforward.end", { requested: [...this.requested], allowed: [...this.allowed], refused: [...this.refused] });
  }

  async close(): Promise<void> {
    this.summary();
    await this.recording;
  }
}
