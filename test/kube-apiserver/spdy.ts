/**
 * A minimal SPDY/3.1 server-side session (the framing `kubectl port-forward` tunnels inside its
 * WebSocket, protocol `SPDY/3.1+portforward.k8s.io`): SYN_STREAM/SYN_REPLY with zlib-compressed
 * name/value blocks (one compression context per direction, primed with the SPDY/3 dictionary),
 * DATA with FIN, RST_STREAM, PING echo; SETTINGS/WINDOW_UPDATE/GOAWAY are read and ignored
 * (kubectl's spdystream does no flow control). Test-only.
 */
import { createDeflate, createInflate, constants, type Deflate, type Inflate } from "node:zlib";

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
export const SPDY3_DICTIONARY = Buffer.concat([
  ...WORDS.map((w) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(w.length);
    return Buffer.concat([len, Buffer.from(w, "latin1")]);
  }),
  Buffer.from(TAIL, "latin1"),
]);

export function adler32(buf: Uint8Array): number {
  let a = 1, b = 0;
  for (const x of buf) {
    a = (a + x) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}
/** The Adler-32 every SPDY/3 peer puts in its zlib header (DICTID). */
export const SPDY3_DICTIONARY_ID = 0xe3c6a7c2;
if (adler32(SPDY3_DICTIONARY) !== SPDY3_DICTIONARY_ID) throw new Error("SPDY/3 dictionary does not match its Adler-32");

const SYN_STREAM = 1, SYN_REPLY = 2, RST_STREAM = 3, PING = 6;
export const FLAG_FIN = 1;

export interface SpdyStream {
  id: number;
  headers: Map<string, string>;
  /** Bytes from the peer; null = the peer half-closed (FIN) or reset. */
  onData?: (chunk: Buffer | null) => void;
}

/** Run one zlib context over successive blocks with a sync flush each (SPDY's shared header context). */
function flushed(z: Inflate | Deflate, input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const onData = (c: Buffer) => out.push(c);
    z.on("data", onData);
    z.once("error", reject);
    z.write(input);
    z.flush(constants.Z_SYNC_FLUSH, () => {
      z.off("data", onData);
      z.off("error", reject);
      resolve(Buffer.concat(out));
    });
  });
}

function encodeHeaders(headers: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const entries = Object.entries(headers);
  parts.push(u32(entries.length));
  for (const [k, v] of entries) parts.push(u32(Buffer.byteLength(k)), Buffer.from(k), u32(Buffer.byteLength(v)), Buffer.from(v));
  return Buffer.concat(parts);
}

function decodeHeaders(block: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let p = 0;
  const n = block.readUInt32BE(p);
  p += 4;
  for (let i = 0; i < n; i++) {
    const kl = block.readUInt32BE(p);
    const k = block.subarray(p + 4, p + 4 + kl).toString();
    p += 4 + kl;
    const vl = block.readUInt32BE(p);
    out.set(k, block.subarray(p + 4, p + 4 + vl).toString());
    p += 4 + vl;
  }
  return out;
}

export class SpdySession {
  private buffered = Buffer.alloc(0);
  private queue: Promise<void> = Promise.resolve();
  private readonly inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
  private readonly deflate = createDeflate({ dictionary: SPDY3_DICTIONARY });
  private outQueue: Promise<void> = Promise.resolve();
  readonly streams = new Map<number, SpdyStream>();

  constructor(
    private readonly write: (bytes: Buffer) => void,
    private readonly onStream: (s: SpdyStream) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  /** Bytes from the peer, in order. */
  feed(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= 8) {
      const len = this.buffered.readUIntBE(5, 3);
      if (this.buffered.length < 8 + len) break;
      const frame = this.buffered.subarray(0, 8 + len);
      this.buffered = this.buffered.subarray(8 + len);
      this.queue = this.queue.then(() => this.frame(frame)).catch((err: Error) => this.onError(err));
    }
  }

  private async frame(f: Buffer): Promise<void> {
    const flags = f[4]!;
    const body = f.subarray(8);
    if ((f[0]! & 0x80) === 0) {
      const id = f.readUInt32BE(0) & 0x7fffffff;
      const s = this.streams.get(id);
      if (body.length > 0) s?.onData?.(Buffer.from(body));
      if (flags & FLAG_FIN) s?.onData?.(null);
      return;
    }
    const version = f.readUInt16BE(0) & 0x7fff;
    if (version !== 3) throw new Error(`SPDY version ${version} is not 3`);
    const type = f.readUInt16BE(2);
    if (type === SYN_STREAM) {
      const id = body.readUInt32BE(0) & 0x7fffffff;
      const headers = decodeHeaders(await flushed(this.inflate, body.subarray(10)));
      const s: SpdyStream = { id, headers };
      this.streams.set(id, s);
      await this.reply(id);
      this.onStream(s);
      if (flags & FLAG_FIN) s.onData?.(null);
    } else if (type === RST_STREAM) {
      const id = body.readUInt32BE(0) & 0x7fffffff;
      this.streams.get(id)?.onData?.(null);
      this.streams.delete(id);
    } else if (type === PING) {
      this.write(Buffer.from(f));
    }
    // SETTINGS, GOAWAY, WINDOW_UPDATE, HEADERS: nothing to do for port-forwarding.
  }

  private async reply(id: number): Promise<void> {
    const block = await flushed(this.deflate, encodeHeaders({}));
    const head = Buffer.alloc(12);
    head.writeUInt16BE(0x8003, 0);
    head.writeUInt16BE(SYN_REPLY, 2);
    head.writeUInt32BE(4 + block.length, 4); // flags 0 in the top byte
    head.writeUInt32BE(id, 8);
    this.send(Buffer.concat([head, block]));
  }

  private send(bytes: Buffer): void {
    this.outQueue = this.outQueue.then(() => this.write(bytes));
  }

  /** DATA on a stream (FIN with `fin`), split into frames of at most 64 KiB. */
  data(id: number, chunk: Buffer, fin = false): void {
    for (let off = 0; off < chunk.length || (off === 0 && chunk.length === 0); ) {
      const part = chunk.subarray(off, off + 65_536);
      off += Math.max(part.length, 1);
      const last = off >= chunk.length;
      const head = Buffer.alloc(8);
      head.writeUInt32BE(id & 0x7fffffff, 0);
      head.writeUInt32BE(part.length, 4);
      head[4] = fin && last ? FLAG_FIN : 0;
      this.send(Buffer.concat([head, part]));
    }
  }
}
