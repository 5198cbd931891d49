/**
 * The connector's long-lived control channel (`/v1/connector/control`): announce the resources
 * with `hello`, keep the connection alive with `ping`, and turn the worker's `open` requests into
 * streams. Whenever the channel drops — network, worker restart, rejected assertion — it is
 * dialled again with a fresh assertion after an exponential, jittered delay.
 *
 * A tenant whose connector hub is sharded answers the hello on shard 0 with `shards` (the count
 * and which shard each announced resource lives on); connector.ts then keeps one more channel
 * (`shard` set) per other shard holding one of its resources (docs/PROTOCOL.md).
 */
import { TUNNEL_PROTOCOL_VERSION } from "../parsers/tunnel/version.ts";
import type WebSocket from "ws";
import type { RawData } from "ws";
import type { CryptoKey } from "jose";
import { decodeFrame, encodeControl, FrameError, FrameType, type ControlMessage } from "../parsers/tunnel/frames.ts";
import { signConnectorAssertion } from "./assertion.ts";
import { isStreamTicket } from "../parsers/tunnel/stream-ticket.ts";
import { createBackoff, type BackoffOptions } from "./backoff.ts";
import type { Logger } from "./logger.ts";
import { dialTunnel, type TunnelConnection } from "./tunnel-socket.ts";

export const PROTOCOL_VERSION = TUNNEL_PROTOCOL_VERSION;
/** Session ids travel in a URL path; keep them to a safe alphabet and size. */
const SESSION_ID = /^[A-Za-z0-9._~-]{1,128}$/;

/** `shard`: a channel to hub shard k > 0 of a sharded hub (absent: the main channel). */
export type ControlEvent =
  | { type: "control-connected"; shard?: number }
  | { type: "control-disconnected"; reason: string; shard?: number };

export interface ControlChannelOptions {
  wsBase: string;
  connectorId: string;
  privateKey: CryptoKey;
  /** Resources as advertised: name, type and labels only — never hosts or credentials. */
  resources: { name: string; type: string; labels: Record<string, string> }[];
  logger: Logger;
  /** The hub shard to dial (`?shard=k`); absent: the hub itself (shard 0). */
  shard?: number;
  /**
   * Called for every valid `open`, with the stream ticket it carried (absent: a worker older than
   * tickets, or a malformed one: the stream then dials with an assertion).
   */
  onOpen(session: string, resource: string, ticket?: string): void;
  /** Called for every valid `shards` message (only shard 0 of a sharded hub sends one). */
  onShards?(placement: ShardPlacement): void;
  emit(event: ControlEvent): void;
  pingIntervalMs: number;
  /**
   * The channel counts as dead after this many ping intervals in a row with nothing received
   * (default 3). Counted in intervals, not wall-clock time, so a stalled event loop on our side
   * is not mistaken for a silent worker.
   */
  silentIntervals?: number;
  /** A connection that stayed up this long resets the backoff (default 10 s). */
  stableAfterMs: number;
  backoff?: BackoffOptions;
}

/** Where a sharded hub keeps each announced resource: shard index by resource name. */
export interface ShardPlacement {
  count: number;
  map: Record<string, number>;
}

const MAX_HUB_SHARDS = 32;

/** A `shards` message, checked: a count from 1 to 32 and every value a shard below it. */
export function shardPlacement(message: ControlMessage): ShardPlacement | null {
  const { count, map } = message;
  if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 1 || count > MAX_HUB_SHARDS) return null;
  if (typeof map !== "object" || map === null || Array.isArray(map)) return null;
  // No prototype: a resource named like an Object property ("constructor") is looked up as itself.
  const out: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [name, k] of Object.entries(map)) {
    if (typeof k !== "number" || !Number.isSafeInteger(k) || k < 0 || k >= count) return null;
    out[name] = k;
  }
  return { count, map: out };
}

export interface ControlChannel {
  /** Replace the advertised resources (configuration reload): sent at once when connected. */
  announce(resources: ControlChannelOptions["resources"]): void;
  /** Resolves when the first `hello` has been sent. Rejects if stopped before that. */
  readonly online: Promise<void>;
  readonly connected: boolean;
  stop(): Promise<void>;
}

export function startControlChannel(opts: ControlChannelOptions): ControlChannel {
  let announced = opts.resources;
  const url = `${opts.wsBase}/v1/connector/control${opts.shard ? `?shard=${opts.shard}` : ""}`;
  const backoff = createBackoff(opts.backoff);
  const silentIntervals = opts.silentIntervals ?? 3;
  let stopped = false;
  let ws: WebSocket | undefined;
  let connected = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let pingTimer: NodeJS.Timeout | undefined;
  let stableTimer: NodeJS.Timeout | undefined;
  let heard = false;
  let silent = 0;
  let resolveOnline!: () => void;
  let rejectOnline!: (err: Error) => void;
  let wasOnline = false;
  const online = new Promise<void>((resolve, reject) => {
    resolveOnline = resolve;
    rejectOnline = reject;
  });
  // Callers that never await `online` must not get an unhandled rejection on stop().
  online.catch(() => undefined);

  const send = (message: ControlMessage) => {
    if (ws && ws.readyState === ws.OPEN) ws.send(encodeControl(message), { binary: true });
  };

  const scheduleReconnect = () => {
    if (stopped || retryTimer) return;
    const delay = backoff.next();
    opts.logger.debug("control channel: reconnecting", { inMs: delay });
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, delay);
  };

  const onMessage = (data: RawData, isBinary: boolean) => {
    heard = true;
    let message: ControlMessage;
    try {
      if (!isBinary) throw new FrameError("text message on the control channel");
      const frame = decodeFrame(data as Buffer);
      if (frame.type !== FrameType.Control) throw new FrameError("only CONTROL frames are valid on the control channel");
      message = frame.message;
    } catch (err) {
      // A broken control channel is re-established from scratch; streams live on their own sockets.
      opts.logger.warn("control channel: protocol error, reconnecting", { error: (err as Error).message });
      ws?.close(1007, "protocol error");
      return;
    }
    switch (message.t) {
      case "pong":
        return;
      case "open": {
        const { session, resource, ticket } = message;
        if (typeof session !== "string" || !SESSION_ID.test(session) || typeof resource !== "string") {
          opts.logger.warn("control channel: ignoring malformed open", {});
          return;
        }
        // The ticket is a credential: never logged, not even when it is malformed.
        const valid = isStreamTicket(ticket);
        if (ticket !== undefined && !valid) opts.logger.warn("control channel: open carried a malformed stream ticket; dialling with an assertion", { session });
        opts.onOpen(session, resource, valid ? ticket : undefined);
        return;
      }
      case "shards": {
        const placement = opts.shard ? null : shardPlacement(message);
        if (!placement) {
          opts.logger.warn("control channel: ignoring malformed shards message", {});
          return;
        }
        opts.onShards?.(placement);
        return;
      }
      default:
        opts.logger.debug("control channel: ignoring unknown message", { t: message.t.slice(0, 40) });
    }
  };

  const onClose = (code: number, reason: Buffer) => {
    clearInterval(pingTimer);
    clearTimeout(stableTimer);
    ws = undefined;
    if (connected) {
      connected = false;
      const why = `websocket closed (${code}${reason.length ? ` ${reason.toString("utf8").slice(0, 120)}` : ""})`;
      // 1008: the gateway refused something this connector did (e.g. announcing a resource outside
      // its binding: docs/CONNECTOR.md "Binding"). Logged as an error with the gateway's reason; the
      // connector keeps retrying with its usual backoff (an administrator may fix the binding).
      if (code === 1008) opts.logger.error("control channel: closed by the gateway (policy)", { reason: reason.toString("utf8").slice(0, 120), resources: announced.map((r) => r.name).slice(0, 20).join(",") });
      else opts.logger.warn("control channel: disconnected", { reason: why });
      opts.emit({ type: "control-disconnected", reason: why });
    }
    scheduleReconnect();
  };

  const connect = async () => {
    if (stopped) return;
    let connection: TunnelConnection;
    try {
      const assertion = await signConnectorAssertion(opts.privateKey, opts.connectorId);
      connection = await dialTunnel(url, assertion);
    } catch (err) {
      opts.logger.warn("control channel: connect failed", { error: (err as Error).message });
      scheduleReconnect();
      return;
    }
    const socket = connection.ws;
    if (stopped) {
      socket.close(1001, "connector stopping");
      return;
    }
    ws = socket;
    connected = true;
    heard = false;
    silent = 0;
    socket.on("close", onClose);
    socket.on("error", (err: Error) => opts.logger.debug("control channel: websocket error", { error: err.message }));
    send({ t: "hello", connector: opts.connectorId, version: PROTOCOL_VERSION, resources: announced });
    connection.attach(onMessage);
    opts.logger.info(wasOnline ? "control channel: reconnected" : "control channel: online", { url, resources: announced.length, ...(opts.shard ? { shard: opts.shard } : {}) });
    wasOnline = true;
    opts.emit({ type: "control-connected" });
    resolveOnline();
    stableTimer = setTimeout(() => backoff.reset(), opts.stableAfterMs);
    pingTimer = setInterval(() => {
      silent = heard ? 0 : silent + 1;
      heard = false;
      if (silent >= silentIntervals) {
        opts.logger.warn("control channel: worker silent, reconnecting", { intervals: silent });
        socket.terminate();
        return;
      }
      send({ t: "ping" });
    }, opts.pingIntervalMs);
  };

  void connect();

  return {
    online,
    get connected() {
      return connected;
    },
    announce(resources) {
      announced = resources;
      // The hub accepts a new hello on a live channel (it replaces the advertised set); later
      // reconnections announce the new set too.
      if (connected) send({ t: "hello", connector: opts.connectorId, version: PROTOCOL_VERSION, resources: announced });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(retryTimer);
      clearInterval(pingTimer);
      clearTimeout(stableTimer);
      rejectOnline(new Error("connector stopped"));
      const socket = ws;
      if (socket && socket.readyState !== socket.CLOSED) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            socket.terminate();
            resolve();
          }, 2_000);
          socket.once("close", () => {
            clearTimeout(timer);
            resolve();
          });
          socket.close(1001, "connector stopping");
        });
      }
    },
  };
}
