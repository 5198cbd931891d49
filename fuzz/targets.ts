/**
 * THE codec table: every codec Gatehouse decodes untrusted input with, fed by one harness.
 * A new protocol adds its codec here with one line (a FuzzTarget from its own module, or an entry
 * below) and gets random and mutated-capture fuzzing in `npm test` and `npm run fuzz`.
 * Seed corpora live in fuzz/corpus/<name>/ (captured by fuzz/capture.ts).
 */
import type { FuzzTarget } from "./target.ts";
import { loadWasmModule } from "../wasm/loader/node.ts";
import { PgFramer, PgFrameError } from "../wasm/loader/pgframe.ts";
import { createSqlClassifier, SqlClassifierError } from "../wasm/loader/sql.ts";
import { PgProtocolError, decodeBind, decodeParse, decodeQuery, parseErrorFields, parseStartupPacket } from "../protocols/postgres/codec/codec.ts";
import { decodeCommandComplete, decodeDataRow, decodeRowDescription } from "../protocols/postgres/codec/results.ts";
import { copyOutFormat } from "../protocols/postgres/codec/copy-options.ts";
import { parseCommandLine } from "../protocols/ssh/codec/shell/parse.ts";
import { SftpFramer, SftpProtocolError, decodeHandleReply, decodeSftpRequest, replyHeader } from "../protocols/ssh/codec/sftp/packets.ts";
import { SshFrameError, STREAM_EVENT, decodeSshData, parseChannelEvent, parseSshClientMessage } from "../protocols/ssh/codec/frames.ts";
import { parseDirectOpen, parseForwardRequest, parseIncomingOpen, parseListenRequest, parseListenResult } from "../protocols/ssh/codec/forward.ts";
import { FrameError, decodeFrame } from "../parsers/tunnel/frames.ts";
import { MessageReader } from "../protocols/http/codec/reader.ts";
import { HttpCodecError } from "../protocols/http/codec/errors.ts";
import { normaliseTarget, queryParams } from "../protocols/http/codec/path.ts";
import type { RequestHead, ResponseHead } from "../protocols/http/codec/head.ts";
import { loadPolicy } from "../parsers/policy/load.ts";
import { chunksOf, linear, OracleMismatch } from "./chunks.ts";
import { MYSQL_TARGETS } from "./targets/mysql.ts";
import { KUBERNETES_TARGETS } from "./targets/kubernetes.ts";

/** The WASM framer, checked against the protocol's own rule: type byte, int32 length ≥ 4 that counts itself. */
let pgFramer: PgFramer | undefined;
/**
 * One framer instance for all inputs, reset before each (a new WASM instance per input cost more
 * than the framing): reset() is proven equal to a new framer in wasm/loader/pgframe.test.ts, and a
 * framer that kept bytes from an earlier input would fail this oracle's `framed + pending = pushed`.
 */
function runPgFramer(bytes: Uint8Array): number {
  const framer = (pgFramer ??= new PgFramer(loadWasmModule("pgframe"), 1 << 16));
  framer.reset();
  let walked = 0; // reference walker: where the next message starts in `bytes`
  let messages = 0;
  const checkBatch = () => {
    for (let i = 0; i < framer.count; i++) {
      const declared = ((bytes[walked + 1]! << 24) | (bytes[walked + 2]! << 16) | (bytes[walked + 3]! << 8) | bytes[walked + 4]!) >>> 0;
      if (framer.type(i) !== bytes[walked] || framer.length(i) !== declared + 1 || declared < 4) {
        throw new OracleMismatch(`message ${messages} at ${walked}: framer says type ${framer.type(i)} length ${framer.length(i)}, stream says ${bytes[walked]} ${declared + 1}`);
      }
      walked += declared + 1;
      messages++;
    }
  };
  let pushed = 0;
  for (const chunk of chunksOf(bytes)) {
    framer.push(chunk);
    pushed += chunk.length;
    checkBatch();
    while (framer.hasBufferedMessage) {
      framer.drain();
      checkBatch();
    }
    if (walked + framer.pendingBytes !== pushed) throw new OracleMismatch(`framed ${walked} + pending ${framer.pendingBytes} ≠ pushed ${pushed}`);
  }
  return messages;
}

/** One PostgreSQL message, decoded by the decoder its type byte selects; untyped input is a startup packet. */
function runPgMessage(bytes: Uint8Array): unknown {
  const body = bytes.subarray(5);
  switch (bytes[0]) {
    case 0x51: return decodeQuery(body); // Q
    case 0x50: return decodeParse(body); // P
    case 0x42: return decodeBind(body); // B
    case 0x45: // E
    case 0x4e: return parseErrorFields(body); // N
    case 0x54: return decodeRowDescription(body); // T
    case 0x44: return [decodeDataRow(body), decodeDataRow(body, [1, 0, 1], 8)]; // D
    case 0x43: return decodeCommandComplete(body); // C
    default: return parseStartupPacket(bytes);
  }
}

let classifier: ReturnType<typeof createSqlClassifier> | undefined;
const sqlClassifier = () => (classifier ??= createSqlClassifier(loadWasmModule("sql")));

/** Both directions of an SFTP stream: framed in chunks, each packet decoded as request and as reply. */
function runSftp(bytes: Uint8Array): unknown[] {
  const framer = new SftpFramer();
  const out: unknown[] = [];
  for (const chunk of chunksOf(bytes)) {
    for (const packet of framer.push(chunk)) {
      out.push(decodeSftpRequest(packet));
      try {
        out.push(replyHeader(packet), decodeHandleReply(packet));
      } catch (e) {
        if (!(e instanceof SftpProtocolError)) throw e;
      }
    }
  }
  return out;
}

const utf8 = new TextDecoder();
/** A CONTROL message body (JSON, as the tunnel delivers it to the SSH engine), or null when it is not JSON. */
function jsonObject(bytes: Uint8Array): Record<string, unknown> | null {
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(bytes));
  } catch {
    return null; // the tunnel refuses non-JSON CONTROL frames before the SSH engine sees them
  }
  return typeof v === "object" && v !== null && !Array.isArray(v) && typeof (v as { t?: unknown }).t === "string" ? (v as Record<string, unknown>) : null;
}

/** SSH over the tunnel: a DATA payload (channel header, in-band event) or a CONTROL message, by the first byte. */
function runSsh(bytes: Uint8Array): unknown {
  if (bytes[0] === 0x7b) { // "{": a control message, through every validator the engines apply
    const m = jsonObject(bytes);
    if (!m) return null;
    return [parseSshClientMessage(m as { t: string }), parseForwardRequest(m), parseDirectOpen(m), parseListenRequest(m), parseListenResult(m), parseIncomingOpen(m)];
  }
  const frame = decodeSshData(bytes);
  return frame.stream === STREAM_EVENT ? parseChannelEvent(frame.bytes) : frame;
}

/** HTTP/1.1 in chunks: requests (heads normalised as the engine does) or, when it starts "HTTP/", responses to GETs. */
function runHttp(bytes: Uint8Array): unknown[] {
  const response = bytes[0] === 0x48 && utf8.decode(bytes.subarray(0, 5)) === "HTTP/";
  const reader = response ? new MessageReader<ResponseHead>("response") : new MessageReader<RequestHead>("request");
  const out: unknown[] = [];
  const drain = () => {
    for (let e = reader.next(); e; e = reader.next()) {
      out.push(e.t === "body" || e.t === "raw" ? e.bytes.length : e);
      if (e.t === "head" && !response) {
        const target = normaliseTarget((e.head as RequestHead).target);
        out.push(target, queryParams(target.query));
      }
      if (e.t === "end" && response) (reader as MessageReader<ResponseHead>).expectResponseTo("GET");
    }
  };
  if (response) (reader as MessageReader<ResponseHead>).expectResponseTo("GET");
  for (const chunk of chunksOf(bytes)) {
    reader.push(chunk);
    drain();
  }
  reader.close();
  drain();
  return out;
}


export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  { name: "pg-frame", input: "bytes", typedErrors: [PgFrameError], run: runPgFramer, maxOutput: linear(1, 1), maxInputBytes: 8192 },
  { name: "pg-messages", input: "bytes", typedErrors: [PgProtocolError], run: runPgMessage, maxOutput: linear(4, 64) },
  { name: "sql", input: "text", typedErrors: [SqlClassifierError], run: (_b, text) => sqlClassifier().classify(text, { standardConformingStrings: text.length % 2 === 0 }), maxOutput: linear(96, 256) },
  { name: "copy-options", input: "text", typedErrors: [], run: (_b, text) => copyOutFormat(text, { standardConformingStrings: text.length % 2 === 0 }), maxOutput: linear(4, 64) },
  { name: "shell", input: "text", typedErrors: [], run: (_b, text) => parseCommandLine(text), maxOutput: linear(512, 4096) },
  { name: "sftp", input: "bytes", typedErrors: [SftpProtocolError], run: runSftp, maxOutput: linear(8, 64) },
  { name: "ssh", input: "bytes", typedErrors: [SshFrameError], run: runSsh, maxOutput: linear(4, 64) },
  { name: "http", input: "bytes", typedErrors: [HttpCodecError], run: runHttp, maxOutput: linear(16, 256) },
  { name: "tunnel", input: "bytes", typedErrors: [FrameError], run: (b) => decodeFrame(b), maxOutput: linear(4, 64) },
  ...MYSQL_TARGETS,
  ...KUBERNETES_TARGETS,
  { name: "policy", input: "text", typedErrors: [], run: (_b, text) => loadPolicy(text, "fuzz.yaml"), maxOutput: linear(64, 4096), hangMs: 10_000 },
];
