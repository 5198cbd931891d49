/**
 * Incremental HTTP/1.1 message reader: bytes in (`push`), events out (`next`), one message after
 * another on a keep-alive connection. The caller paces it — it pulls events only when it is ready
 * for the next message — so memory is bounded by one head (MAX_HEAD_BYTES) plus what the caller
 * pushed and did not yet pull (the tunnel's flow-control window). Bodies are emitted as they arrive,
 * never buffered whole; chunked framing is decoded (extensions dropped, trailers refused).
 *
 *   const r = new MessageReader("request");
 *   r.push(bytes);
 *   for (let e = r.next(); e; e = r.next()) { head | body | end | raw }
 */
import { HttpCodecError } from "./errors.ts";
import { MAX_HEAD_BYTES, parseRequestHead, parseResponseHead, type BodyFraming, type RequestHead, type ResponseHead } from "./head.ts";

export type ReaderEvent<H> =
  | { t: "head"; head: H; framing: BodyFraming }
  | { t: "body"; bytes: Uint8Array }
  | { t: "end" }
  /** After `switchToRaw` (an accepted protocol upgrade): opaque bytes. */
  | { t: "raw"; bytes: Uint8Array };

type State = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-data-crlf" | "trailer" | "until-close" | "raw" | "failed";

/** Chunk sizes beyond 8 hex digits (4 GiB) are refused: no number overflow games. */
const MAX_CHUNK_SIZE_DIGITS = 8;
const MAX_CHUNK_LINE = 1024;

const CRLFCRLF = [0x0d, 0x0a, 0x0d, 0x0a];

function indexOfSeq(buf: Uint8Array, from: number, seq: readonly number[]): number {
  outer: for (let i = from; i + seq.length <= buf.length; i++) {
    for (let k = 0; k < seq.length; k++) if (buf[i + k] !== seq[k]) continue outer;
    return i;
  }
  return -1;
}

export class MessageReader<H extends RequestHead | ResponseHead = RequestHead> {
  private buf: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private state: State = "head";
  private remaining = 0;
  private responseTo: string[] = [];
  private closed = false;

  constructor(private readonly kind: "request" | "response") {}

  /** Responses only: the method of the request the next response answers (HEAD has no body). Queue in request order. */
  expectResponseTo(method: string): void {
    this.responseTo.push(method);
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    const rest = this.buf.length - this.pos;
    if (rest === 0) {
      this.buf = bytes;
    } else {
      const merged = new Uint8Array(rest + bytes.length);
      merged.set(this.buf.subarray(this.pos));
      merged.set(bytes, rest);
      this.buf = merged;
    }
    this.pos = 0;
  }

  /** The peer closed its side: ends an until-close body; anything else mid-message is an error. */
  close(): void {
    this.closed = true;
  }

  /** Bytes pushed but not yet turned into events. */
  get buffered(): number {
    return this.buf.length - this.pos;
  }

  /** True between messages (nothing of a next message seen yet). */
  get idle(): boolean {
    return this.state === "head" && this.buffered === 0;
  }

  /** After a 101 Switching Protocols: everything further is opaque. */
  switchToRaw(): void {
    this.state = "raw";
  }

  private fail(status: number, message: string): never {
    this.state = "failed";
    throw new HttpCodecError(this.kind === "response" && status === 400 ? 502 : status, this.kind === "response" ? `upstream response: ${message}` : message);
  }

  next(): ReaderEvent<H> | null {
    try {
      return this.step();
    } catch (e) {
      this.state = "failed";
      throw e;
    }
  }

  private step(): ReaderEvent<H> | null {
    const avail = this.buf.length - this.pos;
    switch (this.state) {
      case "failed":
        throw new HttpCodecError(400, "the connection is no longer usable after a framing error");
      case "raw": {
        if (avail === 0) return null;
        const bytes = this.buf.subarray(this.pos);
        this.pos = this.buf.length;
        return { t: "raw", bytes };
      }
      case "head": {
        if (avail === 0) {
          if (this.closed) return null;
          return null;
        }
        const end = indexOfSeq(this.buf, this.pos, CRLFCRLF);
        if (end < 0) {
          if (avail > MAX_HEAD_BYTES) this.fail(431, `message head larger than ${MAX_HEAD_BYTES} bytes`);
          if (this.closed) this.fail(400, "connection closed in the middle of a message head");
          return null;
        }
        if (end - this.pos > MAX_HEAD_BYTES) this.fail(431, `message head larger than ${MAX_HEAD_BYTES} bytes`);
        const headBytes = this.buf.subarray(this.pos, end);
        this.pos = end + 4;
        let parsed: { head: RequestHead | ResponseHead; framing: BodyFraming };
        if (this.kind === "request") {
          // Leading empty lines before a request line (RFC 9112 §2.2 "SHOULD ignore") are refused: one reading only.
          parsed = parseRequestHead(headBytes);
        } else {
          const method = this.responseTo[0] ?? "GET";
          parsed = parseResponseHead(headBytes, method);
          // 1xx interim responses precede the final one to the same request.
          const status = (parsed.head as ResponseHead).status;
          if (status >= 200 || status === 101) this.responseTo.shift();
        }
        const f = parsed.framing;
        if (f.kind === "length") {
          this.state = "length";
          this.remaining = f.length;
        } else if (f.kind === "chunked") {
          this.state = "chunk-size";
        } else if (f.kind === "until-close") {
          this.state = "until-close";
        } else {
          // Bodyless: the next call reports the end at once.
          this.state = "length";
          this.remaining = 0;
        }
        return { t: "head", head: parsed.head as H, framing: f };
      }
      case "length": {
        if (this.remaining === 0) {
          this.state = "head";
          return { t: "end" };
        }
        if (avail === 0) {
          if (this.closed) this.fail(400, "connection closed before the body was complete");
          return null;
        }
        const n = Math.min(avail, this.remaining);
        const bytes = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        this.remaining -= n;
        return { t: "body", bytes };
      }
      case "until-close": {
        if (avail > 0) {
          const bytes = this.buf.subarray(this.pos);
          this.pos = this.buf.length;
          return { t: "body", bytes };
        }
        if (this.closed) {
          this.state = "failed";
          return { t: "end" };
        }
        return null;
      }
      case "chunk-size": {
        const lf = this.buf.indexOf(0x0a, this.pos);
        if (lf < 0) {
          if (avail > MAX_CHUNK_LINE) this.fail(400, "chunk size line too long");
          if (this.closed) this.fail(400, "connection closed inside a chunked body");
          return null;
        }
        if (lf - this.pos > MAX_CHUNK_LINE) this.fail(400, "chunk size line too long");
        if (lf === this.pos || this.buf[lf - 1] !== 0x0d) this.fail(400, "chunk size line not ended by CRLF");
        const line = String.fromCharCode(...this.buf.subarray(this.pos, lf - 1));
        this.pos = lf + 1;
        const m = /^([0-9A-Fa-f]+)((?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:=(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|"[\t\x20\x21\x23-\x5b\x5d-\x7e]*"))?)*)$/.exec(line);
        if (!m) this.fail(400, `malformed chunk size line ${JSON.stringify(line.slice(0, 40))}`);
        if (m![1]!.length > MAX_CHUNK_SIZE_DIGITS) this.fail(400, "chunk size too large");
        const size = parseInt(m![1]!, 16);
        if (size === 0) {
          this.state = "trailer";
          return this.step();
        }
        this.remaining = size;
        this.state = "chunk-data";
        return this.step();
      }
      case "chunk-data": {
        if (avail === 0) {
          if (this.closed) this.fail(400, "connection closed inside a chunk");
          return null;
        }
        const n = Math.min(avail, this.remaining);
        const bytes = this.buf.subarray(this.pos, this.pos + n);
        this.pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.state = "chunk-data-crlf";
        return { t: "body", bytes };
      }
      case "chunk-data-crlf": {
        if (avail < 2) {
          if (this.closed) this.fail(400, "connection closed inside a chunked body");
          return null;
        }
        if (this.buf[this.pos] !== 0x0d || this.buf[this.pos + 1] !== 0x0a) this.fail(400, "chunk data not followed by CRLF");
        this.pos += 2;
        this.state = "chunk-size";
        return this.step();
      }
      case "trailer": {
        if (avail < 2) {
          if (this.closed) this.fail(400, "connection closed inside a chunked body");
          return null;
        }
        if (this.buf[this.pos] === 0x0d && this.buf[this.pos + 1] === 0x0a) {
          this.pos += 2;
          this.state = "head";
          return { t: "end" };
        }
        this.fail(400, "trailer fields after a chunked body are not accepted");
      }
    }
    return null;
  }
}
