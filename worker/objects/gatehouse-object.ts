/**
 * Durable Object base class (PartyServer-style): it owns the platform entry points — fetch,
 * webSocketMessage, webSocketClose, webSocketError, alarm — decodes tunnel frames once, and calls
 * small hooks that subclasses implement. Frame errors close only the offending socket.
 *
 * `hibernate = true` uses the hibernation API (state must live in attachments/storage: the object
 * may be evicted between messages). `hibernate = false` keeps the object in memory while the
 * socket is open — for sessions whose decoder state and flow-control windows are per connection.
 */
import { DurableObject } from "cloudflare:workers";
import { decodeFrame, FrameError, TUNNEL_SUBPROTOCOL, type Frame } from "../../parsers/tunnel/frames.ts";

export const CLOSE_PROTOCOL_ERROR = 1002;
export const CLOSE_INVALID_DATA = 1007;
export const CLOSE_POLICY = 1008;
export const CLOSE_TOO_BIG = 1009;
export const CLOSE_INTERNAL = 1011;

export abstract class GatehouseObject<E = unknown> extends DurableObject<E> {
  protected readonly hibernate: boolean = true;

  /** Accepts a WebSocket upgrade and returns the 101 response. `tags` label the socket (hibernation). */
  protected acceptSocket(tags: string[], onAccepted?: (ws: WebSocket) => void): Response {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    if (this.hibernate) {
      this.ctx.acceptWebSocket(server, tags);
    } else {
      server.accept();
      // Newer compatibility dates deliver binary messages as Blob by default; frames are decoded synchronously.
      (server as unknown as { binaryType: string }).binaryType = "arraybuffer";
      server.addEventListener("message", (event) => void this.webSocketMessage(server, event.data as ArrayBuffer | string));
      server.addEventListener("close", (event) => void this.webSocketClose(server, event.code, event.reason, event.wasClean));
      server.addEventListener("error", (event) => void this.webSocketError(server, (event as ErrorEvent).error));
    }
    onAccepted?.(server);
    return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": TUNNEL_SUBPROTOCOL } });
  }

  override async webSocketMessage(ws: WebSocket, message: ArrayBuffer | string): Promise<void> {
    let frame: Frame;
    try {
      frame = decodeFrame(message);
    } catch (e) {
      const tooBig = e instanceof FrameError && /exceeds/.test(e.message);
      this.closeSocket(ws, tooBig ? CLOSE_TOO_BIG : CLOSE_INVALID_DATA, (e as Error).message);
      await this.onSocketError(ws, e as Error);
      return;
    }
    try {
      await this.onFrame(ws, frame);
    } catch (e) {
      await this.onSocketError(ws, e as Error);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string, _wasClean: boolean): Promise<void> {
    await this.onSocketClose(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    await this.onSocketError(ws, error instanceof Error ? error : new Error(String(error)));
  }

  override async alarm(): Promise<void> {
    await this.onAlarm();
  }

  protected closeSocket(ws: WebSocket, code: number, reason: string): void {
    try {
      // Close reasons are limited to 123 bytes by the WebSocket protocol.
      ws.close(code, reason.slice(0, 120));
    } catch {
      // already closed
    }
  }

  /** A decoded frame arrived on one of this object's sockets. */
  protected abstract onFrame(ws: WebSocket, frame: Frame): Promise<void> | void;
  /** The peer closed the socket. */
  protected abstract onSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> | void;
  /** The socket failed, or a frame could not be decoded or handled. */
  protected abstract onSocketError(ws: WebSocket, error: Error): Promise<void> | void;
  protected onAlarm(): Promise<void> | void {}
}
