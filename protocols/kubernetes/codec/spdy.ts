/**
 * SPDY/3 header blocks as the port-forward tunnel carries them (kubectl 1.35, inside the WebSocket
 * `SPDY/3.1+portforward.k8s.io`): the SPDY/3 dictionary, one header decompression context per
 * direction (zlib primed with the dictionary; codec/inflate.ts), name/value parsing, the `port`
 * header as the kubelet reads it, and DATA frames. The frames of both directions are rewritten in
 * codec/spdy-rewrite.ts; the gateway's own header stream is codec/spdy-stored.ts.
 *
 * Fail closed: a header block that does not decode exactly (bad zlib header, another dictionary,
 * corrupt DEFLATE, oversized, trailing bytes, a repeated, empty or NUL-joined header, a malformed
 * `port`) throws `SpdyError`; the engine then ends the connection.
 */
import { inflateBlocks, InflateError } from "./inflate.ts";

export class SpdyError extends Error {}

const WORDS = [
  "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding", "accept-language", "accept-ranges", "age", "allow",
  "authorization", "cache-control", "connection", "content-base", "content-encoding", "content-language", "content-length", "content-location", "content-md5",
  "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range",
  "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
  "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
  "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
];
const TAIL =
  "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information204 No Content" +
  "301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable" +
  "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif," +
  "application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

/** The SPDY/3 header compression dictionary (draft 3 § 2.6.10.1): length-prefixed words, then a raw tail. */
export const SPDY3_DICTIONARY: Uint8Array = (() => {
  const bytes: number[] = [];
  for (const w of WORDS) {
    bytes.push((w.length >>> 24) & 255, (w.length >>> 16) & 255, (w.length >>> 8) & 255, w.length & 255);
    for (const c of w) bytes.push(c.charCodeAt(0));
  }
  for (const c of TAIL) bytes.push(c.charCodeAt(0));
  return Uint8Array.from(bytes);
})();

export function adler32(buf: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const x of buf) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}
/** The Adler-32 every SPDY/3 peer puts in its zlib header (DICTID). */
export const SPDY3_DICTIONARY_ID = 0xe3c6a7c2;

/** Bounds: kubectl's port-forward header blocks are a few dozen bytes. */
export const MAX_CONTROL_FRAME = 16 * 1024;
export const MAX_HEADER_BLOCK = 16 * 1024;
const MAX_HEADERS = 32;

/** One direction's header decompression context (zlib stream with the SPDY/3 dictionary). */
export class SpdyHeaderInflater {
  private window: Uint8Array | null = null;
  private ended = false;

  /** One header block: the name/value pairs, names lower-cased; duplicated names are refused. */
  inflate(block: Uint8Array): Map<string, string> {
    return parseNameValues(this.inflateRaw(block));
  }

  /** One header block's name/value bytes, not parsed (at most MAX_HEADER_BLOCK). */
  inflateRaw(block: Uint8Array): Uint8Array {
    if (this.ended) throw new SpdyError("a header block after the compressed stream ended");
    let input = block;
    if (this.window === null) {
      if (block.length < 6) throw new SpdyError("the first header block is too short for a zlib header");
      const cmf = block[0]!;
      const flg = block[1]!;
      if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0) throw new SpdyError("the first header block has no valid zlib header");
      if ((flg & 0x20) === 0) throw new SpdyError("the header compression does not use the SPDY/3 dictionary");
      const id = ((block[2]! << 24) | (block[3]! << 16) | (block[4]! << 8) | block[5]!) >>> 0;
      if (id !== SPDY3_DICTIONARY_ID) throw new SpdyError(`the header compression uses another dictionary (id ${id.toString(16)})`);
      this.window = SPDY3_DICTIONARY;
      input = block.subarray(6);
    }
    let r: ReturnType<typeof inflateBlocks>;
    try {
      r = inflateBlocks(input, this.window, MAX_HEADER_BLOCK);
    } catch (e) {
      if (e instanceof InflateError) throw new SpdyError(`a header block does not decompress: ${e.message}`);
      throw e;
    }
    this.window = r.window;
    this.ended = r.final;
    return r.output;
  }
}

/**
 * A name/value block → map, names lower-cased (as Go's spdystream reads them). Refused: a name
 * repeated (also in another case), an empty name, a NUL in a value (spdystream splits a value at
 * NUL into several: the kubelet would read the first, the gateway could read another), bytes after
 * the last header.
 */
export function parseNameValues(b: Uint8Array): Map<string, string> {
  let p = 0;
  const u32 = (): number => {
    if (p + 4 > b.length) throw new SpdyError("a header block is cut off");
    const v = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
    p += 4;
    return v;
  };
  const text = (): string => {
    const n = u32();
    if (p + n > b.length) throw new SpdyError("a header block is cut off");
    let s = "";
    for (let k = 0; k < n; k++) s += String.fromCharCode(b[p + k]!);
    p += n;
    return s;
  };
  const count = u32();
  if (count > MAX_HEADERS) throw new SpdyError(`a header block with ${count} headers (at most ${MAX_HEADERS})`);
  const out = new Map<string, string>();
  for (let k = 0; k < count; k++) {
    const name = text().toLowerCase();
    const value = text();
    if (name === "") throw new SpdyError("an empty header name");
    if (value.includes("\0")) throw new SpdyError(`the header '${name.slice(0, 32)}' has several values (NUL)`);
    if (out.has(name)) throw new SpdyError(`the header '${name}' is repeated`);
    out.set(name, value);
  }
  if (p !== b.length) throw new SpdyError("bytes after a header block's last header");
  return out;
}

/** A port as the kubelet reads it (strconv.ParseUint(s, 10, 16), then non-zero). */
export function parsePortHeader(value: string | undefined): number {
  if (value === undefined) throw new SpdyError("a port-forward stream without a port header");
  if (!/^[0-9]{1,16}$/.test(value)) throw new SpdyError(`the port header '${value.slice(0, 32)}' is not a port number`);
  const n = Number(value);
  if (n < 1 || n > 65535) throw new SpdyError(`the port header '${value.slice(0, 32)}' is not a port number`);
  return n;
}

const FLAG_FIN = 1;

/** A DATA frame (at most 16 MiB - 1). */
export function dataFrame(id: number, payload: Uint8Array, fin: boolean): Uint8Array {
  const n = payload.length;
  const out = new Uint8Array(8 + n);
  out.set([(id >>> 24) & 127, (id >>> 16) & 255, (id >>> 8) & 255, id & 255, fin ? FLAG_FIN : 0, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
  out.set(payload, 8);
  return out;
}
