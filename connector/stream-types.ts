/**
 * What every per-session connector stream shares with the connector around it, whatever the
 * target protocol: its context, state, counters and events.
 */
import type { CryptoKey } from "jose";
import type { ResourceConfig } from "./config.ts";
import type { Logger } from "./logger.ts";

export type StreamState = "dialing" | "awaiting-open" | "connecting" | "ready" | "closed";

export interface StreamStats {
  session: string;
  resource: string;
  state: StreamState;
  /** DATA payload bytes we may still send to the worker (may be negative: one frame may overdraw). */
  sendCredit: number;
  /** True while the target socket is paused for lack of credit. */
  paused: boolean;
  /** How many times reading from the target was paused for lack of credit. */
  pauses: number;
  /** DATA payload bytes sent to the worker (backend → client direction). */
  bytesToWorker: number;
  /** DATA payload bytes received from the worker (client → backend direction). */
  bytesFromWorker: number;
  /** Credit granted back to the worker. */
  creditGranted: number;
}

export type StreamEvent =
  | { type: "stream-ready"; stats: StreamStats }
  | { type: "stream-paused"; stats: StreamStats }
  | { type: "stream-resumed"; stats: StreamStats }
  | { type: "stream-cancel-sent"; stats: StreamStats }
  | { type: "stream-error"; stats: StreamStats; code: string; message: string }
  | { type: "stream-closed"; stats: StreamStats; reason: string };

export interface StreamContext {
  wsBase: string;
  connectorId: string;
  privateKey: CryptoKey;
  resources: ReadonlyMap<string, ResourceConfig>;
  logger: Logger;
  connectTimeoutMs: number;
  startupTimeoutMs: number;
  /** How long to wait for the worker's `open` frame after dialling the stream. */
  openTimeoutMs: number;
  /**
   * The one-use stream ticket the worker sent with this session's `open` on the control channel:
   * presented instead of an assertion when the stream is dialled (docs/PROTOCOL.md "Stream admission").
   */
  streamTicket?: string;
  emit(event: StreamEvent): void;
}
