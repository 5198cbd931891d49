/**
 * pods/portforward for current kubectl: a WebSocket with subprotocol `SPDY/3.1+portforward.k8s.io`
 * carrying a SPDY session (spdy.ts), as the kubelet serves it. Per forwarded connection kubectl
 * opens an `error` stream and a `data` stream with the same `requestid` and the pod `port`; the
 * data stream is bridged to the TCP port the test mapped to that pod port (`portTargets`).
 */
import { connect } from "node:net";
import type { WebSocket } from "ws";
import { SpdySession, type SpdyStream } from "./spdy.ts";

export const PORTFORWARD_PROTOCOLS = ["SPDY/3.1+portforward.k8s.io"];

/** "namespace/pod:port" → local TCP port the "container" listens on. */
export type PortTargets = Map<string, number>;

export interface PortForwardRecord {
  pod: string;
  /** Pod ports of the data streams bridged. */
  ports: number[];
  /** Every stream this server was asked to open (type and port header as it decoded them). */
  streams: Array<{ type: string; port: string }>;
}

export function servePortForward(ws: WebSocket, pod: string, targets: PortTargets, records: PortForwardRecord[]): void {
  const record: PortForwardRecord = { pod, ports: [], streams: [] };
  records.push(record);
  const errorStreams = new Map<string, SpdyStream>();
  const session = new SpdySession(
    (bytes) => ws.readyState === ws.OPEN && ws.send(bytes),
    (s) => {
      const type = s.headers.get("streamtype");
      const requestId = s.headers.get("requestid") ?? "";
      const port = Number(s.headers.get("port"));
      record.streams.push({ type: type ?? "", port: s.headers.get("port") ?? "" });
      if (type === "error") {
        errorStreams.set(requestId, s);
        s.onData = () => {};
        return;
      }
      if (type !== "data") return session.data(s.id, Buffer.alloc(0), true);
      record.ports.push(port);
      const fail = (message: string) => {
        const e = errorStreams.get(requestId);
        if (e) session.data(e.id, Buffer.from(message), true);
        session.data(s.id, Buffer.alloc(0), true);
      };
      const local = targets.get(`${pod}:${port}`);
      if (local === undefined) return fail(`error forwarding port ${port} to pod ${pod}: failed to connect to localhost:${port} inside the pod: connection refused`);
      const sock = connect(local, "127.0.0.1");
      sock.on("data", (d: Buffer) => session.data(s.id, d));
      sock.on("end", () => {
        session.data(s.id, Buffer.alloc(0), true);
        const e = errorStreams.get(requestId);
        if (e) session.data(e.id, Buffer.alloc(0), true);
      });
      sock.on("error", (err) => fail(`error forwarding port ${port} to pod ${pod}: ${err.message}`));
      s.onData = (chunk) => (chunk === null ? sock.end() : sock.write(chunk));
    },
    () => ws.close(1011),
  );
  ws.on("message", (data: Buffer) => session.feed(data));
}
