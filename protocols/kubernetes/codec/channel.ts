/**
 * The exec/attach stream protocols `v5.channel.k8s.io` and `v4.channel.k8s.io`, read passively:
 * every WebSocket binary message is `[channel byte][payload]`.
 *
 *   client → server: 0 stdin, 4 resize (`{"Width":w,"Height":h}`), 255 close (v5: `[255, ch]`, "no more on ch")
 *   server → client: 1 stdout, 2 stderr, 3 error (a meta/v1 Status: Success, or Failure with the
 *                    exit code in details.causes[reason=ExitCode]), 255 close (v5)
 *
 * The reader turns messages into recording events that map onto the trail's terminal events
 * (`term.input`/`term.output`/`term.resize`, parsers/audit/types.ts; asciicast v2 "i"/"o"/"r")
 * plus the exit. It never changes a message: the engine forwards the original bytes after the
 * reader has seen them. Anything it cannot read (unknown channel, resize that is not JSON, text
 * frames) is an error: the engine ends the stream rather than pass what it cannot record.
 */

export const CHANNEL_PROTOCOLS = ["v5.channel.k8s.io", "v4.channel.k8s.io"] as const;
export type ChannelProtocol = (typeof CHANNEL_PROTOCOLS)[number];

export const CH_STDIN = 0;
export const CH_STDOUT = 1;
export const CH_STDERR = 2;
export const CH_ERROR = 3;
export const CH_RESIZE = 4;
export const CH_CLOSE = 255;

export type ChannelEvent =
  | { type: "term.input"; data: string }
  | { type: "term.output"; data: string; stream: "stdout" | "stderr" }
  | { type: "term.resize"; cols: number; rows: number }
  | { type: "stream.close"; channel: number; from: "client" | "server" }
  | { type: "exec.exit"; code: number | null; status: "Success" | "Failure"; reason: string | null; message: string | null };

export class ChannelProtocolError extends Error {}

/**
 * Only the protocols this reader understands may be offered upstream: the client's offer is cut
 * down to them (in the client's order). Empty result: the client offered none of them.
 */
export function restrictOffer(offered: string | null): string[] {
  const list = (offered ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return list.filter((p): p is ChannelProtocol => (CHANNEL_PROTOCOLS as readonly string[]).includes(p));
}

export class ChannelReader {
  private readonly decoders = new Map<number, InstanceType<typeof TextDecoder>>();
  readonly events: ChannelEvent[] = [];
  exitCode: number | null = null;

  constructor(readonly protocol: ChannelProtocol) {}

  private text(channel: number, payload: Uint8Array): string {
    let d = this.decoders.get(channel);
    if (!d) {
      d = new TextDecoder("utf-8");
      this.decoders.set(channel, d);
    }
    // stream: a character split across messages is decoded when its last byte arrives.
    return d.decode(payload, { stream: true });
  }

  /** One binary WebSocket message from the client (kubectl). */
  fromClient(message: Uint8Array): ChannelEvent[] {
    if (message.length === 0) return [];
    const ch = message[0]!;
    const payload = message.subarray(1);
    const out: ChannelEvent[] = [];
    if (ch === CH_STDIN) {
      const data = this.text(CH_STDIN, payload);
      if (data) out.push({ type: "term.input", data });
    } else if (ch === CH_RESIZE) {
      let size: unknown;
      try {
        size = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(payload));
      } catch {
        throw new ChannelProtocolError("a resize message is not JSON");
      }
      // JSON that is not an object (`null`, a number, an array) holds no size either.
      if (typeof size !== "object" || size === null || Array.isArray(size)) throw new ChannelProtocolError("a resize message does not hold a terminal size");
      const s = size as { Width?: unknown; Height?: unknown };
      if (!Number.isInteger(s.Width) || !Number.isInteger(s.Height) || (s.Width as number) < 0 || (s.Height as number) < 0 || (s.Width as number) > 65535 || (s.Height as number) > 65535) {
        throw new ChannelProtocolError("a resize message does not hold a terminal size");
      }
      out.push({ type: "term.resize", cols: s.Width as number, rows: s.Height as number });
    } else if (ch === CH_CLOSE && this.protocol === "v5.channel.k8s.io") {
      if (payload.length !== 1) throw new ChannelProtocolError("a close message must name exactly one channel");
      out.push({ type: "stream.close", channel: payload[0]!, from: "client" });
    } else {
      throw new ChannelProtocolError(`the client sent on channel ${ch}, which ${this.protocol} does not define for it`);
    }
    this.events.push(...out);
    return out;
  }

  /** One binary WebSocket message from the API server. */
  fromServer(message: Uint8Array): ChannelEvent[] {
    if (message.length === 0) return [];
    const ch = message[0]!;
    const payload = message.subarray(1);
    const out: ChannelEvent[] = [];
    if (ch === CH_STDOUT || ch === CH_STDERR) {
      const data = this.text(ch, payload);
      if (data) out.push({ type: "term.output", data, stream: ch === CH_STDOUT ? "stdout" : "stderr" });
    } else if (ch === CH_ERROR) {
      out.push(this.exit(payload));
    } else if (ch === CH_CLOSE && this.protocol === "v5.channel.k8s.io") {
      if (payload.length !== 1) throw new ChannelProtocolError("a close message must name exactly one channel");
      out.push({ type: "stream.close", channel: payload[0]!, from: "server" });
    } else {
      throw new ChannelProtocolError(`the server sent on channel ${ch}, which ${this.protocol} does not define for it`);
    }
    this.events.push(...out);
    return out;
  }

  private exit(payload: Uint8Array): ChannelEvent {
    let status: { status?: unknown; reason?: unknown; message?: unknown; details?: { causes?: Array<{ reason?: unknown; message?: unknown }> } };
    try {
      status = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(payload));
    } catch {
      throw new ChannelProtocolError("the error channel does not hold a Status");
    }
    // A Status is an object (`null` or a number is not: kubectl would not read an exit from it);
    // its causes, when present, a list (Go's decoder refuses anything else), of objects.
    if (typeof status !== "object" || status === null || Array.isArray(status)) throw new ChannelProtocolError("the error channel does not hold a Status");
    const causes: unknown = typeof status.details === "object" && status.details !== null ? status.details.causes : undefined;
    if (causes !== undefined && causes !== null && !Array.isArray(causes)) throw new ChannelProtocolError("the error channel's Status has causes that are not a list");
    if (status.status === "Success") {
      this.exitCode = 0;
      return { type: "exec.exit", code: 0, status: "Success", reason: null, message: null };
    }
    const cause = ((causes ?? []) as Array<{ reason?: unknown; message?: unknown } | null>).find((c) => typeof c === "object" && c !== null && c.reason === "ExitCode");
    const code = cause && typeof cause.message === "string" && /^[0-9]{1,3}$/.test(cause.message) ? Number(cause.message) : null;
    this.exitCode = code;
    return { type: "exec.exit", code, status: "Failure", reason: typeof status.reason === "string" ? status.reason : null, message: typeof status.message === "string" ? status.message : null };
  }
}

/** Frame a message the gateway itself sends on a channel (the refusal of an exec: a Status on channel 3). */
export function channelMessage(channel: number, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  const out = new Uint8Array(body.length + 1);
  out[0] = channel;
  out.set(body, 1);
  return out;
}

/**
 * An asciicast v2 document of one exec/attach stream, from the reader's events with their times
 * (ms since the stream opened). stdout and stderr are both output ("o"), as a terminal shows them.
 */
export function toAsciicast(events: Array<{ at: number; event: ChannelEvent }>, opts: { cols: number; rows: number; timestamp: number; title?: string }): string {
  const lines = [JSON.stringify({ version: 2, width: opts.cols, height: opts.rows, timestamp: Math.floor(opts.timestamp / 1000), ...(opts.title ? { title: opts.title } : {}) })];
  for (const { at, event } of events) {
    const t = Math.round(at * 1000) / 1e6;
    if (event.type === "term.output") lines.push(JSON.stringify([t, "o", event.data]));
    else if (event.type === "term.input") lines.push(JSON.stringify([t, "i", event.data]));
    else if (event.type === "term.resize") lines.push(JSON.stringify([t, "r", `${event.cols}x${event.rows}`]));
  }
  return `${lines.join("\n")}\n`;
}
