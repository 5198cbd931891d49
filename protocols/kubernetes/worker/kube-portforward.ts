/**
 * port-forward per-port policy, enforced in the worker on kubectl's side of the tunnel: kubectl
 * 1.35 names the pod port only inside each SPDY SYN_STREAM (header `port`, zlib-compressed with
 * the SPDY/3 dictionary) tunnelled in the WebSocket `SPDY/3.1+portforward.k8s.io`. Each stream is
 * decided by the policy with that port (the same `k8s` rules, `ports:` included) before its frame
 * is relayed; a stream whose port is not allowed ends the whole session (its SYN_STREAM and
 * everything after it are never relayed, so no byte for that port reaches the pod). Refusing one
 * stream while keeping the session would need the gateway to re-encode the compressed header
 * stream it relays (the API server's zlib context follows every header block), not done.
 *
 * Recorded: `k8s.portforward.stream` per stream (port, type, request id, decision and rule) and
 * `k8s.portforward.end` (ports requested, allowed, refused).
 */
import type { EngineHost } from "../../../worker/engines/engine.ts";
import { WebSocketMessageReader } from "../codec/websocket-frames.ts";
import { SpdyClientReader, type SpdySynStream } from "../codec/spdy.ts";
import type { Decision } from "../../../parsers/policy/types.ts";

export const PORTFORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io";

export class PortRefused extends Error {}

export class KubePortForward {
  private readonly up = new WebSocketMessageReader(true);
  private readonly spdy: SpdyClientReader;
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
  pushFromClient(bytes: Uint8Array): void {
    for (const m of this.up.push(bytes)) {
      if (!m.binary) throw new Error("a text message on a SPDY port-forward tunnel");
      this.spdy.push(m.data);
    }
  }

  private onStream(s: SpdySynStream): void {
    this.requested.add(s.port);
    const d = this.decide(s.port);
    const ok = d.effect === "allow" || (d.effect === "approve" && this.approved);
    this.record("k8s.portforward.stream", { stream: s.id, type: s.streamType, port: s.port, requestId: (s.headers.get("requestid") ?? "").slice(0, 64), effect: ok ? "allow" : "deny", rule: d.rule, reason: d.reason });
    if (ok) {
      this.allowed.add(s.port);
      return;
    }
    this.refused.add(s.port);
    // The session ends with this refusal (the engine does not call close() then).
    this.summary();
    const why = d.effect === "approve" ? `rule '${d.rule}' requires approval, which a port-forward stream cannot wait for` : d.reason;
    throw new PortRefused(`gatehouse: port ${s.port} is not allowed by policy (${why})`);
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
