/**
 * Dials a tunnel WebSocket to the worker: subprotocol gatehouse.v1, a fresh assertion in the
 * Authorization header, binary frames only, no compression (compressing secrets next to
 * attacker-chosen data leaks them), messages capped at MAX_FRAME_BYTES.
 */
import { CONNECTOR_VERSION } from "./version.ts";
import WebSocket, { type RawData } from "ws";
import { MAX_FRAME_BYTES, TUNNEL_SUBPROTOCOL } from "../parsers/tunnel/frames.ts";

export class TunnelDialError extends Error {
  override name = "TunnelDialError";
  constructor(
    message: string,
    /** HTTP status when the worker answered the upgrade with an error. */
    readonly status?: number,
  ) {
    super(message);
  }
}

const MAX_ERROR_BODY = 4096;
/** Messages that may arrive before the caller attaches its handler (same TCP read as the 101). */
const MAX_EARLY_MESSAGES = 64;

export type MessageHandler = (data: RawData, isBinary: boolean) => void;

export interface TunnelConnection {
  ws: WebSocket;
  /**
   * Start delivering messages to `handler`, replaying any that arrived while the dial promise
   * was settling: the worker may send its first frame in the same TCP segment as the upgrade
   * response, and ws emits it synchronously right after 'open'.
   */
  attach(handler: MessageHandler): void;
}

export async function dialTunnel(url: string, assertion: string, opts: { handshakeTimeoutMs?: number } = {}): Promise<TunnelConnection> {
  const ws = new WebSocket(url, TUNNEL_SUBPROTOCOL, {
    headers: { authorization: `Bearer ${assertion}`, "user-agent": `gatehouse-connector/${CONNECTOR_VERSION}` },
    maxPayload: MAX_FRAME_BYTES,
    perMessageDeflate: false,
    handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    followRedirects: false,
    // All-zero masking key: ws then skips XOR-masking every payload byte. Masking protects
    // browser-sourced frames against cache-poisoning intermediaries; the connector is no browser.
    generateMask: zeroMask,
  });
  ws.binaryType = "nodebuffer";
  const early: [RawData, boolean][] = [];
  const queue: MessageHandler = (data, isBinary) => {
    if (early.length >= MAX_EARLY_MESSAGES) ws.terminate();
    else early.push([data, isBinary]);
  };
  ws.on("message", queue);
  const connection: TunnelConnection = {
    ws,
    attach(handler) {
      ws.off("message", queue);
      ws.on("message", handler);
      for (const [data, isBinary] of early.splice(0)) handler(data, isBinary);
    },
  };
  return await new Promise<TunnelConnection>((resolve, reject) => {
    const cleanup = () => {
      ws.off("open", onOpen);
      ws.off("error", onError);
      ws.off("unexpected-response", onResponse);
    };
    const onOpen = () => {
      cleanup();
      resolve(connection);
    };
    const onError = (err: Error) => {
      cleanup();
      ws.on("error", () => undefined);
      reject(new TunnelDialError(`cannot connect to ${url}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    };
    const onResponse = (_req: unknown, res: import("node:http").IncomingMessage) => {
      cleanup();
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        if (body.length < MAX_ERROR_BODY) body += chunk.slice(0, MAX_ERROR_BODY - body.length);
      });
      const finish = () => {
        ws.on("error", () => undefined);
        ws.terminate();
        let reason = body.trim();
        try {
          const parsed = JSON.parse(reason) as { error?: unknown; reason?: unknown };
          reason = [parsed.error, parsed.reason].filter((x) => typeof x === "string").join(": ") || reason;
        } catch {
          // not JSON: keep the raw (bounded) text
        }
        reject(new TunnelDialError(`worker refused ${url}: HTTP ${res.statusCode}${reason ? ` (${reason})` : ""}`, res.statusCode));
      };
      res.on("end", finish);
      res.on("error", finish);
    };
    ws.on("open", onOpen);
    ws.on("error", onError);
    ws.on("unexpected-response", onResponse);
  });
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}
