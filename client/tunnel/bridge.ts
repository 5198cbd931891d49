/**
 * Joins one local TCP connection to one tunnel WebSocket, with credit-based flow control in
 * both directions (docs/PROTOCOL.md §Flow control):
 *
 *  local → gateway: every DATA payload spends send credit; at zero credit the local socket is
 *    paused (TCP backpressure reaches the local client) until a CREDIT frame arrives. A frame may
 *    overdraw the window by itself (≤ 1 MiB), never more; the unsent rest of a chunk waits here.
 *  gateway → local: DATA is written to the socket and credit is granted back only when the write
 *    has completed, so at most one window (+ one frame) per direction is ever held here.
 *
 * Protocol-specific behaviour (what to tell the local client when the session ends) is injected
 * by the engine; the bridge itself knows nothing about PostgreSQL.
 */
import type { Duplex } from "node:stream";
import WebSocket from "ws";
import { decodeFrame, encodeCredit, encodeData, encodeControl, FrameError, FrameType, MAX_DATA_PAYLOAD, type ControlMessage } from "../../parsers/tunnel/frames.ts";
import { ReceiveWindow, SendWindow } from "../../parsers/tunnel/credit.ts";

export type TunnelEnd =
  /** The gateway ended the session with `{ t: "close", code, message }`. */
  | { kind: "close-control"; code?: string; message?: string }
  /** The WebSocket closed without a close control message. */
  | { kind: "ws-closed"; code: number; reason: string }
  /** The gateway broke the protocol (bad frame, window overdrawn) or the WebSocket failed. */
  | { kind: "protocol-error"; message: string }
  /** The local client went away. */
  | { kind: "local-closed" };

/** How a tunnel ended, as one phrase for a listener's log line (every protocol's listener uses it). */
export function describeTunnelEnd(end: TunnelEnd): string {
  switch (end.kind) {
    case "close-control":
      return `closed by gateway${end.code ? ` (${end.code})` : ""}`;
    case "ws-closed":
      return `tunnel closed (${end.code})`;
    case "protocol-error":
      return `protocol error (${end.message})`;
    case "local-closed":
      return "client disconnected";
  }
}

export interface BridgeOptions {
  ws: WebSocket;
  socket: Duplex;
  /** Bytes already read from the socket that belong to the stream (e.g. the StartupMessage). */
  initial?: Uint8Array;
  /** Sees every DATA payload from the gateway before it is written locally (engines track message boundaries). */
  observeDownstream?: (payload: Uint8Array) => void;
  /** Last bytes for the local client when the gateway side ends (e.g. a PostgreSQL ErrorResponse). */
  finalWords?: (end: TunnelEnd) => Uint8Array | undefined;
  /** Called with `{ t: "session", ... }` when the gateway announces the session. */
  onSession?: (message: ControlMessage) => void;
  /** Other control messages from the gateway (e.g. HTTP approval notices for the listener's log). */
  onControl?: (message: ControlMessage) => void;
  /**
   * Rewrites local bytes before they go up (HTTP: the listener's own credential is removed from
   * every request). May answer the local client itself and return nothing.
   */
  transformUpstream?: (chunk: Uint8Array) => Uint8Array;
  /** Flow-control windows; injectable so tests can watch the accounting. */
  sendWindow?: SendWindow;
  receiveWindow?: ReceiveWindow;
}

export interface BridgeResult {
  end: TunnelEnd;
  sessionId?: string;
  bytesUp: number;
  bytesDown: number;
  /** How many times the local socket was paused for lack of send credit. */
  pauses: number;
}

export function bridge(opts: BridgeOptions): Promise<BridgeResult> {
  const { ws, socket } = opts;
  const send = opts.sendWindow ?? new SendWindow();
  const receive = opts.receiveWindow ?? new ReceiveWindow();
  const result: Omit<BridgeResult, "end"> = { bytesUp: 0, bytesDown: 0, pauses: 0 };
  let pausedForCredit = false;
  let finished = false;

  return new Promise<BridgeResult>((resolve) => {
    const finish = (end: TunnelEnd) => {
      if (finished) return;
      finished = true;
      socket.off("data", onLocalData);
      ws.off("message", onMessage);
      if (end.kind === "local-closed") {
        if (ws.readyState === WebSocket.OPEN) {
          ws.send(encodeControl({ t: "close", code: "client_closed", message: "local client closed the connection" }));
          ws.close(1000, "client closed");
        } else ws.terminate();
        socket.destroy();
      } else {
        const last = opts.finalWords?.(end);
        if (socket.writable && !socket.destroyed) {
          if (last && last.length > 0) socket.write(last);
          socket.end();
        }
        // Let the local client drain what it was sent (at most one window), but do not linger forever.
        setTimeout(() => socket.destroy(), 10_000).unref();
        if (ws.readyState === WebSocket.OPEN) {
          const code = end.kind === "protocol-error" ? 1002 : 1000;
          ws.close(code, end.kind === "protocol-error" ? "protocol error" : "closed");
        } else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      }
      resolve({ ...result, end });
    };

    // Bytes read from the socket that the window did not cover yet: at most one socket chunk,
    // because the socket is paused as soon as credit runs out.
    let pending: Uint8Array | undefined;

    const flushUp = () => {
      while (pending && send.open && ws.readyState === WebSocket.OPEN) {
        const n = Math.min(pending.length, MAX_DATA_PAYLOAD);
        ws.send(encodeData(pending.subarray(0, n)));
        send.spend(n);
        result.bytesUp += n;
        pending = n === pending.length ? undefined : pending.subarray(n);
      }
    };

    const sendUp = (chunk: Uint8Array) => {
      if (chunk.length === 0 || ws.readyState !== WebSocket.OPEN) return;
      pending = pending ? Buffer.concat([pending, chunk]) : chunk;
      flushUp();
      if (!send.open && !pausedForCredit) {
        pausedForCredit = true;
        result.pauses++;
        socket.pause();
      }
    };

    const onLocalData = (chunk: Buffer) => sendUp(opts.transformUpstream ? opts.transformUpstream(chunk) : chunk);

    const onMessage = (data: WebSocket.RawData, isBinary: boolean) => {
      if (finished) return;
      let frame;
      try {
        if (!isBinary) throw new FrameError("text WebSocket messages are not part of the tunnel protocol");
        frame = decodeFrame(data instanceof Buffer ? data : Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data));
      } catch (err) {
        finish({ kind: "protocol-error", message: (err as Error).message });
        return;
      }
      switch (frame.type) {
        case FrameType.Data: {
          const payload = frame.payload;
          const n = payload.length;
          if (n === 0) return;
          try {
            receive.receive(n);
          } catch (err) {
            finish({ kind: "protocol-error", message: (err as Error).message });
            return;
          }
          opts.observeDownstream?.(payload);
          result.bytesDown += n;
          socket.write(payload, (err) => {
            if (err) return;
            const grant = receive.consume(n);
            if (grant > 0 && ws.readyState === WebSocket.OPEN) ws.send(encodeCredit(grant));
          });
          return;
        }
        case FrameType.Credit:
          send.grant(frame.bytes);
          flushUp();
          if (pausedForCredit && send.open) {
            pausedForCredit = false;
            socket.resume();
          }
          return;
        case FrameType.Control: {
          const m = frame.message;
          if (m.t === "session") {
            if (typeof m.id === "string") result.sessionId = m.id;
            opts.onSession?.(m);
          } else if (m.t === "close") {
            finish({
              kind: "close-control",
              code: typeof m.code === "string" ? m.code : undefined,
              message: typeof m.message === "string" ? m.message : undefined,
            });
          } else opts.onControl?.(m);
          // Other control messages are reserved for later revisions and ignored.
          return;
        }
      }
    };

    ws.on("message", onMessage);
    ws.on("close", (code, reason) => finish({ kind: "ws-closed", code, reason: reason.toString("utf8").slice(0, 200) }));
    ws.on("error", (err) => finish({ kind: "protocol-error", message: err.message }));
    socket.on("data", onLocalData);
    socket.on("end", () => finish({ kind: "local-closed" }));
    socket.on("close", () => finish({ kind: "local-closed" }));
    socket.on("error", () => finish({ kind: "local-closed" }));

    ws.resume();
    // `initial` was read (and, where the engine rewrites, rewritten) by the engine already.
    if (opts.initial) sendUp(opts.initial);
    if (!pausedForCredit) socket.resume();
  });
}
