/**
 * Both directions of a port-forward session's SPDY/3.1 frames (what kubectl 1.35 tunnels inside
 * the WebSocket `SPDY/3.1+portforward.k8s.io`), rewritten by the gateway so that it can refuse one
 * stream and let the rest of the session go on:
 *
 *  - kubectl → API server (`SpdyClientRewriter`): every SYN_STREAM's header block is inflated
 *    (kubectl's zlib context, codec/spdy.ts), decided (`decide`), and, when admitted, sent on with
 *    its headers re-encoded in the gateway's own stored-block zlib stream (spdy-stored.ts) — the
 *    API server's decompressor follows the gateway's stream, not kubectl's, so a refused
 *    SYN_STREAM is simply not sent. Everything kubectl sends for a refused stream (DATA, RST_STREAM,
 *    WINDOW_UPDATE) is dropped; DATA for a stream never opened ends the session.
 *  - API server → kubectl (`SpdyServerRewriter`): every header block (SYN_REPLY, HEADERS,
 *    SYN_STREAM) is inflated with the server's context and re-encoded in the gateway's stream,
 *    so the gateway can insert its own frames for refused streams (`insert`) between whole frames.
 *
 * Fail closed: anything the decoders cannot read exactly (spdy.ts: zlib header, dictionary,
 * DEFLATE, bounds, repeated or NUL-joined headers, malformed `port`/`streamtype`), a frame kubectl
 * never sends here (SYN_REPLY, HEADERS), a stream id that is not a new odd id above the last,
 * SPDY versions other than 3 and control frames over 16 KiB throw `SpdyError`: the session ends.
 * DATA payloads are streamed, never buffered; only frame heads and control frames are.
 */
import { dataFrame, MAX_CONTROL_FRAME, parsePortHeader, SpdyError, SpdyHeaderInflater } from "./spdy.ts";
import { encodeNameValues, StoredHeaderEncoder } from "./spdy-stored.ts";
import { concatBytes } from "../../../parsers/encoding/bytes.ts";

const SYN_STREAM = 1, SYN_REPLY = 2, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7, HEADERS = 8, WINDOW_UPDATE = 9;
const FLAG_FIN = 1;
/** Refused streams remembered (to drop what kubectl still sends on them); more ends the session. */
export const MAX_REFUSED_STREAMS = 4096;

/** A new stream kubectl opens: one `error` and one `data` stream per forwarded connection. */
export interface SpdySynStream {
  id: number;
  headers: Map<string, string>;
  port: number;
  streamType: "data" | "error";
}

/** Bytes pieced together in order (no copy until `take`). */
class Output {
  private parts: Uint8Array[] = [];
  push(b: Uint8Array): void {
    if (b.length > 0) this.parts.push(b);
  }
  take(): Uint8Array {
    const parts = this.parts;
    this.parts = [];
    return parts.length === 1 ? parts[0]! : concatBytes(parts);
  }
}

const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

function controlFrame(type: number, flags: number, body: Uint8Array): Uint8Array {
  const n = body.length;
  const out = new Uint8Array(8 + n);
  out.set([0x80, 0x03, (type >> 8) & 255, type & 255, flags, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
  out.set(body, 8);
  return out;
}

/** Shared framing: streams DATA payloads, hands whole control frames to `control`. */
abstract class FrameRewriter {
  private buffer = new Uint8Array(0);
  private dataLeft = 0;
  /** The DATA frame being streamed is relayed (false: dropped). */
  private dataKept = true;
  protected readonly out = new Output();

  /** What was relayed so far is whole frames (no DATA payload half relayed; control frames go out whole). */
  protected relayedWholeFrames(): boolean {
    return this.dataLeft === 0;
  }

  /** kubectl or the API server's bytes → the bytes to relay instead. */
  push(bytes: Uint8Array): Uint8Array {
    let b = bytes;
    if (this.buffer.length > 0) {
      b = new Uint8Array(this.buffer.length + bytes.length);
      b.set(this.buffer);
      b.set(bytes, this.buffer.length);
    }
    let o = 0;
    for (;;) {
      if (this.dataLeft > 0) {
        const n = Math.min(this.dataLeft, b.length - o);
        if (this.dataKept) this.out.push(b.subarray(o, o + n));
        this.dataLeft -= n;
        o += n;
        if (this.dataLeft > 0) break;
      }
      this.atFrameBoundary();
      if (b.length - o < 8) break;
      const len = (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!;
      if ((b[o]! & 0x80) === 0) {
        const id = u32(b, o) & 0x7fffffff;
        this.dataKept = this.keepData(id);
        if (this.dataKept) this.out.push(b.slice(o, o + 8));
        o += 8;
        this.dataLeft = len;
        continue;
      }
      const version = ((b[o]! << 8) | b[o + 1]!) & 0x7fff;
      if (version !== 3) throw new SpdyError(`SPDY version ${version} (only 3)`);
      if (len > MAX_CONTROL_FRAME) throw new SpdyError(`a control frame of ${len} bytes (at most ${MAX_CONTROL_FRAME})`);
      if (b.length - o < 8 + len) break;
      const type = (b[o + 2]! << 8) | b[o + 3]!;
      const flags = b[o + 4]!;
      const frame = b.subarray(o, o + 8 + len);
      o += 8 + len;
      this.control(type, flags, frame.subarray(8), frame);
    }
    this.buffer = b.slice(o);
    return this.out.take();
  }

  /** Called between whole frames (the server side inserts the gateway's frames there). */
  protected atFrameBoundary(): void {}
  /** A DATA frame's head on stream `id`: relay it (true) or drop it (false); throw to end the session. */
  protected abstract keepData(id: number): boolean;
  /** A whole control frame (`body` after the 8-byte head); push what to relay to `out`. */
  protected abstract control(type: number, flags: number, body: Uint8Array, frame: Uint8Array): void;
}

export type StreamVerdict = "admit" | "refuse";

/** kubectl → API server. `decide` runs for each SYN_STREAM before anything of it is relayed. */
export class SpdyClientRewriter extends FrameRewriter {
  private readonly inflater = new SpdyHeaderInflater();
  private readonly encoder = new StoredHeaderEncoder();
  private lastId = 0;
  private readonly refused = new Set<number>();

  constructor(
    private readonly decide: (s: SpdySynStream) => StreamVerdict,
    private readonly maxRefused = MAX_REFUSED_STREAMS,
  ) {
    super();
  }

  private known(id: number, what: string): void {
    if (id === 0 || id % 2 === 0 || id > this.lastId) throw new SpdyError(`${what} on stream ${id}, which kubectl did not open`);
  }

  protected keepData(id: number): boolean {
    this.known(id, "DATA");
    return !this.refused.has(id);
  }

  protected control(type: number, flags: number, body: Uint8Array, frame: Uint8Array): void {
    const need = (n: number) => {
      if (body.length < n) throw new SpdyError(`a control frame of type ${type} is too short`);
    };
    if (type === SYN_STREAM) {
      need(10);
      const id = u32(body, 0) & 0x7fffffff;
      // spdystream skips a SYN_STREAM whose id is not above the last: one id, one decision.
      if (id === 0 || id % 2 === 0 || id <= this.lastId) throw new SpdyError(`a SYN_STREAM with stream id ${id} (kubectl opens new odd ids, each above the last)`);
      this.lastId = id;
      const headers = this.inflater.inflate(body.subarray(10));
      const streamType = headers.get("streamtype");
      if (streamType !== "data" && streamType !== "error") throw new SpdyError(`a port-forward stream of type '${(streamType ?? "").slice(0, 32)}'`);
      const s: SpdySynStream = { id, headers, port: parsePortHeader(headers.get("port")), streamType };
      if (this.decide(s) === "refuse") {
        if (this.refused.size >= this.maxRefused) throw new SpdyError(`more than ${this.maxRefused} refused streams in one port-forward session`);
        this.refused.add(id);
        return;
      }
      // What the API server reads is what was decided: the parsed headers, in the gateway's stream.
      const block = this.encoder.encode(encodeNameValues(headers));
      const out = new Uint8Array(10 + block.length);
      out.set(body.subarray(0, 10));
      out.set(block, 10);
      this.out.push(controlFrame(SYN_STREAM, flags, out));
    } else if (type === RST_STREAM || type === WINDOW_UPDATE) {
      need(8);
      const id = u32(body, 0) & 0x7fffffff;
      if (id !== 0) this.known(id, type === RST_STREAM ? "RST_STREAM" : "WINDOW_UPDATE");
      if (!this.refused.has(id)) this.out.push(frame.slice());
    } else if (type === SYN_REPLY || type === HEADERS) {
      throw new SpdyError(`kubectl does not send ${type === SYN_REPLY ? "SYN_REPLY" : "HEADERS"} frames on a port-forward`);
    } else if (type === SETTINGS || type === PING || type === GOAWAY) {
      this.out.push(frame.slice());
    } else {
      throw new SpdyError(`an unknown SPDY control frame type ${type}`);
    }
  }
}

/** A frame the gateway sends as the API server, for a stream it refused. */
export type GatewayFrame = { kind: "reply"; id: number; fin: boolean } | { kind: "data"; id: number; payload: Uint8Array; fin: boolean };

const NO_HEADERS = encodeNameValues(new Map());

/** API server → kubectl: header blocks re-encoded in the gateway's stream; the gateway's own frames inserted between whole frames. */
export class SpdyServerRewriter extends FrameRewriter {
  private readonly inflater = new SpdyHeaderInflater();
  private readonly encoder = new StoredHeaderEncoder();
  private pending: GatewayFrame[] = [];

  /** Queue frames; they go out at the next frame boundary (`flush` now, or within a later `push`). */
  insert(frames: GatewayFrame[]): void {
    this.pending.push(...frames);
  }

  /** The queued frames, when the server's side is between whole frames (else empty: `push` will place them). */
  flush(): Uint8Array {
    if (this.relayedWholeFrames()) this.atFrameBoundary();
    return this.out.take();
  }

  protected override atFrameBoundary(): void {
    for (const f of this.pending) {
      if (f.kind === "data") this.out.push(dataFrame(f.id, f.payload, f.fin));
      else this.out.push(this.headerFrame(SYN_REPLY, f.fin ? FLAG_FIN : 0, idBytes(f.id), NO_HEADERS));
    }
    this.pending = [];
  }

  private headerFrame(type: number, flags: number, prefix: Uint8Array, raw: Uint8Array): Uint8Array {
    const block = this.encoder.encode(raw);
    const body = new Uint8Array(prefix.length + block.length);
    body.set(prefix);
    body.set(block, prefix.length);
    return controlFrame(type, flags, body);
  }

  protected keepData(): boolean {
    return true;
  }

  protected control(type: number, flags: number, body: Uint8Array, frame: Uint8Array): void {
    const prefix = type === SYN_STREAM ? 10 : type === SYN_REPLY || type === HEADERS ? 4 : 0;
    if (prefix === 0) {
      this.out.push(frame.slice());
      return;
    }
    if (body.length < prefix) throw new SpdyError(`a control frame of type ${type} is too short`);
    this.out.push(this.headerFrame(type, flags, body.slice(0, prefix), this.inflater.inflateRaw(body.subarray(prefix))));
  }
}

function idBytes(id: number): Uint8Array {
  return Uint8Array.of((id >>> 24) & 127, (id >>> 16) & 255, (id >>> 8) & 255, id & 255);
}
