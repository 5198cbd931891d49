/**
 * What forwarding one SSH session has been granted, so that channels the HOST opens towards the
 * client (connections to a remote listener, agent requests, X11 clients) are only relayed when
 * policy allowed the matching request earlier in this session. The connector is trusted to run
 * what it is told, but a host is not: it could open an agent or X11 channel nobody asked for.
 *
 * Pure bookkeeping, no I/O: the engine decides policy, records, and talks to both ends.
 */
import type { ForwardRequest, IncomingOpen, ListenResult } from "../codec/forward.ts";

/** Remote listeners per session (each is a port opened on the host). */
export const MAX_REMOTE_LISTENERS = 16;

interface Listener {
  kind: "remote" | "remote-streamlocal";
  host?: string;
  /** The port actually bound (the request may have asked for 0). */
  port?: number;
  path?: string;
}

type Pending = { request: ForwardRequest; cancel: boolean };

const key = (l: { kind: string; host?: string; port?: number; path?: string }) => (l.kind === "remote" ? `remote ${l.host}:${l.port}` : `${l.kind} ${l.path}`);

export class ForwardGate {
  /** An exec/shell with agent forwarding was allowed in this session. */
  agent = false;
  /** An exec/shell with X11 forwarding was allowed in this session. */
  x11 = false;
  private readonly listeners = new Map<string, Listener>();
  private readonly pending = new Map<number, Pending>();

  /** A remote listener request (allowed, or a cancel) is about to go to the connector. Returns a refusal text, if any. */
  begin(request: ForwardRequest): string | undefined {
    if (this.pending.has(request.id)) return `duplicate forwarding request id ${request.id}`;
    if (request.cancel) {
      const listener = this.find(request);
      if (!listener) return `no active ${request.kind} forward for ${request.kind === "remote" ? `${request.host}:${request.port}` : request.path}`;
      this.listeners.delete(key(listener));
    } else if (this.listeners.size + this.pending.size >= MAX_REMOTE_LISTENERS) {
      return `more than ${MAX_REMOTE_LISTENERS} remote forwards in one session`;
    }
    this.pending.set(request.id, { request, cancel: request.cancel === true });
    return undefined;
  }

  /** The connector's answer; undefined when it answers nothing we asked (ignored). */
  finish(result: ListenResult): { request: ForwardRequest; cancel: boolean; port?: number } | undefined {
    const p = this.pending.get(result.id);
    if (!p) return undefined;
    this.pending.delete(result.id);
    if (p.cancel || !result.ok) return { request: p.request, cancel: p.cancel };
    const r = p.request;
    const listener: Listener =
      r.kind === "remote" ? { kind: "remote", host: r.host!, port: r.port === 0 ? (result.port ?? 0) : r.port! } : { kind: "remote-streamlocal", path: r.path! };
    this.listeners.set(key(listener), listener);
    return { request: r, cancel: false, ...(listener.port !== undefined ? { port: listener.port } : {}) };
  }

  /** May the host open this channel towards the client? Returns the reason it may not. */
  refusal(incoming: IncomingOpen): string | undefined {
    switch (incoming.kind) {
      case "agent":
        return this.agent ? undefined : "the host opened an agent channel but agent forwarding was not allowed in this session";
      case "x11":
        return this.x11 ? undefined : "the host opened an X11 channel but X11 forwarding was not allowed in this session";
      default:
        return this.listeners.has(key(incoming)) ? undefined : `the host opened a ${incoming.kind} channel for a listener this session did not get`;
    }
  }

  private find(request: ForwardRequest): Listener | undefined {
    if (request.kind === "remote-streamlocal") return this.listeners.get(key(request));
    // A cancel names the port as requested; the listener holds the bound one.
    for (const l of this.listeners.values()) if (l.kind === "remote" && l.host === request.host && (l.port === request.port || request.port === 0)) return l;
    return undefined;
  }
}
