/**
 * One engine per target protocol. The listener accepts local TCP connections and hands each one
 * to the engine of the resource's type (`GET /v1/resources/:name` tells which); the engine runs
 * the protocol's local preamble, opens the tunnel and bridges it.
 */
import type { Socket } from "node:net";
import type WebSocket from "ws";
import type { GatewayClient } from "../gateway/api.ts";
import type { LocalAuth } from "../listener-auth/local-auth.ts";

export interface EngineContext {
  resource: string;
  /** Sequence number of this local connection, for log lines. */
  connId: number;
  gateway: GatewayClient;
  /** A currently valid identity token (refreshed by the token source when near expiry). */
  getToken(): Promise<string>;
  /** Dial `/v1/tunnel/<resource>`; rejects with GatewayHttpError / GatewayUnreachableError. */
  openTunnel(): Promise<WebSocket>;
  /** A line for the listener's log (what the local client cannot be told in its own protocol). */
  log(line: string): void;
  /**
   * While the tunnel lives, call `send` with every new identity token the source produces (the
   * engine sends it as CONTROL `{ t: "token" }`); returns the function that stops watching.
   */
  watchToken(send: (token: string) => void): () => void;
  /** The listener's per-run secrets: every local client must prove it holds them. */
  localAuth: LocalAuth;
  /**
   * Call once the local client has proved the secrets, before opening the tunnel. False means the
   * listener takes no further connection (`--once` already served one): refuse this client.
   */
  authenticated(): boolean;
}

/** What an engine may use when its listener starts (no local connection yet). */
export type EngineStartContext = Pick<EngineContext, "resource" | "openTunnel" | "log" | "localAuth">;

/** What happened on one local connection: one log line is made from it. */
export interface ConnectionSummary {
  outcome: string;
  sessionId?: string;
  bytesUp: number;
  bytesDown: number;
  detail?: string;
}

export interface ListenerInfo {
  host: string;
  port: number;
  resource: string;
  /** Display name for the user (token `sub`, or "gatehouse"). */
  user: string;
  /** The listener's private directory (0700) for the files `writeLocalAuthFiles` writes. */
  dir: string;
}

export interface Engine {
  readonly type: string;
  /** Write what the local user needs to authenticate (password file, key…) into `info.dir`; fills `auth.files`. */
  writeLocalAuthFiles(info: ListenerInfo, auth: LocalAuth): Promise<void>;
  /** Lines that tell the user how to point their tool at the listener (after writeLocalAuthFiles). */
  usage(info: ListenerInfo, auth: LocalAuth): string[];
  /**
   * Called once when the listener is up, before any local connection is served (MySQL learns the
   * target's greeting version here). Never throws.
   */
  start?(ctx: EngineStartContext): void;
  /** Serve one local connection until it ends. Never throws; failures are reported to the local client. */
  serve(socket: Socket, ctx: EngineContext): Promise<ConnectionSummary>;
}
