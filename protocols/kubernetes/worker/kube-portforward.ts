/**
 * port-forward per-port policy, enforced in the worker: kubectl 1.35 names the pod port only
 * inside each SPDY SYN_STREAM (header `port`, zlib-compressed with the SPDY/3 dictionary)
 * tunnelled in the WebSocket `SPDY/3.1+portforward.k8s.io`. Each stream is decided by the policy
 * with that port (the same `k8s` rules, `ports:` included) before anything of it is relayed.
 *
 * The gateway re-frames both directions (WebSocket messages → SPDY frames → WebSocket messages)
 * and owns the header compression of both (codec/spdy-rewrite.ts, codec/spdy-stored.ts), so a
 * refused stream is answered by the gateway alone and the session goes on for the other
 * connections and ports:
 *  - its SYN_STREAM never reaches the API server, nor anything kubectl sends on it later;
 *  - kubectl gets what the kubelet sends for a forward that cannot connect, except the message:
 *    the `error` stream is replied to and closed empty, the `data` stream replied to, sent the
 *    refusal text (`gatehouse: port 5432 is not allowed by policy (…)`) and closed. The local
 *    connection reads that text, then EOF. Not on the error stream: kubectl (client-go
 *    PortForwarder.handleConnection) closes the whole SPDY connection when an error stream
 *    carries a message — the other ports would die with it.
 *
 * Recorded: `k8s.portforward.stream` per stream (port, type, request id, decision and rule) and
 * `k8s.portforward.end` (ports requested, allowed, refused). A stream's event is durable before
 * anything of it is relayed: `pushFromClient` resolves once the events of the streams its bytes
 * open are recorded and marked for the engine's commit before forward (one write per kubectl
 * message that opens streams; data of open streams costs none); a failed write rejects and
 * nothing of the bytes is relayed.
 */
import type { EngineHost } from "../../../worker/engines/engine.ts";
import { encodeFrame, WebSocketMessageReader, type WebSocketMessage } from "../codec/websocket-frames.ts";
import { SpdyClientRewriter, SpdyServerRewriter, type GatewayFrame, type SpdySynStream, type StreamVerdict } from "../codec/spdy-rewrite.ts";
import type { Decision } from "../../../parsers/policy/types.ts";

export const PORTFORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io";

const BINARY = 0x2;

export class KubePortForward {
  private readonly up = new WebSocketMessageReader(true, { keepControl: true });
  private readonly down = new WebSocketMessageReader(false, { keepControl: true });
  private readonly client: SpdyClientRewriter;
  private readonly server = new SpdyServerRewriter();
  private readonly requested = new Set<number>();
  private readonly allowed = new Set<number>();
  private readonly refused = new Set<number>();
  private recording: Promise<void> = Promise.resolve();
  /** The first write that failed: the session ends, nothing more is relayed. */
  private failure: Error | undefined;
  /** Streams opened by the bytes being read (their events must be durable before the bytes are relayed). */
  private opened = 0;

  constructor(
    private readonly host: EngineHost,
    /** The policy's decision for this pod with one port. */
    private readonly decide: (port: number) => Decision,
    /** The request itself was held and approved (an `approve` on a port is then already answered). */
    private readonly approved: boolean,
  ) {
    this.client = new SpdyClientRewriter((s) => this.onStream(s));
  }

  /**
   * kubectl's bytes → what goes to the API server instead, once the events of the streams they
   * open are recorded (rejects = the session ends, nothing of them goes on).
   */
  async pushFromClient(bytes: Uint8Array): Promise<Uint8Array[]> {
    this.opened = 0;
    const out = this.reframe(this.up.push(bytes), (b) => this.client.push(b), true);
    await this.recording;
    if (this.failure) throw this.failure;
    if (this.opened > 0) this.host.audit.holdForwardUntilCommitted?.();
    return out;
  }

  /** The API server's bytes → what goes to kubectl instead (header blocks re-encoded, the gateway's frames inserted). */
  async pushFromUpstream(bytes: Uint8Array): Promise<Uint8Array[]> {
    const out = this.reframe(this.down.push(bytes), (b) => this.server.push(b), false);
    await this.recording;
    if (this.failure) throw this.failure;
    return out;
  }

  /** WebSocket messages in order: binary ones through the SPDY rewriter, control frames as they were. */
  private reframe(messages: WebSocketMessage[], spdy: (b: Uint8Array) => Uint8Array, toServer: boolean): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const m of messages) {
      if (m.control !== undefined) {
        out.push(encodeFrame(m.control, m.data, toServer));
        continue;
      }
      if (!m.binary) throw new Error("a text message on a SPDY port-forward tunnel");
      const b = spdy(m.data);
      if (b.length > 0) out.push(encodeFrame(BINARY, b, toServer));
    }
    return out;
  }

  private onStream(s: SpdySynStream): StreamVerdict {
    const requestId = (s.headers.get("requestid") ?? "").slice(0, 64);
    this.requested.add(s.port);
    const d = this.decide(s.port);
    const ok = d.effect === "allow" || (d.effect === "approve" && this.approved);
    this.opened++;
    this.record("k8s.portforward.stream", { stream: s.id, type: s.streamType, port: s.port, requestId, effect: ok ? "allow" : "deny", rule: d.rule, reason: d.reason });
    if (ok) {
      this.allowed.add(s.port);
      return "admit";
    }
    this.refused.add(s.port);
    const why = d.effect === "approve" ? `rule '${d.rule}' requires approval, which a port-forward stream cannot wait for` : d.reason;
    const message = new TextEncoder().encode(`gatehouse: port ${s.port} is not allowed by policy (${why})\n`);
    // As the kubelet answers a forward it cannot make: a reply, then (data stream) the reason, then the end.
    const frames: GatewayFrame[] = [{ kind: "reply", id: s.id, fin: false }];
    frames.push({ kind: "data", id: s.id, payload: s.streamType === "data" ? message : new Uint8Array(0), fin: true });
    this.server.insert(frames);
    const now = this.server.flush();
    if (now.length > 0) this.host.sendToClient([encodeFrame(BINARY, now, false)]);
    return "refuse";
  }

  private record(type: string, data: Record<string, unknown>): void {
    this.recording = this.recording.then(() => this.host.audit.onEvent(type, data)).catch((e: Error) => {
      if (this.failure) return;
      this.failure = new Error(`recording the port-forward failed (${e.message})`);
      this.host.end({ status: "error", reason: `gatehouse: ${this.failure.message}`, code: "audit" });
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
