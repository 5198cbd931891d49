/**
 * The Kubernetes module's codecs in the fuzz table (targets.ts):
 *  - k8s-spdy: a port-forward SPDY/3.1 byte stream in chunks through both rewriters — kubectl's
 *    direction (SYN_STREAM header blocks inflated, decided, re-encoded as stored DEFLATE in the
 *    gateway's own zlib stream; refused streams' frames dropped) and the API server's (every header
 *    block re-encoded, the gateway's own frames inserted between whole frames). Every header block
 *    the gateway sends must inflate, in order, to exactly the name/value bytes it was made from
 *    (the peer's decompressor follows the gateway's stream: a desynchronised stream is a finding).
 *  - k8s-inflate: the DEFLATE decoder alone, against the SPDY/3 dictionary and an empty window.
 *  - k8s-websocket: one direction of an exec/attach WebSocket (masked frames = kubectl's) through
 *    the frame reader, every binary message through the v5/v4 channel reader.
 *  - k8s-body-name: a create body (JSON, or protobuf when it starts with the `k8s\0` magic) through
 *    the body-name reader.
 */
import type { FuzzTarget } from "../target.ts";
import { concatBytes } from "../../parsers/encoding/bytes.ts";
import { chunksOf, linear, OracleMismatch, refusedAs } from "../chunks.ts";
import { MAX_HEADER_BLOCK, SPDY3_DICTIONARY, SpdyError, SpdyHeaderInflater, parseNameValues } from "../../protocols/kubernetes/codec/spdy.ts";
import { SpdyClientRewriter, SpdyServerRewriter } from "../../protocols/kubernetes/codec/spdy-rewrite.ts";
import { inflateBlocks, InflateError } from "../../protocols/kubernetes/codec/inflate.ts";
import { WebSocketFrameError, WebSocketMessageReader } from "../../protocols/kubernetes/codec/websocket-frames.ts";
import { ChannelProtocolError, ChannelReader } from "../../protocols/kubernetes/codec/channel.ts";
import { BodyNameError, bodyObjectName } from "../../protocols/kubernetes/codec/body-name.ts";

const SYN_STREAM = 1;
const SYN_REPLY = 2;
const HEADERS = 8;

/**
 * Reads the gateway's output as the peer does: frames, each header block inflated with one
 * context for the whole stream. Returns the name/value blocks in order.
 */
function peerHeaderBlocks(stream: Uint8Array): Uint8Array[] {
  const inflater = new SpdyHeaderInflater();
  const blocks: Uint8Array[] = [];
  for (let o = 0; o + 8 <= stream.length; ) {
    const len = (stream[o + 5]! << 16) | (stream[o + 6]! << 8) | stream[o + 7]!;
    if ((stream[o]! & 0x80) !== 0) {
      const type = (stream[o + 2]! << 8) | stream[o + 3]!;
      const prefix = type === SYN_STREAM ? 10 : type === SYN_REPLY || type === HEADERS ? 4 : -1;
      if (prefix >= 0) blocks.push(inflater.inflateRaw(stream.subarray(o + 8 + prefix, o + 8 + len)));
    }
    o += 8 + len;
  }
  return blocks;
}

/** The harness's own reading of a stream the rewriter accepted: failing to read it is a wrong answer. */
function oracle<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof SpdyError) throw new OracleMismatch(`${what}: ${e.message}`);
    throw e;
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => b[i] === x);

/** The name/value blocks the rewriter was given, read the same way from its input (kubectl's or the server's context). */
function inputHeaderBlocks(stream: Uint8Array, types: readonly number[]): Uint8Array[] {
  const inflater = new SpdyHeaderInflater();
  const blocks: Uint8Array[] = [];
  for (let o = 0; o + 8 <= stream.length; ) {
    const len = (stream[o + 5]! << 16) | (stream[o + 6]! << 8) | stream[o + 7]!;
    if (o + 8 + len > stream.length) break; // the rewriter still buffers this frame
    if ((stream[o]! & 0x80) !== 0) {
      const type = (stream[o + 2]! << 8) | stream[o + 3]!;
      if (types.includes(type)) blocks.push(inflater.inflateRaw(stream.subarray(o + 8 + (type === SYN_STREAM ? 10 : 4), o + 8 + len)));
    }
    o += 8 + len;
  }
  return blocks;
}

function runSpdy(bytes: Uint8Array): unknown[] {
  const out: unknown[] = [];
  // kubectl → API server: admit or refuse by stream id (both paths), the rest of the session goes on.
  const admitted: Map<string, string>[] = [];
  const client = new SpdyClientRewriter((s) => {
    if (s.id % 4 !== 1) return "refuse";
    admitted.push(s.headers);
    return "admit";
  }, 64);
  const relayed: Uint8Array[] = [];
  const clientOk = refusedAs(SpdyError, () => {
    for (const chunk of chunksOf(bytes)) relayed.push(client.push(chunk));
    return true;
  });
  out.push(relayed);
  if (clientOk) {
    // What the API server reads must be, block for block, what the gateway admitted (the stored
    // stream stays in step with the server's decompressor whatever was dropped).
    const sent = oracle("the API server cannot read the gateway's header stream", () => peerHeaderBlocks(concatBytes(relayed)).map(parseNameValues));
    const same = sent.length === admitted.length && sent.every((m, i) => m.size === admitted[i]!.size && [...m].every(([k, v]) => admitted[i]!.get(k) === v));
    if (!same) throw new OracleMismatch("the headers the API server reads are not the ones the gateway admitted");
  }
  // API server → kubectl, with the gateway's own frames for a refused stream inserted mid-stream.
  const server = new SpdyServerRewriter();
  const toKubectl: Uint8Array[] = [];
  const serverOk = refusedAs(SpdyError, () => {
    chunksOf(bytes).forEach((chunk, i) => {
      if (i === 1) server.insert([{ kind: "reply", id: 3, fin: false }, { kind: "data", id: 3, payload: Uint8Array.of(1, 2, 3), fin: true }]);
      toKubectl.push(server.push(chunk));
    });
    toKubectl.push(server.flush());
    return true;
  });
  out.push(toKubectl);
  if (serverOk) {
    const received = oracle("kubectl cannot read the gateway's header stream", () => peerHeaderBlocks(concatBytes(toKubectl))).filter((b) => b.length !== 4); // the gateway's own replies carry an empty block
    const given = oracle("the oracle cannot read a header block the rewriter read", () => inputHeaderBlocks(bytes, [SYN_STREAM, SYN_REPLY, HEADERS])).filter((b) => b.length !== 4);
    if (received.length !== given.length || received.some((b, i) => !sameBytes(b, given[i]!))) throw new OracleMismatch("the header blocks kubectl inflates are not the ones the API server sent");
  }
  return out;
}

/** The bound production uses for a header block (each call allocates window + bound). */
const INFLATE_BOUND = MAX_HEADER_BLOCK;

function runInflate(bytes: Uint8Array): unknown[] {
  return [refusedAs(InflateError, () => inflateBlocks(bytes, SPDY3_DICTIONARY, INFLATE_BOUND)), inflateBlocks(bytes, new Uint8Array(0), bytes.length % 2 === 0 ? INFLATE_BOUND : 300)];
}

function runWebSocket(bytes: Uint8Array): unknown[] {
  const fromClient = bytes.length > 1 && (bytes[1]! & 0x80) !== 0;
  const reader = new WebSocketMessageReader(fromClient, { keepControl: bytes.length % 2 === 0 });
  const channels = new ChannelReader(bytes.length % 3 === 0 ? "v4.channel.k8s.io" : "v5.channel.k8s.io");
  const out: unknown[] = [];
  for (const chunk of chunksOf(bytes)) {
    for (const m of reader.push(chunk)) {
      out.push(m.data.length);
      if (m.binary && m.control === undefined) out.push(fromClient ? channels.fromClient(m.data) : channels.fromServer(m.data));
    }
  }
  out.push(reader.idle(), reader.closed, channels.exitCode);
  return out;
}

function runBodyName(bytes: Uint8Array): unknown {
  const protobuf = bytes[0] === 0x6b && bytes[1] === 0x38 && bytes[2] === 0x73 && bytes[3] === 0;
  const contentType = protobuf ? "application/vnd.kubernetes.protobuf" : bytes.length % 2 === 0 ? "application/json" : "application/merge-patch+json; charset=utf-8";
  return bodyObjectName(contentType, bytes, bytes.length % 3 === 0 ? "" : "default");
}

export const KUBERNETES_TARGETS: readonly FuzzTarget[] = [
  // Each control frame (≥ 12 bytes with its head) may inflate to one header block of at most
  // MAX_HEADER_BLOCK bytes, re-encoded with a few bytes of stored-block framing: that, not the
  // input size, bounds the output (both directions, plus the blocks the oracle reads back).
  { name: "k8s-spdy", input: "bytes", typedErrors: [SpdyError], run: runSpdy, maxOutput: (n) => 4 * n + 4 * Math.ceil(n / 12 + 1) * (MAX_HEADER_BLOCK + 64) },
  { name: "k8s-inflate", input: "bytes", typedErrors: [InflateError], run: runInflate, maxOutput: () => 2 * (INFLATE_BOUND + 32 * 1024) + 64 },
  { name: "k8s-websocket", input: "bytes", typedErrors: [WebSocketFrameError, ChannelProtocolError], run: runWebSocket, maxOutput: linear(8, 256) },
  { name: "k8s-body-name", input: "bytes", typedErrors: [BodyNameError], run: runBodyName, maxOutput: linear(4, 64) },
];
